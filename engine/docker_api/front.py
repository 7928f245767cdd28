"""dial-stdio's front: the first requests of an ssh connection answered on stdin/stdout by
plain HTTP/1.1 in this thread, without aiohttp, whose import (with asyncio, ~250 ms) was most
of the wait for an ssh connection's first list. It answers what a client's first look asks
(ping, version, the container list, a container's inspect: all of `berth -H ssh://… ps` and
of the dashboard's first table) with the service's own answers (reads.py, protocol.py).

At the first request it does not answer (another route, a body, an upgrade, not HTTP/1.1) it
stops and gives back every byte it read from that request on; the aiohttp service
(stdio.py) takes the connection over from there. A client reads each answer before it sends
the next request, and the front has written every answer it owes before it stops, so the
two never write at once.
"""

from __future__ import annotations

import os
import time

from ..errors import BerthError
from . import reads
from .protocol import MAX_VERSION, error_body, parse_version, status_of, version_refusal

MAX_HEAD = 65536    # a longer head is aiohttp's to refuse
REASONS = {200: "OK", 400: "Bad Request", 401: "Unauthorized", 404: "Not Found",
           408: "Request Timeout", 409: "Conflict", 413: "Request Entity Too Large",
           500: "Internal Server Error", 501: "Not Implemented"}
JSON = "application/json; charset=utf-8"
TEXT = "text/plain; charset=utf-8"


class Closed(Exception):
    """The client's end is gone (or it asked to close after this answer)."""


class Request:
    """A request head the front can answer: method, path below the ``/vX.Y`` prefix, the
    prefix's version (None without one), its query (first value of each name)."""

    __slots__ = ("method", "path", "version", "query", "close")

    def __init__(self, method: str, path: str, version: str | None, query: dict, close: bool):
        self.method, self.path, self.version, self.query, self.close = (method, path, version,
                                                                         query, close)


def parse_head(head: bytes) -> Request | None:
    """The request in ``head`` (without its blank line), or None when the front must leave it
    to aiohttp."""
    try:
        lines = head.decode("latin-1").split("\r\n")
        method, target, proto = lines[0].split(" ")
    except ValueError:
        return None
    if proto != "HTTP/1.1" or method not in ("GET", "HEAD"):
        return None
    close = False
    for line in lines[1:]:
        name, _, value = line.partition(":")
        name, value = name.strip().lower(), value.strip().lower()
        if name in ("transfer-encoding", "upgrade", "expect") or (
                name == "content-length" and value != "0"):
            return None
        if name == "connection":
            close = "close" in value
    from urllib.parse import parse_qsl, unquote
    path, _, qs = target.partition("?")
    query: dict[str, str] = {}
    for k, v in parse_qsl(qs, keep_blank_values=True):
        query.setdefault(k, v)
    version = None
    if path.startswith("/v") and path.count("/") >= 2:
        prefix, _, rest = path[2:].partition("/")
        major, dot, minor = prefix.partition(".")
        if not (dot and prefix.isascii() and major.isdigit() and minor.isdigit()):
            return None   # not a version: aiohttp's 404
        version, path = prefix, "/" + rest
    parts = [unquote(p) for p in path.split("/")[1:]]
    if method == "HEAD" and parts != ["_ping"]:
        return None
    if parts in (["_ping"], ["version"], ["containers", "json"]) or (
            len(parts) == 3 and parts[0] == "containers" and parts[2] == "json" and parts[1]):
        return Request(method, "/" + "/".join(parts), version, query, close)
    return None


class Front:
    """Answers requests read from ``fd_in`` on ``fd_out`` for ``engine``."""

    def __init__(self, engine, fd_in: int, fd_out: int):
        self.engine, self.fd_in, self.fd_out = engine, fd_in, fd_out

    def serve(self) -> bytes | None:
        """Answer requests until one the front leaves to aiohttp: the bytes read from it on,
        or None when the client is gone (stdin's end, a closed stdout, ``Connection: close``)."""
        buf = b""
        try:
            while True:
                end = buf.find(b"\r\n\r\n")
                if end < 0:
                    if len(buf) > MAX_HEAD:
                        return buf
                    data = os.read(self.fd_in, 65536)
                    if not data:
                        return None
                    buf += data
                    continue
                request = parse_head(buf[:end])
                if request is None:
                    return buf
                buf = buf[end + 4:]
                self.answer(request)
                if request.close:
                    return None
        except (Closed, OSError):
            return None

    def answer(self, request: Request) -> None:
        refusal = version_refusal(request.version)
        if refusal:
            return self.send(400, error_body(refusal), "application/json")
        try:
            status, body, kind, extra = self.route(request)
        except (BerthError, NotImplementedError) as e:
            status, body, kind, extra = status_of(e), error_body(str(e) or "not implemented"), \
                "application/json", {}
        except OSError as e:
            from ..errors import os_error
            status, kind, extra = 500, "application/json", {}
            body = error_body(str(os_error(f"{request.method} {request.path}", e)))
        except Exception as e:  # noqa: BLE001 - a bug must answer 500, as the service does
            import traceback
            traceback.print_exc()
            status, body, kind, extra = 500, error_body(f"{type(e).__name__}: {e}"), \
                "application/json", {}
        self.send(status, b"" if request.method == "HEAD" else body, kind, extra,
                  length=len(body))

    def route(self, request: Request) -> tuple[int, bytes, str, dict]:
        import json
        path, engine = request.path, self.engine
        if path == "/_ping":
            return 200, b"OK" if request.method == "GET" else b"", TEXT, reads.ping_headers()
        if path == "/version":
            data = reads.version()
        elif path == "/containers/json":
            data = reads.container_list(engine, request.query)
        else:
            version = parse_version(request.version or "") or MAX_VERSION
            data = reads.container_json(engine, path.split("/")[2], request.query, version)
            data["ExecIDs"] = None   # execs are the service's, and it has none yet
        return 200, json.dumps(data).encode(), JSON, {}

    def send(self, status: int, body: bytes, kind: str, extra: dict | None = None,
             length: int | None = None) -> None:
        headers = {"Content-Type": kind, **(extra or {})}
        headers.setdefault("Api-Version", reads.API_VERSION)
        headers.setdefault("Server", "berth")
        headers["Content-Length"] = str(len(body) if length is None else length)
        headers["Date"] = time.strftime("%a, %d %b %Y %H:%M:%S GMT", time.gmtime())
        head = f"HTTP/1.1 {status} {REASONS.get(status, 'Error')}\r\n" + "".join(
            f"{k}: {v}\r\n" for k, v in headers.items()) + "\r\n"
        view = memoryview(head.encode("latin-1") + body)
        try:
            while view:
                view = view[os.write(self.fd_out, view):]
        except OSError:
            raise Closed() from None
