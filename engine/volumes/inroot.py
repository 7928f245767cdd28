"""Paths resolved inside a container's root, never outside it, whatever its symlinks say.

A container image is hostile input: ``/data -> /etc`` or ``/x -> ../../../../host`` must not make
berth mount over, create or copy anything on the host. ``open_in_root`` walks a path one
component at a time with descriptors (``openat`` with ``O_PATH|O_NOFOLLOW``), reads each symlink
itself, treats absolute links as relative to the root and clamps ``..`` at the root, the way
``openat2(RESOLVE_IN_ROOT)`` does; it also creates missing components inside the root. The
descriptor it returns is what gets mounted on, through ``/proc/self/fd/N``, so no path string is
ever looked up again after the check.
"""

from __future__ import annotations

import errno
import os
import stat

_O_PATH = os.O_PATH | os.O_NOFOLLOW | os.O_CLOEXEC
MAX_SYMLINKS = 40


def fd_path(fd: int) -> str:
    """The magic link that names what ``fd`` refers to, for syscalls that take a path."""
    return f"/proc/self/fd/{fd}"


def open_root(rootfs: str) -> int:
    return os.open(rootfs, os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)


def open_in_root(root_fd: int, path: str, create: str | None = None) -> tuple[int, bool]:
    """An ``O_PATH`` descriptor for ``path`` resolved inside the directory ``root_fd``, and
    whether its last component was created now. ``create`` is None (missing is an error),
    ``"dir"`` or ``"file"`` (what to make for a missing last component; missing parents are
    always directories). Raises OSError (ENOENT, ENOTDIR, ELOOP) like ``open`` would."""
    parts = [p for p in path.split("/")]
    parts.reverse()              # a stack: the next component is parts[-1]
    stack = [os.dup(root_fd)]    # descriptors of the directories walked, for ".."
    links = 0
    created = False
    try:
        while parts:
            comp = parts.pop()
            if comp in ("", "."):
                continue
            if comp == "..":
                # clamped at the root: the root's parent is the root
                if len(stack) > 1:
                    os.close(stack.pop())
                continue
            cur = stack[-1]
            last = not any(p not in ("", ".") for p in parts)
            fd, made = _open_or_create(cur, comp, create, last)
            created = made and last
            st = os.fstat(fd)
            if stat.S_ISLNK(st.st_mode):
                links += 1
                try:
                    target = os.readlink("", dir_fd=fd)
                finally:
                    os.close(fd)
                if links > MAX_SYMLINKS:
                    raise OSError(errno.ELOOP, os.strerror(errno.ELOOP), path)
                if target.startswith("/"):
                    # an absolute link means the container's root, not the host's
                    while len(stack) > 1:
                        os.close(stack.pop())
                parts.extend(reversed(target.split("/")))
                continue
            if parts and any(p not in ("", ".") for p in parts) and not stat.S_ISDIR(st.st_mode):
                os.close(fd)
                raise OSError(errno.ENOTDIR, os.strerror(errno.ENOTDIR), path)
            stack.append(fd)
        return stack.pop(), created
    finally:
        for fd in stack:
            os.close(fd)


def _open_or_create(dir_fd: int, name: str, create: str | None, last: bool) -> tuple[int, bool]:
    for _ in range(8):
        try:
            return os.open(name, _O_PATH, dir_fd=dir_fd), False
        except FileNotFoundError:
            if create is None:
                raise
        try:
            if last and create == "file":
                os.close(os.open(name, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW
                                 | os.O_CLOEXEC, 0o644, dir_fd=dir_fd))
            else:
                os.mkdir(name, 0o755, dir_fd=dir_fd)
        except FileExistsError:
            continue  # made by someone else meanwhile (or a dangling symlink): look again
        try:
            return os.open(name, _O_PATH, dir_fd=dir_fd), True
        except FileNotFoundError:
            continue
    raise OSError(errno.ENOENT, os.strerror(errno.ENOENT), name)
