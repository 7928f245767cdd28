"""A monitor's stdio: the container's output pumped to its json-file log and to the clients
attached to it, their input on its way to the container's stdin (a pipe, or the pty master with
-t), and the attach socket they connect to. A mixin of Monitor (engine/runtime/monitor.py), which
owns the container's life; only os and select, as the rest of the monitor."""

from __future__ import annotations

import os
import select

from . import attach, frames
from .streams import MAX_PENDING, Attacher


class MonitorIO:
    """Monitor's stdio half: what goes between the container's stdio, its log and attachers."""

    def _close_stdio(self) -> None:
        if self.stdin is not None:
            self.sel.unregister(self.stdin.fd)
            self.stdin.close()
            self.stdin = None
        self._release_held()
        self.master = -1   # closed by _pump with the rest of the output

    def _listen(self) -> None:
        """Serve ``berth attach`` on the container's attach socket (a failure to make it only
        costs attach, never the container)."""
        if not self.run_dir:
            return
        self.listen_path = attach.socket_path(self.run_dir, self.cid)
        try:
            self.listener = attach.listen(self.listen_path)
        except OSError:
            self._log_crash()
            self.listen_path = ""

    def _accept(self) -> None:
        try:
            fd, _ = self.listener._accept()
        except OSError:
            return
        a = Attacher(fd)
        self.attachers.append(a)
        self.sel.register(fd, "attacher")

    def _stdin_flush(self) -> None:
        w = self.stdin
        if w is None or w.fd < 0:
            return
        fd = w.fd
        self.sel.unregister(fd)   # before flush, which may close it
        if w.flush():
            self.sel.register(fd, "stdin", select.EPOLLOUT)
        if self.held and len(w.pending) <= MAX_PENDING // 2:
            self._release_held()

    def _release_held(self) -> None:
        for a in self.held:
            if a in self.attachers and a.fd not in self.sel.data:
                self.sel.register(a.fd, "attacher")
        self.held.clear()

    def _pump(self, fd: int) -> None:
        try:
            data = os.read(fd, 65536)
        except OSError:
            data = b""
        stream = self.out[fd]
        if not data:
            self.sel.unregister(fd)
            os.close(fd)
            del self.out[fd]
            return
        self.log.write(stream, data)
        kind = frames.STDOUT if stream == "stdout" else frames.STDERR
        for a in self.attachers:
            a.queue(kind, data)

    def _flush_attachers(self) -> None:
        for a in list(self.attachers):
            if not a.flush():
                self._drop(a)
            elif len(a.out) > MAX_PENDING:
                a.drain(30)  # the client is slow: make the container's output wait for it

    def _drop(self, a: Attacher) -> None:
        self.attachers.remove(a)
        self.sel.unregister(a.fd)
        os.close(a.fd)

    def _from_attacher(self, fd: int) -> None:
        a = next((x for x in self.attachers if x.fd == fd), None)
        if a is None:
            return
        try:
            data = os.read(fd, 65536)
        except BlockingIOError:
            return
        except OSError:
            data = b""
        if not data:
            self._drop(a)
            return
        try:
            got = a.decoder.feed(data)
        except ValueError:   # not speaking frames: hang up on it
            self._drop(a)
            return
        for kind, payload in got:
            if kind == frames.STDIN:
                if self.stdin is not None:
                    self.stdin.write(payload)
            elif kind == frames.RESIZE:
                self._resize(payload)
            elif kind == frames.STDIN_EOF:
                if self.stdin is not None:
                    self.stdin.eof = True
            elif kind == frames.SIGNAL and self.pid and self.status is None:
                try:
                    os.kill(self.pid, int(payload))
                except (OSError, ValueError, OverflowError):   # no such process or signal
                    pass
            elif kind == frames.DETACH:
                self._drop(a)
                return
        self._stdin_flush()
        if self.stdin is not None and len(self.stdin.pending) > MAX_PENDING:
            # the container reads its stdin slower than the client sends: stop reading the
            # client (its socket fills and it waits) rather than queue without bound
            self.sel.unregister(a.fd)
            self.held.append(a)

    def _resize(self, payload: bytes) -> None:
        if self.master < 0:
            return
        try:
            rows, cols = (int(x) for x in payload.split())
            self.pty.set_size(self.master, rows, cols)
        except (ValueError, OSError):
            pass
