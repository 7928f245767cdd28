"""A container's filesystem from the host: ``cp`` both ways, ``export``, ``diff`` and the layer
``commit`` makes. This module holds the ground the others stand on: opening paths inside the
container's root.

Everything in a container's filesystem is the container's to shape, symlinks included, and it
may change them while we look (the CVE-2018-15664 family). So no path inside it is ever handed
to the kernel as host text: the container's root is a descriptor (``/proc/<pid>/root`` of a
running container; for a stopped one, its overlay mounted in a private mount namespace of a
forked child), paths the user names are resolved under it with ``openat2(RESOLVE_IN_ROOT |
RESOLVE_NO_MAGICLINKS)`` (symlinks followed as the container sees them, never out of it), and
trees are walked and written one descriptor at a time with ``O_NOFOLLOW``: a symlink met on the
way is copied as a symlink or replaced, never followed.

    tarwrite.py   a tree read into a tar (cp out, export, commit)
    extract.py    a tar written into a tree (cp in, cp out to the host)
    changes.py    diff and the layer commit writes from an overlay upper dir
    inroot.py     running an operation with a container's root, running or stopped
    commit.py     the image commit makes
"""

from __future__ import annotations

import ctypes
import errno
import os

from ..errors import BerthError, HostError, InvalidArgument, NotFound
from ..rootless import overlay

_libc = ctypes.CDLL(None, use_errno=True)
_SYS_openat2 = 437
RESOLVE_NO_MAGICLINKS = 0x02
RESOLVE_NO_SYMLINKS = 0x04
RESOLVE_BENEATH = 0x08
RESOLVE_IN_ROOT = 0x10
DIR = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
# the runtime's own mounts in every container: their contents are not the container's files
RUNTIME_MOUNTS = ("/proc", "/sys", "/dev")
RUNTIME_FILES = ("/etc/hosts", "/etc/hostname", "/etc/resolv.conf")


class _OpenHow(ctypes.Structure):
    _fields_ = [("flags", ctypes.c_uint64), ("mode", ctypes.c_uint64),
                ("resolve", ctypes.c_uint64)]


def openat2(dirfd: int, path: str, flags: int, resolve: int, mode: int = 0) -> int:
    """The openat2 syscall (Linux 5.6+): ``path`` under ``dirfd`` with RESOLVE_* rules."""
    how = _OpenHow(flags | os.O_CLOEXEC, mode, resolve)
    fd = _libc.syscall(_SYS_openat2, ctypes.c_int(dirfd), os.fsencode(path),
                       ctypes.byref(how), ctypes.c_size_t(ctypes.sizeof(how)))
    if fd < 0:
        err = ctypes.get_errno()
        raise OSError(err, os.strerror(err), path)
    return fd


def open_in_root(root: int, path: str, flags: int = os.O_PATH, mode: int = 0) -> int:
    """``path`` as the container sees it: symlinks followed but confined to ``root``."""
    return openat2(root, path.lstrip("/") or ".", flags, RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS,
                   mode)


def split(path: str) -> tuple[str, str]:
    """(parent, last component) of a container path, normalised; ("/", ".") for the root."""
    parts = [p for p in path.split("/") if p not in ("", ".")]
    if not parts:
        return "/", "."
    return "/" + "/".join(parts[:-1]), parts[-1]


def not_found(path: str, e: OSError) -> BerthError:
    """The error to report when the container path ``path`` could not be opened."""
    if e.errno in (errno.ENOENT, errno.ENOTDIR):
        return NotFound(f"Could not find the file {path} in container")
    if e.errno == errno.ELOOP:
        return InvalidArgument(f"{path}: too many levels of symbolic links")
    return HostError(f"{path}: {e.strerror}")


def join(a: str, b: str) -> str:
    """``a/b`` for relative paths inside a tree, ``b`` alone at its top ("" or ".")."""
    return b if a in ("", ".") else f"{a}/{b}"


def is_opaque(fd: int) -> bool:
    """Whether the overlay directory open as ``fd`` is opaque (hides what lower layers hold)."""
    try:
        return os.getxattr(fd, overlay.opaque_xattr()) == b"y"
    except OSError:
        return False


def write_all(fd: int, data: bytes) -> None:
    """All of ``data`` to ``fd`` (a pipe or file takes it in as many writes as it needs)."""
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]

