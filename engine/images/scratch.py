"""The image area's scratch space in the root's tmp/, and removing trees of any depth.

Scratch entries are named ``img-<pid>.<start time>-<kind>-…`` for the process that made them, so
whatever a killed berth left behind is told from what a live one is still writing, even after
its pid is reused (``sweep``). Partial downloads (``pull-<digest>.partial``) carry no owner:
they are kept for a later pull to resume and removed only when no berth adding images runs (see
``journal.Journal.busy``).

A layer is hostile input and may nest directories thousands deep: nothing here recurses, and
``remove_tree`` works through directory descriptors, so no path it uses is longer than a name.
"""

from __future__ import annotations

import errno
import os

PREFIX = "img-"
PARTIAL_PREFIX = "pull-"
_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC

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


def remove_tree(path, dir_fd: int | None = None) -> None:
    """``rm -rf path`` (relative to the directory ``dir_fd`` when given): however deep the
    tree, without recursion and without following any symlink. A tree being removed by someone
    else at the same time is not an error."""
    fd = _open_dir(path, dir_fd)
    if fd is None:
        return
    # pending[i]: the subdirectories still to remove in the directory at depth i; names[i]:
    # the name of the directory at depth i+1 in its parent, to rmdir it on the way up
    try:
        pending = [_empty_but_dirs(fd)]
        names: list = []
        inodes = [os.fstat(fd).st_ino]
        while True:
            if pending[-1]:
                sub = pending[-1].pop()
                child = _open_dir(sub, fd)
                if child is None:
                    continue
                os.close(fd)
                fd = child
                names.append(sub)
                inodes.append(os.fstat(fd).st_ino)
                pending.append(_empty_but_dirs(fd))
                continue
            if not names:
                break
            parent = os.open("..", _DIR_FLAGS, dir_fd=fd)
            os.close(fd)
            fd = parent
            pending.pop()
            inodes.pop()
            if os.fstat(fd).st_ino != inodes[-1]:
                raise OSError(errno.ESTALE, "a directory was moved while it was being removed",
                              path)
            try:
                os.rmdir(names.pop(), dir_fd=fd)
            except FileNotFoundError:
                pass
    finally:
        os.close(fd)
    try:
        os.rmdir(path, dir_fd=dir_fd)
    except FileNotFoundError:
        pass


def _open_dir(name, dir_fd: int | None) -> int | None:
    """The directory ``name`` opened without following a symlink; None when it is gone or is
    not a directory (then it is unlinked: a file, or a directory replaced by one meanwhile)."""
    try:
        return os.open(name, _DIR_FLAGS, dir_fd=dir_fd)
    except FileNotFoundError:
        return None
    except OSError as e:
        if e.errno not in (errno.ENOTDIR, errno.ELOOP):
            raise
        _unlink(name, dir_fd)
        return None


def _empty_but_dirs(fd: int) -> list[str]:
    """Unlink everything but the subdirectories in the directory ``fd``; their names."""
    dirs = []
    with os.scandir(fd) as it:
        for e in it:
            if e.is_dir(follow_symlinks=False):
                dirs.append(e.name)
            else:
                _unlink(e.name, fd)
    return dirs


def _unlink(name: str, dir_fd: int | None) -> None:
    try:
        os.unlink(name, dir_fd=dir_fd)
    except FileNotFoundError:
        pass


def tree_size(path: str) -> int:
    """Bytes of file content under ``path`` (hardlinks once), however deep."""
    from ..volumes.store import dir_size
    return dir_size(path)
