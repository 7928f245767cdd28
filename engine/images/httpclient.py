"""A small HTTP/1.1 client on asyncio streams: what the distribution API needs (keep-alive
connections per origin, Content-Length and chunked bodies both ways, redirects, TLS with a
given context, connect and read timeouts) and nothing else.

Why not aiohttp: importing it costs a `berth pull` 150-250 ms here (two SSL contexts built at
import among it), more than half of what skopeo takes for a whole 34 MiB pull (issue 23); this
module costs ~3 ms and builds a verifying SSL context only when an https connection is tried.
aiohttp still serves the Docker API (engine/docker_api/).

The interface is the part of aiohttp's that distribution.py and registry_client.py use:
``Session.request(...) -> Response`` with ``status``, ``headers``, ``url``, ``read()``,
``content.iter_chunked(n)``, ``release()`` and ``async with``; the errors mirror aiohttp's.
"""

from __future__ import annotations

import asyncio
from urllib.parse import urlencode, urljoin, urlsplit

CONNECT_TIMEOUT = 30.0
READ_TIMEOUT = 120.0
MAX_REDIRECTS = 10
_READ = 1 << 20


class ClientError(Exception):
    """Anything that went wrong talking to the server."""


class ClientConnectionError(ClientError):
    """The connection could not be made or broke."""


class ClientConnectorError(ClientConnectionError):
    """The connection could not be made; ``os_error`` says why."""

    def __init__(self, host: str, os_error: BaseException):
        super().__init__(f"cannot connect to {host}: {os_error}")
        self.os_error = os_error


class ClientSSLError(ClientConnectorError):
    """The TLS handshake failed (a server that does not speak TLS, among others)."""


class ClientConnectorCertificateError(ClientSSLError):
    """The server's certificate is not trusted; ``certificate_error`` says why."""

    def __init__(self, host: str, os_error: BaseException):
        super().__init__(host, os_error)
        self.certificate_error = getattr(os_error, "verify_message", None) or str(os_error)


class ServerDisconnectedError(ClientConnectionError):
    """The server closed the connection before it answered."""


class ClientPayloadError(ClientError):
    """The body ended before it was complete, or was malformed."""


class Headers(dict):
    """Response headers by lower-cased name (repeated ones joined with ', ')."""

    def get(self, key: str, default=None):  # type: ignore[override]
        return super().get(key.lower(), default)

    def __getitem__(self, key: str) -> str:
        return super().__getitem__(key.lower())

    def __contains__(self, key) -> bool:
        return super().__contains__(str(key).lower())


_CONTEXTS: dict[bool, object] = {}


def _context(verify: bool):
    """The process's verifying (system CAs) or non-verifying SSL context, made on first use;
    only the verifying one reads the system's CA bundle (15-25 ms)."""
    ctx = _CONTEXTS.get(verify)
    if ctx is None:
        import ssl
        if verify:
            ctx = ssl.create_default_context()
        else:
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
            ctx.check_hostname = False
            ctx.verify_mode = ssl.CERT_NONE
        _CONTEXTS[verify] = ctx
    return ctx


async def speaks_tls(host: str, port: int, timeout: float = CONNECT_TIMEOUT) -> bool:
    """Whether ``host:port`` completes a TLS handshake. The certificate is not checked and
    nothing is sent: this only tells a loopback registry that speaks TLS (then asked over a
    verified connection) from one that speaks plain http, without reading the CA bundle for
    the latter."""
    try:
        async with asyncio.timeout(timeout):
            _, writer = await asyncio.open_connection(host, port, ssl=_context(False),
                                                      server_hostname=host)
    except (OSError, EOFError, asyncio.IncompleteReadError):   # ssl.SSLError is an OSError
        return False
    writer.close()
    return True


class _Conn:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter):
        self.reader, self.writer = reader, writer
        self.reused = False

    def close(self) -> None:
        try:
            self.writer.close()
        except Exception:  # noqa: BLE001 - a transport already gone
            pass


class Session:
    """Keep-alive connections to any number of origins. ``ssl`` is True (the system's CAs),
    False (no verification) or an ``ssl.SSLContext``, used for every https origin."""

    def __init__(self, ssl=True, headers: dict | None = None,
                 connect_timeout: float = CONNECT_TIMEOUT, read_timeout: float = READ_TIMEOUT):
        self.ssl = ssl
        self.headers = dict(headers or {})
        self.connect_timeout, self.read_timeout = connect_timeout, read_timeout
        self._idle: dict[tuple[str, str, int], list[_Conn]] = {}

    async def close(self) -> None:
        for conns in self._idle.values():
            for c in conns:
                c.close()
        self._idle.clear()

    async def __aenter__(self) -> "Session":
        return self

    async def __aexit__(self, *exc) -> None:
        await self.close()

    # --- connections --------------------------------------------------------------------
    async def _connect(self, scheme: str, host: str, port: int) -> _Conn:
        idle = self._idle.get((scheme, host, port))
        while idle:
            c = idle.pop()
            if not c.reader.at_eof() and not c.writer.is_closing():
                c.reused = True
                return c
            c.close()
        ssl_ctx = None
        if scheme == "https":
            ssl_ctx = self.ssl if not isinstance(self.ssl, bool) else _context(self.ssl)
        import ssl as _ssl_mod
        try:
            async with asyncio.timeout(self.connect_timeout):
                reader, writer = await asyncio.open_connection(
                    host, port, ssl=ssl_ctx, server_hostname=host if ssl_ctx else None,
                    limit=_READ)
        except TimeoutError:
            raise
        except _ssl_mod.SSLCertVerificationError as e:
            raise ClientConnectorCertificateError(host, e) from e
        except _ssl_mod.SSLError as e:
            raise ClientSSLError(host, e) from e
        except (ConnectionResetError, asyncio.IncompleteReadError) as e:
            if ssl_ctx:   # a plain-http server hangs up on a TLS hello
                raise ClientSSLError(host, e) from e
            raise ClientConnectorError(host, e) from e
        except OSError as e:
            raise ClientConnectorError(host, e) from e
        return _Conn(reader, writer)

    def _put_back(self, key: tuple[str, str, int], conn: _Conn) -> None:
        self._idle.setdefault(key, []).append(conn)

    # --- requests -----------------------------------------------------------------------
    async def request(self, method: str, url, *, headers: dict | None = None, params=None,
                      data=None, allow_redirects: bool = True) -> "Response":
        """Send one request (following redirects) and return its response, whose body is
        still to be read; release it (or use ``async with``) when done."""
        url = str(url)
        if params:
            url += ("&" if urlsplit(url).query else "?") + urlencode(params)
        hdrs = {**self.headers, **(headers or {})}
        for _ in range(MAX_REDIRECTS + 1):
            resp = await self._once(method, url, hdrs, data)
            if not allow_redirects or resp.status not in (301, 302, 303, 307, 308) or \
                    "location" not in resp.headers:
                return resp
            resp.release()
            target = urljoin(url, resp.headers["location"])
            if urlsplit(target)[:2] != urlsplit(url)[:2]:
                # credentials are for the origin that asked for them, not where it points
                hdrs = {k: v for k, v in hdrs.items() if k.lower() != "authorization"}
            if resp.status == 303 or (resp.status in (301, 302) and method == "POST"):
                method, data = "GET", None
            url = target
        raise ClientError(f"too many redirects from {url}")

    async def _once(self, method: str, url: str, headers: dict, data) -> "Response":
        parts = urlsplit(url)
        scheme = parts.scheme.lower()
        if scheme not in ("http", "https") or not parts.hostname:
            raise ClientError(f"cannot request {url!r}")
        host = parts.hostname
        port = parts.port or (443 if scheme == "https" else 80)
        key = (scheme, host, port)
        target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        default_port = port == (443 if scheme == "https" else 80)
        netloc = f"[{host}]" if ":" in host else host
        lines = [f"{method} {target} HTTP/1.1",
                 f"Host: {netloc if default_port else f'{netloc}:{port}'}"]
        names = {k.lower() for k in headers}
        body: bytes | None = None
        stream = None
        if isinstance(data, (bytes, bytearray, memoryview)):
            body = bytes(data)
        elif isinstance(data, str):
            body = data.encode()
        elif data is not None:
            stream = data
        if body is not None and "content-length" not in names:
            lines.append(f"Content-Length: {len(body)}")
        elif stream is not None and "content-length" not in names:
            lines.append("Transfer-Encoding: chunked")
        elif data is None and method in ("POST", "PUT", "PATCH") and \
                "content-length" not in names:
            lines.append("Content-Length: 0")
        lines += [f"{k}: {v}" for k, v in headers.items()]
        head = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
        for attempt in (0, 1):
            conn = await self._connect(scheme, host, port)
            try:
                conn.writer.write(head)
                if body:
                    conn.writer.write(body)
                if stream is not None:
                    chunked = "content-length" not in names
                    async for piece in stream:
                        if not piece:
                            continue
                        if chunked:
                            conn.writer.write(f"{len(piece):x}\r\n".encode())
                            conn.writer.write(piece)
                            conn.writer.write(b"\r\n")
                        else:
                            conn.writer.write(piece)
                        await conn.writer.drain()
                    if chunked:
                        conn.writer.write(b"0\r\n\r\n")
                await conn.writer.drain()
                return await self._response(conn, key, method, url)
            except TimeoutError:
                conn.close()
                raise
            except ServerDisconnectedError:
                conn.close()
                # a kept-alive connection the server had closed meanwhile: once more, afresh
                if conn.reused and attempt == 0 and stream is None:
                    continue
                raise
            except (ConnectionError, OSError) as e:
                conn.close()
                if conn.reused and attempt == 0 and stream is None:
                    continue
                raise ClientConnectorError(host, e) if isinstance(e, OSError) else e
            except BaseException:
                conn.close()
                raise
        raise AssertionError("unreachable")  # pragma: no cover

    async def _response(self, conn: _Conn, key, method: str, url: str) -> "Response":
        reader = conn.reader
        async with asyncio.timeout(self.read_timeout):
            while True:
                status_line = await reader.readline()
                if not status_line:
                    raise ServerDisconnectedError("the server closed the connection")
                try:
                    version, status_text, *reason = status_line.decode("latin-1").split(None, 2)
                    status = int(status_text)
                except ValueError:
                    raise ClientPayloadError(f"not an HTTP answer: {status_line[:60]!r}") \
                        from None
                headers = Headers()
                while True:
                    line = await reader.readline()
                    if line in (b"\r\n", b"\n"):
                        break
                    if not line:
                        raise ServerDisconnectedError("the connection closed in the headers")
                    name, _, value = line.decode("latin-1").partition(":")
                    name, value = name.strip().lower(), value.strip()
                    headers[name] = f"{headers[name]}, {value}" if name in headers else value
                if status >= 200 or status == 101:
                    break   # 1xx (100 Continue) answers come before the real one
        keep = version.upper() == "HTTP/1.1" and \
            "close" not in headers.get("connection", "").lower()
        if method == "HEAD" or status in (204, 304):
            length: int | None = 0
        elif "chunked" in headers.get("transfer-encoding", "").lower():
            length = None
        elif "content-length" in headers:
            try:
                length = int(headers["content-length"])
            except ValueError:
                raise ClientPayloadError("a malformed Content-Length") from None
        else:
            length, keep = -1, False   # to the end of the connection
        return Response(self, conn, key, status, headers, url, length, keep)


class _Content:
    def __init__(self, resp: "Response"):
        self.resp = resp

    async def iter_chunked(self, n: int):
        while True:
            data = await self.resp._read_some(n)
            if not data:
                return
            yield data


class Response:
    """An answer whose body is read on demand."""

    def __init__(self, session: Session, conn: _Conn, key, status: int, headers: Headers,
                 url: str, length: int | None, keep: bool):
        self._session, self._conn, self._key = session, conn, key
        self.status, self.headers, self.url = status, headers, url
        self._left = length            # bytes left; None: chunked; -1: until EOF
        self._chunk_left = 0           # of the current chunk, when chunked
        self._keep = keep
        self._done = length == 0
        self.content = _Content(self)

    async def __aenter__(self) -> "Response":
        return self

    async def __aexit__(self, *exc) -> None:
        self.release()

    async def read(self) -> bytes:
        parts = []
        while data := await self._read_some(_READ):
            parts.append(data)
        return b"".join(parts)

    async def _read_some(self, n: int) -> bytes:
        if self._done or self._conn is None:
            return b""
        reader = self._conn.reader
        try:
            async with asyncio.timeout(self._session.read_timeout):
                if self._left is None:
                    return await self._read_chunked(reader, n)
                if self._left < 0:
                    data = await reader.read(n)
                    if not data:
                        self._done = True
                    return data
                data = await reader.read(min(n, self._left))
                if not data:
                    raise ClientPayloadError("the response ended before its Content-Length")
                self._left -= len(data)
                if not self._left:
                    self._done = True
                return data
        except TimeoutError:
            raise
        except (ConnectionError, OSError) as e:
            raise ClientPayloadError(f"the connection broke: {e}") from e

    async def _read_chunked(self, reader: asyncio.StreamReader, n: int) -> bytes:
        if not self._chunk_left:
            line = await reader.readline()
            try:
                size = int(line.split(b";", 1)[0].strip(), 16)
            except ValueError:
                raise ClientPayloadError("a malformed chunked body") from None
            if size == 0:
                while (line := await reader.readline()) not in (b"\r\n", b"\n", b""):
                    pass   # trailers
                self._done = True
                return b""
            self._chunk_left = size
        data = await reader.read(min(n, self._chunk_left))
        if not data:
            raise ClientPayloadError("the response ended in the middle of a chunk")
        self._chunk_left -= len(data)
        if not self._chunk_left:
            await reader.readexactly(2)
        return data

    def release(self) -> None:
        """Give the connection back for the next request when the body was read to its end,
        else close it."""
        conn, self._conn = self._conn, None
        if conn is None:
            return
        if self._done and self._keep:
            self._session._put_back(self._key, conn)
        else:
            conn.close()
