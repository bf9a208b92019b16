"""What the review page's server accepts before a request reaches the page's code:
its own ``Host`` names, JSON bodies only, and bodies of a bounded size.

Another web page that the radiologist visits can make the browser send a "simple"
request (``text/plain``, a form, no content type) to any address without asking the
server first (no CORS preflight), and a DNS name rebound to 127.0.0.1 makes the
browser treat the page as that name's. So a request whose ``Host`` is not a name of
the server is refused (HTTP 400), a ``POST`` that is not ``application/json`` too
(HTTP 415, which a page of another origin cannot send without a preflight that the
server never allows), and a body over the limit (HTTP 413) before it is read whole.
"""

from __future__ import annotations

from collections.abc import Collection

from starlette.datastructures import Headers
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

# The largest request body, in bytes, that the page's server reads: 64 MiB, room for
# the served model's 64 images per request as base64 DICOMs of 512 x 512 16-bit
# pixels (about 0.7 MB each). `kedro review --max-request-mb` changes it.
MAX_REQUEST_BYTES = 64 * 1024 * 1024
# The names of the loopback address: a server bound to one answers to all three.
LOOPBACK = ("127.0.0.1", "localhost", "::1")
JSON_TYPE = "application/json"


def _with_port(host: str, port: int) -> str:
    """``host:port`` as a ``Host`` header spells it (an IPv6 address in brackets)."""
    host = host.lower()
    if ":" in host and not host.startswith("["):
        host = f"[{host}]"
    return f"{host}:{port}"


def allowed_hosts(host: str, port: int, extra: Collection[str] = ()) -> frozenset[str]:
    """The ``Host`` headers that a server bound to ``host``:``port`` answers: that
    address, and the names in ``extra``, with the port; for a loopback address, each
    of 127.0.0.1, localhost and [::1] with the port. (Without the port only on port
    80, where browsers leave it out.)"""
    names = {*LOOPBACK} if host.lower() in LOOPBACK else {host}
    names |= set(extra)
    hosts = {_with_port(name, port) for name in names}
    if port == 80:  # noqa: PLR2004 (HTTP's default port)
        hosts |= {_with_port(name, port).removesuffix(":80") for name in names}
    return frozenset(hosts)


def _refuse(status: int, message: str) -> JSONResponse:
    return JSONResponse({"detail": message}, status_code=status)


def _media_type(headers: Headers) -> str:
    return headers.get("content-type", "").split(";")[0].strip().lower()


def _too_large(max_bytes: int) -> JSONResponse:
    return _refuse(
        413,
        f"The request body is over the limit of {max_bytes} bytes "
        "(kedro review --max-request-mb).",
    )


async def _read_body(receive: Receive, max_bytes: int) -> bytes | None:
    """The whole body of a request; None as soon as it is over ``max_bytes``."""
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] != "http.request":
            return b"".join(chunks)
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > max_bytes:
            return None
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks)


def _replay(body: bytes, receive: Receive) -> Receive:
    """A ``receive`` that gives ``body`` once, then whatever the client sends next."""
    pending = [{"type": "http.request", "body": body, "more_body": False}]

    async def replayed() -> Message:
        return pending.pop() if pending else await receive()

    return replayed


class RequestGuard:
    """ASGI middleware: refuses a request whose ``Host`` is not in ``hosts`` (400), a
    ``POST`` that is not ``application/json`` (415) and a body over ``max_bytes``
    (413), before the application sees it."""

    def __init__(self, app: ASGIApp, hosts: Collection[str], max_bytes: int) -> None:
        self.app = app
        self.hosts = frozenset(host.lower() for host in hosts)
        self.max_bytes = max_bytes

    def _refusal(self, scope: Scope) -> JSONResponse | None:
        headers = Headers(scope=scope)
        host = headers.get("host", "").lower()
        if host not in self.hosts:
            names = ", ".join(sorted(self.hosts))
            return _refuse(
                400,
                f"Host '{host}' is not a name of this server ({names}); give another "
                "name with kedro review --allowed-host.",
            )
        if scope["method"] != "POST":
            return None
        if _media_type(headers) != JSON_TYPE:
            return _refuse(415, f"The request must be {JSON_TYPE}.")
        length = headers.get("content-length", "")
        if length.isdigit() and int(length) > self.max_bytes:
            return _too_large(self.max_bytes)
        return None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        refusal = self._refusal(scope)
        if refusal is None and scope["method"] == "POST":
            body = await _read_body(receive, self.max_bytes)
            if body is None:
                refusal = _too_large(self.max_bytes)
            else:
                receive = _replay(body, receive)
        if refusal is not None:
            await refusal(scope, receive, send)
            return
        await self.app(scope, receive, send)
