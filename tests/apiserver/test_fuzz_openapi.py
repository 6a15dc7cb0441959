"""A schema-driven fuzz run against the OpenAPI the server itself serves: no request gets a 5xx.

schemathesis reads the group-version documents from ``/openapi/v3`` (fetched with
the admin token, merged into one document) and generates requests for each
operation — *positive* ones that fit the schema and *negative* ones that break it
(wrong types, missing fields, odd query values). Whatever they are, the answer
must be a 2xx, a 4xx or a 3xx, never a 5xx (schemathesis' ``not_a_server_error``
check): bad input is the client's error, and a 500 means the server did not
judge the input but tripped over it.

It runs against an apiserver and etcd of its own, so that what it creates (random
nodes, namespaces, …) and deletes (collections, with random selectors) cannot
disturb other tests. Namespaced operations use one existing namespace: with a
random namespace nearly every request would end in a 404 before reaching a handler.

**Size.** Example generation dominates the cost (a negative Deployment body
takes seconds to build), and all 195 operations at 10 examples per mode took
about 9 minutes on this machine. CI runs the operations of ten resources chosen
so that every code path is reached: a plain kind (configmaps), one with
validated data (secrets), the allocator (services), the largest validation
(pods, with status), cluster-scoped kinds with status (namespaces, nodes),
scale and status subresources of the apps group (deployments), and one resource
of each other group (jobs, leases, endpointslices); the other kinds share these
handlers and strategies. Each operation gets ``EXAMPLES`` examples per mode.

**Seed.** Every run draws new examples (a fixed seed would ask the same few
hundred questions forever); a failure names its seed, and
``MINIK_FUZZ_SEED=<seed>`` repeats the run. Each failure also shows the request
as a curl command. For a deep run::

    MINIK_FUZZ_RESOURCES=all MINIK_FUZZ_EXAMPLES=50 pytest tests/apiserver/test_fuzz_openapi.py
"""

from __future__ import annotations

import os
import random
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import hypothesis
import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, Phase, given
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.core.failures import FailureGroup
from schemathesis.core.result import Ok

from tests.conftest import APIServerProcess, _stop, launch_apiserver, launch_etcd

EXAMPLES = int(os.environ.get("MINIK_FUZZ_EXAMPLES", "4"))
RESOURCES = os.environ.get(
    "MINIK_FUZZ_RESOURCES",
    "configmaps,secrets,services,pods,namespaces,nodes,deployments,jobs,leases,endpointslices",
)
SEED = int(os.environ.get("MINIK_FUZZ_SEED") or random.randrange(2**32))
#: The project's 300 s per-test timeout fits the CI run; a deep run over every resource
#: took 20 minutes at 10 examples on the loaded 2-core machine, so it gets 4 minutes per example.
TIMEOUT = 300 if RESOURCES != "all" else max(300, 240 * EXAMPLES)

pytestmark = [pytest.mark.integration, pytest.mark.timeout(TIMEOUT)]

NAMESPACE = "fuzz"
#: Query parameters taken out of the schema: a watch is a stream, not a request with an answer.
STREAMING_PARAMETERS = {"watch"}


@pytest.fixture(scope="module")
def server(workdir: Path) -> Iterator[APIServerProcess]:
    etcd = launch_etcd(workdir)
    try:
        apiserver = launch_apiserver(workdir, etcd.url)
        yield apiserver
        _stop(apiserver.process)
    finally:
        _stop(etcd.process)


def served_openapi(server: APIServerProcess) -> dict[str, Any]:
    """Every group-version document of ``/openapi/v3``, merged into one OpenAPI document."""
    merged: dict[str, Any] = {
        "openapi": "3.0.0",
        "info": {"title": "minik", "version": "served"},
        "paths": {},
        "components": {"schemas": {}},
    }
    with server.client() as api:
        for entry in api.get("/openapi/v3").json()["paths"].values():
            doc = api.get(entry["serverRelativeURL"]).json()
            merged["paths"].update(doc["paths"])
            merged["components"]["schemas"].update(doc["components"]["schemas"])
    for item in merged["paths"].values():
        for operation in item.values():
            if isinstance(operation, dict) and "parameters" in operation:
                operation["parameters"] = [
                    p for p in operation["parameters"] if p["name"] not in STREAMING_PARAMETERS
                ]
    return merged


def selected(path: str) -> bool:
    if RESOURCES == "all":
        return True
    resource = re.sub(r"/\{name\}.*$", "", path).rsplit("/", 1)[-1]
    return resource in RESOURCES.split(",")


@pytest.mark.timeout(900)  # about 2 minutes on an idle 2-core machine; generation is CPU-bound
def test_no_request_gets_a_server_error(server: APIServerProcess) -> None:
    with server.client() as api:
        r = api.post(
            "/api/v1/namespaces",
            json={"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NAMESPACE}},
        )
        assert r.status_code == 201, r.text
    schema = schemathesis.openapi.from_dict(served_openapi(server))
    operations = []
    for result in schema.get_all_operations():
        assert isinstance(result, Ok), (
            f"the served OpenAPI has an operation schemathesis cannot read: {result}"
        )
        operations.append(result.ok())
    operations = [op for op in operations if selected(op.path)]
    assert operations, f"no operation matches MINIK_FUZZ_RESOURCES={RESOURCES!r}"

    session = requests.Session()
    headers = {"Authorization": f"Bearer {server.token}"}
    sent = 0
    failures: list[str] = []

    for operation in operations:
        fixed = {"namespace": NAMESPACE} if "{namespace}" in operation.path else None
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):

            @hypothesis.settings(
                max_examples=EXAMPLES,
                deadline=None,
                database=None,
                phases=[Phase.generate],
                suppress_health_check=list(HealthCheck),
            )
            @hypothesis.seed(SEED)
            @given(operation.as_strategy(generation_mode=mode, path_parameters=fixed))
            def exchange(case: schemathesis.Case[Any]) -> None:
                nonlocal sent
                try:
                    response = case.call(
                        base_url=server.url,
                        session=session,
                        headers=headers,
                        verify=str(server.ca_file),
                        timeout=60,
                    )
                except requests.ConnectionError as err:  # the server dropped the connection: its failure
                    failures.append(f"connection dropped: {err}\n  {case.as_curl_command(headers)}")
                    return
                except (requests.exceptions.InvalidHeader, requests.exceptions.InvalidURL, UnicodeError):
                    return  # the client library could not send what was generated: nothing was asked
                sent += 1
                try:
                    case.validate_response(response, checks=[not_a_server_error])
                except FailureGroup:  # what the check raises for a 5xx
                    failures.append(
                        f"{response.status_code} from {case.as_curl_command()}\n  answer: {response.text[:300]}"
                    )

            exchange()

    tracebacks = [line for line in server.log().splitlines() if re.match(r"^\w*(Error|Exception)\b", line)]
    assert sent > len(operations) * EXAMPLES, "most generated requests were never sent"
    assert not failures, (
        f"{len(failures)} of {sent} requests got a server error (MINIK_FUZZ_SEED={SEED}):\n"
        + "\n".join(failures[:25])
        + "\nexceptions in the apiserver log:\n"
        + "\n".join(sorted(set(tracebacks)))
    )
