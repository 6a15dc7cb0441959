"""``pods/log`` and ``pods/exec``: the API server forwards them to the pod's kubelet.

Upstream's kube-apiserver does not run containers; for ``kubectl logs`` and ``kubectl
exec`` it looks up the pod's node, reads the kubelet's address and port from the Node
(``status.addresses`` InternalIP, ``status.daemonEndpoints.kubeletEndpoint.Port``) and
proxies the request there. minik does the same
(:func:`minik.apiserver.subresources.kubelet_endpoint`):

``GET …/pods/<name>/log``
    → kubelet ``GET /containerLogs/<ns>/<pod>/<container>`` with ``follow``,
    ``tailLines``, ``timestamps``, ``previous``, ``sinceSeconds``. The body is streamed
    through as it comes (``follow=true`` keeps the response open), as plain text.

``…/pods/<name>/exec`` (WebSocket)
    kubectl ≥ 1.30 speaks the *channel* WebSocket protocol: subprotocol
    ``v5.channel.k8s.io`` (or ``v4.channel.k8s.io``); every binary message starts with
    a channel byte — 0 stdin, 1 stdout, 2 stderr, 3 error/status, 4 resize. minik runs
    the command non-interactively on the kubelet (``POST /exec/...``) and sends stdout on
    1, stderr on 2, then a ``Status`` on 3: ``Success``, or ``Failure`` with reason
    ``NonZeroExitCode`` and the code in ``details.causes[{reason: ExitCode}]`` — which
    kubectl turns into its own exit code. stdin and TTYs (``kubectl exec -it``) are not
    supported yet; a request that asks for them gets the output of the command without
    input.

The caller authenticates to the API server as for any request; the API server then
calls the kubelet with **its own** client certificate, over TLS that checks the
kubelet's serving certificate, at the Node's registered endpoint only -- never with the
caller's token (:mod:`minik.apiserver.kubeletclient` says why).

:func:`install` puts these routes in front of the app's catch-all dispatcher. It is given
what it needs from the API server as two callables (:data:`Authenticate`,
:data:`FindKubelet`), so it depends on no server internals.
"""

from __future__ import annotations

import base64
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import httpx
import orjson
from starlette.applications import Starlette
from starlette.background import BackgroundTask
from starlette.requests import HTTPConnection, Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route, WebSocketRoute
from starlette.websockets import WebSocket

from minik.api import errors
from minik.apiserver.kubeletclient import KubeletClientConfig, kubelet_url

log = logging.getLogger(__name__)

PROTOCOLS = ("v5.channel.k8s.io", "v4.channel.k8s.io", "channel.k8s.io")
STDOUT, STDERR, ERROR = 1, 2, 3
LOG_PARAMS = ("follow", "tailLines", "timestamps", "previous", "sinceSeconds", "limitBytes")

#: Checks the caller's credentials (a request or a WebSocket) and whether it may ask;
#: raises the ``APIError`` to answer (401 unauthenticated, 403 forbidden).
#: What it returns (who the caller is) is not needed here.
Authenticate = Callable[[HTTPConnection], object]
#: ``(namespace, pod, what)`` → the address and port of the kubelet running the pod, and
#: the pod; raises the ``APIError`` that says why not (``what`` names the action, for
#: messages: "get logs of", "exec into").
FindKubelet = Callable[[str, str, str], Awaitable[tuple[str, int, dict[str, Any]]]]


def _error(err: errors.APIError) -> Response:
    return Response(orjson.dumps(err.to_status()), status_code=err.code, media_type="application/json")


def default_container(pod: dict[str, Any], asked: str | None) -> str:
    """The container a request means: the one named, the only one, or the annotated default."""
    spec = pod.get("spec") or {}
    names = [str(c["name"]) for c in spec.get("containers") or []]
    init = [str(c["name"]) for c in spec.get("initContainers") or []]
    name = pod["metadata"]["name"]
    if asked:
        if asked not in names + init:
            raise errors.bad_request(
                f"container {asked} is not valid for pod {name}" if names else f"pod {name} has no containers"
            )
        return asked
    default = (pod["metadata"].get("annotations") or {}).get("kubectl.kubernetes.io/default-container")
    if default in names:
        return str(default)
    if len(names) == 1:
        return names[0]
    raise errors.bad_request(
        f"a container name must be specified for pod {name}, choose one of: [{' '.join(names)}]"
        + (f" or one of the init containers: [{' '.join(init)}]" if init else "")
    )


class MalformedAnswer(ValueError):
    """The kubelet answered exec with something that is not its result object."""


def exec_result(body: bytes) -> tuple[bytes, bytes, int]:
    """(stdout, stderr, exit code) from the kubelet's exec answer.

    Read after the WebSocket is accepted, where no HTTP error can be sent any more: a
    malformed answer must become a Status on the error channel, not a traceback.
    """
    try:
        result = orjson.loads(body)
        if not isinstance(result, dict):
            raise MalformedAnswer("the answer is not an object")
        out = base64.b64decode(result["stdout"], validate=True)
        errout = base64.b64decode(result["stderr"], validate=True)
        code = result["exitCode"]
    except MalformedAnswer:
        raise
    except KeyError as exc:
        raise MalformedAnswer(f"the answer has no {exc.args[0]}") from exc
    except (ValueError, TypeError) as exc:  # not JSON, not base64, not a string
        raise MalformedAnswer(f"the answer is malformed: {exc}") from exc
    if not isinstance(code, int) or isinstance(code, bool):
        raise MalformedAnswer(f"exitCode {code!r} is not an integer")
    return out, errout, code


def _failure_message(body: bytes) -> str:
    """The message of the kubelet's failure Status, or its body as text if it is none."""
    try:
        answer = orjson.loads(body)
    except orjson.JSONDecodeError:
        answer = None
    message = answer.get("message") if isinstance(answer, dict) else None
    return message if isinstance(message, str) else body.decode(errors="replace")


async def _kubelet_send(
    client: httpx.AsyncClient, method: str, address: str, port: int, path: str, params: Any
) -> httpx.Response:
    """Send to the Node's registered endpoint; no header of the caller's goes along."""
    request = client.build_request(method, kubelet_url(address, port, path), params=params)
    try:
        return await client.send(request, stream=True)
    except httpx.TransportError as exc:  # refused, or its certificate is not the cluster's
        raise errors.service_unavailable(f"cannot reach the kubelet at {address}:{port}: {exc}") from None


def install(
    app: Starlette,
    *,
    authenticate: Authenticate,
    find_kubelet: FindKubelet,
    kubelet_client: KubeletClientConfig,
) -> None:
    """Insert the log and exec routes at the front of ``app.router.routes``; ``kubelet_client``
    is the API server's own credential towards kubelets."""

    async def pod_log(request: Request) -> Response:
        client: httpx.AsyncClient | None = None
        try:
            authenticate(request)
            ns, name = request.path_params["namespace"], request.path_params["name"]
            address, port, pod = await find_kubelet(ns, name, "get logs of")
            container = default_container(pod, request.query_params.get("container"))
            params = {k: v for k, v in request.query_params.items() if k in LOG_PARAMS}
            client = kubelet_client.client(httpx.Timeout(30.0, read=None))
            upstream = await _kubelet_send(
                client, "GET", address, port, f"/containerLogs/{ns}/{name}/{container}", params
            )
        except errors.APIError as err:
            if client is not None:
                await client.aclose()
            return _error(err)
        if upstream.status_code != 200:
            body = await upstream.aread()
            await upstream.aclose()
            await client.aclose()
            return Response(
                body, status_code=upstream.status_code, media_type=upstream.headers.get("content-type")
            )

        async def close() -> None:
            await upstream.aclose()
            await client.aclose()

        async def chunks() -> AsyncIterator[bytes]:
            async for chunk in upstream.aiter_raw():
                yield chunk

        return StreamingResponse(chunks(), media_type="text/plain", background=BackgroundTask(close))

    async def exec_not_websocket(request: Request) -> Response:
        try:
            authenticate(request)
        except errors.APIError as err:
            return _error(err)
        return _error(
            errors.APIError(
                400,
                "BadRequest",
                "exec needs a WebSocket upgrade (subprotocol v5.channel.k8s.io); SPDY is not supported",
            )
        )

    async def pod_exec(ws: WebSocket) -> None:
        offered = list(ws.scope.get("subprotocols") or [])
        protocol = next((p for p in PROTOCOLS if p in offered), None)
        try:
            authenticate(ws)
            ns, name = ws.path_params["namespace"], ws.path_params["name"]
            command = ws.query_params.getlist("command")
            if not command:
                raise errors.bad_request("you must specify at least one command for the container")
            if protocol is None:
                raise errors.bad_request(
                    f"unsupported WebSocket subprotocols {offered}; minik speaks {list(PROTOCOLS)}"
                )
            address, port, pod = await find_kubelet(ns, name, "exec into")
            container = default_container(pod, ws.query_params.get("container"))
        except errors.APIError as err:
            await ws.send_denial_response(_error(err))
            return
        await ws.accept(subprotocol=protocol)
        try:
            async with kubelet_client.client(httpx.Timeout(None)) as client:
                upstream = await _kubelet_send(
                    client,
                    "POST",
                    address,
                    port,
                    f"/exec/{ns}/{name}/{container}",
                    [("command", c) for c in command],
                )
                body = await upstream.aread()
                await upstream.aclose()
            if upstream.status_code != 200:
                status: dict[str, Any] = {
                    "metadata": {},
                    "status": "Failure",
                    "message": _failure_message(body),
                    "reason": "InternalError",
                    "code": upstream.status_code,
                }
            else:
                out, errout, code = exec_result(body)
                if out:
                    await ws.send_bytes(bytes([STDOUT]) + out)
                if errout:
                    await ws.send_bytes(bytes([STDERR]) + errout)
                if code == 0:
                    status = {"metadata": {}, "status": "Success"}
                else:
                    status = {
                        "metadata": {},
                        "status": "Failure",
                        "message": f"command terminated with non-zero exit code: error executing command {command}, exit code {code}",
                        "reason": "NonZeroExitCode",
                        "details": {"causes": [{"reason": "ExitCode", "message": str(code)}]},
                    }
        except errors.APIError as exc:
            status = {
                "metadata": {},
                "status": "Failure",
                "message": exc.message,
                "reason": exc.reason,
                "code": exc.code,
            }
        except (httpx.HTTPError, MalformedAnswer) as exc:
            status = {
                "metadata": {},
                "status": "Failure",
                "message": f"kubelet exec failed: {exc}",
                "reason": "InternalError",
                "code": 500,
            }
        await ws.send_bytes(bytes([ERROR]) + orjson.dumps(status))
        await ws.close()

    base = "/api/v1/namespaces/{namespace}/pods/{name}"
    app.router.routes[0:0] = [
        Route(f"{base}/log", pod_log, methods=["GET"]),
        WebSocketRoute(f"{base}/exec", pod_exec),
        Route(f"{base}/exec", exec_not_websocket, methods=["GET", "POST"]),
    ]
