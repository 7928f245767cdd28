"""HTTP/1.1 to a Docker Engine API over a transport's socket: JSON calls on kept-alive
connections (one per calling thread at a time), streams, and hijacked connections (attach,
exec) that become a raw two-way byte stream after the answer's head.

Synchronous on purpose: the CLI loads no asyncio, and the dashboard calls engines from worker
threads. Answers that are errors become engine.errors types carrying the server's message.
"""

from __future__ import annotations

import http.client
import json
import threading
from urllib.parse import quote, urlencode

from ..errors import BerthError, Conflict, InvalidArgument, NotFound, NotSupported, Unreachable
from .transport import Address, dial

API = "/v1.41"   # the oldest version berth, dockerd 20.10+ and podman 4's compat API all speak
# new ssh connections (each an ssh login) that may be on their way at once: sshd's MaxStartups
# (10:30:100 by default) drops logins beyond 10 that are not through yet, and a dashboard
# opens a stats stream per running container at once
SSH_LOGINS = 8


class _Connection(http.client.HTTPConnection):
    """An HTTPConnection whose socket comes from ``dial`` (unix, tcp+TLS or ssh)."""

    def __init__(self, addr: Address, timeout: float | None):
        super().__init__("localhost", timeout=timeout)
        self.addr = addr
        self.owner = None   # the ssh process behind the socket, when there is one

    def connect(self) -> None:
        self.sock, self.owner = dial(self.addr)
        if self.timeout is not None:
            self.sock.settimeout(self.timeout)

    def close(self) -> None:
        super().close()
        # a channel of a shared ssh forward stays, to say why its connection broke
        if self.owner is not None and not self.owner.shared:
            owner, self.owner = self.owner, None
            owner.close()

    def why_lost(self) -> str:
        """What the ssh process said, when the socket closed because it gave up."""
        return self.owner.stderr_text() if self.owner is not None else ""


def error_for(status: int, body: bytes, what: str, host=None) -> BerthError:
    """The engine.errors type for an API error answer, with the server's message; ``host``
    (a callable) names the engine when its API lacks the route."""
    try:
        message = json.loads(body).get("message") or ""
    except (ValueError, AttributeError):
        message = body.decode(errors="replace").strip()
    # one line, as every error berth prints (podman's multi-errors come on several)
    message = " ".join(message.split()) or f"{what}: HTTP {status}"
    if status in (404, 405) and message.lower().rstrip(".").startswith(
            ("not found", "page not found", "404 page not found", "method not allowed")):
        who = host() if host is not None else "the engine"
        return MissingRoute(f"{who} has no {what} in its API ({message}): "
                            "the engine lacks this feature")
    if status == 404:
        return NotFound(message)
    if status == 409:
        return Conflict(message)
    if status == 400:
        return InvalidArgument(message)
    if status == 501:
        return NotSupported(message)
    return BerthError(message)


class MissingRoute(NotSupported):
    """The engine's API has no such route (an older engine: podman 4.3 has no update)."""


# what reading an answer raises when its connection breaks, or is closed under the reader by
# another thread (a follower's stop): http.client then trips over its own closed parts
_BROKEN = (OSError, http.client.HTTPException, ValueError, AttributeError)


class Response:
    """A streamed answer; ``close`` gives its connection back (or drops it mid-stream)."""

    def __init__(self, session: "Session", conn: _Connection, resp: http.client.HTTPResponse):
        self.session, self.conn, self.resp = session, conn, resp
        self.status = resp.status
        self.headers = resp.headers

    def read(self, n: int = -1) -> bytes:
        try:
            return self.resp.read(n) if n >= 0 else self.resp.read()
        except _BROKEN as e:
            raise self.session.lost(self.conn, e) from None

    def read1(self, n: int = 65536) -> bytes:
        try:
            return self.resp.read1(n)
        except _BROKEN as e:
            raise self.session.lost(self.conn, e) from None

    def lines(self):
        """The body line by line as it arrives (JSON-lines streams: pull, stats, events)."""
        buf = b""
        while True:
            chunk = self.read1()
            if not chunk:
                if buf.strip():
                    yield buf
                return
            buf += chunk
            while b"\n" in buf:
                line, buf = buf.split(b"\n", 1)
                if line.strip():
                    yield line

    def messages(self, error: type = BerthError):
        """Docker's JSON progress messages (pull, push, load, import, build) as dicts; an
        error message in the stream raises ``error`` with its text."""
        for line in self.lines():
            try:
                msg = json.loads(line)
            except ValueError:
                continue
            if msg.get("error") or msg.get("errorDetail"):
                raise error(msg.get("error") or (msg.get("errorDetail") or {}).get("message", ""))
            yield msg

    def close(self) -> None:
        if self.resp.isclosed():
            self.session.give_back(self.conn)
        else:
            self.conn.close()


class Session:
    """The kept-alive connections to one engine."""

    def __init__(self, addr: Address, timeout: float | None = 60.0):
        self.addr = addr
        self.timeout = timeout
        self._idle: list[_Connection] = []
        self._lock = threading.Lock()
        self.ok = True        # the last call reached the engine
        self.error = ""       # why the last one didn't
        self.host_words = None   # a callable naming the engine in errors
        # over ssh (dial-stdio: a login per connection) a connection holds a place until its
        # first answer's head, when its login is long through
        self._logins = threading.BoundedSemaphore(SSH_LOGINS) \
            if addr.scheme == "ssh" and not addr.path else None

    def _take(self, timeout, reuse: bool = True) -> _Connection:
        """An idle kept-alive connection (over ssh each new one is a handshake), with
        ``timeout`` on its socket from now; a new one without ``reuse``."""
        with self._lock:
            conn = self._idle.pop() if self._idle and reuse else None
        if conn is None:
            return _Connection(self.addr, timeout)
        if conn.timeout != timeout:
            conn.timeout = timeout
            if conn.sock is not None:
                conn.sock.settimeout(timeout)
        return conn

    def give_back(self, conn: _Connection) -> None:
        with self._lock:
            if len(self._idle) < 4:
                self._idle.append(conn)
                return
        conn.close()

    def close(self) -> None:
        with self._lock:
            idle, self._idle = self._idle, []
        for c in idle:
            c.close()

    def lost(self, conn: _Connection, error: BaseException) -> Unreachable:
        why = conn.why_lost() or str(error) or type(error).__name__
        conn.close()
        return self.down(Unreachable(f"lost the connection to {self.addr.display}: {why}"))

    def down(self, error: Unreachable) -> Unreachable:
        self.ok, self.error = False, str(error)
        with self._lock:
            idle, self._idle = self._idle, []
        for c in idle:
            c.close()
        return error

    def open(self, method: str, path: str, query: dict | None = None, body=None,
             headers: dict | None = None, timeout: float | None | str = "default") -> Response:
        """Send a request; the answer's head has arrived (an error status raises)."""
        timeout = self.timeout if timeout == "default" else timeout
        url = API + path + ("?" + urlencode({k: v for k, v in query.items() if v is not None},
                                               doseq=True)
                            if query else "")
        hdrs = {"Host": "docker", **(headers or {})}
        if isinstance(body, (dict, list)):
            body = json.dumps(body).encode()
            hdrs["Content-Type"] = "application/json"
        # a file sent as the body: sent again from its start on a retry, so a kept-alive
        # connection may carry it only when it can be rewound (stdin can't)
        start = _position(body) if hasattr(body, "read") else 0
        for attempt in (0, 1):
            conn = self._take(timeout, reuse=start is not None)
            reused = conn.sock is not None
            login = self._logins if not reused else None
            if login is not None:
                login.acquire()
            try:
                conn.request(method, url, body=body, headers=hdrs)
                resp = conn.getresponse()
                break
            except (OSError, http.client.HTTPException) as e:
                # a kept-alive connection the server closed meanwhile, or a new one that was
                # reset before a word of answer (an ssh that gave up at once): once more on a
                # new one, when that can't do a thing twice
                reset = (ConnectionResetError, BrokenPipeError, http.client.RemoteDisconnected)
                again = reused or (conn.owner is not None and method in ("GET", "HEAD")
                                   and isinstance(e, reset))
                if again and attempt == 0 and not isinstance(e, TimeoutError):
                    conn.close()
                    if hasattr(body, "seek"):
                        body.seek(start)
                    continue
                raise self.lost(conn, e) from None
            except Unreachable as e:   # it could not be dialled at all
                raise self.down(e) from None
            finally:
                if login is not None:
                    login.release()
        self.ok = True
        r = Response(self, conn, resp)
        if resp.status >= 400:
            data = r.read()
            r.close()
            raise error_for(resp.status, data, f"{method} {path.split('?')[0]}",
                            self.host_words)
        return r

    def call(self, method: str, path: str, query: dict | None = None, body=None,
             timeout: float | None | str = "default", headers: dict | None = None):
        """A whole answer: its JSON (None when it has no body). A file as ``body`` is sent
        chunked as it is read."""
        r = self.open(method, path, query, body, headers, timeout=timeout)
        try:
            data = r.read()
        finally:
            r.close()
        if not data:
            return None
        try:
            return json.loads(data)
        except ValueError:
            return data.decode(errors="replace")

    def call_many(self, paths: list[str], timeout: float | None | str = "default") -> list:
        """GET each of ``paths`` (a query already in each) as ``call`` does, the requests sent
        at once on one kept-alive connection and the answers read in turn (HTTP/1.1
        pipelining, which Go's server, aiohttp and dial-stdio's front all serve): one round
        trip for all instead of one each, and over ssh each passes four processes. Each item
        is the answer's JSON or the BerthError it was. Where the connection can't carry them
        (it broke, or the engine closes it after an answer) the rest are asked one by one."""
        timeout = self.timeout if timeout == "default" else timeout
        out: list = []
        if len(paths) > 1:
            conn = self._take(timeout)
            try:
                if conn.sock is None:
                    conn.connect()
                conn.sock.sendall(b"".join(f"GET {API}{path} HTTP/1.1\r\nHost: docker\r\n"
                                           "\r\n".encode() for path in paths))
                out = self._answers(conn, paths)
            except Unreachable as e:
                raise self.down(e) from None
            except (OSError, http.client.HTTPException):
                pass
            if len(out) == len(paths):
                self.ok = True
                self.give_back(conn)
                return out
            conn.close()
        for path in paths[len(out):]:
            try:
                out.append(self.call("GET", path, timeout=timeout))
            except Unreachable:
                raise
            except BerthError as e:
                out.append(e)
        return out

    def _answers(self, conn: _Connection, paths: list[str]) -> list:
        """The answers to ``paths`` pipelined on ``conn``, read from one buffered reader (each
        HTTPResponse would make its own, and lose what it buffered of the next answer); as
        many as came whole before the connection would close."""
        reader = conn.sock.makefile("rb")
        out: list = []
        try:
            for path in paths:
                resp = http.client.HTTPResponse(_Shared(reader), method="GET")
                resp.begin()
                data = resp.read()
                if resp.status >= 400:
                    out.append(error_for(resp.status, data, f"GET {path.split('?')[0]}",
                                         self.host_words))
                else:
                    out.append(json.loads(data) if data else None)
                if resp.will_close:
                    break
        except (OSError, http.client.HTTPException, ValueError):
            pass
        finally:
            reader.close()
        return out

    def hijack(self, method: str, path: str, query: dict | None = None, body=None) -> "Stream":
        """A connection that after the answer's head carries the raw stream both ways (attach,
        exec start), on a connection of its own."""
        url = API + path + ("?" + urlencode(query) if query else "")
        conn = _Connection(self.addr, None)
        try:
            conn.connect()
            # the stream owns the socket and the ssh process from here: http.client closes its
            # connection after a head it can't frame (an old engine's 200 with no length)
            sock, owner, conn.owner = conn.sock, conn.owner, None
            # no body unless one is needed: after the head, an attach reads stdin from it
            conn.request(method, url, body=json.dumps(body).encode() if body is not None else None,
                         headers={"Host": "docker", "Content-Type": "application/json",
                                  "Connection": "Upgrade", "Upgrade": "tcp"})
            resp = conn.getresponse()
        except (OSError, http.client.HTTPException) as e:
            conn.owner = locals().get("owner")
            raise self.lost(conn, e) from None
        if resp.status >= 400:
            data = resp.read()
            conn.close()
            if owner is not None:
                owner.close()
            raise error_for(resp.status, data, f"{method} {path}")
        stream = Stream(sock, resp.fp, owner)
        stream.resp = resp   # an HTTPResponse closes its reader when it is collected
        return stream


class Stream:
    """A hijacked connection: what the engine sends (``read``; some of it may already sit in
    the answer's buffer, hence the reader) and what we send (``send``, ``close_write``)."""

    def __init__(self, sock, reader, owner):
        self.sock, self.reader, self.owner = sock, reader, owner

    def read(self, n: int = 65536) -> bytes:
        try:
            return self.reader.read1(n)
        except (OSError, ValueError):
            return b""

    def send(self, data: bytes) -> None:
        self.sock.sendall(data)

    def close_write(self) -> None:
        """The end of our input (stdin's EOF). Not over TLS: Python's ssl can't half-close
        (its shutdown ends the session both ways), so there the engine never sees it."""
        import socket
        import ssl
        if isinstance(self.sock, ssl.SSLSocket):
            return
        try:
            self.sock.shutdown(socket.SHUT_WR)
        except OSError:
            pass

    def close(self) -> None:
        try:
            self.reader.close()
        except OSError:
            pass
        self.sock.close()
        if self.owner is not None:
            self.owner.close()


class _Shared:
    """A socket as HTTPResponse sees it, whose "makefile" is the one reader that pipelined
    answers share, and which their close leaves open."""

    def __init__(self, reader):
        self.reader = reader

    def makefile(self, mode: str):
        return _Unclosed(self.reader)


class _Unclosed:
    def __init__(self, reader):
        self.reader = reader

    def __getattr__(self, name: str):
        return getattr(self.reader, name)

    def close(self) -> None:
        pass


def _position(f) -> int | None:
    """Where a file body starts, if it can be read again from there (None: it can't)."""
    try:
        return f.tell() if f.seekable() else None
    except (AttributeError, OSError, ValueError):
        return None


def q(ref: str) -> str:
    """A name or id as one path segment."""
    return quote(ref, safe="")
