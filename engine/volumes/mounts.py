"""A container's mounts, from its config to the kernel: resolve, prepare, mount, release.

The three seams the runtime calls:

- ``prepare_mounts(store, container, layer_dirs)`` in the monitor, before the fork: resolves the
  container's mounts (``-v``, ``--mount``, ``--tmpfs``, ``--volumes-from``, the image's VOLUMEs),
  creates the volumes they name, creates missing ``-v`` bind sources, and returns plain dicts.
- ``mount_all(rootfs, prepared)`` in the container's first process, in its own mount namespace,
  after the overlay root is mounted at ``rootfs`` and before ``pivot_root``. Targets are resolved
  inside ``rootfs`` (see ``inroot``); a new volume is filled with the image's content there first.
- ``release(store, container, remove_anonymous)`` when the container stops (False) and on
  ``rm -v`` / ``--rm`` (True): unmount events, and the anonymous volumes nobody else uses.

The resolved mounts are kept in ``containers/<id>/mounts.json`` (anonymous volumes get their
names once, at the first start, and keep them across restarts, as Docker's do).
"""

from __future__ import annotations

import os
import posixpath
import stat

from ..errors import HostError, InvalidArgument, NotFound
from ..models import Mount
from ..store import Store
from . import store as vstore

# mount(2) flags (linux/mount.h); those linux.py has are the same numbers
MS_RDONLY, MS_NOSUID, MS_NODEV, MS_NOEXEC = 1, 2, 4, 8
MS_SYNCHRONOUS, MS_REMOUNT, MS_MANDLOCK, MS_DIRSYNC = 16, 32, 64, 128
MS_NOATIME, MS_NODIRATIME, MS_BIND, MS_REC = 1024, 2048, 4096, 16384
MS_UNBINDABLE, MS_PRIVATE, MS_SLAVE, MS_SHARED = 1 << 17, 1 << 18, 1 << 19, 1 << 20
MS_RELATIME, MS_STRICTATIME = 1 << 21, 1 << 24

PROPAGATION_FLAGS = {
    "private": MS_PRIVATE, "rprivate": MS_PRIVATE | MS_REC,
    "shared": MS_SHARED, "rshared": MS_SHARED | MS_REC,
    "slave": MS_SLAVE, "rslave": MS_SLAVE | MS_REC,
}

# mount(8) option words that are flags (set, clear); everything else is filesystem data
_FLAG_WORDS = {
    "ro": (MS_RDONLY, 0), "rw": (0, MS_RDONLY),
    "nosuid": (MS_NOSUID, 0), "suid": (0, MS_NOSUID),
    "nodev": (MS_NODEV, 0), "dev": (0, MS_NODEV),
    "noexec": (MS_NOEXEC, 0), "exec": (0, MS_NOEXEC),
    "sync": (MS_SYNCHRONOUS, 0), "async": (0, MS_SYNCHRONOUS),
    "dirsync": (MS_DIRSYNC, 0), "mand": (MS_MANDLOCK, 0), "nomand": (0, MS_MANDLOCK),
    "noatime": (MS_NOATIME, 0), "atime": (0, MS_NOATIME),
    "nodiratime": (MS_NODIRATIME, 0), "diratime": (0, MS_NODIRATIME),
    "relatime": (MS_RELATIME, 0), "norelatime": (0, MS_RELATIME),
    "strictatime": (MS_STRICTATIME, 0), "nostrictatime": (0, MS_STRICTATIME),
}


def tmpfs_flags_and_data(options: list[str]) -> tuple[int, str]:
    """mount(8)-style options split into mount flags and the data string the filesystem
    parses (tmpfs: size=, mode=, uid=, gid=, nr_inodes= …); later words win, as with mount(8)."""
    flags = 0
    data: list[str] = []
    for word in options:
        if word in _FLAG_WORDS:
            on, off = _FLAG_WORDS[word]
            flags = (flags | on) & ~off
        elif word in PROPAGATION_FLAGS:
            continue
        elif word:
            key = word.partition("=")[0]
            data = [d for d in data if d.partition("=")[0] != key] + [word]
    return flags, ",".join(data)


# --- resolving a container's mounts --------------------------------------------------------

def _container_id(container) -> str:
    return container if isinstance(container, str) else container.id


def find_container(store: Store, ref: str) -> str:
    """The id of the container named ``ref`` (a name, a full id or a unique id prefix)."""
    ids = vstore.container_ids(store)
    if ref in ids:
        return ref
    name = ref.lstrip("/")
    for cid in ids:
        if vstore.container_record(store, cid)["name"] == name:
            return cid
    matches = [cid for cid in ids if cid.startswith(ref)] if ref else []
    if len(matches) == 1:
        return matches[0]
    if len(matches) > 1:
        raise InvalidArgument(f"multiple containers found with provided prefix: {ref}")
    raise NotFound(f"No such container: {ref}")


def validate_mounts(mounts: list[Mount]) -> None:
    """Raise for two mounts on one target (Docker's "Duplicate mount point")."""
    seen: set[str] = set()
    for m in mounts:
        t = posixpath.normpath(m.target)
        if t in seen:
            raise InvalidArgument(f"Duplicate mount point: {t}")
        seen.add(t)


def _volumes_from(store: Store, spec: str, own_id: str, seen: frozenset) -> list[Mount]:
    ref, _, mode = spec.partition(":")
    if mode not in ("", "ro", "rw"):
        raise InvalidArgument(f"invalid mode for volumes-from: {spec} (use ro or rw)")
    cid = find_container(store, ref)
    if cid == own_id or cid in seen:
        raise InvalidArgument(f"--volumes-from {spec} leads back to this container")
    out = []
    for m in resolve_mounts(store, cid, seen | {own_id}):
        if m.type == "tmpfs":
            continue  # a tmpfs is the container's own memory, not something to share
        copy = Mount.from_dict(m.to_dict())
        if mode:
            copy.read_only = mode == "ro"
        copy.nocopy = True   # the content is the other container's, already there
        out.append(copy)
    return out


def resolve_mounts(store: Store, container, _seen: frozenset = frozenset()) -> list[Mount]:
    """The container's mounts with every volume named and created: its own (``-v``,
    ``--mount``, ``--tmpfs``), those of ``--volumes-from`` containers, and an anonymous volume
    for each image VOLUME nothing else covers. Computed once and kept in mounts.json; the
    runtime may call it at ``create`` so the volumes exist (and show in inspect) from then on."""
    cid = _container_id(container)
    with store.lock():
        kept = vstore.kept_mounts(store, cid)
        if kept is not None:
            return [Mount.from_dict(m) for m in kept.get("mounts", [])]
        record = vstore.container_record(store, cid)
        config = record["config"] if isinstance(container, str) else container.config.to_dict()
        own = [Mount.from_dict(m) for m in config.get("mounts", [])]
        validate_mounts(own)
        mounts = list(own)
        targets = {posixpath.normpath(m.target) for m in own}
        for spec in config.get("volumes_from", []):
            for m in _volumes_from(store, spec, cid, _seen):
                t = posixpath.normpath(m.target)
                if t not in targets:
                    targets.add(t)
                    mounts.append(m)
        for path in config.get("image_volumes", []):
            t = posixpath.normpath(path if path.startswith("/") else "/" + path)
            if t not in targets and t != "/":
                targets.add(t)
                mounts.append(Mount(type="volume", target=t, anonymous=True))
        for m in mounts:
            if m.type != "volume":
                continue
            if not m.source:
                m.source, m.anonymous = vstore.new_anonymous_name(), True
            _ensure_volume(store, m)
        if os.path.isdir(store.path("containers", cid)):
            store.write({"mounts": [m.to_dict() for m in mounts], "started": False,
                         "mounted": False}, "containers", cid, "mounts.json")
        return mounts


def _ensure_volume(store: Store, m: Mount):
    labels, opts = {}, {}
    for o in m.options:
        key, _, rest = o.partition("=")
        if key == "volume-label":
            k, _, v = rest.partition("=")
            labels[k] = v
        elif key == "volume-opt":
            k, _, v = rest.partition("=")
            opts[k] = v
    vol, _ = vstore.create_volume(store, m.source, labels=labels, options=opts,
                                  anonymous=m.anonymous)
    return vol


# --- the monitor's half ------------------------------------------------------------------

def _depth(target: str) -> int:
    return len([p for p in posixpath.normpath(target).split("/") if p])


def prepare_mounts(store: Store, container, layer_dirs: list[str] | None = None) -> list[dict]:
    """Everything ``mount_all`` needs, as plain dicts, in mount order (parents first).

    Each dict: ``type`` (bind|volume|tmpfs), ``source`` (host path; "tmpfs" for a tmpfs),
    ``target`` (path inside the container), ``flags`` (mount(2) flags of the first mount),
    ``data`` (filesystem options), ``read_only``, ``propagation`` (mount(2) flags, 0 = leave),
    ``file`` (the source is not a directory: the mount point is a file), ``copy_up`` (fill the
    volume from the image first), ``name`` (the volume's), ``volume_root`` and ``subpath``
    (``volume-subpath``: resolved inside the volume again at mount time). ``layer_dirs`` is
    accepted for the seam; the copy-up reads the mounted overlay instead, which has the layers
    already merged.
    """
    cid = _container_id(container)
    mounts = resolve_mounts(store, container)
    kept = vstore.kept_mounts(store, cid) or {}
    first_start = not kept.get("started", False)
    prepared = []
    for m in sorted(mounts, key=lambda m: _depth(m.target)):
        if m.type == "tmpfs":
            flags, data = tmpfs_flags_and_data(m.options)
            if m.read_only:
                flags |= MS_RDONLY
            prepared.append({"type": "tmpfs", "source": "tmpfs", "target": m.target,
                             "flags": flags, "data": data, "read_only": m.read_only,
                             "propagation": 0, "file": False, "copy_up": False, "name": ""})
            continue
        if m.type == "bind":
            source = m.source
            if not os.path.exists(source):
                if "create-mountpoint" not in m.options:
                    raise InvalidArgument(f'invalid mount config for type "bind": bind source '
                                          f"path does not exist: {source}")
                try:
                    os.makedirs(source, 0o755, exist_ok=True)
                except OSError as e:
                    raise HostError(f"create bind source {source}: {e.strerror}") from e
            recursive = "nonrecursive" not in m.options
            propagation = next((o for o in m.options if o in PROPAGATION_FLAGS), "rprivate")
            prepared.append({"type": "bind", "source": source, "target": m.target,
                             "flags": MS_BIND | (MS_REC if recursive else 0), "data": "",
                             "read_only": m.read_only,
                             "propagation": PROPAGATION_FLAGS[propagation],
                             "file": not os.path.isdir(source), "copy_up": False, "name": ""})
            continue
        vol = vstore.read_volume(store, m.source) or _ensure_volume(store, m)
        data_dir = vstore.data_dir(store, vol.name)
        if vol.options.get("type"):
            _mount_device(vol, data_dir)
        source = data_dir
        subpath = next((o[8:] for o in m.options if o.startswith("subpath=")), "")
        if subpath:
            source = _volume_subpath(data_dir, subpath, vol.name)
        copy_up = first_start and not m.nocopy and not subpath and not os.listdir(data_dir)
        prepared.append({"type": "volume", "source": source, "target": m.target,
                         "flags": MS_BIND | MS_REC, "data": "", "read_only": m.read_only,
                         "propagation": MS_PRIVATE | MS_REC,
                         "file": not os.path.isdir(source), "copy_up": copy_up,
                         "name": vol.name, "volume_root": data_dir if subpath else "",
                         "subpath": subpath})
    if os.path.isdir(store.path("containers", cid)):
        kept.update({"started": True, "mounted": True,
                     "mounts": kept.get("mounts", [m.to_dict() for m in mounts])})
        store.write(kept, "containers", cid, "mounts.json")
    from ..events import emit
    for p in prepared:
        if p["type"] == "volume":
            emit(store.paths, "volume", "mount", p["name"],
                 {"container": cid, "destination": p["target"], "driver": "local",
                  "propagation": "", "read/write": "false" if p["read_only"] else "true"})
    return prepared


def _volume_subpath(data_dir: str, subpath: str, name: str) -> str:
    """The host path of ``subpath`` inside a volume, refusing one that leaves the volume."""
    real_root = os.path.realpath(data_dir)
    real = os.path.realpath(os.path.join(data_dir, subpath))
    if real != real_root and not real.startswith(real_root + "/"):
        raise InvalidArgument(f"subpath {subpath} leaves volume {name}")
    if not os.path.exists(real):
        raise InvalidArgument(f'invalid mount config for type "volume": subpath {subpath} does '
                              f"not exist in volume {name}")
    return real


def _mount_device(vol, data_dir: str) -> None:
    """Mount a local-driver device volume (``--opt type=tmpfs --opt device=tmpfs``) on its
    _data, once for all its users, as Docker's local driver does."""
    if vstore.mounts_under(data_dir):
        return
    from ..runtime import linux
    opts = vol.options
    words = [w for w in opts.get("o", "").split(",") if w]
    flags, data = tmpfs_flags_and_data([w for w in words if w not in ("bind", "rbind")])
    if "bind" in words or "rbind" in words:
        # --opt type=none --opt o=bind --opt device=/path: a host directory as a named volume
        flags |= MS_BIND | (MS_REC if "rbind" in words else 0)
    try:
        linux.mount(opts["device"], data_dir, opts["type"], flags, data or None)
    except OSError as e:
        raise HostError(f"mount volume {vol.name} ({opts['type']} {opts.get('device', '')}): "
                        f"{e.strerror}") from e


# --- the container's half (after fork, before pivot_root) ---------------------------------

# Targets the runtime mounts itself (proc, dev, sys, the /etc files it writes): a user's mount
# there (``--tmpfs /dev/shm``, ``-v /dev/log:/dev/log``) must come after them, or they hide it.
RUNTIME_PATHS = ("/proc", "/dev", "/sys", "/etc/hosts", "/etc/resolv.conf", "/etc/hostname")


def is_late(target: str) -> bool:
    """Whether ``target`` is on or under a path the runtime mounts (see ``RUNTIME_PATHS``)."""
    return any(target == p or target.startswith(p + "/") for p in RUNTIME_PATHS)


def mount_all(rootfs: str, prepared: list[dict], phase: str = "all",
              userns_fd: int | None = None, host_uid: int = 0) -> None:
    """Mount ``prepared`` into the root at ``rootfs`` (in the caller's mount namespace, which
    must be the container's own). Every target is resolved inside ``rootfs``; missing mount
    points are created there. Raises HostError naming the target that failed.

    ``phase``: "all"; or "early" (right after the overlay) then "late" (after the runtime's
    own /proc, /dev, /sys and /etc files, so that mounts on those paths win, as Docker's).

    ``userns_fd`` and ``host_uid`` are for ``--userns auto``: call it then as host root, after
    the idmapped overlay is mounted and before joining the user namespace. Binds and volumes
    are idmapped into the namespace (on disk a volume keeps the ids the container sees, as
    without --userns), a tmpfs belongs to the container's root, mount points are made with its
    ids, and a copy-up writes the image's ids as the disk keeps them."""
    from ..runtime import linux
    from .inroot import fd_path, open_in_root, open_root
    root_fd = open_root(rootfs)
    try:
        for m in prepared:
            target = m["target"]
            if phase != "all" and is_late(target) != (phase == "late"):
                continue
            try:
                with _as_container_root(userns_fd, host_uid):
                    fd, created = open_in_root(root_fd, target, "file" if m["file"] else "dir")
            except OSError as e:
                raise HostError(f"mount {target}: cannot make the mount point inside the "
                                f"container: {e.strerror}") from e
            lock = None
            try:
                if m["type"] == "volume":
                    lock = _lock_volume(m)
                if m.get("copy_up") and not created and stat.S_ISDIR(os.fstat(fd).st_mode):
                    _copy_up(fd, m, -host_uid if userns_fd is not None else 0)
                if m["type"] == "tmpfs":
                    data = m["data"]
                    if userns_fd is not None:
                        data = _tmpfs_owner(data, host_uid)
                    linux.mount("tmpfs", fd_path(fd), "tmpfs", m["flags"], data or None)
                elif userns_fd is not None:
                    _with_source(m, lambda src: _idmap_bind(src, fd, userns_fd))
                elif m.get("subpath"):
                    _with_source(m, lambda src: linux.mount(src, fd_path(fd), None, m["flags"]))
                else:
                    linux.mount(m["source"], fd_path(fd), None, m["flags"])
                if lock is not None:
                    lock.mounted()
            except OSError as e:
                if m["type"] != "tmpfs" and e.errno in (1, 13) and _in_user_namespace():
                    raise HostError(f"mount {m['source']} on {target}: volumes and bind mounts "
                                    "with --userns auto need the runtime to mount them before "
                                    "it joins the user namespace; use --userns host") from e
                raise HostError(f"mount {m['source']} on {target}: {e.strerror}") from e
            finally:
                os.close(fd)
                if lock is not None:
                    lock.release()
            if m["type"] == "tmpfs" or not (m["read_only"] or m["propagation"]):
                continue
            # the descriptor above is the directory under the new mount; this one is the mount
            fd, _ = open_in_root(root_fd, target)
            try:
                if m["propagation"]:
                    linux.mount(None, fd_path(fd), None, m["propagation"])
                if m["read_only"]:
                    _make_read_only(fd, bool(m["flags"] & MS_REC) and userns_fd is None)
            except OSError as e:
                raise HostError(f"make {target} read-only: {e.strerror}") from e
            finally:
                os.close(fd)
    finally:
        os.close(root_fd)


class _as_container_root:
    """With --userns auto, the file-system ids of the container's root (mount points made in the
    idmapped overlay must map into its range); otherwise nothing."""

    def __init__(self, userns_fd: int | None, host_uid: int):
        self.inner = None
        if userns_fd is not None:
            from ..runtime.userns import _container_fsids
            self.inner = _container_fsids(host_uid)

    def __enter__(self):
        if self.inner is not None:
            self.inner.__enter__()
        return self

    def __exit__(self, *exc):
        if self.inner is not None:
            self.inner.__exit__(*exc)


def _idmap_bind(source: str, target_fd: int, userns_fd: int) -> None:
    """Bind ``source`` onto the directory open as ``target_fd`` with its ids shifted into
    ``userns_fd``'s mapping (open_tree, mount_setattr MOUNT_ATTR_IDMAP, move_mount to the
    descriptor: move_mount would not follow /proc/self/fd/N)."""
    import ctypes
    libc = ctypes.CDLL(None, use_errno=True)

    class MountAttr(ctypes.Structure):
        _fields_ = [("attr_set", ctypes.c_uint64), ("attr_clr", ctypes.c_uint64),
                    ("propagation", ctypes.c_uint64), ("userns_fd", ctypes.c_uint64)]

    def check(ret: int, what: str) -> int:
        if ret < 0:
            err = ctypes.get_errno()
            raise OSError(err, f"{what}: {os.strerror(err)}")
        return ret
    SYS_open_tree, SYS_move_mount, SYS_mount_setattr = 428, 429, 442
    OPEN_TREE_CLONE, O_CLOEXEC, AT_EMPTY_PATH, AT_FDCWD = 1, 0o2000000, 0x1000, -100
    MOUNT_ATTR_IDMAP, F_EMPTY, T_EMPTY = 0x00100000, 0x4, 0x40
    tree = check(libc.syscall(SYS_open_tree, AT_FDCWD, os.fsencode(source),
                              ctypes.c_uint(OPEN_TREE_CLONE | O_CLOEXEC)), "open_tree")
    try:
        attr = MountAttr(MOUNT_ATTR_IDMAP, 0, 0, userns_fd)
        check(libc.syscall(SYS_mount_setattr, tree, b"", ctypes.c_uint(AT_EMPTY_PATH),
                           ctypes.byref(attr), ctypes.c_size_t(ctypes.sizeof(attr))),
              "idmapping the mount")
        check(libc.syscall(SYS_move_mount, tree, b"", target_fd, b"",
                           ctypes.c_uint(F_EMPTY | T_EMPTY)), "move_mount")
    finally:
        os.close(tree)


def _tmpfs_owner(data: str, host_uid: int) -> str:
    """tmpfs data with the root directory owned by the container's root (or by the uid=/gid=
    given, shifted into the container's range)."""
    words = [w for w in data.split(",") if w]
    given = {w.partition("=")[0]: w.partition("=")[2] for w in words}
    out = [w for w in words if w.partition("=")[0] not in ("uid", "gid")]
    for key in ("uid", "gid"):
        out.append(f"{key}={host_uid + int(given.get(key) or 0)}")
    return ",".join(out)


def _with_source(m: dict, mount) -> None:
    """Call ``mount(source_path)``: the volume's subpath opened inside the volume now (a
    descriptor, so a symlink swapped in since ``prepare_mounts`` looked can't lead out of the
    volume), or the plain source."""
    if not m.get("subpath"):
        mount(m["source"])
        return
    from .inroot import fd_path, open_in_root, open_root
    vroot = open_root(m["volume_root"])
    try:
        sfd, _ = open_in_root(vroot, m["subpath"])
    finally:
        os.close(vroot)
    try:
        mount(fd_path(sfd))
    finally:
        os.close(sfd)


def _in_user_namespace() -> bool:
    """Whether this process runs in a user namespace other than the host's."""
    try:
        with open("/proc/self/uid_map") as f:
            return f.read().split() != ["0", "0", "4294967295"]
    except OSError:
        return False


def _lock_volume(m: dict):
    """The volume's lock for this mount (see copyup.VolumeLock): exclusive when it may fill it."""
    from .copyup import VolumeLock
    try:
        return VolumeLock(m.get("volume_root") or m["source"], bool(m.get("copy_up")))
    except OSError as e:
        raise HostError(f"lock volume {m['name']}: {e.strerror}") from e


def _copy_up(fd: int, m: dict, id_shift: int = 0) -> None:
    from .copyup import fill
    try:
        fill(fd, m["source"], id_shift)
    except OSError as e:
        raise HostError(f"copy the image's {m['target']} into volume {m['name']}: "
                        f"{e.strerror} ({e.filename})") from e


def _make_read_only(fd: int, recursive: bool) -> None:
    """Read-only for the mount open as ``fd`` (and its submounts when ``recursive``), keeping
    the flags the kernel locks on mounts from a more privileged namespace."""
    if recursive and _mount_setattr_rdonly(fd):
        return
    from ..runtime import linux
    from .inroot import fd_path
    st = os.statvfs(fd_path(fd))
    keep = 0
    for st_flag, ms_flag in ((os.ST_NOSUID, MS_NOSUID), (os.ST_NODEV, MS_NODEV),
                             (os.ST_NOEXEC, MS_NOEXEC), (os.ST_NOATIME, MS_NOATIME),
                             (os.ST_NODIRATIME, MS_NODIRATIME), (os.ST_RELATIME, MS_RELATIME)):
        if st.f_flag & st_flag:
            keep |= ms_flag
    linux.mount(None, fd_path(fd), None, MS_REMOUNT | MS_BIND | MS_RDONLY | keep)


def _mount_setattr_rdonly(fd: int) -> bool:
    """mount_setattr(2) with AT_RECURSIVE (Linux 5.12+): read-only submounts too, as Docker's
    recursive read-only binds. False when the kernel lacks it."""
    import ctypes

    class MountAttr(ctypes.Structure):
        _fields_ = [("attr_set", ctypes.c_uint64), ("attr_clr", ctypes.c_uint64),
                    ("propagation", ctypes.c_uint64), ("userns_fd", ctypes.c_uint64)]

    libc = ctypes.CDLL(None, use_errno=True)
    attr = MountAttr(0x1, 0, 0, 0)   # MOUNT_ATTR_RDONLY
    AT_EMPTY_PATH, AT_RECURSIVE, SYS_mount_setattr = 0x1000, 0x8000, 442
    ret = libc.syscall(SYS_mount_setattr, ctypes.c_int(fd), b"",
                       ctypes.c_uint(AT_EMPTY_PATH | AT_RECURSIVE), ctypes.byref(attr),
                       ctypes.c_size_t(ctypes.sizeof(attr)))
    if ret == 0:
        return True
    err = ctypes.get_errno()
    if err in (38, 22):  # ENOSYS, EINVAL: an older kernel
        return False
    raise OSError(err, os.strerror(err))


# --- after the container ------------------------------------------------------------------

def release(store: Store, container, remove_anonymous: bool = False) -> list[str]:
    """Undo what ``prepare_mounts`` did on the host: "unmount" events once per start, device
    volumes nobody runs with any more unmounted, and with ``remove_anonymous`` (``rm -v``,
    ``--rm``) the container's anonymous volumes that no other container uses. Idempotent and
    quiet: it runs from exit paths. Returns the names of the volumes removed."""
    from ..events import emit
    cid = _container_id(container)
    kept = vstore.mounts_record(store, cid)
    mounts = vstore.container_mounts(store, cid)
    if kept and kept.get("mounted"):
        kept["mounted"] = False
        if os.path.isdir(store.path("containers", cid)):
            store.write(kept, "containers", cid, "mounts.json")
        for m in mounts:
            if m.type == "volume":
                emit(store.paths, "volume", "unmount", m.source,
                     {"container": cid, "driver": "local"})
    users = vstore.volume_users(store)
    for m in mounts:
        if m.type != "volume":
            continue
        vol = vstore.read_volume(store, m.source)
        if vol and vol.options.get("type"):
            if not any(r for c, r in users.get(m.source, []) if c != cid):
                vstore.unmount_all(vstore.data_dir(store, m.source))
    removed = []
    if remove_anonymous:
        for m in mounts:
            if m.type != "volume" or not m.anonymous:
                continue
            if any(c != cid for c, _ in users.get(m.source, [])):
                continue  # another container (--volumes-from) still has it
            try:
                vstore.remove_volume(store, m.source, force=True, ignore_users=(cid,))
                removed.append(m.source)
            except (NotFound, HostError):
                pass
            except Exception:  # noqa: BLE001 - release runs on exit paths and must not fail
                pass
    return removed


def inspect_mounts(store: Store, container) -> list[dict]:
    """The ``Mounts`` list of ``docker inspect`` for a container: what it mounts (as resolved at
    its first start; before that, as created)."""
    cid = _container_id(container)
    out = []
    for m in vstore.container_mounts(store, cid):
        if m.type == "tmpfs":
            out.append({"Type": "tmpfs", "Source": "", "Destination": m.target,
                        "Mode": ",".join(m.options), "RW": not m.read_only, "Propagation": ""})
        elif m.type == "bind":
            prop = next((o for o in m.options if o in PROPAGATION_FLAGS), "rprivate")
            out.append({"Type": "bind", "Source": m.source, "Destination": m.target,
                        "Mode": "ro" if m.read_only else "", "RW": not m.read_only,
                        "Propagation": prop})
        else:
            out.append({"Type": "volume", "Name": m.source,
                        "Source": vstore.data_dir(store, m.source) if m.source else "",
                        "Destination": m.target, "Driver": "local",
                        "Mode": "z" if not m.read_only else "ro", "RW": not m.read_only,
                        "Propagation": ""})
    return out
