"""What a container changed, read from its overlay upper dir: Docker's ``diff`` and the layer
tar ``commit`` makes."""

from __future__ import annotations

import os
import stat
from typing import BinaryIO

from ..fswalk import open_beneath, walk
from . import (DIR, RESOLVE_BENEATH, RESOLVE_NO_MAGICLINKS, RESOLVE_NO_SYMLINKS, RUNTIME_FILES,
               RUNTIME_MOUNTS, is_opaque, join, openat2)
from .tarwrite import TreeWriter


def diff(upper: str, lowers: list[str]) -> list[tuple[str, str]]:
    """Docker's ``diff`` of an overlay upper dir over its lower layers (top first): ("A"|"C"|"D",
    path), sorted; the runtime's own mount points are left out. The upper dir is walked
    however deep it goes (engine/fswalk.py)."""
    lower_fds = [os.open(d, DIR) for d in lowers]
    out: list[tuple[str, str]] = []
    # directories of the upper dir that the layers have too: below one they don't, nothing
    # can be in them either, and nothing is looked up
    present = {""}

    def visit(fd: int, name: str, is_dir: bool, where: str) -> int | None:
        path = join(where, name)
        st = os.stat(name, dir_fd=fd, follow_symlinks=False)
        if stat.S_ISCHR(st.st_mode) and st.st_rdev == 0:
            out.append(("D", "/" + path))
            return None
        existed = where in present and _in_lower(lower_fds, path)
        out.append(("C" if existed else "A", "/" + path))
        if not stat.S_ISDIR(st.st_mode):
            return None
        sub = os.open(name, DIR, dir_fd=fd)
        if existed:
            present.add(path)
            try:
                if is_opaque(sub):
                    _opaque_deletions(lower_fds, path, sub, out)
            except BaseException:
                os.close(sub)
                raise
        return sub
    try:
        top = os.open(upper, DIR)
        try:
            walk(top, visit, ordered=True)
        finally:
            os.close(top)
    finally:
        for fd in lower_fds:
            os.close(fd)
    return _drop_runtime(sorted(out, key=lambda c: c[1]))


def _open_below(fd: int, rel: str, flags: int) -> int:
    """``rel`` under the layer directory ``fd``, no symlink followed: "a/b" exists below only
    as a real path. One openat2 while the path is well under PATH_MAX, a component at a time
    past it."""
    if len(rel) < 1000:
        return openat2(fd, rel, flags,
                       RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS)
    return open_beneath(fd, rel.split("/"), flags)


def _in_lower(lower_fds: list[int], rel: str) -> bool:
    for fd in lower_fds:
        try:
            found = _open_below(fd, rel, os.O_PATH | os.O_NOFOLLOW)
        except OSError:
            continue
        try:
            st = os.fstat(found)
        finally:
            os.close(found)
        # a whiteout in a higher layer hides it: that layer answers first in this order
        return not (stat.S_ISCHR(st.st_mode) and st.st_rdev == 0)
    return False


def _opaque_deletions(lower_fds, rel, upper_fd, out) -> None:
    """An opaque directory hides everything below it: what the layers had and it lacks is
    deleted."""
    have = set(os.listdir(upper_fd))
    gone: set[str] = set()
    for fd in lower_fds:
        try:
            d = _open_below(fd, rel, os.O_RDONLY | os.O_DIRECTORY)
        except OSError:
            continue
        try:
            gone.update(n for n in os.listdir(d) if n not in have and not n.startswith(".wh."))
        finally:
            os.close(d)
    out.extend(("D", f"/{rel}/{n}") for n in gone)


def _drop_runtime(changes: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """Leave out what the runtime itself put in the upper dir (mount points for /proc, /sys,
    /dev and the /etc files it binds) and directories changed only by that."""
    keep = [(k, p) for k, p in changes
            if not (k == "A" and (p in RUNTIME_MOUNTS or p in RUNTIME_FILES))
            and not p.startswith(tuple(m + "/" for m in RUNTIME_MOUNTS))]
    paths = [p for _, p in keep]
    out = []
    for k, p in keep:
        if k == "C" and p in ("/etc",) and not any(q.startswith(p + "/") for q in paths):
            continue
        out.append((k, p))
    return out


def write_layer(upper: str, out: BinaryIO) -> None:
    """The upper dir as an OCI layer tar: whiteouts as ``.wh.`` files, opaque directories
    marked, the runtime's own mount points left out when they are all there is."""
    fd = os.open(upper, DIR)
    try:
        w = TreeWriter(out, whiteouts=True)
        try:
            for name in sorted(os.listdir(fd)):
                if _runtime_leftover(fd, name):
                    continue
                w.add(fd, name, name, "/" + name)
        finally:
            w.close()
    finally:
        os.close(fd)


def _runtime_leftover(fd: int, name: str) -> bool:
    """An empty /proc, /sys or /dev the runtime made to mount on (not the container's work)."""
    if "/" + name not in RUNTIME_MOUNTS:
        return False
    try:
        sub = os.open(name, DIR, dir_fd=fd)
    except OSError:
        return False
    try:
        return not os.listdir(sub)
    finally:
        os.close(sub)

