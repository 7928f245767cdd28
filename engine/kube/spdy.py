"""The server side of SPDY/3.1 over an upgraded HTTP/1.1 connection, as kubectl before 1.30
speaks it for ``exec``, ``attach`` and ``port-forward`` (``Upgrade: SPDY/3.1``): frames, name/value
header blocks compressed with zlib and SPDY/3's fixed dictionary (one context per direction for
the whole connection), the streams the client opens (SYN_STREAM, answered with SYN_REPLY), their
half-closes (FLAG_FIN), PING, GOAWAY and flow control (WINDOW_UPDATE, initial window 64 KiB).

A ``Session`` hands what the client does to its streams as events, ("open", id), ("data", id,
bytes), ("fin", id), ("reset", id), with each stream's ``streamtype`` in ``streams`` and its
headers in ``headers``; exec and attach see them as channels (streaming.py), port-forward as
connections (portforward.py)."""

from __future__ import annotations

import collections
import struct
import threading
import zlib

VERSION = 3
SYN_STREAM, SYN_REPLY, RST_STREAM, SETTINGS, PING, GOAWAY, HEADERS, WINDOW_UPDATE = \
    1, 2, 3, 4, 6, 7, 8, 9
FLAG_FIN = 0x01
SETTINGS_INITIAL_WINDOW_SIZE = 7
INITIAL_WINDOW = 65536
CANCEL = 5
MAX_DATA = 0xFFFFFF

# SPDY/3's header compression dictionary (draft 3, section 2.6.10.1): length-prefixed header
# names and values, then a run of status codes, reasons, dates and content types; 1423 bytes.
_WORDS = (
    "options head post put delete trace accept accept-charset accept-encoding accept-language "
    "accept-ranges age allow authorization cache-control connection content-base "
    "content-encoding content-language content-length content-location content-md5 "
    "content-range content-type date etag expect expires from host if-match if-modified-since "
    "if-none-match if-range if-unmodified-since last-modified location max-forwards pragma "
    "proxy-authenticate proxy-authorization range referer retry-after server te trailer "
    "transfer-encoding upgrade user-agent vary via warning www-authenticate method get status "
    "200_OK version HTTP/1.1 url public set-cookie keep-alive origin")
_TAIL = (
    "100101201202205206300302303304305306307402405406407408409410411412413414415416417502504505"
    "203 Non-Authoritative Information204 No Content301 Moved Permanently400 Bad Request"
    "401 Unauthorized403 Forbidden404 Not Found500 Internal Server Error501 Not Implemented"
    "503 Service UnavailableJan Feb Mar Apr May Jun Jul Aug Sept Oct Nov Dec 00:00:00 "
    "Mon, Tue, Wed, Thu, Fri, Sat, Sun, GMTchunked,text/html,image/png,image/jpg,image/gif,"
    "application/xml,application/xhtml+xml,text/plain,text/javascript,publicprivatemax-age="
    "gzip,deflate,sdchcharset=utf-8charset=iso-8859-1,utf-,*,enq=0.")
DICTIONARY = b"".join(struct.pack("!I", len(w)) + w.encode()
                      for w in (x.replace("_", " ") for x in _WORDS.split())) + _TAIL.encode()


def upgrade(handler, protocol: str, acks_on_delivery: bool = False) -> Session | None:
    """Switch ``handler``'s connection (an http.server handler) to SPDY/3.1 speaking
    ``protocol`` if the client offered it (X-Stream-Protocol-Version); else answer why not and
    return None. ``acks_on_delivery``: see Session."""
    offered = [p.strip() for h in handler.headers.get_all("X-Stream-Protocol-Version") or []
               for p in h.split(",")]
    if protocol not in offered:
        handler._send(403, f"berth's kubelet speaks {protocol} over SPDY, not "
                      f"{', '.join(offered) or 'the unversioned protocol'}".encode(),
                      "text/plain")
        return None
    handler.send_response(101)
    handler.send_header("Connection", "Upgrade")
    handler.send_header("Upgrade", "SPDY/3.1")
    handler.send_header("X-Stream-Protocol-Version", protocol)
    handler.end_headers()
    handler.close_connection = True
    return Session(handler.rfile, handler.wfile, acks_on_delivery)


def pack_headers(headers: dict[str, list[str]]) -> bytes:
    """A name/value block (uncompressed): names lower-cased, a name's values joined by NUL."""
    out = [struct.pack("!I", len(headers))]
    for name, values in headers.items():
        n, v = name.lower().encode(), "\0".join(values).encode()
        out.append(struct.pack("!I", len(n)) + n + struct.pack("!I", len(v)) + v)
    return b"".join(out)


def unpack_headers(raw: bytes) -> dict[str, list[str]]:
    """The names and values of an uncompressed name/value block."""
    (count,), pos, out = struct.unpack_from("!I", raw), 4, {}
    for _ in range(count):
        (n,) = struct.unpack_from("!I", raw, pos)
        name = raw[pos + 4:pos + 4 + n].decode()
        pos += 4 + n
        (n,) = struct.unpack_from("!I", raw, pos)
        out[name] = raw[pos + 4:pos + 4 + n].decode().split("\0")
        pos += 4 + n
    if pos != len(raw):
        raise ValueError("a SPDY header block longer than its pairs")
    return out


def control(kind: int, flags: int, payload: bytes) -> bytes:
    return struct.pack("!HHI", 0x8000 | VERSION, kind, flags << 24 | len(payload)) + payload


def data(stream: int, flags: int, payload: bytes) -> bytes:
    return struct.pack("!II", stream & 0x7FFFFFFF, flags << 24 | len(payload)) + payload


def read_frame(rfile) -> tuple[bool, int, int, bytes] | None:
    """The next frame as (is_control, type or stream id, flags, payload), or None at the end of
    the connection; ``rfile.read`` gathers a frame that arrives in pieces."""
    head = rfile.read(8)
    if len(head) < 8:
        return None
    first, second = struct.unpack("!II", head)
    flags, length = second >> 24, second & 0xFFFFFF
    payload = rfile.read(length) if length else b""
    if len(payload) < length:
        return None
    if first & 0x80000000:
        if (first >> 16) & 0x7FFF != VERSION:
            raise ValueError(f"SPDY version {(first >> 16) & 0x7FFF}, not 3")
        return True, first & 0xFFFF, flags, payload
    return False, first & 0x7FFFFFFF, flags, payload


class Session:
    """One upgraded connection: frames are read by one thread at a time (``wait_streams``, then
    ``recv``), sent from any.

    What the client sends is acknowledged (WINDOW_UPDATE) as it is read, for the connection
    always; for each stream too, unless ``acks_on_delivery``: then a stream's window is given
    back as its consumer calls ``delivered`` (port-forward: once the bytes reached the pod), so
    a client that does flow control stops sending to a pod that stopped reading, and to it
    alone."""

    def __init__(self, rfile, wfile, acks_on_delivery: bool = False):
        self.rfile, self.wfile = rfile, wfile
        self._deflate = zlib.compressobj(zdict=DICTIONARY)
        self._inflate = zlib.decompressobj(zdict=DICTIONARY)
        self._lock = threading.Lock()             # frames and the compressor, in order
        self._windows = threading.Condition()     # send windows, stream 0 the connection's
        self._window = {0: INITIAL_WINDOW}
        self._initial = INITIAL_WINDOW
        self._flow = False                        # the client has sent a WINDOW_UPDATE
        self._consumed = collections.Counter()    # received but not yet given back
        self._acks = threading.Lock()             # _consumed, from the consumers' threads too
        self._on_delivery = acks_on_delivery
        self.streams: dict[int, str] = {}         # client stream id -> streamtype
        self.headers: dict[int, dict[str, list[str]]] = {}
        self._pending: collections.deque[tuple] = collections.deque()
        self._finished: set[int] = set()
        self.eof = threading.Event()
        self.closed = False

    # -- sending -------------------------------------------------------------------------------

    def _write(self, frame: bytes) -> None:
        with self._lock:
            self.wfile.write(frame)
            self.wfile.flush()

    def _headers_frame(self, kind: int, flags: int, prefix: bytes,
                       headers: dict[str, list[str]]) -> None:
        with self._lock:   # the compression context follows the order frames go out in
            block = self._deflate.compress(pack_headers(headers))
            block += self._deflate.flush(zlib.Z_SYNC_FLUSH)
            self.wfile.write(control(kind, flags, prefix + block))
            self.wfile.flush()

    def send(self, sid: int, payload: bytes, fin: bool = False) -> None:
        """``payload`` on stream ``sid``, in frames the windows allow; ``fin`` half-closes it."""
        if sid in self._finished or self.closed:
            return
        view = memoryview(payload)
        while True:
            n = self._take(sid, min(len(view), MAX_DATA))
            last = n == len(view)
            self._write(data(sid, FLAG_FIN if fin and last else 0, bytes(view[:n])))
            view = view[n:]
            if last:
                break
        if fin:
            self._finished.add(sid)

    def _take(self, sid: int, want: int) -> int:
        """How much of ``want`` bytes the windows allow now, waiting while they are shut (only
        if the client does flow control: moby/spdystream, kubectl's, sends no WINDOW_UPDATE)."""
        if not self._flow or not want:
            return want
        with self._windows:
            self._windows.wait_for(lambda: self.eof.is_set() or min(
                self._window[0], self._window.setdefault(sid, self._initial)) > 0)
            n = min(want, self._window[0], self._window[sid])
            if n <= 0:
                return want   # the client is gone: the write fails or goes nowhere
            self._window[0] -= n
            self._window[sid] -= n
            return n

    def reset(self, sid: int, status: int = CANCEL) -> None:
        """End stream ``sid`` for both sides: nothing more is sent on it."""
        self._finished.add(sid)
        self._write(control(RST_STREAM, 0, struct.pack("!II", sid, status)))

    def close(self) -> None:
        """GOAWAY, then a moment for the client's end, so that its last frames are read, not
        answered with a TCP reset."""
        if self.closed:
            return
        try:
            self._write(control(GOAWAY, 0, struct.pack("!II", max(self.streams, default=0), 0)))
        except OSError:
            pass
        self.closed = True
        self.eof.wait(2)

    # -- receiving -----------------------------------------------------------------------------

    def wait_streams(self, wanted: set[str], timeout: float) -> bool:
        """Read frames until the client has opened the streams named ``wanted``; False if the
        connection ended or ``timeout`` went by first (the session then goes on without)."""
        import time
        deadline = time.monotonic() + timeout
        while not wanted <= set(self.streams.values()):
            if time.monotonic() > deadline or not self._step():
                return False
        return True

    def recv(self) -> tuple | None:
        """The next event, or None once the client went away."""
        while not self._pending:
            if not self._step():
                self.eof.set()
                with self._windows:
                    self._windows.notify_all()
                return None
        return self._pending.popleft()

    def _step(self) -> bool:
        """Read and handle one frame; False at the end of the connection."""
        try:
            frame = read_frame(self.rfile)
        except (OSError, ValueError):
            frame = None
        if frame is None:
            return False
        is_control, kind, flags, payload = frame
        if not is_control:
            self._data(kind, flags, payload)
        elif kind == SYN_STREAM:
            sid = struct.unpack_from("!I", payload)[0] & 0x7FFFFFFF
            headers = unpack_headers(self._inflate.decompress(payload[10:]))
            kind_name = (headers.get("streamtype") or [""])[0]
            self.streams[sid], self.headers[sid] = kind_name, headers
            self._headers_frame(SYN_REPLY, 0, struct.pack("!I", sid), {})
            self._pending.append(("open", sid))
            if flags & FLAG_FIN:
                self._data(sid, FLAG_FIN, b"")
        elif kind == HEADERS:
            self._inflate.decompress(payload[4:])   # keeps the context in step; nothing to use
        elif kind == PING:
            self._write(control(PING, 0, payload[:4]))
        elif kind == RST_STREAM:
            sid = struct.unpack_from("!I", payload)[0] & 0x7FFFFFFF
            self._finished.add(sid)
            self._pending.append(("reset", sid))
        elif kind == GOAWAY:
            return False
        elif kind in (WINDOW_UPDATE, SETTINGS):
            self._flow_frame(kind, payload)
        return True

    def _data(self, sid: int, flags: int, payload: bytes) -> None:
        if payload:
            self._give_back((0,) if self._on_delivery else (sid, 0), len(payload))
            self._pending.append(("data", sid, payload))
        if flags & FLAG_FIN:
            self._pending.append(("fin", sid))

    def delivered(self, sid: int, n: int) -> None:
        """``n`` bytes of stream ``sid`` reached where they go (``acks_on_delivery``)."""
        if sid not in self._finished and not self.closed:
            try:
                self._give_back((sid,), n)
            except OSError:
                pass   # the client is gone: the reader sees it too

    def _give_back(self, keys: tuple[int, ...], n: int) -> None:
        """WINDOW_UPDATEs for what was taken, once half a window's worth has come in."""
        updates = []
        with self._acks:
            for key in keys:
                self._consumed[key] += n
                if self._consumed[key] >= INITIAL_WINDOW // 2:
                    updates.append(control(WINDOW_UPDATE, 0, struct.pack(
                        "!II", key, self._consumed.pop(key))))
        for frame in updates:
            self._write(frame)

    def _flow_frame(self, kind: int, payload: bytes) -> None:
        with self._windows:
            if kind == WINDOW_UPDATE:
                sid, delta = struct.unpack_from("!II", payload)
                sid &= 0x7FFFFFFF
                self._window[sid] = self._window.get(sid, self._initial) + (delta & 0x7FFFFFFF)
                self._flow = True
            else:
                (count,) = struct.unpack_from("!I", payload)
                for i in range(count):
                    key, value = struct.unpack_from("!II", payload, 4 + 8 * i)
                    if key & 0xFFFFFF == SETTINGS_INITIAL_WINDOW_SIZE:
                        for sid in self._window:   # streams open now move by the difference
                            if sid:
                                self._window[sid] += value - self._initial
                        self._initial = value
            self._windows.notify_all()
