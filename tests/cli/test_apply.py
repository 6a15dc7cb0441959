"""minik.cli.apply: reading manifests (files, directories, stdin, lists) and apply/create's reports."""

from __future__ import annotations

import io
import sys
from pathlib import Path

import httpx
import pytest

from minik.cli.apply import load_manifests
from minik.cli.errors import CLIError
from tests.cli.conftest import Run

CM = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {name}\ndata:\n  k: v\n"


def test_several_documents_in_one_file_in_order(tmp_path: Path) -> None:
    f = tmp_path / "all.yaml"
    f.write_text(CM.format(name="a") + "---\n" + CM.format(name="b") + "---\n# only a comment\n---\n")
    assert [d["metadata"]["name"] for d in load_manifests([str(f)])] == ["a", "b"]


def test_a_directory_is_read_sorted_and_only_manifests(tmp_path: Path) -> None:
    (tmp_path / "2-b.yml").write_text(CM.format(name="b"))
    (tmp_path / "1-a.yaml").write_text(CM.format(name="a"))
    (tmp_path / "3-c.json").write_text('{"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}}')
    (tmp_path / "README.md").write_text("not a manifest: apiVersion")
    (tmp_path / "sub.yaml").mkdir()  # a directory named like a manifest is not read
    assert [d["metadata"]["name"] for d in load_manifests([str(tmp_path)])] == ["a", "b", "c"]


def test_a_list_is_unpacked(tmp_path: Path) -> None:
    f = tmp_path / "list.yaml"
    f.write_text(
        "apiVersion: v1\nkind: List\nitems:\n"
        "- {apiVersion: v1, kind: ConfigMap, metadata: {name: a}}\n"
        "- {apiVersion: v1, kind: Secret, metadata: {name: s}}\n"
    )
    assert [(d["kind"], d["metadata"]["name"]) for d in load_manifests([str(f)])] == [
        ("ConfigMap", "a"),
        ("Secret", "s"),
    ]


def test_stdin(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "stdin", io.StringIO(CM.format(name="from-stdin")))
    assert load_manifests(["-"])[0]["metadata"]["name"] == "from-stdin"


def test_generate_name_is_enough(tmp_path: Path) -> None:
    f = tmp_path / "g.yaml"
    f.write_text("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  generateName: job-\n")
    assert load_manifests([str(f)])[0]["metadata"] == {"generateName": "job-"}


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("a: [1, 2\n", "is not valid YAML"),
        ("- 1\n- 2\n", "every document must be a mapping (an object), got list"),
        ("kind: ConfigMap\nmetadata: {name: a}\n", "an object is missing apiVersion or kind"),
        ("apiVersion: v1\nmetadata: {name: a}\n", "an object is missing apiVersion or kind"),
        ("apiVersion: v1\nkind: ConfigMap\ndata: {}\n", "a ConfigMap has no metadata.name"),
    ],
)
def test_bad_manifests_name_the_file_and_the_problem(tmp_path: Path, text: str, message: str) -> None:
    f = tmp_path / "bad.yaml"
    f.write_text(text)
    with pytest.raises(CLIError) as info:
        load_manifests([str(f)])
    assert info.value.message.startswith(str(f))
    assert message in info.value.message


def test_a_missing_path(tmp_path: Path) -> None:
    with pytest.raises(CLIError) as info:
        load_manifests([str(tmp_path / "nope.yaml")])
    assert info.value.message == f'the path "{tmp_path / "nope.yaml"}" does not exist'
    assert info.value.hint == "pass a file, a directory or - for stdin"


def test_nothing_to_apply(tmp_path: Path) -> None:
    (tmp_path / "empty.yaml").write_text("---\n")
    with pytest.raises(CLIError, match="no objects passed to apply"):
        load_manifests([str(tmp_path)])


# -- against the API server ------------------------------------------------------------------


@pytest.mark.integration
def test_server_dry_run_writes_nothing(ctl: Run, api: httpx.Client, ns: str) -> None:
    r = ctl("apply", "-f", "-", "--dry-run=server", stdin=CM.format(name="dry"))
    assert r.code == 0, r.err
    assert r.out.strip() == "configmap/dry created (server dry run)"
    assert api.get(f"/api/v1/namespaces/{ns}/configmaps/dry").status_code == 404
    r = ctl("create", "-f", "-", "--dry-run=server", stdin=CM.format(name="dry"))
    assert r.code == 0 and r.out.strip() == "configmap/dry created"
    assert api.get(f"/api/v1/namespaces/{ns}/configmaps/dry").status_code == 404


@pytest.mark.integration
def test_one_bad_object_does_not_stop_the_others(ctl: Run, api: httpx.Client, ns: str) -> None:
    bad = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: Not_Valid\n"
    r = ctl("apply", "-f", "-", stdin=CM.format(name="one") + "---\n" + bad + "---\n" + CM.format(name="two"))
    assert r.code == 1
    assert r.out.splitlines() == ["configmap/one created", "configmap/two created"]
    assert r.err.startswith('error: ConfigMap "Not_Valid": ')
    assert "metadata.name" in r.err and "try: fix the field(s)" in r.err


@pytest.mark.integration
def test_the_manifests_namespace_must_match_dash_n(ctl: Run, ns: str) -> None:
    other = CM.format(name="x").replace("  name: x\n", "  name: x\n  namespace: elsewhere\n")
    r = ctl("apply", "-f", "-", stdin=other)
    assert r.code == 1
    assert f"({ns})" in r.err and "does not match the namespace from -n" in r.err


@pytest.mark.integration
def test_an_unknown_kind_is_named(ctl: Run) -> None:
    r = ctl("apply", "-f", "-", stdin="apiVersion: example.com/v1\nkind: Sprocket\nmetadata: {name: s}\n")
    assert r.code == 1
    assert 'no resource for kind "Sprocket" in version "example.com/v1"' in r.err
