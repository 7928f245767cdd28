"""The attach socket: a unix socket in the container's run directory, served by its monitor,
speaking ``frames`` in both directions (what ``berth attach`` and ``start -a`` of a running
container connect to). Any number of clients at once; each gets the output from the moment it
connects, and what each sends as STDIN goes to the container when it was started with -i.

Only os and _socket: the monitor listens on it at every start.
"""

from __future__ import annotations

import _socket
import os

SOCKET = "attach.sock"
_SUN_PATH_MAX = 107   # sizeof(sun_path) - 1


def socket_path(run_dir: str, cid: str) -> str:
    """Where the monitor of ``cid`` listens (``run_dir`` is the root's run directory)."""
    return os.path.join(run_dir, "c", cid, SOCKET)


def _address(path: str) -> tuple[str, int]:
    """An address under sun_path's 108 bytes for ``path``: itself, or, when too long, the same
    name reached through a descriptor of its directory (the caller closes the descriptor)."""
    if len(os.fsencode(path)) <= _SUN_PATH_MAX:
        return path, -1
    dfd = os.open(os.path.dirname(path), os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
    return f"/proc/self/fd/{dfd}/{os.path.basename(path)}", dfd


def listen(path: str) -> "_socket.socket":
    """A listening socket at ``path`` (its directory made private to root first)."""
    os.makedirs(os.path.dirname(path), 0o700, exist_ok=True)
    try:
        os.unlink(path)   # left by a monitor that was killed
    except FileNotFoundError:
        pass
    s = _socket.socket(_socket.AF_UNIX, _socket.SOCK_STREAM)
    addr, dfd = _address(path)
    try:
        s.bind(addr)
        s.listen(16)
    except BaseException:
        s.close()
        raise
    finally:
        if dfd >= 0:
            os.close(dfd)
    s.setblocking(False)
    return s


def connect(path: str) -> int:
    """A connected descriptor to the monitor listening at ``path``; OSError (ENOENT,
    ECONNREFUSED) when no monitor serves it."""
    s = _socket.socket(_socket.AF_UNIX, _socket.SOCK_STREAM)
    addr, dfd = _address(path)
    try:
        s.connect(addr)
    except BaseException:
        s.close()
        raise
    finally:
        if dfd >= 0:
            os.close(dfd)
    return s.detach()
