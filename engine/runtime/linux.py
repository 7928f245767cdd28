"""Thin ctypes wrappers for the syscalls Python 3.11's os module lacks.

unshare, setns, mount, umount2, pivot_root, sethostname, prctl and capset, with the constants
they take. Each raises OSError with the kernel's errno, like the os module does. Loaded by the
monitor (and so by every container's first process), so it imports nothing heavy.

ctypes and libc load on the first call of a wrapper, not with the module: `berth run`'s CLI
imports this module (through caps and security) for its constants alone, and ctypes would cost
it 3 ms. Every process that calls a wrapper calls one before it enters a container's mount
namespace, where nothing could be loaded any more (the monitor at its start, exec's joiner at
its first prctl).
"""

from __future__ import annotations

import os


class _Deferred:
    """Stands for ``ctypes`` or ``_libc`` until the first use loads them (see the module doc)."""

    def __init__(self, name: str):
        self._name = name

    def __getattr__(self, attr: str):
        load_ctypes()
        return getattr(globals()[self._name], attr)


def load_ctypes() -> None:
    """Load ctypes and libc (at the first wrapper's call, or earlier: the monitor does it while
    it waits for its container's id)."""
    g = globals()
    if isinstance(g["_libc"], _Deferred):
        import ctypes as real
        g["ctypes"] = real
        g["_libc"] = real.CDLL(None, use_errno=True)


ctypes = _Deferred("ctypes")
_libc = _Deferred("_libc")

# namespaces (linux/sched.h)
CLONE_NEWNS = 0x00020000
CLONE_NEWCGROUP = 0x02000000
CLONE_NEWUTS = 0x04000000
CLONE_NEWIPC = 0x08000000
CLONE_NEWUSER = 0x10000000
CLONE_NEWPID = 0x20000000
CLONE_NEWNET = 0x40000000

# mount flags (linux/mount.h)
MS_RDONLY = 1
MS_NOSUID = 2
MS_NODEV = 4
MS_NOEXEC = 8
MS_REMOUNT = 32
MS_NOATIME = 1024
MS_BIND = 4096
MS_MOVE = 8192
MS_REC = 16384
MS_PRIVATE = 1 << 18
MS_SLAVE = 1 << 19
MS_RELATIME = 1 << 21
MS_STRICTATIME = 1 << 24
MNT_DETACH = 2

# prctl options (linux/prctl.h)
PR_SET_PDEATHSIG = 1
PR_SET_DUMPABLE = 4
PR_SET_NAME = 15
PR_CAPBSET_DROP = 24
PR_SET_CHILD_SUBREAPER = 36
PR_SET_NO_NEW_PRIVS = 38

_SYS_pivot_root = 155
_SYS_open_tree, _SYS_move_mount = 428, 429
OPEN_TREE_CLONE, OPEN_TREE_CLOEXEC, AT_RECURSIVE = 1, 0o2000000, 0x8000
MOVE_MOUNT_F_EMPTY_PATH = 0x4
_AT_FDCWD = -100
_SYS_pidfd_open = 434
_SYS_close_range = 436


def _check(ret: int, what: str, arg: str = "") -> int:
    if ret < 0:
        err = ctypes.get_errno()
        raise OSError(err, f"{what}: {os.strerror(err)}", arg or None)
    return ret


def _b(s: str | bytes | None) -> bytes | None:
    if s is None:
        return None
    return s if isinstance(s, bytes) else os.fsencode(s)


def unshare(flags: int) -> None:
    _check(_libc.unshare(ctypes.c_int(flags)), "unshare")


def setns(fd: int, nstype: int = 0) -> None:
    _check(_libc.setns(ctypes.c_int(fd), ctypes.c_int(nstype)), "setns")


def mount(source: str | None, target: str, fstype: str | None = None, flags: int = 0,
          data: str | None = None) -> None:
    _check(_libc.mount(_b(source), _b(target), _b(fstype), ctypes.c_ulong(flags), _b(data)),
           "mount", target)


def open_tree(path: str, flags: int = OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_RECURSIVE) -> int:
    """A detached copy of the mount tree at ``path`` (Linux 5.2+), as a descriptor."""
    return _check(_libc.syscall(_SYS_open_tree, ctypes.c_int(_AT_FDCWD), _b(path),
                                ctypes.c_uint(flags)), "open_tree", path)


def move_mount(tree_fd: int, target: str) -> None:
    """Attach the detached tree ``tree_fd`` (open_tree) at ``target``."""
    _check(_libc.syscall(_SYS_move_mount, ctypes.c_int(tree_fd), b"", ctypes.c_int(_AT_FDCWD),
                         _b(target), ctypes.c_uint(MOVE_MOUNT_F_EMPTY_PATH)), "move_mount", target)


def umount2(target: str, flags: int = 0) -> None:
    _check(_libc.umount2(_b(target), ctypes.c_int(flags)), "umount2", target)


def pivot_root(new_root: str, put_old: str) -> None:
    _check(_libc.syscall(_SYS_pivot_root, _b(new_root), _b(put_old)), "pivot_root", new_root)


def sethostname(name: str) -> None:
    raw = name.encode()
    _check(_libc.sethostname(raw, ctypes.c_size_t(len(raw))), "sethostname")


def setdomainname(name: str) -> None:
    raw = name.encode()
    _check(_libc.setdomainname(raw, ctypes.c_size_t(len(raw))), "setdomainname")


def prctl(option: int, arg2: int = 0, arg3: int = 0, arg4: int = 0, arg5: int = 0) -> int:
    return _check(_libc.prctl(ctypes.c_int(option), ctypes.c_ulong(arg2), ctypes.c_ulong(arg3),
                              ctypes.c_ulong(arg4), ctypes.c_ulong(arg5)), "prctl")


def madvise(addr: int, length: int, advice: int) -> None:
    _check(_libc.madvise(ctypes.c_void_p(addr), ctypes.c_size_t(length), ctypes.c_int(advice)),
           "madvise")


def malloc_trim() -> None:
    """Return glibc's free heap to the kernel (a no-op elsewhere)."""
    trim = getattr(_libc, "malloc_trim", None)
    if trim is not None:
        trim(ctypes.c_size_t(0))


def socket(domain: int, type: int, proto: int = 0) -> int:
    """A bare socket descriptor (for interface ioctls) without importing the socket module."""
    return _check(_libc.socket(ctypes.c_int(domain), ctypes.c_int(type | 0o2000000),
                               ctypes.c_int(proto)), "socket")


def pidfd_open(pid: int) -> int:
    """A descriptor that becomes readable when ``pid`` exits (Linux 5.3+)."""
    return _check(_libc.syscall(_SYS_pidfd_open, ctypes.c_int(pid), ctypes.c_uint(0)),
                  "pidfd_open")


def close_range(first: int, last: int = 0xFFFFFFFF) -> None:
    """Close every descriptor from ``first`` to ``last`` in one syscall (Linux 5.9+)."""
    _check(_libc.syscall(_SYS_close_range, ctypes.c_uint(first), ctypes.c_uint(last),
                         ctypes.c_uint(0)), "close_range")


_LINUX_CAPABILITY_VERSION_3 = 0x20080522
_cap_types: list = []


def _cap_structs():
    """(header, data) structure types of capset/capget, made on first use (ctypes)."""
    if not _cap_types:
        load_ctypes()

        class CapHeader(ctypes.Structure):
            _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]

        class CapData(ctypes.Structure):
            _fields_ = [("effective", ctypes.c_uint32), ("permitted", ctypes.c_uint32),
                        ("inheritable", ctypes.c_uint32)]

        _cap_types[:] = [CapHeader, CapData]
    return _cap_types


def capset(effective: int, permitted: int, inheritable: int) -> None:
    """Set this thread's capability sets (64-bit masks, bit n = capability n)."""
    header, cap_data = _cap_structs()
    hdr = header(_LINUX_CAPABILITY_VERSION_3, 0)
    data = (cap_data * 2)()
    for i in (0, 1):
        shift = 32 * i
        data[i].effective = (effective >> shift) & 0xFFFFFFFF
        data[i].permitted = (permitted >> shift) & 0xFFFFFFFF
        data[i].inheritable = (inheritable >> shift) & 0xFFFFFFFF
    _check(_libc.capset(ctypes.byref(hdr), data), "capset")


def capget() -> tuple[int, int, int]:
    """This thread's (effective, permitted, inheritable) capability masks."""
    header, cap_data = _cap_structs()
    hdr = header(_LINUX_CAPABILITY_VERSION_3, 0)
    data = (cap_data * 2)()
    _check(_libc.capget(ctypes.byref(hdr), data), "capget")
    join = lambda f: getattr(data[0], f) | (getattr(data[1], f) << 32)  # noqa: E731
    return join("effective"), join("permitted"), join("inheritable")
