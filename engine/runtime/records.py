"""A container's records on disk, read back as models.

``containers/<id>/config.json`` is the ContainerConfig plus the container's ``id``, ``name``,
``created`` and the image's ``layer_dirs`` (bottom first), all at the top level, so
``ContainerConfig.from_dict`` reads it as it is. ``state.json`` is the ContainerState, changed
only under the container's lock (``process.update_state``). A directory without a readable
config.json is a create that was killed half-way: invisible to readers, removed by the next
create. Records are renamed into place but not fsynced: an fsync is 3.4 ms on this disk, a
third of what is left to cut from ``run``; a killed process loses nothing that way, and a
power cut loses at most a container created in its last seconds (read back as absent).
"""

from __future__ import annotations

import os

from ..errors import InvalidArgument, NotFound
from ..models import Container, ContainerConfig, ContainerState
from . import process


def cdir(store, cid: str) -> str:
    return store.paths.container_dir(cid)


def read_raw(store, cid: str) -> dict | None:
    try:
        raw = process.read_json(os.path.join(cdir(store, cid), process.CONFIG))
    except ValueError:   # torn by a power cut (not fsynced, see above)
        return None
    return raw if isinstance(raw, dict) and "id" in raw else None


def load(store, cid: str) -> Container | None:
    raw = read_raw(store, cid)
    if raw is None:
        return None
    state = process.effective_status(process.read_state(cdir(store, cid)))
    return Container(id=raw["id"], name=raw["name"], created=raw["created"],
                     config=ContainerConfig.from_dict(raw),
                     state=ContainerState.from_dict(state))


def ids(store) -> list[str]:
    return [n for n in store.list_dir("containers") if len(n) == 64]


def all_containers(store) -> list[Container]:
    out = []
    for cid in ids(store):
        c = load(store, cid)
        if c is not None:
            out.append(c)
    return out


def find(store, ref: str) -> Container:
    """By full id, then exact name, then unique id prefix, as Docker resolves a reference."""
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
    raise NotFound(f"No such container: {ref}")


def write_config(store, container: Container, layer_dirs: list[str], fsync: bool = False) -> None:
    record = container.config.to_dict()
    record.update(id=container.id, name=container.name, created=container.created,
                  layer_dirs=layer_dirs)
    process.write_json(os.path.join(cdir(store, container.id), process.CONFIG), record, fsync)


def rewrite_name(store, cid: str, name: str) -> None:
    raw = read_raw(store, cid)
    raw["name"] = name
    process.write_json(os.path.join(cdir(store, cid), process.CONFIG), raw, True)
