"""Volumes on disk: ``<root>/volumes/<name>/_data`` with ``meta.json`` beside it, and who uses them.

A volume's users are found by reading the container records (``containers/<id>/config.json``
and the resolved ``mounts.json`` that ``prepare_mounts`` keeps beside it), so there is no
reference count to drift out of step after a crash.

Crashes: ``volume create`` builds the directory, ``_data`` and ``meta.json`` under a temporary
name (``volumes/<name>.tmp.<pid>.<tid>``) and renames it into place, so a volume is there whole
or not at all; ``volume rm`` unmounts, then renames the volume away, then deletes it. Both hold
the root's lock, under which both sweep what killed ones left under a temporary name (a create
killed before any later create would otherwise leave it for system check after the last rm). A
volume whose meta.json can't be read is listed nowhere and named in the warning; inspect and
rm still work on it, and system check --repair writes its record again.
"""

from __future__ import annotations

import os
import re

from ..clock import now_rfc3339
from ..errors import Conflict, HostError, InvalidArgument, NotFound, host_error
from ..fswalk import remove_tree, tree_size
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


def read_meta(store: Store, name: str) -> tuple[Volume | None, str]:
    """(the volume, "") or (None, what is wrong with its meta.json); (None, "") when there is
    no such volume."""
    if not _plain_name(name):
        return None, ""
    try:
        data = store.read("volumes", name, "meta.json")
    except ValueError:
        return None, "meta.json is not valid JSON"
    except OSError as e:
        return None, f"meta.json can't be read ({e.strerror})"
    if data is None:
        return None, ("meta.json is missing" if os.path.isdir(data_dir(store, name)) else "")
    try:
        vol = Volume.from_dict(data)
        if not isinstance(vol.labels, dict) or not isinstance(vol.options, dict):
            raise ValueError("labels or options of the wrong type")
    except Exception as e:  # noqa: BLE001 - valid JSON of the wrong shape
        return None, f"meta.json is not a volume record ({e})"
    vol.mountpoint = data_dir(store, name)
    return vol, ""


def read_volume(store: Store, name: str) -> Volume | None:
    """The volume, or None when there is none or its record can't be read (noted)."""
    vol, problem = read_meta(store, name)
    if problem:
        store.note_damaged("volume", name, problem)
    return vol


def salvage(store: Store, name: str) -> Volume:
    """A volume whose meta.json can't be read, as far as its directory tells (no labels, no
    options: a volume of the local driver's plain kind)."""
    try:
        created = now_rfc3339(os.stat(store.paths.volume_dir(name)).st_mtime)
    except OSError:
        created = ""
    vol = Volume(name=name, created=created)
    vol.mountpoint = data_dir(store, name)
    return vol


def _plain_name(name: str) -> bool:
    return bool(name) and "/" not in name and name not in (".", "..")


def get_volume(store: Store, name: str) -> Volume:
    """The volume (a damaged one as ``salvage`` tells it, noted), or NotFound."""
    vol, problem = read_meta(store, name)
    if problem:
        store.note_damaged("volume", name, problem)
        return salvage(store, name)
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
        existing, problem = read_meta(store, name)
        if existing is not None:
            return existing, False
        if problem and problem != "meta.json is missing":
            store.note_damaged("volume", name, problem)
            raise Conflict(f"volume {name} has a damaged record ({problem}); run 'berth system "
                           "check --repair'")
        from ..runtime.process import remove_tree
        from ..temps import sweep_temp_files
        sweep_temp_files(store, "volumes")
        vdir = store.paths.volume_dir(name)
        vol = Volume(name=name, created=now_rfc3339(), labels=labels, options=options,
                     anonymous=anonymous)
        meta = vol.to_dict()
        meta["mountpoint"] = ""  # derived from the root when read, so a moved root still works
        if os.path.isdir(vdir):
            # a volume directory without its record (made by an older berth killed half-way):
            # its data stays, and it gets the record it lacked
            store.write(meta, "volumes", name, "meta.json")
        else:
            import _thread
            staging = f"{vdir}.tmp.{os.getpid()}.{_thread.get_ident()}"
            try:
                os.mkdir(staging)
                os.chmod(staging, VOLUMES_MODE)          # exactly, whatever the umask
                os.mkdir(os.path.join(staging, "_data"))
                os.chmod(os.path.join(staging, "_data"), 0o755)
                store.write(meta, "volumes", os.path.basename(staging), "meta.json")
                os.rename(staging, vdir)   # the commit point
            except OSError as e:
                remove_tree(staging)
                raise host_error(f"create volume {name}", e) from e
            except BaseException:
                remove_tree(staging)
                raise
    vol.mountpoint = data_dir(store, name)
    from ..events import emit
    emit(store.paths, "volume", "create", name, {"driver": "local"})
    return vol, True


# --- containers as volume users ----------------------------------------------------------

def container_ids(store: Store) -> list[str]:
    return [c for c in store.list_dir("containers")
            if os.path.isdir(store.path("containers", c))]


def _read_quiet(store: Store, *parts: str) -> dict | None:
    """A container's record (config.json, state.json, mounts.json), None when it is missing
    or can't be read (the container readers note what is damaged)."""
    try:
        data = store.read(*parts)
    except (ValueError, OSError):
        return None
    return data if isinstance(data, dict) else None


def container_record(store: Store, cid: str) -> dict:
    """``name`` and the ContainerConfig dict (``config``) of a container, whichever shape the
    container record on disk has (a Container or a bare ContainerConfig)."""
    data = _read_quiet(store, "containers", cid, "config.json") or {}
    if isinstance(data.get("config"), dict) and "image" not in data:
        return {"id": data.get("id", cid), "name": (data.get("name") or "").lstrip("/"),
                "config": data["config"]}
    name = data.get("name") if isinstance(data.get("name"), str) else ""
    return {"id": cid, "name": (name or "").lstrip("/"), "config": data}


def container_status(store: Store, cid: str) -> str:
    state = _read_quiet(store, "containers", cid, "state.json")
    if state is None:
        # a container whose state can't be read is taken as running: its volumes must not go
        return "running" if os.path.isdir(store.path("containers", cid)) else "removing"
    return state.get("status", "created")


def mounts_record(store: Store, cid: str) -> dict | None:
    """mounts.json, or None when there is none or it can't be read (then the container's
    mounts are those of its config)."""
    return _read_quiet(store, "containers", cid, "mounts.json")


def container_mounts(store: Store, cid: str) -> list[Mount]:
    """The container's mounts as resolved at its first start (mounts.json; when that can't be
    read, as its last start's spec.json prepared them), else as created."""
    resolved = kept_mounts(store, cid)
    try:
        if resolved is not None:
            return [Mount.from_dict(m) for m in resolved.get("mounts", [])]
        config = container_record(store, cid)["config"]
        return [Mount.from_dict(m) for m in config.get("mounts", []) if isinstance(m, dict)]
    except Exception:  # noqa: BLE001 - a record of the wrong shape: no mounts known
        return []


def kept_mounts(store: Store, cid: str) -> dict | None:
    """mounts.json, or when it can't be read, what ``mounts_from_spec`` rebuilds of it."""
    return mounts_record(store, cid) or mounts_from_spec(store, cid)


def mounts_from_spec(store: Store, cid: str) -> dict | None:
    """mounts.json as it was, rebuilt from the mounts the container's last start prepared
    (spec.json: volumes there carry the names anonymous ones were given); None without a
    spec (the container never started: its config says it all)."""
    spec = _read_quiet(store, "containers", cid, "spec.json") or {}
    prepared = spec.get("mounts")
    if not isinstance(prepared, list) or not prepared:
        return None
    own = {m.get("target"): m for m in container_record(store, cid)["config"].get("mounts", [])
           if isinstance(m, dict)}
    mounts = []
    for p in prepared:
        kept = own.get(p.get("target"))
        if kept is not None and (kept.get("source") or kept.get("type") != "volume"):
            mounts.append(kept)
        elif p.get("type") == "volume":
            mounts.append({"type": "volume", "target": p["target"], "source": p.get("name", ""),
                           "read_only": bool(p.get("read_only")), "anonymous": True,
                           "options": [], "nocopy": False})
    return {"mounts": mounts, "started": True, "mounted": True}


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
        from ..temps import sweep_temp_files
        sweep_temp_files(store, "volumes")
        vol, problem = read_meta(store, name)
        if vol is None and not problem:
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
        size = tree_size(data)
        # renamed away whole first: a crash mid-way leaves garbage under a temporary name
        # (swept by the next create), never a volume with half its data
        import _thread
        trash = f"{vdir}.tmp.{os.getpid()}.{_thread.get_ident()}"
        os.rename(vdir, trash)
        _rmtree(trash)
    from ..events import emit
    emit(store.paths, "volume", "destroy", name, {"driver": "local"})
    return size


def _rmtree(path: str) -> None:
    """Delete a volume's renamed-away tree, however deep (engine/fswalk.py). What can't be
    deleted (an immutable file) stays under its temporary name, for system check to report."""
    remove_tree(path, ignore_errors=True)


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
