"""The image area's scratch space in the root's tmp/, and removing trees of any depth.

Scratch entries are named ``img-<pid>.<start time>-<kind>-…`` for the process that made them, so
whatever a killed berth left behind is told from what a live one is still writing, even after
its pid is reused (``sweep``). Partial downloads (``pull-<digest>.partial``) carry no owner:
they are kept for a later pull to resume and removed only when no berth adding images runs (see
``journal.Journal.busy``).

A layer is hostile input and may nest directories thousands deep: trees are removed and
measured with ``engine.fswalk`` (no recursion, no path longer than a name).
"""

from __future__ import annotations

import os

from ..fswalk import remove_tree, tree_size  # noqa: F401 - the image area's removers

PREFIX = "img-"
PARTIAL_PREFIX = "pull-"

_me: list[str] = []


def owner_tag() -> str:
    """``<pid>.<start time>`` of this process: what its scratch names start with."""
    pid = os.getpid()
    if not _me or not _me[0].startswith(f"{pid}."):
        from ..runtime.process import start_time
        _me[:] = [f"{pid}.{start_time(pid)}"]
    return _me[0]


def name(kind: str) -> str:
    """A scratch name (without the directory) for this process; ``kind`` says what it is."""
    return f"{PREFIX}{owner_tag()}-{kind}"


def owner_alive(entry: str) -> bool:
    """Whether the process that made the scratch entry ``entry`` still runs. Entries named
    before start times were recorded (``img-<pid>-…``) are judged by their pid alone."""
    from ..runtime.process import start_time
    owner = entry[len(PREFIX):].partition("-")[0]
    pid, dot, started = owner.partition(".")
    if not pid.isdigit():
        return False
    now = start_time(int(pid))
    if not now:
        return False
    return not dot or str(now) == started


def sweep(tmp: str) -> list[str]:
    """Remove the scratch entries under ``tmp`` whose process is gone; their names."""
    gone = []
    try:
        names = os.listdir(tmp)
    except FileNotFoundError:
        return gone
    for n in names:
        if n.startswith(PREFIX) and not owner_alive(n):
            remove_tree(os.path.join(tmp, n))
            gone.append(n)
    return gone


# FS_IOC_GETFLAGS / FS_IOC_SETFLAGS and the "top of a directory hierarchy" flag (chattr +T)
_GETFLAGS, _SETFLAGS, _TOPDIR_FL = 0x80086601, 0x40086602, 0x00020000
_spread: set[str] = set()


def spread_below(tmp: str) -> None:
    """Mark ``tmp`` (where layers are staged) as the top of directory hierarchies, so that
    ext4 places each new layer in a block group of its own choosing with plenty of free
    inodes, as it places top-level directories. Without it every staged layer lands in the
    group of tmp/, and on an ext4 without a journal a new inode skips every inode of that
    group deleted in the last minutes, one block lookup each: with containers, builds and
    pulls coming and going, Alpine's 518 entries took 440-580 ms to create there and 50 ms
    in a fresh group (issue 23). Once per directory and process; a filesystem without the
    flag (tmpfs, overlay) is left alone."""
    if tmp in _spread:
        return
    _spread.add(tmp)
    import array
    import fcntl
    try:
        fd = os.open(tmp, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    except OSError:
        return
    try:
        flags = array.array("i", [0])
        fcntl.ioctl(fd, _GETFLAGS, flags, True)
        if not flags[0] & _TOPDIR_FL:
            flags[0] |= _TOPDIR_FL
            fcntl.ioctl(fd, _SETFLAGS, flags, True)
    except OSError:
        pass
    finally:
        os.close(fd)
