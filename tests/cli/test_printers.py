"""minik.cli.printers: server Tables as aligned columns, -o yaml|json|name, colour only for people."""

from __future__ import annotations

import io
from typing import Any

import orjson
import pytest
import yaml
from rich.console import Console

from minik.cli.printers import (
    cell_text,
    clean,
    object_name,
    print_objects,
    print_rows,
    status_style,
    table_layout,
)
from minik.client.kinds import CONFIGMAPS, DEPLOYMENTS, PODS
from tests.cli.fakes import text_console


def output(console: Console) -> str:
    assert isinstance(console.file, io.StringIO)
    return console.file.getvalue()


TABLE: dict[str, Any] = {
    "kind": "Table",
    "apiVersion": "meta.k8s.io/v1",
    "columnDefinitions": [
        {"name": "Name", "type": "string", "priority": 0},
        {"name": "Ready", "type": "string", "priority": 0},
        {"name": "Status", "type": "string", "priority": 0},
        {"name": "IP", "type": "string", "priority": 1},
    ],
    "rows": [
        {
            "cells": ["web-1", "1/1", "Running", "10.244.1.5"],
            "object": {"metadata": {"name": "web-1", "namespace": "team", "labels": {"b": "2", "a": "1"}}},
        },
        {
            "cells": ["db-0", "0/1", "CrashLoopBackOff", None],
            "object": {"metadata": {"name": "db-0", "namespace": "data"}},
        },
    ],
}


def test_cells_as_kubectl_prints_them() -> None:
    assert cell_text(None) == "<none>"
    assert (cell_text(True), cell_text(False)) == ("true", "false")
    assert cell_text(3) == "3"
    assert cell_text(["a", 1]) == '["a",1]'
    assert cell_text({"k": "v"}) == '{"k":"v"}'


@pytest.mark.parametrize(
    ("value", "style"),
    [
        ("Running", "green"),
        ("Completed", "green"),
        ("Ready,SchedulingDisabled", "green"),
        ("True", "green"),
        ("Pending", "yellow"),
        ("ContainerCreating", "yellow"),
        ("Init:0/1", "yellow"),
        ("Terminating", "yellow"),
        ("CrashLoopBackOff", "red"),
        ("ImagePullBackOff", "red"),
        ("Error", "red"),
        ("OOMKilled", "red"),
        ("Not Ready", "red"),
        ("Warning", "red"),
        ("Normal", "green"),
        ("", None),
        ("web-1", None),
    ],
)
def test_status_style(value: str, style: str | None) -> None:
    assert status_style(value) == style


def test_default_columns_are_priority_zero() -> None:
    header, rows, status = table_layout(TABLE, wide=False, namespace_column=False)
    assert header == ["NAME", "READY", "STATUS"]
    assert rows == [["web-1", "1/1", "Running"], ["db-0", "0/1", "CrashLoopBackOff"]]
    assert status == [2]


def test_wide_namespace_labels_and_kind_prefix() -> None:
    header, rows, status = table_layout(
        TABLE, wide=True, namespace_column=True, kind_prefix="pod", show_labels=True
    )
    assert header == ["NAMESPACE", "NAME", "READY", "STATUS", "IP", "LABELS"]
    assert rows[0] == ["team", "pod/web-1", "1/1", "Running", "10.244.1.5", "a=1,b=2"]
    assert rows[1] == ["data", "pod/db-0", "0/1", "CrashLoopBackOff", "<none>", "<none>"]
    assert status == [3]


def test_an_empty_table() -> None:
    header, rows, status = table_layout(
        {"columnDefinitions": TABLE["columnDefinitions"], "rows": []}, wide=False, namespace_column=False
    )
    assert header == ["NAME", "READY", "STATUS"] and rows == [] and status == [2]


def test_rows_are_aligned_with_three_spaces_and_no_trailing_blanks() -> None:
    console = text_console()
    widths = print_rows(console, ["NAME", "STATUS"], [["a-long-name", "Running"], ["b", "Pending"]])
    assert output(console).splitlines() == [
        "NAME          STATUS",
        "a-long-name   Running",
        "b             Pending",
    ]
    assert widths == [11, 7]


def test_watch_lines_reuse_the_first_widths() -> None:
    console = text_console()
    print_rows(console, [], [["c", "Running"]], show_header=False, widths=[11, 7])
    assert output(console) == "c             Running\n"


def test_colour_only_on_status_cells_and_only_on_a_terminal() -> None:
    tty = Console(file=io.StringIO(), force_terminal=True, color_system="standard", width=200)
    print_rows(tty, ["NAME", "STATUS"], [["ok", "Running"], ["bad", "Error"]], status_columns=[1])
    lines = output(tty).splitlines()
    assert "\x1b[" not in lines[0]  # the header stays plain
    assert "\x1b[32mRunning" in lines[1]  # green
    assert "\x1b[31mError" in lines[2]  # red
    assert lines[1].startswith("ok ")  # the name is not coloured
    piped = text_console()
    print_rows(piped, ["NAME", "STATUS"], [["bad", "Error"]], status_columns=[1])
    assert "\x1b[" not in output(piped)


def test_clean_drops_managed_fields_only() -> None:
    obj: dict[str, Any] = {
        "kind": "Pod",
        "metadata": {"name": "p", "managedFields": [{"manager": "x"}], "uid": "u"},
    }
    assert clean(obj) == {"kind": "Pod", "metadata": {"name": "p", "uid": "u"}}
    assert obj["metadata"]["managedFields"]  # the input is not changed
    assert clean({"kind": "Status"}) == {"kind": "Status"}


def test_object_names_as_o_name_prints_them() -> None:
    assert object_name(PODS, {"metadata": {"name": "web-1"}}) == "pod/web-1"
    assert object_name(DEPLOYMENTS, {"metadata": {"name": "web"}}) == "deployment.apps/web"


POD = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p", "managedFields": [{}]}}
CM = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}}


def test_o_name() -> None:
    console = text_console()
    print_objects(console, "name", [(PODS, POD), (CONFIGMAPS, CM)], single=False)
    assert output(console) == "pod/p\nconfigmap/c\n"


def test_one_object_is_printed_as_itself() -> None:
    console = text_console()
    print_objects(console, "yaml", [(PODS, POD)], single=True)
    assert yaml.safe_load(output(console)) == {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"}}
    assert output(console).startswith("apiVersion: v1\nkind: Pod\n")  # keys in the object's order


def test_several_objects_are_a_v1_list() -> None:
    console = text_console()
    print_objects(console, "json", [(PODS, POD), (CONFIGMAPS, CM)], single=False)
    doc = orjson.loads(output(console))
    assert doc["apiVersion"] == "v1" and doc["kind"] == "List"
    assert [i["metadata"]["name"] for i in doc["items"]] == ["p", "c"]
    assert "managedFields" not in doc["items"][0]["metadata"]
    console = text_console()
    print_objects(console, "json", [(PODS, POD)], single=False)  # a listing of one is still a List
    assert orjson.loads(output(console))["kind"] == "List"
