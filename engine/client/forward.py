"""An engine's socket on the far end of ssh, as podman's connections name it
(``ssh://user@host[:port]/run/podman/podman.sock``): one ``ssh -L LOCAL:REMOTE`` per address
and process, each connection a channel of its own through it, as podman's own client opens a
streamlocal channel per connection over one ssh connection. The far end needs nothing but sshd
(AllowStreamLocalForwarding, on by default) and the engine's service on that socket: no berth,
docker or socat there. (``ssh -W PATH`` would do per connection, but OpenSSH reads a path there
only since 9.4, and Debian 12 has 9.2.)

The ssh process lives as long as this one: its remote command reads its stdin, a pipe from
here, which ends when this process does, however it ends (os._exit and SIGKILL too); the shell
that started it then removes the local socket's directory, which ssh leaves behind.
"""

from __future__ import annotations

import os
import socket
import subprocess
import threading
import time

from ..errors import HostError, Unreachable

_forwarders: dict[tuple, "Forwarder"] = {}
_lock = threading.Lock()
HOLD = "exec cat >/dev/null"   # the far end's side of the lifetime: until our end of stdin


class Forwarder:
    """``ssh -N``-like forwarding of a local socket (in a private directory) to ``addr.path``
    on ``addr``'s host."""

    def __init__(self, addr):
        import tempfile
        from .transport import ssh_argv
        self.addr = addr
        self.dir = tempfile.mkdtemp(prefix="berth-ssh-")
        self.local = os.path.join(self.dir, "engine.sock")
        self.errors = tempfile.TemporaryFile()
        argv = ssh_argv(addr, HOLD, forward=(self.local, addr.path))
        if not _which(argv[0]):
            os.rmdir(self.dir)
            raise HostError(f"{addr.display}: no ssh binary: install openssh-client")
        self.proc = subprocess.Popen(["sh", "-c", '"$@"; rm -rf -- "$0"', self.dir, *argv],
                                     stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
                                     stderr=self.errors, start_new_session=True)
        import atexit
        atexit.register(self.close)

    def connect(self, timeout: float | None) -> socket.socket:
        """A new connection through the forward (a channel of the one ssh connection), once
        ssh listens here."""
        deadline = time.monotonic() + (timeout or 30.0)
        while True:
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            try:
                s.connect(self.local)
                return s
            except (FileNotFoundError, ConnectionRefusedError):
                s.close()
            if self.proc.poll() is not None:
                raise Unreachable(f"cannot reach {self.addr.display}: "
                                  f"{self.stderr_text() or 'ssh exited'}")
            if time.monotonic() > deadline:
                raise Unreachable(f"cannot reach {self.addr.display}: ssh did not forward "
                                  f"{self.addr.path} within {timeout or 30.0:.0f} s")
            time.sleep(0.01)

    def stderr_text(self) -> str:
        """The last thing ssh said (a channel it could not open names the socket's error)."""
        try:
            self.errors.seek(0)
            lines = self.errors.read().decode(errors="replace").strip().splitlines()
        except (OSError, ValueError):
            lines = []
        code = self.proc.poll()
        return lines[-1] if lines else (f"ssh exited with status {code}" if code else "")

    def close(self) -> None:
        if self.proc.poll() is None:
            # the shell and ssh (its own process group): not waiting for ssh to see stdin's
            # end, since it stays while a forwarded connection is open
            import signal
            try:
                os.killpg(self.proc.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
            self.proc.wait()
        import shutil
        shutil.rmtree(self.dir, ignore_errors=True)
        self.errors.close()


class Channel:
    """What a connection through a Forwarder owns: nothing to end (the forward serves the
    process's other connections too), and ssh's words when it breaks."""

    shared = True

    def __init__(self, forwarder: Forwarder):
        self.forwarder = forwarder

    def stderr_text(self) -> str:
        f = self.forwarder
        deadline = time.monotonic() + 0.5   # ssh says why after it closed the connection
        while not (said := f.stderr_text()) and time.monotonic() < deadline:
            time.sleep(0.02)
        if "open failed" in said:
            return (f"ssh could not open {f.addr.path} there ({said}): is the engine's service "
                    f"listening on it, and may {f.addr.user or 'this user'} use it?")
        return said

    def close(self) -> None:
        pass


def _key(addr) -> tuple:
    from .transport import ssh_argv
    return tuple(ssh_argv(addr))


def forwarder(addr) -> Forwarder:
    """The process's forward to ``addr`` (started now if there is none, or it ended)."""
    key = _key(addr)
    with _lock:
        f = _forwarders.get(key)
        if f is None or f.proc.poll() is not None:
            if f is not None:
                f.close()
            f = _forwarders[key] = Forwarder(addr)
        return f


def _which(name: str) -> bool:
    import shutil
    return shutil.which(name) is not None


def dial(addr, timeout: float | None):
    f = forwarder(addr)
    return f.connect(timeout), Channel(f)


def hang_up(addr) -> None:
    """End the process's forward to ``addr``, if it has one (its engine was closed)."""
    with _lock:
        f = _forwarders.pop(_key(addr), None)
    if f is not None:
        f.close()
