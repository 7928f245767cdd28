"""A container's records on disk, read back as models: the one place readers go through.

``containers/<id>/config.json`` is the ContainerConfig plus the container's ``id``, ``name``,
``created`` and the image's ``layer_dirs`` (bottom first), all at the top level, so
``ContainerConfig.from_dict`` reads it as it is. ``state.json`` is the ContainerState, changed
only under the container's lock (``process.update_state``). Records are renamed into place but
not fsynced: an fsync is 3.4 ms on this disk, a third of what is left to cut from ``run``; a
killed process loses nothing that way, and a power cut may leave a record torn.

A directory ``containers/<id>`` exists only once ``create`` has committed it (it is built under
a temporary name and renamed into place, see containers_api), so a directory whose config.json
can't be read is a damaged container, never the leftover of a killed create: it may still run.
Listings skip it and name it (``store.note_damaged``); ``find(..., damaged=True)`` gives the
verbs that name it directly (inspect, rm -f) what can still be known of it.

Every load also notices a container whose monitor died (``process.needs_release``) and has
engine/runtime/release.py write it down as exited and let go of what it held.
"""

from __future__ import annotations

import os

from ..errors import Conflict, InvalidArgument, NotFound
from ..models import Container, ContainerConfig, ContainerState
from . import process


def cdir(store, cid: str) -> str:
    return store.paths.container_dir(cid)


def read_config(store, cid: str) -> tuple[dict | None, str]:
    """(config.json as a dict, "") or (None, what is wrong with it)."""
    try:
        raw = process.read_json(os.path.join(cdir(store, cid), process.CONFIG))
    except ValueError:   # torn by a power cut (not fsynced, see above), or garbled
        return None, "config.json is not valid JSON"
    except OSError as e:
        return None, f"config.json can't be read ({e.strerror})"
    if raw is None:
        return None, "config.json is missing"
    if isinstance(raw, dict) and isinstance(raw.get("config"), dict) and "image" not in raw:
        # a whole Container as JSON (what volumes/store.py also reads): the same, nested
        raw = {**raw["config"], "id": raw.get("id"), "name": raw.get("name"),
               "created": raw.get("created", "")}
    if not isinstance(raw, dict) or raw.get("id") != cid or not isinstance(raw.get("name"), str):
        return None, "config.json is not this container's record"
    return raw, ""


def read_raw(store, cid: str) -> dict | None:
    """config.json as a dict, or None (noted as damaged) when it can't be read."""
    raw, problem = read_config(store, cid)
    if raw is None and os.path.isdir(cdir(store, cid)):
        store.note_damaged("container", cid[:12], problem)
    return raw


def load(store, cid: str) -> Container | None:
    """The container, or None when it is gone or its config can't be read (noted)."""
    raw = read_raw(store, cid)
    if raw is None:
        return None
    try:
        config = ContainerConfig.from_dict(raw)
    except Exception as e:  # noqa: BLE001 - valid JSON of the wrong shape
        store.note_damaged("container", cid[:12], f"config.json is not a container config ({e})")
        return None
    state = read_state(store, cid)
    if state is None:
        return None
    return Container(id=raw["id"], name=raw["name"], created=str(raw.get("created") or ""),
                     config=config, state=state)


def read_state(store, cid: str) -> ContainerState | None:
    """The state as readers must see it (process.effective_status), after releasing what a
    dead monitor left held; None when the container went meanwhile (a --rm one, released)."""
    d = cdir(store, cid)
    state, problem = process.load_state(d)
    if process.needs_release(d, state or {}):
        from .release import release_dead
        if release_dead(store, cid):
            if not os.path.isdir(d):
                return None
            state, problem = process.load_state(d)
    if problem:
        store.note_damaged("container", cid[:12], problem)
        state = process.salvaged_state(d)
    try:
        return ContainerState.from_dict(process.effective_status(state))
    except Exception:  # noqa: BLE001 - valid JSON of the wrong shape
        store.note_damaged("container", cid[:12], "state.json is not a state record")
        return ContainerState.from_dict(process.salvaged_state(d))


def ids(store) -> list[str]:
    return [n for n in store.list_dir("containers") if len(n) == 64]


def all_containers(store) -> list[Container]:
    """Every container whose record can be read; the others are noted as damaged."""
    out = []
    for cid in ids(store):
        c = load(store, cid)
        if c is not None:
            out.append(c)
    return out


def find(store, ref: str, damaged: bool = False) -> Container:
    """By full id, then exact name, then unique id prefix, as Docker resolves a reference.
    A container whose config can't be read is found by id or id prefix (and by the name its
    spec.json still knows) only with ``damaged``, as what ``salvage`` can tell of it;
    otherwise naming it is a Conflict that says what to do."""
    if not ref:
        raise InvalidArgument("a container name or id is required")
    name = ref[1:] if ref.startswith("/") else ref
    all_ids = ids(store)
    if ref in all_ids:
        c = load(store, ref)
        if c:
            return c
    containers = all_containers(store)
    for c in containers:
        if c.name == name:
            return c
    matches = [c for c in containers if c.id.startswith(ref)]
    if len(matches) == 1:
        return matches[0]
    if len(matches) > 1:
        raise InvalidArgument(f"multiple containers found with provided prefix: {ref}")
    readable = {c.id for c in containers}
    broken = [cid for cid in all_ids if cid not in readable and os.path.isdir(cdir(store, cid))
              and (cid.startswith(ref) or spec_name(store, cid) == name)]
    if len(broken) == 1:
        if damaged:
            return salvage(store, broken[0])
        raise Conflict(f"container {broken[0][:12]} has a damaged record "
                       f"({read_config(store, broken[0])[1]}): only inspect and rm -f work on "
                       "it; run 'berth system check --repair'")
    if len(broken) > 1:
        raise InvalidArgument(f"multiple containers found with provided prefix: {ref}")
    raise NotFound(f"No such container: {ref}")


def spec_name(store, cid: str) -> str:
    """The name a container had at its last start (its spec.json), "" if unknown."""
    spec = _read_quiet(os.path.join(cdir(store, cid), "spec.json"))
    return spec.get("name") or "" if isinstance(spec.get("name"), str) else ""


def _read_quiet(path: str) -> dict:
    try:
        data = process.read_json(path)
    except (ValueError, OSError):
        return {}
    return data if isinstance(data, dict) else {}


def salvage(store, cid: str) -> Container:
    """A container whose config.json can't be read, as far as its last start's spec.json and
    its state tell: enough to show it (inspect) and to remove it (rm -f)."""
    d = cdir(store, cid)
    spec = _read_quiet(os.path.join(d, "spec.json"))
    problem = read_config(store, cid)[1]
    config = ContainerConfig(image=str(spec.get("image") or ""))
    for key, value in (("cmd", spec.get("argv")), ("env", spec.get("env")),
                       ("network_mode", spec.get("network_mode")),
                       ("auto_remove", spec.get("auto_remove")), ("tty", spec.get("tty"))):
        if value is not None and isinstance(value, type(getattr(config, key))):
            setattr(config, key, value)
    state = read_state(store, cid) or ContainerState(status="exited")
    note = f"damaged record: {problem}"
    state.error = f"{note}; {state.error}" if state.error else note
    try:
        from ..clock import now_rfc3339
        created = now_rfc3339(os.stat(d).st_mtime)
    except OSError:
        created = ""
    return Container(id=cid, name=str(spec.get("name") or ""), created=created, config=config,
                     state=state)


def write_config(store, container: Container, layer_dirs: list[str], fsync: bool = False,
                 directory: str | None = None) -> None:
    """Write config.json (into ``directory`` instead of the container's own while create is
    still building it under a temporary name)."""
    record = container.config.to_dict()
    record.update(id=container.id, name=container.name, created=container.created,
                  layer_dirs=layer_dirs)
    process.write_json(os.path.join(directory or cdir(store, container.id), process.CONFIG),
                       record, fsync)


def update_raw(store, cid: str, change) -> None:
    """Apply ``change`` (a function of the record's dict) to config.json and write it whole.
    The caller holds the store's lock."""
    raw = read_raw(store, cid)
    if raw is None:
        raise Conflict(f"container {cid[:12]} has a damaged record; run 'berth system check "
                       "--repair'")
    change(raw)
    process.write_json(os.path.join(cdir(store, cid), process.CONFIG), raw, True)


def rewrite_name(store, cid: str, name: str) -> None:
    update_raw(store, cid, lambda raw: raw.__setitem__("name", name))
