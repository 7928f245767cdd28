"""The build cache, by Docker's classic rules: a step is reused when a step with the same
parent image and the same instruction (its ``created_by``, which holds the expanded text, the
content digest of COPY/ADD sources and, for RUN, the build args in effect) was built before.

Each step's result is one record, ``build-cache/<key>.json``: the state it led to (config
document and layers). The image store counts the layers and blobs those records name as used
(images/users.py ``build_cache_claims``), so prune never takes them while the record lives;
``prune`` removes records and then whatever of their layers nothing else needs. A record whose
layers are gone (removed by hand, a damaged store) is a miss, never an error.
"""

from __future__ import annotations

import hashlib
import os

from ..images.layers import Layer
from .state import State

DIR = "build-cache"


def key(parent_id: str, created_by: str) -> str:
    """The cache key of a step on ``parent_id`` (hex, no algorithm prefix)."""
    return hashlib.sha256(f"{parent_id}\n{created_by}".encode()).hexdigest()


def lookup(images, k: str) -> State | None:
    """The state a step with key ``k`` led to, if it is cached and all its layers are there."""
    try:
        rec = images.store.read(DIR, f"{k}.json")
    except ValueError:
        rec = None
    if not isinstance(rec, dict) or not isinstance(rec.get("doc"), str):
        return None
    try:
        import json
        doc = json.loads(rec["doc"])   # kept as text: its keys' order is part of the id
        layers = [Layer.from_dict(l) for l in rec.get("layers") or []]
    except (TypeError, KeyError, ValueError):
        return None
    if not all(images.has_layer(l.chain_id) and images.has_blob(l.blob) for l in layers):
        return None
    if not isinstance(doc, dict):
        return None
    state = State(doc, layers)
    return state if state.id == rec.get("id") else None


def record(images, k: str, parent_id: str, created_by: str, state: State, size: int) -> None:
    """Keep the step's result (the caller holds ``images.busy()`` since making its layer)."""
    import json
    from ..clock import now_rfc3339
    images.store.write({"id": state.id, "parent": parent_id, "created_by": created_by,
                        "created": now_rfc3339(), "size": size,
                        "doc": json.dumps(state.doc, separators=(",", ":")),
                        "layers": [l.to_dict() for l in state.layers]}, DIR, f"{k}.json",
                       fsync=False)


def from_images(sources: list[State], state: State, created_by: str
                ) -> tuple[dict, Layer | None] | None:
    """``--cache-from``: (history entry, layer or None) of the step ``created_by`` on
    ``state`` from the first source image whose history and layers continue ``state``'s as
    this step would (Docker's rule: same layers so far, same history so far, same next
    instruction)."""
    hist = state.doc.get("history") or []
    for src in sources:
        shist = src.doc.get("history") or []
        if len(shist) <= len(hist) or shist[:len(hist)] != hist:
            continue
        n = len(state.layers)
        if [l.diff_id for l in src.layers[:n]] != [l.diff_id for l in state.layers]:
            continue
        entry = shist[len(hist)]
        if entry.get("created_by") != created_by:
            continue
        if entry.get("empty_layer"):
            return dict(entry), None
        if len(src.layers) <= n:
            continue
        return dict(entry), src.layers[n]
    return None


# --- what the cache holds, and removing it ----------------------------------------------------

def entries(store) -> list[dict]:
    """Every readable record, each with its ``key``; damaged ones are noted and left out."""
    out = []
    for name in store.list_dir(DIR):
        if not name.endswith(".json") or ".tmp." in name:
            continue
        try:
            rec = store.read(DIR, name)
        except ValueError:
            rec = None
        if not isinstance(rec, dict) or not isinstance(rec.get("layers"), list):
            store.note_damaged("build cache", name[:12], "its record can't be read; "
                               "'berth builder prune' removes it")
            rec = {"id": "", "layers": [], "size": 0, "damaged": True}
        rec["key"] = name[:-5]
        out.append(rec)
    return out


def usage(images) -> list[dict]:
    """The cache as Docker's ``system df`` BuildCache entries (engine/build/api.py)."""
    in_use = _chains_of_images(images)
    rows = []
    for rec in entries(images.store):
        layers = rec.get("layers") or []
        top = layers[-1].get("chain_id") if layers and isinstance(layers[-1], dict) else ""
        own = rec.get("size") or 0
        shared = bool(top) and top in in_use
        rows.append({"ID": rec["key"][:25], "Parent": (rec.get("parent") or "")[7:32],
                     "Type": "regular", "Description": rec.get("created_by") or "",
                     "InUse": False, "Shared": shared, "Size": own,
                     "CreatedAt": rec.get("created") or "", "LastUsedAt": rec.get("created"),
                     "UsageCount": 1})
    return rows


def _chains_of_images(images) -> set[str]:
    chains: set[str] = set()
    for img in images.images():
        chains.update(img.chain_ids)
    return chains


def prune(images, all: bool = False) -> tuple[list[str], int]:
    """Remove the cache's records (``all``: every one; else those whose layer no image uses,
    as Docker's ``builder prune`` keeps what images share), then the layers and blobs only they
    kept; (removed keys, bytes freed)."""
    in_use = set() if all else _chains_of_images(images)
    removed, chains, blobs = [], [], []
    for rec in entries(images.store):
        layers = [l for l in rec.get("layers") or [] if isinstance(l, dict)]
        top = layers[-1].get("chain_id", "") if layers else ""
        if not all and top and top in in_use:
            continue
        images.store.delete(DIR, rec["key"] + ".json")
        removed.append(rec["key"])
        chains += [l.get("chain_id", "") for l in layers]
        blobs += [l.get("blob", "") for l in layers]
    freed = 0
    if removed:
        with images.store.lock():
            images._replay()
            freed = images._drop_unused(list(dict.fromkeys(chains)), list(dict.fromkeys(blobs)))
    mounts = images.store.path(DIR, "mounts")
    if all and os.path.isdir(mounts):
        from ..fswalk import remove_tree, tree_size
        freed += tree_size(mounts)
        remove_tree(mounts)
    return removed, freed
