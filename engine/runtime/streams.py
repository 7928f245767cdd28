"""The monitor's plumbing: the clients attached to a container's streams, its epoll loop, and
its event lines. Only os, select and time: the monitor's start counts every import."""

from __future__ import annotations

import os
import select
import time

from . import frames

MAX_PENDING = 1 << 20   # bytes queued for a slow attacher before the container's output waits


def emit(events_file: str, type: str, action: str, id: str, attributes: dict) -> None:
    """engine.events.emit for the monitor, which knows the log's path rather than a Paths."""
    from ..events import emit as _emit
    _emit(_EventsFile(events_file), type, action, id, attributes)


class _EventsFile:
    __slots__ = ("events_file",)

    def __init__(self, events_file: str):
        self.events_file = events_file


class Attacher:
    """One client streaming from the monitor over ``frames``: a foreground run (the socket it
    handed the monitor at spawn) or ``berth attach`` (a connection to the attach socket)."""

    def __init__(self, fd: int):
        self.fd = fd
        os.set_blocking(fd, False)
        self.out = bytearray()
        self.decoder = frames.Decoder()

    def queue(self, kind: int, payload: bytes = b"") -> None:
        self.out += frames.encode(kind, payload)

    def flush(self) -> bool:
        """Write what the socket takes now; False when the client is gone."""
        try:
            while self.out:
                n = os.write(self.fd, self.out)
                del self.out[:n]
        except BlockingIOError:
            pass
        except OSError:
            return False
        return True

    def drain(self, timeout: float = 5.0) -> None:
        """Block (bounded) until everything queued was written: the final frames must arrive."""
        os.set_blocking(self.fd, True)
        deadline = time.monotonic() + timeout
        while self.out and time.monotonic() < deadline:
            if not self.flush():
                return


class Poller:
    """The few selectors calls the monitor makes, on epoll directly (selectors costs 1 ms)."""

    def __init__(self):
        self.ep = select.epoll()
        self.data: dict[int, str] = {}

    def register(self, fd: int, data: str, events: int = select.EPOLLIN) -> None:
        self.ep.register(fd, events)
        self.data[fd] = data

    def unregister(self, fd: int) -> None:
        if self.data.pop(fd, None) is not None:
            self.ep.unregister(fd)

    def select(self, timeout: float | None = None) -> list[tuple[int, str]]:
        try:
            events = self.ep.poll(-1 if timeout is None else max(timeout, 0))
        except InterruptedError:  # pragma: no cover - PEP 475 retries
            return []
        return [(fd, self.data[fd]) for fd, _ in events if fd in self.data]


class StdinWriter:
    """What attachers type, on its way to the container's stdin (a pipe, or the pty master):
    queued and written as the container takes it, so a container that does not read never
    blocks its monitor."""

    def __init__(self, fd: int, close_on_eof: bool):
        self.fd = fd
        os.set_blocking(fd, False)
        self.pending = bytearray()
        self.close_on_eof = close_on_eof   # a pipe closes at STDIN_EOF; a terminal stays
        self.eof = False

    def write(self, data: bytes) -> None:
        if self.fd >= 0 and not self.eof:
            self.pending += data

    def flush(self) -> bool:
        """Write what the container takes now; True while bytes remain queued."""
        try:
            while self.pending:
                n = os.write(self.fd, self.pending)
                del self.pending[:n]
        except BlockingIOError:
            return True
        except OSError:
            self.pending.clear()   # the container closed its stdin: what is left is lost
        if self.eof and self.close_on_eof:
            self.close()
        return False

    def close(self) -> None:
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1
