"""The kubelet's exec answer, read after the WebSocket is accepted: malformed is an error, not a crash."""

from __future__ import annotations

import base64

import orjson
import pytest

from minik.apiserver.podproxy import MalformedAnswer, exec_result


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def test_a_well_formed_answer() -> None:
    body = orjson.dumps({"stdout": b64(b"out"), "stderr": b64(b"err"), "exitCode": 3})
    assert exec_result(body) == (b"out", b"err", 3)


@pytest.mark.parametrize(
    "body",
    [
        b"not json",
        b"[1, 2]",
        b'"text"',
        orjson.dumps({"stdout": b64(b"x"), "stderr": b64(b"")}),  # no exitCode
        orjson.dumps({"stderr": b64(b""), "exitCode": 0}),  # no stdout
        orjson.dumps({"stdout": 5, "stderr": b64(b""), "exitCode": 0}),
        orjson.dumps({"stdout": "!!not base64!!", "stderr": b64(b""), "exitCode": 0}),
        orjson.dumps({"stdout": b64(b""), "stderr": b64(b""), "exitCode": "zero"}),
        orjson.dumps({"stdout": b64(b""), "stderr": b64(b""), "exitCode": True}),
    ],
)
def test_a_malformed_answer_is_a_malformed_answer(body: bytes) -> None:
    with pytest.raises(MalformedAnswer):
        exec_result(body)
