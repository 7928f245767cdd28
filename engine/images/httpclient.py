"""A small synchronous HTTP/1.1 client on sockets: what the distribution API needs
(keep-alive connections per origin, Content-Length and chunked bodies both ways, redirects, TLS
with a given context, connect and read timeouts) and nothing else. Thread-safe: the pull and
push run one thread per blob over one Session.

Why not aiohttp, nor asyncio at all: importing aiohttp costs a `berth pull` 150-250 ms here (two
SSL contexts built at import among it), and asyncio alone 45-100 ms (it loads ssl, logging,
concurrent.futures and inspect), most of a rootless busybox pull (issue 21); this module costs
~3 ms and builds an SSL context only when an https connection is tried. aiohttp still serves
the Docker API (engine/docker_api/), which runs these in a worker thread (registry_api.py).

The interface is aiohttp's shape without the awaits: ``Session.request(...) -> Response`` with
``status``, ``headers``, ``url``, ``read()``, ``iter_chunked(n)``, ``release()`` and ``with``;
the errors mirror aiohttp's. ``Session.abort()`` (from any thread) ends every request in
flight with ``Aborted``: how a failed or cancelled pull stops its other downloads.
"""

from __future__ import annotations

import os
import socket
import threading
from urllib.parse import urlencode, urljoin, urlsplit

CONNECT_TIMEOUT = 30.0
READ_TIMEOUT = 120.0
MAX_REDIRECTS = 10
_READ = 1 << 20


class ClientError(Exception):
    """Anything that went wrong talking to the server."""


class Aborted(ClientError):
    """The session was aborted (another transfer failed, or the caller cancelled)."""


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


def _name(host: str):
    """``host`` for getaddrinfo: an ASCII name as bytes, which spares the idna codec's import
    (stringprep, unicodedata: 1-2 ms) that a str costs even for 127.0.0.1."""
    return host.encode() if host.isascii() else host


def _client_hello() -> bytes:
    """A TLS ClientHello record (TLS 1.2, a few common suites, no extensions): enough for any
    TLS server to answer with a handshake or an alert record."""
    suites = bytes.fromhex("c02fc030c02bc02c009c009d002f0035")
    body = (b"\x03\x03" + os.urandom(32) + b"\x00" + len(suites).to_bytes(2, "big") + suites
            + b"\x01\x00")
    hello = b"\x01" + len(body).to_bytes(3, "big") + body
    return b"\x16\x03\x01" + len(hello).to_bytes(2, "big") + hello


class _Conn:
    def __init__(self, sock: socket.socket):
        self.sock = sock
        self.reader = sock.makefile("rb", buffering=_READ)
        self.reused = False

    def idle_and_open(self) -> bool:
        """Whether a kept-alive connection can take another request: nothing to read on it
        (a readable idle connection is one the server closed, or sent junk on)."""
        import select
        try:
            readable, _, _ = select.select([self.sock], [], [], 0)
        except (OSError, ValueError):
            return False
        return not readable

    def send(self, data: bytes) -> None:
        self.sock.sendall(data)

    def close(self) -> None:
        try:
            self.reader.close()
            self.sock.close()
        except OSError:
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
        self._busy: set[_Conn] = set()
        self._lock = threading.Lock()
        self.aborted = False

    def close(self) -> None:
        with self._lock:
            conns = [c for cs in self._idle.values() for c in cs]
            self._idle.clear()
        for c in conns:
            c.close()

    def abort(self) -> None:
        """End every request in flight and refuse new ones (from any thread)."""
        with self._lock:
            self.aborted = True
            busy = list(self._busy)
        for c in busy:
            try:
                c.sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        self.close()

    def __enter__(self) -> "Session":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # --- connections --------------------------------------------------------------------
    def speaks_tls(self, host: str, port: int) -> bool:
        """Whether ``host:port`` speaks TLS: a ClientHello is sent (then our side closed, so
        that a plain-http server waiting for a request line answers or hangs up) and a TLS
        server's first byte is a handshake (0x16) or alert (0x15) record's. Nothing else is
        sent, no certificate is read: this only tells a loopback registry that speaks TLS (then
        asked over a verified connection) from one that speaks plain http, without loading ssl
        for the latter (4-8 ms). ``abort`` ends the wait for the answer."""
        try:
            sock = socket.create_connection((_name(host), port), self.connect_timeout)
        except OSError:
            return False
        probe = _Conn(sock)
        with self._lock:
            self._busy.add(probe)
            aborted = self.aborted
        try:
            if aborted:
                raise Aborted("aborted")
            sock.sendall(_client_hello())
            sock.shutdown(socket.SHUT_WR)
            first = sock.recv(1)
        except OSError:
            first = b""
        finally:
            self._done(probe, None)
        if self.aborted:
            raise Aborted("aborted")
        return first in (b"\x15", b"\x16")

    def _connect(self, scheme: str, host: str, port: int) -> _Conn:
        while True:
            with self._lock:
                if self.aborted:
                    raise Aborted("aborted")
                idle = self._idle.get((scheme, host, port))
                c = idle.pop() if idle else None
                if c is not None:
                    self._busy.add(c)
            if c is None:
                break
            if c.idle_and_open():
                c.reused = True
                return c
            self._done(c, None)
        ssl_ctx = None
        if scheme == "https":
            ssl_ctx = self.ssl if not isinstance(self.ssl, bool) else _context(self.ssl)
        try:
            sock = socket.create_connection((_name(host), port), self.connect_timeout)
        except TimeoutError:
            raise
        except OSError as e:
            raise ClientConnectorError(host, e) from e
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        if ssl_ctx is not None:
            import ssl as _ssl_mod
            try:
                sock = ssl_ctx.wrap_socket(sock, server_hostname=host)
            except _ssl_mod.SSLCertVerificationError as e:
                sock.close()
                raise ClientConnectorCertificateError(host, e) from e
            except _ssl_mod.SSLError as e:
                sock.close()
                raise ClientSSLError(host, e) from e
            except TimeoutError:
                sock.close()
                raise
            except OSError as e:   # a plain-http server hangs up on a TLS hello
                sock.close()
                raise ClientSSLError(host, e) from e
        sock.settimeout(self.read_timeout)
        conn = _Conn(sock)
        with self._lock:
            self._busy.add(conn)
            if self.aborted:
                self._busy.discard(conn)
                conn.close()
                raise Aborted("aborted")
        return conn

    def _done(self, conn: _Conn, key) -> None:
        """``conn`` is free: kept for the next request to ``key``, or closed (key None)."""
        with self._lock:
            self._busy.discard(conn)
            if key is not None and not self.aborted:
                self._idle.setdefault(key, []).append(conn)
                return
        conn.close()

    # --- requests -----------------------------------------------------------------------
    def request(self, method: str, url, *, headers: dict | None = None, params=None,
                data=None, allow_redirects: bool = True) -> "Response":
        """Send one request (following redirects) and return its response, whose body is
        still to be read; release it (or use ``with``) when done."""
        url = str(url)
        if params:
            url += ("&" if urlsplit(url).query else "?") + urlencode(params)
        hdrs = {**self.headers, **(headers or {})}
        for _ in range(MAX_REDIRECTS + 1):
            resp = self._once(method, url, hdrs, data)
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

    def _once(self, method: str, url: str, headers: dict, data) -> "Response":
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
            conn = self._connect(scheme, host, port)
            try:
                conn.send(head + body if body else head)
                if stream is not None:
                    chunked = "content-length" not in names
                    for piece in stream:
                        if not piece:
                            continue
                        if chunked:
                            conn.send(b"%x\r\n" % len(piece) + bytes(piece) + b"\r\n")
                        else:
                            conn.send(piece)
                    if chunked:
                        conn.send(b"0\r\n\r\n")
                return self._response(conn, key, method, url)
            except TimeoutError:
                self._done(conn, None)
                raise
            except ServerDisconnectedError:
                self._done(conn, None)
                if self.aborted:
                    raise Aborted("aborted") from None
                # a kept-alive connection the server had closed meanwhile: once more, afresh
                if conn.reused and attempt == 0 and stream is None:
                    continue
                raise
            except (ConnectionError, OSError) as e:
                self._done(conn, None)
                if self.aborted:
                    raise Aborted("aborted") from None
                if conn.reused and attempt == 0 and stream is None:
                    continue
                raise ClientConnectorError(host, e) if isinstance(e, OSError) else e
            except BaseException:
                self._done(conn, None)
                raise
        raise AssertionError("unreachable")  # pragma: no cover

    def _response(self, conn: _Conn, key, method: str, url: str) -> "Response":
        reader = conn.reader
        while True:
            status_line = reader.readline(65536)
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
                line = reader.readline(65536)
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

    def __enter__(self) -> "Response":
        return self

    def __exit__(self, *exc) -> None:
        self.release()

    def read(self) -> bytes:
        parts = []
        while data := self._read_some(_READ):
            parts.append(data)
        return b"".join(parts)

    def iter_chunked(self, n: int):
        """The body in pieces of at most ``n`` bytes, as they arrive."""
        while data := self._read_some(n):
            yield data

    def _read_some(self, n: int) -> bytes:
        if self._done or self._conn is None:
            return b""
        reader = self._conn.reader
        try:
            if self._left is None:
                return self._read_chunked(reader, n)
            if self._left < 0:
                data = reader.read1(n)
                if not data:
                    self._done = True
                return data
            data = reader.read1(min(n, self._left))
            if not data:
                raise ClientPayloadError("the response ended before its Content-Length")
            self._left -= len(data)
            if not self._left:
                self._done = True
            return data
        except TimeoutError:
            raise
        except (ConnectionError, OSError, ValueError) as e:
            if self._session.aborted:
                raise Aborted("aborted") from None
            raise ClientPayloadError(f"the connection broke: {e}") from e

    def _read_chunked(self, reader, n: int) -> bytes:
        if not self._chunk_left:
            line = reader.readline(1024)
            try:
                size = int(line.split(b";", 1)[0].strip(), 16)
            except ValueError:
                raise ClientPayloadError("a malformed chunked body") from None
            if size == 0:
                while reader.readline(65536) not in (b"\r\n", b"\n", b""):
                    pass   # trailers
                self._done = True
                return b""
            self._chunk_left = size
        data = reader.read1(min(n, self._chunk_left))
        if not data:
            raise ClientPayloadError("the response ended in the middle of a chunk")
        self._chunk_left -= len(data)
        if not self._chunk_left:
            if reader.read(2) != b"\r\n":
                raise ClientPayloadError("a malformed chunked body")
        return data

    def release(self) -> None:
        """Give the connection back for the next request when the body was read to its end,
        else close it."""
        conn, self._conn = self._conn, None
        if conn is None:
            return
        self._session._done(conn, self._key if self._done and self._keep else None)
