"""User namespaces for ``--userns auto``: root in the container is an unprivileged uid on the host.

Each container gets its own range of 65536 host ids (``100000 + 65536 * slot``), recorded as a
slot file under ``<root>/userns/`` so two containers of a root never share ids. The root
filesystem's ownership is made to fit with idmapped mounts, not a chowned copy: each image layer
and the container's upper/work directory are bind-mounted with ``MOUNT_ATTR_IDMAP`` into the
container's user namespace and the overlay is mounted over those (the kernel refuses to idmap an
overlay mount itself, but accepts overlay on idmapped layers). On disk nothing changes: a file the
container's root creates is stored as uid 0, as in a container without --userns, so layers stay
shared between all containers whatever their ranges.

The runtime calls ``enter(spec)`` in the monitor's intermediate process (host root, before it
unshares the container's other namespaces), ``own_root()`` first thing in pid 1, and
``release(root, cid)`` when the container is removed; see their docstrings. Limits: bind mounts
and --device nodes from the host keep their host owners (root's files show as nobody inside, as
with Docker's userns-remap); the layers' filesystem must support idmapped mounts (ext4, xfs,
btrfs, tmpfs on Linux 5.12+), else start fails saying so.
"""

from __future__ import annotations

import ctypes
import os

from engine.errors import HostError
from engine.runtime import linux

RANGE_BASE = 100000
RANGE_SIZE = 65536
MAX_SLOTS = 32000        # keeps every id below 2^31: ps and others print larger ones as negative

_SYS_open_tree, _SYS_move_mount, _SYS_mount_setattr = 428, 429, 442
_OPEN_TREE_CLONE, _OPEN_TREE_CLOEXEC = 1, 0o2000000
_AT_EMPTY_PATH, _AT_RECURSIVE, _AT_FDCWD = 0x1000, 0x8000, -100
_MOUNT_ATTR_IDMAP = 0x00100000
_MOVE_MOUNT_F_EMPTY_PATH = 4

_libc = ctypes.CDLL(None, use_errno=True)


class _MountAttr(ctypes.Structure):
    _fields_ = [("attr_set", ctypes.c_uint64), ("attr_clr", ctypes.c_uint64),
                ("propagation", ctypes.c_uint64), ("userns_fd", ctypes.c_uint64)]


def _check(ret: int, what: str) -> int:
    if ret < 0:
        e = ctypes.get_errno()
        raise OSError(e, f"{what}: {os.strerror(e)}")
    return ret


# --- ranges ----------------------------------------------------------------------------------

def _slots_dir(root: str) -> str:
    return os.path.join(root, "userns")


def allocate(root: str, cid: str, size: int = RANGE_SIZE) -> int:
    """The first host uid of ``cid``'s range: the same on every start, distinct from every other
    container of this root. Slots are claimed with O_EXCL files, so concurrent starts can't
    collide."""
    d = _slots_dir(root)
    os.makedirs(d, 0o700, exist_ok=True)
    mine = os.path.join(d, f"id-{cid}")
    try:
        with open(mine) as f:
            return RANGE_BASE + RANGE_SIZE * int(f.read())
    except FileNotFoundError:
        pass
    try:
        start = int(cid[:8], 16) % MAX_SLOTS     # spread containers over the slots
    except ValueError:
        start = 0
    for i in range(MAX_SLOTS):
        slot = (start + i) % MAX_SLOTS
        try:
            fd = os.open(os.path.join(d, f"slot-{slot}"), os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            continue
        with os.fdopen(fd, "w") as f:
            f.write(cid)
        tmp = f"{mine}.{os.getpid()}.tmp"
        with open(tmp, "w") as f:
            f.write(str(slot))
        os.rename(tmp, mine)
        return RANGE_BASE + RANGE_SIZE * slot
    raise HostError("no free user namespace range left: remove some --userns auto containers")


def release(root: str, cid: str) -> None:
    """Give ``cid``'s range back (at container removal; idempotent)."""
    mine = os.path.join(_slots_dir(root), f"id-{cid}")
    try:
        with open(mine) as f:
            slot = int(f.read())
    except (FileNotFoundError, ValueError):
        return
    for p in (os.path.join(_slots_dir(root), f"slot-{slot}"), mine):
        try:
            os.unlink(p)
        except FileNotFoundError:
            pass


# --- the namespace and the idmapped mounts ---------------------------------------------------

def new_userns_fd(host_uid: int, size: int) -> int:
    """A descriptor of a new user namespace mapping 0..size-1 to host_uid.. (uids and gids).

    A short-lived child unshares it and waits; we (host root) write its maps, keep its ns open
    and let it go. The namespace lives on as long as the descriptor (or a process in it) does."""
    r, w = os.pipe()
    ready_r, ready_w = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the holder child
        try:
            os.close(w)
            os.close(ready_r)
            linux.unshare(linux.CLONE_NEWUSER)
            os.write(ready_w, b"u")
            os.read(r, 1)
        finally:
            os._exit(0)
    os.close(r)
    os.close(ready_w)
    try:
        if os.read(ready_r, 1) != b"u":
            raise HostError("creating a user namespace failed (is user.max_user_namespaces 0?)")
        line = f"0 {host_uid} {size}\n"
        for name in ("uid_map", "gid_map"):
            with open(f"/proc/{pid}/{name}", "w") as f:
                f.write(line)
        return os.open(f"/proc/{pid}/ns/user", os.O_RDONLY | os.O_CLOEXEC)
    finally:
        os.close(w)
        os.close(ready_r)
        os.waitpid(pid, 0)


def idmap_bind(source: str, target: str, userns_fd: int) -> None:
    """Bind ``source`` at ``target`` with its ids shifted into ``userns_fd``'s mapping."""
    fd = _check(_libc.syscall(_SYS_open_tree, _AT_FDCWD, os.fsencode(source),
                              ctypes.c_uint(_OPEN_TREE_CLONE | _OPEN_TREE_CLOEXEC)), f"open_tree {source}")
    try:
        attr = _MountAttr(_MOUNT_ATTR_IDMAP, 0, 0, userns_fd)
        try:
            _check(_libc.syscall(_SYS_mount_setattr, fd, b"", ctypes.c_uint(_AT_EMPTY_PATH),
                                 ctypes.byref(attr), ctypes.c_size_t(ctypes.sizeof(attr))),
                   f"idmapping {source}")
        except OSError as e:
            raise HostError(f"--userns auto needs idmapped mounts, which the filesystem of {source} "
                            f"refuses ({e.strerror}): use --userns host") from None
        _check(_libc.syscall(_SYS_move_mount, fd, b"", _AT_FDCWD, os.fsencode(target),
                             ctypes.c_uint(_MOVE_MOUNT_F_EMPTY_PATH)), f"move_mount {target}")
    finally:
        os.close(fd)


def mount_idmapped_overlay(rootfs: str, lower: list[str], upper: str, work: str, userns_fd: int,
                           host_uid: int) -> None:
    """Mount the container's overlay at ``rootfs`` over idmapped layers (in the calling process's
    mount namespace, which must already be private). Mount points go in ``<rootfs>/../idmap``."""
    if os.path.dirname(upper) != os.path.dirname(work):
        raise HostError("upper and work directories must share a parent for an idmapped overlay")
    base = os.path.join(os.path.dirname(rootfs.rstrip("/")), "idmap")
    os.makedirs(base, exist_ok=True)
    lowers = []
    for i, layer in enumerate(lower):
        mp = os.path.join(base, str(i))
        os.makedirs(mp, exist_ok=True)
        idmap_bind(layer, mp, userns_fd)
        lowers.append(mp)
    rw = os.path.join(base, "rw")
    os.makedirs(rw, exist_ok=True)
    idmap_bind(os.path.dirname(upper), rw, userns_fd)
    opts = (f"lowerdir={':'.join(lowers)},upperdir={rw}/{os.path.basename(upper)},"
            f"workdir={rw}/{os.path.basename(work)}")
    # overlayfs does its upper-layer work with the mounter's credentials; host root's fsuid 0
    # has no image in the idmapped upper layer (EOVERFLOW, and the overlay falls back to
    # read-only), so mount with the fs ids of the container's root.
    with _container_fsids(host_uid):
        linux.mount("overlay", rootfs, "overlay", 0, opts)


class _container_fsids:
    """File-system ids of the container's root for the duration of a with block, capabilities
    kept: what host root creates in the idmapped overlay must map to an id inside the range.
    (Changing fsuid from 0 clears the file capabilities from the effective set; they are raised
    again from the permitted set.)"""

    def __init__(self, host_uid: int):
        self.host_uid = host_uid

    def __enter__(self):
        self.caps = linux.capget()
        eff, prm, inh = self.caps
        _libc.setfsgid(self.host_uid)
        _libc.setfsuid(self.host_uid)
        linux.capset(prm, prm, inh)
        return self

    def __exit__(self, *exc):
        _libc.setfsuid(0)
        _libc.setfsgid(0)
        linux.capset(*self.caps)


def join(userns_fd: int) -> None:
    """Enter the user namespace as its root (full capabilities inside it, host uid = range base)."""
    linux.setns(userns_fd, linux.CLONE_NEWUSER)
    os.setresgid(0, 0, 0)
    os.setresuid(0, 0, 0)


def enter(spec: dict) -> None:
    """For --userns auto, in the monitor's intermediate process, as host root, right before it
    unshares the container's namespaces (``spec`` is the runtime's start spec: rootfs, lower,
    upper, work, cdir, security.userns).

    Makes a private mount namespace; creates the container's user namespace with its id range;
    mounts the overlay at ``rootfs`` over idmapped layers; binds the container's hosts,
    resolv.conf and hostname into it; mounts its volumes, binds and tmpfs (idmapped); leaves the process's cwd at the root filesystem; and joins
    the user namespace as its root. The caller then unshares the other namespaces as usual (mount
    included: they all belong to the new user namespace) and forks pid 1, which must skip its own
    overlay mount and /etc binds, use "." (its cwd) as the root filesystem's path (the host
    directories above it are closed to an unmapped root), and bind the host's device nodes instead
    of mknod (see ``bind_device``)."""
    uspec = spec["security"]["userns"]
    rootfs = spec["rootfs"]
    # pid 1 steps back into its root through the container's directory (own_root), as the
    # container's root: like Docker's remapped roots, the directory is passable for that
    # root's group and for nobody else (0700 root:root otherwise)
    os.chown(spec["cdir"], 0, uspec["host_uid"])
    os.chmod(spec["cdir"], 0o710)
    linux.unshare(linux.CLONE_NEWNS)
    linux.mount(None, "/", None, linux.MS_REC | linux.MS_PRIVATE)
    fd = new_userns_fd(uspec["host_uid"], uspec.get("size", RANGE_SIZE))
    try:
        mount_idmapped_overlay(rootfs, spec["lower"], spec["upper"], spec["work"], fd, uspec["host_uid"])
        for name in ("hosts", "resolv.conf", "hostname"):
            src = os.path.join(spec["cdir"], name)
            if not os.path.exists(src):
                continue
            target = os.path.join(rootfs, "etc", name)
            if not os.path.lexists(target):
                with _container_fsids(uspec["host_uid"]):
                    os.makedirs(os.path.dirname(target), exist_ok=True)
                    open(target, "a").close()
            linux.mount(src, target, None, linux.MS_BIND)
        if spec.get("mounts"):
            # volumes, binds and tmpfs: idmapped now, as host root (pid 1, in the namespace,
            # could not reach the host's directories); none is on a path the runtime mounts
            # later (security.validate refuses those with --userns auto)
            from .. import volumes
            volumes.mount_all(rootfs, spec["mounts"], "early", userns_fd=fd,
                              host_uid=uspec["host_uid"])
        # pid 1 reaches its root through this cwd: a user namespace's root has no rights on the
        # host directories above it (they are owned by an id it does not map)
        os.chdir(rootfs)
        join(fd)
    finally:
        os.close(fd)


def own_root() -> None:
    """In pid 1 (in the user namespace, its own mount namespace, cwd at the root filesystem):
    bind the root onto itself. The overlay was mounted in a more privileged mount namespace, so
    its copy here is locked and pivot_root refuses it (EINVAL); a bind made here is not. Then
    step back into the root through its parent, so the cwd is the new mount."""
    here = os.path.basename(os.getcwd())
    linux.mount(".", ".", None, linux.MS_BIND | linux.MS_REC)
    os.chdir(os.path.join("..", here))


def bind_device(host_path: str, target: str) -> None:
    """In a user namespace, where mknod is refused and a node on a filesystem mounted there is
    unusable: an empty file at ``target`` with the host's node bound over it."""
    if not os.path.lexists(target):
        open(target, "a").close()
    linux.mount(host_path, target, None, linux.MS_BIND)
