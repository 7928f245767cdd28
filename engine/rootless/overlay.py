"""overlayfs inside the user's namespace: the same layers, its attributes in another namespace,
and fuse-overlayfs where the kernel won't mount overlay there.

An unprivileged overlay (Linux 5.11+) can't use ``trusted.overlay.*`` attributes, which only
host root may set; with the ``userxattr`` mount option it reads and writes ``user.overlay.*``
instead. So without root, layers mark their opaque directories ``user.overlay.opaque=y`` and
every overlay berth mounts gets ``userxattr``; with root nothing changes. Whiteouts stay 0/0
character devices, which the kernel lets a user namespace make.

A kernel older than 5.11 refuses overlay in a user namespace: ``mount`` then falls back to
fuse-overlayfs (Debian's ``fuse-overlayfs``), as rootless podman does. The probe is the mount
itself, each time (one refused syscall); BERTH_FUSE_OVERLAYFS=1 forces the fallback (so it can
be tried on any kernel), =0 forbids it. fuse-overlayfs reads the same layers (0/0 whiteouts,
``user.overlay.opaque``). Its daemon runs in a copy of the mount namespace it mounted in,
without that mount, and ends when the mount goes: for a container, when the container's mount
namespace ends with its last process (the intermediate mounts it before the container's pid
namespace exists, so the daemon is none of the container's processes: monitor_start.py); a
short-lived mount (cp, build) is ``release``d.
"""

from __future__ import annotations

import os

from ..paths import rootless

FUSE_ENV = "BERTH_FUSE_OVERLAYFS"
FUSE_PROGRAM = "fuse-overlayfs"

_fuse_mounts: list[str] = []     # what this process mounted through fuse-overlayfs


def xattr_prefix() -> str:
    """The attribute namespace of overlay's own attributes, as berth mounts overlays here."""
    return "user.overlay." if rootless() else "trusted.overlay."


def opaque_xattr() -> str:
    return xattr_prefix() + "opaque"


def options(opts: str) -> str:
    """``opts`` of an overlay mount, with ``userxattr`` added without root."""
    return f"{opts},userxattr" if rootless() else opts


def mount(target: str, opts: str, flags: int = 0) -> None:
    """Mount an overlay of ``opts`` (lowerdir=…[,upperdir=…,workdir=…]) on ``target``: the
    kernel's, or without root fuse-overlayfs where the kernel refuses (or FUSE_ENV says so).
    OSError when neither mounts (its strerror says both)."""
    from ..runtime import linux
    fuse = os.environ.get(FUSE_ENV, "") if rootless() else "0"
    if fuse != "1":
        try:
            linux.mount("overlay", target, "overlay", flags, options(opts))
            return
        except OSError as e:
            if fuse == "0" or _program() is None:
                raise
            native = e
    else:
        native = None
    try:
        _fuse_mount(target, opts, flags)
    except OSError as e:
        if native is None:
            raise
        raise OSError(native.errno, f"{native.strerror}; fuse-overlayfs: {e.strerror}") from None


def release() -> None:
    """Unmount what this process mounted through fuse-overlayfs (its daemons end with it)."""
    while _fuse_mounts:
        _unmount(_fuse_mounts.pop())


def _program() -> str | None:
    for d in os.environ.get("PATH", "/usr/bin:/bin").split(":") + ["/usr/bin", "/bin"]:
        path = os.path.join(d, FUSE_PROGRAM)
        if d and os.access(path, os.X_OK):
            return path
    return None


def _fuse_mount(target: str, opts: str, flags: int) -> None:
    """fuse-overlayfs on ``target``: berth mounts the FUSE connection itself and hands its
    descriptor to the program (``/dev/fd/N``, libfuse's way for a caller that mounts), which
    returns once its daemon serves it."""
    import errno
    program = _program()
    if program is None:
        raise OSError(errno.ENOENT, f"{FUSE_PROGRAM} is not installed (Debian: apt install "
                                    f"{FUSE_PROGRAM})")
    from ..runtime import linux
    try:
        dev = os.open("/dev/fuse", os.O_RDWR | os.O_CLOEXEC)
    except OSError as e:
        raise OSError(e.errno, f"/dev/fuse: {e.strerror}") from None
    try:
        linux.mount(FUSE_PROGRAM, target, "fuse." + FUSE_PROGRAM, flags | linux.MS_NODEV,
                    f"fd={dev},rootmode=40000,user_id=0,group_id=0,allow_other,"
                    "default_permissions")
    except BaseException:
        os.close(dev)
        raise
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:   # pragma: no cover - replaced by the program
        try:
            # the daemon's own copy of this mount namespace, without the mount it serves: it
            # holds neither the namespace where the mount lives nor the mount (which would keep
            # each other alive), so it ends when they go; and a container's pivot_root, which
            # moves every process whose root is the old one, does not move it
            linux.unshare(linux.CLONE_NEWNS)
            linux.umount2(target, linux.MNT_DETACH)
            os.chdir("/")
            null = os.open("/dev/null", os.O_RDWR)
            os.dup2(null, 0)
            os.dup2(null, 1)
            os.dup2(w, 2)
            os.dup2(dev, 3)          # inheritable, unlike dev
            os.closerange(4, 65536)
            extra = ",ro" if flags & linux.MS_RDONLY else ""
            os.execv(program, [FUSE_PROGRAM, "-o", opts + extra, "/dev/fd/3"])
        finally:
            os._exit(127)
    os.close(w)
    os.close(dev)
    _, status = os.waitpid(pid, 0)     # libfuse's daemonize: it returns once serving
    os.set_blocking(r, False)          # the daemon may keep the pipe: take only what is said
    try:
        said = os.read(r, 65536)
    except BlockingIOError:
        said = b""
    os.close(r)
    if os.waitstatus_to_exitcode(status) != 0:
        _unmount(target)
        why = said.decode(errors="replace").strip().splitlines()
        raise OSError(errno.EIO, why[-1] if why else f"{FUSE_PROGRAM} failed")
    _fuse_mounts.append(target)


def _unmount(path: str) -> None:
    from ..runtime import linux
    try:
        linux.umount2(path, linux.MNT_DETACH)
    except OSError:
        pass
