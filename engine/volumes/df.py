"""Disk use of a berth root, shaped as Docker's ``/system/df`` answer.

Sizes are apparent bytes (hardlinks once), as ``docker system df`` counts them. Images and
containers come from the Engine's own verbs when that area is built in, so the numbers agree
with ``berth images`` and ``berth ps``; the CLI computes ACTIVE and RECLAIMABLE from this, as
the docker CLI does from the daemon's answer.
"""

from __future__ import annotations

import os
from typing import Any

from ..fswalk import tree_size
from . import store as vstore


def _epoch(rfc3339: str) -> int:
    if not rfc3339:
        return 0
    from datetime import datetime, timezone
    v = rfc3339.rstrip("Z").split(".")[0]
    try:
        return int(datetime.fromisoformat(v).replace(tzinfo=timezone.utc).timestamp())
    except ValueError:
        return 0


def _layer_size(engine, chain_id: str, cache: dict[str, int]) -> int:
    if chain_id in cache:
        return cache[chain_id]
    images = getattr(engine, "image_store", None)
    if images is not None:   # the images area reads (and names) damaged layer records
        cache[chain_id] = images.layer_size(chain_id)
        return cache[chain_id]
    ldir = engine.paths.layer_dir(chain_id)
    meta = engine.store.read("layers", os.path.basename(ldir), "meta.json") or {}
    size = meta.get("size")
    if not isinstance(size, int):
        size = tree_size(os.path.join(ldir, "diff"))
    cache[chain_id] = size
    return size


def _containers(engine) -> list[dict[str, Any]]:
    """Every container as {id, name, image, image_id, command, created, state, status}."""
    out = []
    listed = None
    if hasattr(engine, "containers"):
        try:
            listed = engine.containers(all=True)
        except (NotImplementedError, AttributeError, TypeError):
            listed = None
    if listed is not None:
        for c in listed:
            cfg = c.config
            out.append({"id": c.id, "name": c.name, "image": cfg.image, "image_id": cfg.image_id,
                        "command": " ".join([*cfg.entrypoint, *cfg.cmd]), "created": c.created,
                        "state": c.state.status})
        return out
    for cid in vstore.container_ids(engine.store):
        rec = vstore.container_record(engine.store, cid)
        cfg = rec["config"]
        out.append({"id": cid, "name": rec["name"], "image": cfg.get("image", ""),
                    "image_id": cfg.get("image_id", ""),
                    "command": " ".join([*cfg.get("entrypoint", []), *cfg.get("cmd", [])]),
                    "created": (engine.store.read("containers", cid, "config.json") or {})
                    .get("created", ""),
                    "state": vstore.container_status(engine.store, cid)})
    return out


def _images(engine) -> list:
    if not hasattr(engine, "images"):
        return []
    try:
        return list(engine.images(all=True))
    except (NotImplementedError, AttributeError, TypeError):
        return []


def system_df(engine) -> dict[str, Any]:
    containers = _containers(engine)
    images = _images(engine)
    users = vstore.volume_users(engine.store)

    # images: a layer shared by two images counts once in LayersSize and as SharedSize in each
    cache: dict[str, int] = {}
    layer_count: dict[str, int] = {}
    for img in images:
        for ch in set(img.chain_ids):
            layer_count[ch] = layer_count.get(ch, 0) + 1
    per_image_containers: dict[str, int] = {}
    for c in containers:
        if c["image_id"]:
            per_image_containers[c["image_id"]] = per_image_containers.get(c["image_id"], 0) + 1
    image_rows = []
    for img in images:
        sizes = {ch: _layer_size(engine, ch, cache) for ch in set(img.chain_ids)}
        size = img.size or sum(sizes.values())
        shared = sum(s for ch, s in sizes.items() if layer_count[ch] > 1)
        image_rows.append({
            "Id": img.id, "ParentId": "", "RepoTags": list(img.repo_tags),
            "RepoDigests": list(img.repo_digests), "Created": _epoch(img.created),
            "Size": size, "SharedSize": shared, "VirtualSize": size,
            "Labels": dict((img.config or {}).get("Labels") or {}),
            "Containers": per_image_containers.get(img.id, 0)})
    layers_size = sum(_layer_size(engine, ch, cache) for ch in layer_count)

    container_rows = []
    for c in containers:
        cdir = engine.paths.container_dir(c["id"])
        size_rw = tree_size(os.path.join(cdir, "upper"))
        image_size = next((r["Size"] for r in image_rows if r["Id"] == c["image_id"]), 0)
        mounts = vstore.container_mounts(engine.store, c["id"])
        container_rows.append({
            "Id": c["id"], "Names": ["/" + c["name"]] if c["name"] else [],
            "Image": c["image"], "ImageID": c["image_id"], "Command": c["command"],
            "Created": _epoch(c["created"]), "State": c["state"], "Status": c["state"],
            "SizeRw": size_rw, "SizeRootFs": size_rw + image_size,
            "Mounts": [{"Type": m.type, "Source": m.source, "Destination": m.target,
                        "RW": not m.read_only,
                        **({"Name": m.source, "Driver": "local"} if m.type == "volume" else {})}
                       for m in mounts]})

    volume_rows = []
    for vol in vstore.list_volumes(engine.store):
        volume_rows.append({
            "Name": vol.name, "Driver": vol.driver, "Mountpoint": vol.mountpoint,
            "CreatedAt": vol.created.split(".")[0] + "Z" if vol.created else "",
            "Labels": dict(vol.labels), "Scope": "local", "Options": dict(vol.options),
            "UsageData": {"Size": tree_size(vol.mountpoint),
                          "RefCount": len(users.get(vol.name, []))}})
    return {"LayersSize": layers_size, "Images": image_rows, "Containers": container_rows,
            "Volumes": volume_rows,
            "BuildCache": engine.build_cache_usage() if hasattr(engine, "build_cache_usage")
            else []}
