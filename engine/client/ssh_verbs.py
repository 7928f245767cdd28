"""A berth on the far end of ssh keeps no state between connections (each ``dial-stdio`` is
its own process, and the API's exec instances and attaches waiting for a start live in one
process's memory). So the verbs that need them, exec and attached starts, run the far end's
own CLI through ssh (``berth exec``, ``berth start -a``, ``berth attach``): its exit code
comes back as ssh's, stdin's end as ssh's, and a terminal's size follows a local pty."""

from __future__ import annotations

import os
import shlex
import subprocess
import threading

from ..runtime import frames
from .transport import ssh_argv


def _argv(engine, words: list[str], tty: bool) -> list[str]:
    return ssh_argv(engine.addr, "berth " + shlex.join(words), tty=tty)


class SSHProcess:
    """``berth exec`` on the far end, shaped as runtime.exec.ExecProcess."""

    def __init__(self, engine, words: list[str], tty: bool, stdio=None, console_size=None):
        self.master = None
        self.detached = False
        if tty:
            import fcntl
            import termios
            from ..runtime import pty
            self.master, slave = os.openpty()
            os.set_inheritable(self.master, False)
            if console_size:
                pty.set_size(self.master, *console_size)

            def controlling() -> None:   # ssh follows its terminal's size by SIGWINCH
                fcntl.ioctl(0, termios.TIOCSCTTY, 0)

            self.proc = subprocess.Popen(_argv(engine, words, True), stdin=slave, stdout=slave,
                                         stderr=slave, start_new_session=True,
                                         preexec_fn=controlling)
            os.close(slave)
        else:
            fds = stdio or (os.open(os.devnull, os.O_RDONLY), 1, 2)
            self.proc = subprocess.Popen(_argv(engine, words, False), stdin=fds[0],
                                         stdout=fds[1], stderr=fds[2], start_new_session=True)

    def wait(self) -> int:
        return self.proc.wait()

    def poll(self) -> int | None:
        return self.proc.poll()

    def pidfd(self) -> int:
        return os.pidfd_open(self.proc.pid)


def exec_words(ref, cmd, env, workdir, user, tty, interactive, privileged) -> list[str]:
    words = ["exec"] + (["-t"] if tty else []) + (["-i"] if interactive else [])
    for e in env:
        words += ["-e", e]
    if workdir:
        words += ["-w", workdir]
    if user:
        words += ["-u", user]
    if privileged:
        words.append("--privileged")
    return [*words, ref, *cmd]


class SSHFrames:
    """``berth start -a``/``berth attach`` on the far end, served as a frames socket: its
    stdout and stderr as STDOUT/STDERR, its exit code as EXIT; STDIN and STDIN_EOF to its
    stdin, SIGNAL and RESIZE through the API, DETACH ends it."""

    def __init__(self, engine, cid: str, words: list[str], tty: bool, sock):
        self.engine, self.cid, self.sock = engine, cid, sock
        self.proc = subprocess.Popen(_argv(engine, words, tty), stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                     start_new_session=True)
        self.lock = threading.Lock()
        outs = [threading.Thread(target=self._copy, args=(pipe, kind), daemon=True)
                for pipe, kind in ((self.proc.stdout, frames.STDOUT),
                                   (self.proc.stderr, frames.STDERR))]
        for t in outs:
            t.start()
        threading.Thread(target=self._finish, args=(outs,), daemon=True).start()
        threading.Thread(target=self._input, daemon=True).start()

    def _send(self, data: bytes) -> None:
        with self.lock:
            self.sock.sendall(data)

    def _copy(self, pipe, kind: int) -> None:
        try:
            while True:
                data = pipe.read1(65536)
                if not data:
                    return
                self._send(frames.encode(kind, data))
        except OSError:
            pass

    def _finish(self, outs) -> None:
        for t in outs:
            t.join()
        code = self.proc.wait()
        try:
            self._send(frames.encode(frames.EXIT, str(code).encode()))
        except OSError:
            pass
        self.sock.close()

    def _input(self) -> None:
        from .streams import serve_input

        def stdin(data: bytes) -> None:
            self.proc.stdin.write(data)
            self.proc.stdin.flush()
        serve_input(self.sock, self.engine, self.cid, stdin, self.proc.stdin.close,
                    self.proc.terminate)
