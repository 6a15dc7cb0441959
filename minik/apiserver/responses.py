"""The answers the API dispatcher sends: JSON bodies and ``Status`` errors.

Every API answer is JSON (a client may send YAML or protobuf, it reads JSON back), and
every failure is a Kubernetes ``Status`` carrying the error's code and headers.
"""

from __future__ import annotations

from typing import Any

import orjson
from starlette.responses import Response

from minik.api import errors

JSON = "application/json"


def json_response(obj: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(orjson.dumps(obj), status_code=status, media_type=JSON, headers=headers)


def error_response(err: errors.APIError) -> Response:
    return json_response(err.to_status(), err.code, err.headers or None)
