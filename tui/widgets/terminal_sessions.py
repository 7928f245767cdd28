"""The sessions an embedded terminal shows: ``PtySession``, a program of ours on a fresh pty
(the exec console's ``berth exec -it``), and ``AttachSession``, a container's main process
through its monitor's frames socket. Each gives the widget a descriptor to read, turns output
and keys into bytes, and says how the pane's size reaches the program."""

from __future__ import annotations

import asyncio
import fcntl
import os
import signal
import struct
import termios

__all__ = ["AttachSession", "PtySession", "exec_argv", "kube_exec_argv", "READ_SIZE"]

READ_SIZE = 65536


def exec_argv(container_id: str, command: str = "sh") -> list[str]:
    """``berth exec -it <id> <command>`` as the session leader of its pty, sealed from the
    dashboard's directory and environment (setsid is found through the sealed PATH)."""
    from engine.public import sealed_python as python_command
    return ["setsid", "-w", "-c",
            *python_command("tui.cli", "exec", "-it", container_id, command, site=True)]


def kube_exec_argv(ref: str, command: str = "sh") -> list[str]:
    """``berth kube exec -it`` in ``kube:NAMESPACE/POD[/CONTAINER]``, as exec_argv does it."""
    from engine.public import sealed_python as python_command
    namespace, _, pod = ref[len("kube:"):].partition("/")
    pod, _, container = pod.partition("/")
    return ["setsid", "-w", "-c", *python_command(
        "tui.cli", "kube", "exec", "-it", "-n", namespace, *(["-c", container] if container
                                                              else []),
        pod, "--", command, site=True)]


def _set_winsize(fd: int, rows: int, cols: int) -> None:
    fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))


class PtySession:
    """A program on a fresh pty of ours (the exec console: ``berth exec -it`` in a container).
    The engine's exec forks, so it runs in that child process, never in the dashboard."""

    verb = "exec"

    def __init__(self, argv: list[str], env: dict | None = None) -> None:
        self.argv = argv
        self.env = env
        self.proc: asyncio.subprocess.Process | None = None
        self.fd: int | None = None

    async def start(self, rows: int, cols: int) -> None:
        master, slave = os.openpty()
        try:
            _set_winsize(master, rows, cols)
            from engine.public import sealed_environment as environment
            env = environment(TERM="xterm", **(self.env or {}))
            self.proc = await asyncio.create_subprocess_exec(
                *self.argv, stdin=slave, stdout=slave, stderr=slave, env=env, close_fds=True)
        except OSError:
            os.close(master)
            raise
        finally:
            os.close(slave)
        self.fd = master

    def output(self, data: bytes) -> bytes:
        return data

    def input(self, data: bytes, typed: bool = True) -> tuple[bytes, bool]:
        """(bytes to write, detach now)."""
        return data, False

    def resize(self, rows: int, cols: int) -> bytes:
        """Tell the program the pane's size (the kernel sends SIGWINCH to the pty's
        foreground process group); bytes to write, none here."""
        if self.fd is not None:
            _set_winsize(self.fd, rows, cols)
        return b""

    def nudge(self) -> None:
        """Say SIGWINCH again: the program may have missed the kernel's while it started."""
        try:
            os.killpg(self.proc.pid, signal.SIGWINCH)
        except (OSError, AttributeError):
            pass

    async def wait(self) -> tuple[int, str]:
        return (await self.proc.wait() if self.proc is not None else 0), ""

    def close(self) -> None:
        """Hang the program up (its pty is gone by now)."""
        if self.proc is not None and self.proc.returncode is None:
            try:
                self.proc.terminate()
            except ProcessLookupError:
                pass


class AttachSession:
    """The container's main process, through its monitor (``engine.attach``'s socket, or the
    one a foreground ``run`` hands the monitor): output and EXIT come as engine/runtime/frames,
    keys go as STDIN frames, the pane's size as RESIZE. Typing ``detach_keys`` (Docker's
    ctrl-p ctrl-q) detaches; the container runs on."""

    verb = "attach"
    proc = None

    def __init__(self, sock: int, detach_keys: bytes = b"\x10\x11") -> None:
        from engine.public import frames, pty
        self._frames = frames
        self.fd: int | None = sock
        self._decoder = frames.Decoder()
        self._scanner = pty.DetachScanner(detach_keys)
        self.code: int | None = None

    async def start(self, rows: int, cols: int) -> None:
        pass

    def output(self, data: bytes) -> bytes:
        f = self._frames
        out = bytearray()
        try:
            got = self._decoder.feed(data)
        except ValueError:   # not frames: treat as the end
            self.code = 125 if self.code is None else self.code
            return b""
        for kind, payload in got:
            if kind in (f.STDOUT, f.STDERR):
                out += payload
            elif kind == f.EXIT:
                self.code = int(payload)
        return bytes(out)

    def input(self, data: bytes, typed: bool = True) -> tuple[bytes, bool]:
        """STDIN frames for ``data`` (what the user typed is scanned for the detach keys)."""
        f = self._frames
        detach = False
        if typed:
            data, detach = self._scanner.feed(data)
        # frames have a bounded payload: a long paste goes as several
        out = b"".join(f.encode(f.STDIN, data[i:i + READ_SIZE])
                       for i in range(0, len(data), READ_SIZE))
        if detach:
            out += f.encode(f.DETACH)
        return out, detach

    def resize(self, rows: int, cols: int) -> bytes:
        return self._frames.encode(self._frames.RESIZE, f"{rows} {cols}".encode())

    def nudge(self) -> None:
        pass

    async def wait(self) -> tuple[int, str]:
        if self.code is None:
            return 125, "the container's monitor went away"
        return self.code, ""

    def close(self) -> None:
        pass
