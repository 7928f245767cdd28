"""Volumes on disk: ``<root>/volumes/<name>/_data`` with ``meta.json`` beside it, and who uses them.

A volume's users are found by reading the container records (``containers/<id>/config.json``
and the resolved ``mounts.json`` that ``prepare_mounts`` keeps beside it), so there is no
reference count to drift out of step after a crash.
"""

from __future__ import annotations

import os
import re
import stat

from ..clock import now_rfc3339
from ..errors import Conflict, HostError, InvalidArgument, NotFound, host_error
from ..models import Mount, Volume
from ..paths import VOLUMES_MODE
from ..store import Store
from .parse import validate_volume_name

# The local driver's options, as Docker's: mount a device (or tmpfs, nfs …) as the volume.
LOCAL_OPTIONS = ("type", "device", "o")
ANONYMOUS_LABEL = "com.docker.volume.anonymous"
RUNNING = ("running", "paused", "restarting")


def data_dir(store: Store, name: str) -> str:
    """Where a volume's content lives on the host."""
    return os.path.join(store.paths.volume_dir(name), "_data")


def read_volume(store: Store, name: str) -> Volume | None:
    data = store.read("volumes", name, "meta.json") if _plain_name(name) else None
    if data is None:
        return None
    vol = Volume.from_dict(data)
    vol.mountpoint = data_dir(store, name)
    return vol


def _plain_name(name: str) -> bool:
    return bool(name) and "/" not in name and name not in (".", "..")


def get_volume(store: Store, name: str) -> Volume:
    vol = read_volume(store, name)
    if vol is None:
        raise NotFound(f"No such volume: {name}")
    return vol


def list_volumes(store: Store) -> list[Volume]:
    out = []
    for name in store.list_dir("volumes"):
        vol = read_volume(store, name)
        if vol is not None:
            out.append(vol)
    return out


def new_anonymous_name() -> str:
    return os.urandom(32).hex()


def create_volume(store: Store, name: str | None = None, labels: dict[str, str] | None = None,
                  options: dict[str, str] | None = None,
                  anonymous: bool = False) -> tuple[Volume, bool]:
    """The volume ``name`` (a new anonymous one without a name) and whether it was made now.

    An existing volume is returned as it is, as ``docker volume create`` does."""
    options = dict(options or {})
    for key in options:
        if key not in LOCAL_OPTIONS:
            raise InvalidArgument(f'invalid option key: "{key}" (the local driver takes '
                                  f'{", ".join(LOCAL_OPTIONS)})')
    # as Docker's local driver: device and type go together, o needs both
    for key, needs in (("device", ("type",)), ("type", ("device",)), ("o", ("device", "type"))):
        if key in options:
            for need in needs:
                if not options.get(need):
                    raise InvalidArgument(f'missing required option: "{need}" (the local '
                                          "driver mounts type= device= with o= options)")
    if name is None:
        name, anonymous = new_anonymous_name(), True
    validate_volume_name(name)
    labels = dict(labels or {})
    if anonymous:
        labels.setdefault(ANONYMOUS_LABEL, "")
    with store.lock():
        existing = read_volume(store, name)
        if existing is not None:
            return existing, False
        vdir = store.paths.volume_dir(name)
        try:
            os.makedirs(vdir, mode=VOLUMES_MODE, exist_ok=True)
            os.makedirs(os.path.join(vdir, "_data"), mode=0o755, exist_ok=True)
        except OSError as e:
            raise host_error(f"create volume {name}", e) from e
        vol = Volume(name=name, created=now_rfc3339(), labels=labels, options=options,
                     anonymous=anonymous)
        meta = vol.to_dict()
        meta["mountpoint"] = ""  # derived from the root when read, so a moved root still works
        store.write(meta, "volumes", name, "meta.json")
    vol.mountpoint = data_dir(store, name)
    from ..events import emit
    emit(store.paths, "volume", "create", name, {"driver": "local"})
    return vol, True


# --- containers as volume users ----------------------------------------------------------

def container_ids(store: Store) -> list[str]:
    return [c for c in store.list_dir("containers")
            if os.path.isdir(store.path("containers", c))]


def container_record(store: Store, cid: str) -> dict:
    """``name`` and the ContainerConfig dict (``config``) of a container, whichever shape the
    container record on disk has (a Container or a bare ContainerConfig)."""
    data = store.read("containers", cid, "config.json") or {}
    if isinstance(data.get("config"), dict) and "image" not in data:
        return {"id": data.get("id", cid), "name": (data.get("name") or "").lstrip("/"),
                "config": data["config"]}
    name = data.get("name") if isinstance(data.get("name"), str) else ""
    return {"id": cid, "name": (name or "").lstrip("/"), "config": data}


def container_status(store: Store, cid: str) -> str:
    state = store.read("containers", cid, "state.json") or {}
    return state.get("status", "created")


def container_mounts(store: Store, cid: str) -> list[Mount]:
    """The container's mounts as resolved at its first start (mounts.json), else as created."""
    resolved = store.read("containers", cid, "mounts.json")
    if resolved is not None:
        return [Mount.from_dict(m) for m in resolved.get("mounts", [])]
    config = container_record(store, cid)["config"]
    return [Mount.from_dict(m) for m in config.get("mounts", []) if isinstance(m, dict)]


def volume_users(store: Store) -> dict[str, list[tuple[str, bool]]]:
    """volume name -> [(container id, running)] for every container that references it."""
    users: dict[str, list[tuple[str, bool]]] = {}
    for cid in container_ids(store):
        running = container_status(store, cid) in RUNNING
        for m in container_mounts(store, cid):
            if m.type == "volume" and m.source:
                entry = users.setdefault(m.source, [])
                if (cid, running) not in entry:
                    entry.append((cid, running))
    return users


def remove_volume(store: Store, name: str, force: bool = False,
                  ignore_users: tuple[str, ...] = ()) -> int:
    """Delete a volume and its content; the bytes it held. In use by a container it needs
    ``force``, and never goes while a running container uses it. A missing volume is NotFound,
    or nothing at all with ``force``."""
    with store.lock():
        if read_volume(store, name) is None:
            if force:
                return 0  # as Docker's: removing what is not there with force is not an error
            raise NotFound(f"No such volume: {name}")
        users = [u for u in volume_users(store).get(name, []) if u[0] not in ignore_users]
        running = [cid[:12] for cid, r in users if r]
        if running:
            raise Conflict(f"remove {name}: volume is in use by running container "
                           f"{', '.join(running)}: stop it first")
        if users and not force:
            raise Conflict(f"remove {name}: volume is in use - [{', '.join(c for c, _ in users)}]"
                           " (remove the container first, or use --force)")
        vdir = store.paths.volume_dir(name)
        data = os.path.join(vdir, "_data")
        unmount_all(vdir)
        if mounts_under(vdir):
            # removing the tree now would delete what the device (or bound host directory) holds
            raise HostError(f"remove {name}: something is still mounted on {data}; unmount it "
                            "first")
        size = dir_size(data)
        # the record goes first: a crash mid-way leaves a directory, never a volume without data
        store.delete("volumes", name, "meta.json")
        _rmtree(vdir)
    from ..events import emit
    emit(store.paths, "volume", "destroy", name, {"driver": "local"})
    return size


def _rmtree(path: str) -> None:
    import shutil

    def onerror(func, p, exc_info):
        # a volume's content may carry immutable/append-only attributes or odd modes
        try:
            os.chmod(p, 0o700)
            func(p)
        except OSError:
            pass
    shutil.rmtree(path, onerror=onerror)


def mounts_under(path: str) -> list[str]:
    """Mount points at or below ``path``, from /proc/self/mountinfo (``os.path.ismount`` misses
    a bind mount from the same filesystem, which is what ``--opt o=bind`` makes)."""
    real = os.path.realpath(path)
    out = []
    try:
        with open("/proc/self/mountinfo", "rb") as f:
            lines = f.read().splitlines()
    except OSError:
        return out
    for line in lines:
        fields = line.split(b" ")
        if len(fields) < 5:
            continue
        # mountinfo escapes space, tab, newline and backslash as \ooo
        point = re.sub(rb"\\([0-7]{3})", lambda m: bytes([int(m.group(1), 8)]), fields[4])
        p = os.fsdecode(point)
        if p == real or p.startswith(real + "/"):
            out.append(p)
    return out


def unmount_all(path: str) -> None:
    """Detach every mount at or below ``path``, deepest and newest first."""
    from ..runtime import linux
    for _ in range(64):
        points = mounts_under(path)
        if not points:
            return
        for p in sorted(points, key=len, reverse=True):
            try:
                linux.umount2(p, linux.MNT_DETACH)
            except OSError:
                pass


def dir_size(path: str) -> int:
    """Bytes of a tree as ``docker system df`` counts them: apparent sizes, hardlinks once,
    never following symlinks nor crossing into other filesystems."""
    total = 0
    seen: set[tuple[int, int]] = set()
    try:
        root_dev = os.lstat(path).st_dev
    except OSError:
        return 0
    stack = [path]
    while stack:
        d = stack.pop()
        try:
            it = os.scandir(d)
        except OSError:
            continue
        with it:
            for e in it:
                try:
                    st = e.stat(follow_symlinks=False)
                except OSError:
                    continue
                if stat.S_ISDIR(st.st_mode):
                    if st.st_dev == root_dev:
                        stack.append(e.path)
                    continue
                if st.st_nlink > 1:
                    key = (st.st_dev, st.st_ino)
                    if key in seen:
                        continue
                    seen.add(key)
                total += st.st_size
    return total
