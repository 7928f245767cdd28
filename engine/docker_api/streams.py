"""Docker's stream plumbing: multiplexed framing, hijacked connections, blocking iterators.

Without a tty, Docker multiplexes stdout and stderr on one connection: an 8-byte header (stream
1 or 2, three zero bytes, big-endian length) before each chunk. With a tty the bytes are raw.
``attach`` and exec ``start`` take the connection over (``Upgrade: tcp``, 101): after the
response line the socket carries the container's stream out and stdin in, and a client half-closes
it when its stdin ends.
"""

from __future__ import annotations

import asyncio
import threading

from aiohttp import web

from ..runtime import frames

STDIN, STDOUT, STDERR = 0, 1, 2
RAW = "application/vnd.docker.raw-stream"
MULTIPLEXED = "application/vnd.docker.multiplexed-stream"


def frame(stream: int, data: bytes) -> bytes:
    """One chunk of Docker's multiplexed stream: the frame berth's own attach stream extends
    (engine/runtime/frames.py)."""
    return frames.encode(stream, data)


def stream_number(name: str) -> int:
    return STDERR if name == "stderr" else STDOUT


async def iterate_in_thread(make_iter, stop: threading.Event | None = None, maxsize: int = 256):
    """Yield the items of a blocking iterator built and consumed in a thread of its own (not the
    shared pool: a follower may block for as long as its container runs). ``stop`` tells the
    thread to end at its next item once the consumer has gone."""
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue = asyncio.Queue(maxsize)
    stop = stop or threading.Event()

    def put(item) -> None:
        fut = asyncio.run_coroutine_threadsafe(queue.put(item), loop)
        try:
            fut.result()
        except (RuntimeError, asyncio.CancelledError):  # the loop is closing
            stop.set()

    def work() -> None:
        try:
            for item in make_iter():
                if stop.is_set():
                    break
                put(("item", item))
            put(("end", None))
        except BaseException as e:  # noqa: BLE001 - handed to the consumer
            if not stop.is_set():
                put(("error", e))

    threading.Thread(target=work, daemon=True, name="api-iter").start()
    try:
        while True:
            kind, value = await queue.get()
            if kind == "end":
                return
            if kind == "error":
                raise value
            yield value
    finally:
        stop.set()
        # unblock a producer waiting on a full queue
        while not queue.empty():
            queue.get_nowait()


def detach_keys(spec: str | None) -> bytes:
    """Docker's detach sequence (``ctrl-p,ctrl-q`` by default) as bytes; InvalidArgument for a
    key Docker would refuse."""
    from ..errors import InvalidArgument
    out = bytearray()
    for key in (spec or "ctrl-p,ctrl-q").split(","):
        key = key.strip()
        if len(key) == 1:
            out.append(ord(key))
        elif key.lower().startswith("ctrl-") and len(key) == 6:
            c = key[5].lower()
            if "a" <= c <= "z":
                out.append(ord(c) - ord("a") + 1)
            elif c in "@[\\]^_":
                out.append({"@": 0, "[": 27, "\\": 28, "]": 29, "^": 30, "_": 31}[c])
            else:
                raise InvalidArgument(f"Unknown character: '{key}'")
        else:
            raise InvalidArgument(f"Unknown character: '{key}'")
    return bytes(out)


class DetachScanner:
    """Finds the detach sequence in what a client types, across reads: ``feed`` returns the
    bytes to pass on and whether the sequence was typed (what follows it is dropped)."""

    def __init__(self, keys: bytes):
        self.keys = keys
        self.held = b""   # a prefix of the sequence, kept back until we know

    def feed(self, data: bytes) -> tuple[bytes, bool]:
        out = bytearray()
        for b in data:
            candidate = self.held + bytes([b])
            if self.keys.startswith(candidate):
                if candidate == self.keys:
                    self.held = b""
                    return bytes(out), True
                self.held = candidate
                continue
            out += candidate
            self.held = b""
        return bytes(out), False


class Hijacked(asyncio.Protocol):
    """The connection after a 101: bytes from the client go to ``on_data``; EOF (a half-close
    when the client's stdin ends) keeps the connection open for the output still to come."""

    def __init__(self, transport):
        self.transport = transport
        self.incoming: asyncio.Queue = asyncio.Queue()
        self.closed = asyncio.Event()
        self._can_write = asyncio.Event()
        self._can_write.set()

    def data_received(self, data: bytes) -> None:
        self.incoming.put_nowait(data)

    def eof_received(self) -> bool:
        self.incoming.put_nowait(b"")
        return True

    def connection_lost(self, exc) -> None:
        self.incoming.put_nowait(None)
        self.closed.set()
        self._can_write.set()

    def pause_writing(self) -> None:
        self._can_write.clear()

    def resume_writing(self) -> None:
        self._can_write.set()

    async def write(self, data: bytes) -> bool:
        """Send bytes; False once the client is gone."""
        if self.closed.is_set() or self.transport.is_closing():
            return False
        self.transport.write(data)
        await self._can_write.wait()
        return not self.closed.is_set()


async def hijack(request: web.Request, content_type: str = RAW) -> tuple[Hijacked, object]:
    """Answer 101 (or 200 for a client that did not ask to upgrade) and take the socket over.
    Returns the protocol and a token for ``release``."""
    transport = request.transport
    upgrade = request.headers.get("Upgrade", "").lower() == "tcp"
    head = ("HTTP/1.1 101 UPGRADED\r\nContent-Type: %s\r\nConnection: Upgrade\r\n"
            "Upgrade: tcp\r\nApi-Version: 1.45\r\n\r\n" if upgrade else
            "HTTP/1.1 200 OK\r\nContent-Type: %s\r\nConnection: close\r\n"
            "Api-Version: 1.45\r\n\r\n") % content_type
    original = transport.get_protocol()
    proto = Hijacked(transport)
    transport.set_protocol(proto)
    tail = getattr(original, "_message_tail", b"")
    if tail:  # stdin sent right behind the request, before our answer
        proto.data_received(tail)
        original._message_tail = b""
    transport.write(head.encode())
    transport.resume_reading()
    return proto, original


def release(request: web.Request, token) -> web.Response:
    """Close a hijacked connection, handing it back to aiohttp so it forgets the request."""
    transport = request.transport
    if transport is not None:
        transport.set_protocol(token)
        transport.close()
    # aiohttp writes nothing more on a closed transport; this only ends the handler
    return web.Response(status=200)
