"""Pseudo-terminals for containers: allocated inside the container's own devpts, handed out by
descriptor.

A container's terminal lives in its ``/dev/pts`` (a ``newinstance`` devpts), so ``tty`` inside
prints ``/dev/pts/0`` as with Docker. The process that opens it (the container's pid 1 after
``pivot_root``, or an exec'd process after ``setns``) keeps the slave as its stdio and sends the
master to whoever serves the terminal (the monitor, or the ``berth exec`` client) over a unix
socket with SCM_RIGHTS. Only os, fcntl, struct and _socket: pid 1 can import nothing after
``pivot_root``, so the monitor imports this module (and _socket) before it forks.
"""

from __future__ import annotations

import _socket
import fcntl
import os
import struct
import termios

TIOCSPTLCK = 0x40045431   # unlock the slave (the glibc unlockpt)
TIOCGPTN = 0x80045430     # the slave's number
TIOCSCTTY = 0x540E
TIOCSWINSZ = 0x5414
TIOCGWINSZ = 0x5413


def open_pty(uid: int = -1) -> tuple[int, int]:
    """(master, slave) of a new terminal in the current root's /dev/pts, both close-on-exec.
    ``uid`` owns the slave (the container's user, as runc does)."""
    master = os.open("/dev/pts/ptmx", os.O_RDWR | os.O_NOCTTY | os.O_CLOEXEC)
    try:
        fcntl.ioctl(master, TIOCSPTLCK, struct.pack("i", 0))
        n = struct.unpack("I", fcntl.ioctl(master, TIOCGPTN, struct.pack("I", 0)))[0]
        # O_NOFOLLOW: the number comes from the kernel, the node from a devpts we mounted
        slave = os.open(f"/dev/pts/{n}", os.O_RDWR | os.O_NOCTTY | os.O_CLOEXEC | os.O_NOFOLLOW)
    except BaseException:
        os.close(master)
        raise
    if uid > 0:
        os.fchown(slave, uid, -1)
    return master, slave


def set_size(fd: int, rows: int, cols: int) -> None:
    """Set the terminal's window size (the kernel sends SIGWINCH to its foreground group)."""
    if 0 < rows <= 0xFFFF and 0 < cols <= 0xFFFF:   # a winsize holds 16 bits each
        fcntl.ioctl(fd, TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))


def get_size(fd: int) -> tuple[int, int] | None:
    """(rows, cols) of the terminal ``fd``, or None when it is not one."""
    try:
        rows, cols = struct.unpack("HHHH", fcntl.ioctl(fd, TIOCGWINSZ, b"\0" * 8))[:2]
    except OSError:
        return None
    return rows, cols


def become_session_leader(slave: int) -> None:
    """Make ``slave`` this process's stdio and controlling terminal (a new session)."""
    os.setsid()
    fcntl.ioctl(slave, TIOCSCTTY, 0)
    for target in (0, 1, 2):
        os.dup2(slave, target)
    if slave > 2:
        os.close(slave)


def send_fd(sock_fd: int, fd: int) -> None:
    """Send descriptor ``fd`` over the unix socket ``sock_fd`` (one byte of payload)."""
    s = _socket.socket(fileno=sock_fd)
    try:
        s.sendmsg([b"m"], [(_socket.SOL_SOCKET, _socket.SCM_RIGHTS, struct.pack("i", fd))])
    finally:
        s.detach()


def recv_fd(sock_fd: int) -> int | None:
    """A descriptor sent with ``send_fd`` (close-on-exec), or None when the peer sent none."""
    s = _socket.socket(fileno=sock_fd)
    try:
        _, anc, _, _ = s.recvmsg(1, _socket.CMSG_LEN(4), _socket.MSG_CMSG_CLOEXEC)
    finally:
        s.detach()
    for level, kind, data in anc:
        if level == _socket.SOL_SOCKET and kind == _socket.SCM_RIGHTS and len(data) >= 4:
            return struct.unpack("i", data[:4])[0]
    return None


def raw_mode(fd: int) -> list | None:
    """Put the terminal ``fd`` into raw mode (as cfmakeraw); the old attributes to restore, or
    None when ``fd`` is not a terminal."""
    try:
        old = termios.tcgetattr(fd)
    except termios.error:
        return None
    new = list(old)
    new[0] &= ~(termios.IGNBRK | termios.BRKINT | termios.PARMRK | termios.ISTRIP
                | termios.INLCR | termios.IGNCR | termios.ICRNL | termios.IXON)
    new[1] &= ~termios.OPOST
    new[2] &= ~(termios.CSIZE | termios.PARENB)
    new[2] |= termios.CS8
    new[3] &= ~(termios.ECHO | termios.ECHONL | termios.ICANON | termios.ISIG | termios.IEXTEN)
    new[6] = list(new[6])
    new[6][termios.VMIN] = 1
    new[6][termios.VTIME] = 0
    termios.tcsetattr(fd, termios.TCSANOW, new)   # not FLUSH: keys typed already must arrive
    return old


def restore_mode(fd: int, old: list | None) -> None:
    if old is not None:
        try:
            termios.tcsetattr(fd, termios.TCSADRAIN, old)
        except termios.error:
            pass


def parse_detach_keys(spec: str) -> bytes:
    """Docker's ``--detach-keys`` ("ctrl-p,ctrl-q", "a,ctrl-@") as the byte sequence; empty
    string means the default ctrl-p ctrl-q."""
    if not spec:
        return b"\x10\x11"
    out = bytearray()
    for key in spec.split(","):
        key = key.strip()
        if len(key) == 1:
            out.append(ord(key))
            continue
        if key.lower().startswith("ctrl-") and len(key) == 6:
            c = key[5].lower()
            if "a" <= c <= "z":
                out.append(ord(c) - ord("a") + 1)
                continue
            table = {"@": 0, "[": 27, "\\": 28, "]": 29, "^": 30, "_": 31}
            if c in table:
                out.append(table[c])
                continue
        raise ValueError(f"invalid detach key {key!r}: use a letter or "
                         "ctrl-<a-z, @, [, \\, ], ^, _>")
    return bytes(out)


class DetachScanner:
    """Finds the detach sequence in what the user types: bytes that might start it are held
    back until the next key decides (as Docker's escape proxy)."""

    def __init__(self, keys: bytes):
        self.keys = keys
        self.held = b""

    def feed(self, data: bytes) -> tuple[bytes, bool]:
        """(bytes to forward, detach now)."""
        if not self.keys:
            return data, False
        out = bytearray()
        for b in data:
            self.held += bytes([b])
            if self.keys.startswith(self.held):
                if self.held == self.keys:
                    self.held = b""
                    return bytes(out), True
                continue
            out += self.held
            self.held = b""
        return bytes(out), False
