"""A remote engine's hijacked streams, served as the local engine serves its own: an attach
becomes a socket speaking engine/runtime/frames (so ``berth run``/``attach`` draw it with the
same code), an exec with -t a local terminal's master, an exec without it the descriptors the
caller gave. Threads copy between them and the Docker API's stream, whose multiplexed frames
have the same 8-byte header as berth's own (type 1 stdout, 2 stderr).
"""

from __future__ import annotations

import os
import select
import socket
import threading

from ..errors import NotFound, Unreachable
from ..runtime import frames


def _write_all(fd: int, data: bytes) -> bool:
    view = memoryview(data)
    while view:
        try:
            view = view[os.write(fd, view):]
        except BlockingIOError:
            select.select([], [fd], [])
        except OSError:
            return False
    return True


class AttachBridge:
    """Between a client's frames socket and an attach stream of a remote container: output to
    STDOUT/STDERR frames and, once the stream ends, the exit code as EXIT; STDIN, STDIN_EOF,
    RESIZE and SIGNAL frames to the stream and the API; DETACH ends the bridge."""

    def __init__(self, engine, cid: str, stream, tty: bool, waiter=None, sock=None):
        self.engine, self.cid, self.stream, self.tty = engine, cid, stream, tty
        self.waiter = waiter          # a Waiter started before the container was
        self.theirs = None
        if sock is None:   # attach(): a new socket whose other end goes to the caller
            sock, self.theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock = sock
        self.detached = threading.Event()

    def start(self) -> int | None:
        """Run the bridge; the caller's end of a new frames socket (theirs to close)."""
        threading.Thread(target=self._output, daemon=True, name=f"attach-out-{self.cid[:12]}").start()
        threading.Thread(target=self._input, daemon=True, name=f"attach-in-{self.cid[:12]}").start()
        return self.theirs.detach() if self.theirs is not None else None

    def _output(self) -> None:
        dec = frames.Decoder()
        try:
            while not self.detached.is_set():
                data = self.stream.read()
                if not data:
                    break
                if self.tty:
                    self.sock.sendall(frames.encode(frames.STDOUT, data))
                    continue
                for kind, payload in dec.feed(data):
                    if kind in (frames.STDOUT, frames.STDERR):
                        self.sock.sendall(frames.encode(kind, payload))
            if not self.detached.is_set():
                code = self.waiter.result() if self.waiter else self.engine.wait(self.cid)
                self.sock.sendall(frames.encode(frames.EXIT, str(code).encode()))
        except OSError:
            pass   # the client went away
        except Exception as e:   # the wait failed: no code to give, say why on stderr
            try:
                self.sock.sendall(frames.encode(frames.STDERR, f"berth: {e}\n".encode()))
            except OSError:
                pass
        finally:
            self.stream.close()
            self.sock.close()

    def _input(self) -> None:
        def detach() -> None:
            self.detached.set()
            self.stream.close()
        serve_input(self.sock, self.engine, self.cid, self.stream.send, self.stream.close_write,
                    detach)


def serve_input(sock, engine, cid: str, stdin, stdin_eof, detach) -> None:
    """What a client sends on an attach's frames socket, until it closes it or detaches:
    STDIN and STDIN_EOF to the given callables, RESIZE and SIGNAL through the API."""
    dec = frames.Decoder()
    try:
        while True:
            data = sock.recv(65536)
            if not data:
                return
            for kind, payload in dec.feed(data):
                if kind == frames.STDIN:
                    stdin(payload)
                elif kind == frames.STDIN_EOF:
                    stdin_eof()
                elif kind == frames.RESIZE:
                    rows, _, cols = payload.decode().partition(" ")
                    engine.resize(cid, int(rows), int(cols))
                elif kind == frames.SIGNAL:
                    engine.kill(cid, int(payload))
                elif kind == frames.DETACH:
                    detach()
                    return
    except Exception:
        return   # the container or the client went away: the output side ends it


class Waiter:
    """``POST /containers/{id}/wait`` sent before the container starts (so an exit, or a
    removal with --rm, can't slip by it); ``result()`` the exit code."""

    def __init__(self, session, cid: str, condition: str, then_removed: bool = False):
        from .http import q
        self.ready = threading.Event()
        self.done = threading.Event()
        self.code, self.error = 125, None

        def wait() -> None:
            try:
                r = session.open("POST", f"/containers/{q(cid)}/wait", {"condition": condition},
                                 timeout=None)
            except Exception as e:
                self.error = e
                self.ready.set()
                self.done.set()
                return
            self.ready.set()
            try:
                import json
                body = json.loads(r.read() or b"{}")
                r.close()
                self.code = int(body.get("StatusCode", 125))
                if then_removed:
                    session.call("POST", f"/containers/{q(cid)}/wait", {"condition": "removed"},
                                 timeout=30.0)
            except NotFound:
                pass   # removed already
            except Exception as e:
                self.error = e
            self.done.set()

        threading.Thread(target=wait, daemon=True, name=f"wait-{cid[:12]}").start()
        # engines send the answer's head at once, before the condition is met; an engine that
        # doesn't gets the start after a short grace
        self.ready.wait(2.0)

    def result(self) -> int:
        self.done.wait()
        if self.error is not None:
            raise self.error
        return self.code


class RemoteExec:
    """A started exec on a remote engine, shaped as runtime.exec.ExecProcess: ``master`` (with
    -t, a local terminal's master), ``wait()``, ``poll()``, ``pidfd()``."""

    def __init__(self, engine, exec_id: str, stream, tty: bool, stdio=None, console_size=None,
                 stdin_attached: bool = True):
        self.engine, self.exec_id, self.stream, self.tty = engine, exec_id, stream, tty
        self.stdin_attached = stdin_attached
        self.detached = False
        self.code: int | None = None
        self.master = None
        self._done_r, self._done_w = os.pipe2(os.O_CLOEXEC)
        self._finished = threading.Event()
        if tty:
            from ..runtime import pty
            self.master, slave = os.openpty()
            os.set_inheritable(self.master, False)
            pty.raw_mode(slave)
            if console_size:
                pty.set_size(self.master, *console_size)
            target = lambda: self._serve_terminal(slave)  # noqa: E731
        else:
            fds = stdio or (os.open(os.devnull, os.O_RDONLY), 1, 2)
            self._fds = [os.dup(fd) for fd in fds]
            target = self._serve_pipes
        threading.Thread(target=target, daemon=True, name=f"exec-{exec_id[:12]}").start()

    def _serve_terminal(self, slave: int) -> None:
        from ..runtime import pty
        ended = threading.Event()

        def output() -> None:
            # not select() on the socket: TLS and the answer's reader keep bytes it can't see
            try:
                while True:
                    data = self.stream.read()
                    if not data or not _write_all(slave, data):
                        break
            finally:
                ended.set()

        threading.Thread(target=output, daemon=True).start()
        size = pty.get_size(slave)
        try:
            while not ended.is_set():
                ready, _, _ = select.select([slave], [], [], 0.25)
                now = pty.get_size(slave)
                if now and now != size:
                    size = now
                    try:
                        self.engine.resize_exec(self.exec_id, *now)
                    except Exception:
                        pass
                if ready:
                    try:
                        data = os.read(slave, 65536)
                    except OSError:
                        data = b""
                    if data:
                        self.stream.send(data)
        except OSError:
            pass
        finally:
            self.stream.close()
            os.close(slave)
            self._finish()

    def _serve_pipes(self) -> None:
        stdin, out, err = self._fds
        dec = frames.Decoder()

        def feed() -> None:
            try:
                while True:
                    data = os.read(stdin, 65536)
                    if not data:
                        break
                    self.stream.send(data)
            except OSError:
                pass
            os.close(stdin)
            self.stream.close_write()

        if self.stdin_attached:
            threading.Thread(target=feed, daemon=True).start()
        else:
            os.close(stdin)
        try:
            while True:
                data = self.stream.read()
                if not data:
                    break
                for kind, payload in dec.feed(data):
                    _write_all(out if kind == frames.STDOUT else err, payload)
        finally:
            self.stream.close()
            for fd in (out, err):
                os.close(fd)
            self._finish()

    def _finish(self) -> None:
        try:
            self.code = self.engine.exec_exit_code(self.exec_id)
        except Exception:
            self.code = 125
        self._finished.set()
        os.close(self._done_w)

    def wait(self) -> int:
        self._finished.wait()
        return self.code

    def poll(self) -> int | None:
        return self.code if self._finished.is_set() else None

    def pidfd(self) -> int:
        """A descriptor that becomes readable when the command has ended."""
        return os.dup(self._done_r)


class StatsFollower:
    """One stats stream per container (``GET /containers/{id}/stats``), each in a thread
    keeping its latest reading; ``ticks`` hands out the latest of all every interval."""

    def __init__(self, engine, ids, all: bool):
        self.engine, self.ids, self.all = engine, ids, all
        self.latest: dict = {}
        self.streams: dict = {}
        self.lock = threading.Lock()
        self.closed = threading.Event()
        self._resolved: list[str] | None = None

    def _follow(self, cid: str) -> None:
        from .http import q
        try:
            r = self.engine.session.open("GET", f"/containers/{q(cid)}/stats", {"stream": "1"},
                                         timeout=None)
        except Exception:
            with self.lock:
                self.streams.pop(cid, None)
            return
        with self.lock:
            self.streams[cid] = r
        try:
            for line in r.lines():
                if self.closed.is_set():
                    break
                # kept as it came: engines send a reading a second, a tick may want fewer,
                # and only the latest is turned into a sample when a tick hands them out
                with self.lock:
                    self.latest[cid] = line
        except Exception:
            pass
        finally:
            r.conn.close()
            with self.lock:
                self.streams.pop(cid, None)
                self.latest.pop(cid, None)

    @staticmethod
    def _sample(cid: str, line: bytes):
        import json
        from . import convert
        data = json.loads(line)
        return convert.stats_sample(cid, data.get("name") or cid, data)

    def _targets(self) -> list[str]:
        if self.ids:
            # names and prefixes resolved once: a look at each container every tick was most
            # of an idle dashboard's work on a remote host (a stream that ends, ends)
            if self._resolved is None:
                self._resolved = [self.engine.container(i).id for i in self.ids]
            return self._resolved
        return [c.id for c in self.engine.containers(all=self.all) if c.running]

    def ticks(self, interval: float):
        import time
        while not self.closed.is_set():
            started = time.monotonic()
            try:
                targets = self._targets()
            except Unreachable:   # the host is away: nothing to show until it is back
                targets = []
                with self.lock:
                    self.latest.clear()
            for cid in targets:
                with self.lock:
                    known = cid in self.streams
                    if not known:
                        self.streams[cid] = None
                if not known:
                    threading.Thread(target=self._follow, args=(cid,), daemon=True).start()
            with self.lock:
                raw = list(self.latest.items())
            yield [self._sample(cid, line) for cid, line in raw]
            time.sleep(max(0.0, interval - (time.monotonic() - started)))

    def close(self) -> None:
        self.closed.set()
        with self.lock:
            streams = [r for r in self.streams.values() if r is not None]
        for r in streams:
            r.conn.close()
