"""Walking, measuring and removing trees whose shape a container or an image decides.

A layer or a container may nest directories thousands deep: deeper than Python's recursion
limit and with paths far longer than PATH_MAX. So nothing here recurses and no path handed to
the kernel is longer than one name: a walk goes down and up through directory descriptors
(``DirStack``), holding at most ``KEEP_OPEN`` of them; deeper ones are closed on the way down
and reached again through ``..`` on the way up, checked to be the same directory, so a tree
moved meanwhile ends the walk with ESTALE instead of leading it anywhere else. No symlink is
ever followed.

Imports nothing but ``os``, ``errno`` and ``stat``: the monitor removes a ``--rm`` container
with it.
"""

from __future__ import annotations

import errno
import os
import stat

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Callable

DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
# directory descriptors a walk holds at most: a few dozen levels cover every ordinary tree
# without a ".." round trip; the hard RLIMIT_NOFILE is never approached however deep it goes
KEEP_OPEN = 48


class DirStack:
    """A directory and its ancestors up to ``top`` (which the stack never closes): ``fd`` is
    the current one, ``push`` goes into a subdirectory (its descriptor, now owned by the stack),
    ``pop`` back to the parent."""

    def __init__(self, top: int):
        self.top = top
        self.fd = top
        # per ancestor: its descriptor while held open, else -1 and its (st_dev, st_ino)
        self._up: list[tuple[int, tuple[int, int] | None]] = []

    def push(self, sub: int) -> None:
        if len(self._up) < KEEP_OPEN:
            self._up.append((self.fd, None))
        else:
            try:
                st = os.fstat(self.fd)
            except BaseException:
                os.close(sub)
                raise
            self._up.append((-1, (st.st_dev, st.st_ino)))
            os.close(self.fd)   # never top: the first KEEP_OPEN levels stay open
        self.fd = sub

    def pop(self) -> None:
        parent, ident = self._up.pop()
        if parent < 0:
            parent = os.open("..", DIR_FLAGS, dir_fd=self.fd)
            st = os.fstat(parent)
            if (st.st_dev, st.st_ino) != ident:
                os.close(parent)
                self._up.append((-1, ident))
                raise OSError(errno.ESTALE, "a directory was moved while berth walked it")
        os.close(self.fd)
        self.fd = parent

    def close(self) -> None:
        """Close every descriptor the stack owns (all but ``top``)."""
        for fd, _ in self._up:
            if fd >= 0 and fd != self.top:
                os.close(fd)
        if self.fd != self.top:
            os.close(self.fd)
        self._up.clear()
        self.fd = self.top


def _listing(fd: int, ordered: bool) -> list[tuple[str, bool]]:
    """(name, is a directory by its d_type) of each entry, last to visit first."""
    with os.scandir(fd) as it:
        out = [(e.name, e.is_dir(follow_symlinks=False)) for e in it]
    if ordered:
        out.sort(reverse=True)
    return out


def walk(top: int, visit: Callable[[int, str, bool, str], int | None],
         leave: Callable[[int, str, str], None] | None = None, ordered: bool = False) -> None:
    """Depth first, pre-order, under the directory open as ``top`` (never closed here).

    ``visit(dir_fd, name, is_dir, where)`` is called for each entry: ``dir_fd`` is its
    directory, ``where`` that directory's path from ``top`` ("" at the top; for messages and
    archive names, never to open), ``is_dir`` what the directory listing said. When ``visit``
    returns a descriptor (of that entry, opened by the caller with the flags it needs) the walk
    goes into it and owns it; ``leave(dir_fd, name, where)`` is called after its contents, with
    ``dir_fd`` and ``where`` those of its parent again. ``ordered``: entries by name."""
    dirs = DirStack(top)
    pending = [_listing(top, ordered)]
    wheres = [""]
    names: list[str] = []
    try:
        while True:
            todo = pending[-1]
            while todo:
                name, is_dir = todo.pop()
                sub = visit(dirs.fd, name, is_dir, wheres[-1])
                if sub is not None:
                    dirs.push(sub)
                    names.append(name)
                    wheres.append(f"{wheres[-1]}/{name}" if wheres[-1] else name)
                    todo = _listing(sub, ordered)
                    pending.append(todo)
            if len(pending) == 1:
                return
            pending.pop()
            wheres.pop()
            dirs.pop()
            name = names.pop()
            if leave is not None:
                leave(dirs.fd, name, wheres[-1])
    finally:
        dirs.close()


def open_dir(name, dir_fd: int | None = None) -> int | None:
    """The directory ``name`` (under ``dir_fd``) opened without following a symlink; None when
    it is gone or is not a directory (then it is unlinked: a file, or a directory replaced by
    one meanwhile). What ``remove_tree`` goes into."""
    try:
        return os.open(name, DIR_FLAGS, dir_fd=dir_fd)
    except FileNotFoundError:
        return None
    except OSError as e:
        if e.errno not in (errno.ENOTDIR, errno.ELOOP):
            raise
        _unlink(name, dir_fd)
        return None


def _unlink(name, dir_fd: int | None) -> None:
    try:
        os.unlink(name, dir_fd=dir_fd)
    except FileNotFoundError:
        pass


def _remove_entry(fd: int, name: str, is_dir: bool, where: str) -> int | None:
    if is_dir:
        return open_dir(name, fd)
    try:
        os.unlink(name, dir_fd=fd)
    except FileNotFoundError:
        pass
    return None


def _rmdir(fd: int | None, name: str, where: str = "") -> None:
    try:
        os.rmdir(name, dir_fd=fd)
    except FileNotFoundError:
        pass


def _quietly(fn):
    def run(*args):
        try:
            return fn(*args)
        except OSError:
            return None
    return run


def remove_tree(path, dir_fd: int | None = None, ignore_errors: bool = False) -> None:
    """``rm -rf path`` (relative to the directory ``dir_fd`` when given): however deep the
    tree, without following any symlink. A file is unlinked; a tree being removed by someone
    else at the same time, or already gone, is not an error. ``ignore_errors``: remove what can
    be removed and leave the rest (an immutable file, a busy mount point) without a word."""
    visit, leave = _remove_entry, _rmdir
    if ignore_errors:
        visit, leave = _quietly(visit), _quietly(leave)
    try:
        fd = open_dir(path, dir_fd)
        if fd is None:
            return
        try:
            walk(fd, visit, leave)
        finally:
            os.close(fd)
        _rmdir(dir_fd, path)
    except OSError:
        if not ignore_errors:
            raise


def tree_size(path, dir_fd: int | None = None) -> int:
    """Bytes of a tree as ``docker system df`` counts them: apparent sizes of everything but
    directories, hardlinks once, never following symlinks nor crossing into other
    filesystems. 0 when it can't be read."""
    try:
        fd = os.open(path, DIR_FLAGS, dir_fd=dir_fd)
    except OSError:
        return 0
    seen: set[tuple[int, int]] = set()
    total = 0
    dev = os.fstat(fd).st_dev

    def visit(parent: int, name: str, is_dir: bool, where: str) -> int | None:
        nonlocal total
        try:
            st = os.stat(name, dir_fd=parent, follow_symlinks=False)
            if stat.S_ISDIR(st.st_mode):
                return os.open(name, DIR_FLAGS, dir_fd=parent) if st.st_dev == dev else None
        except OSError:
            return None   # gone meanwhile
        if st.st_nlink > 1:
            key = (st.st_dev, st.st_ino)
            if key in seen:
                return None
            seen.add(key)
        total += st.st_size
        return None
    try:
        walk(fd, visit)
    except OSError:
        pass   # moved while measured: what was counted is the answer
    finally:
        os.close(fd)
    return total


def open_beneath(dir_fd: int, parts: list[str], flags: int = os.O_PATH) -> int:
    """The entry ``parts`` (names, no ``..``) under ``dir_fd``, opened one component at a time
    with ``flags``, never through a symlink: a path of any length."""
    fd = dir_fd
    try:
        for name in parts[:-1]:
            nfd = os.open(name, os.O_PATH | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC,
                          dir_fd=fd)
            if fd != dir_fd:
                os.close(fd)
            fd = nfd
        return os.open(parts[-1], flags | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=fd)
    finally:
        if fd != dir_fd:
            os.close(fd)
