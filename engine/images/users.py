"""What the containers of a root use of the image store: their images (by id) and the layer
directories their root filesystems are made of, read with care, so that nothing a container
needs is ever removed as unused, even when its records are damaged."""

from __future__ import annotations

import os

_RUNNING = ("running", "paused", "restarting")


class Claims:
    """What containers use: ``images`` maps an image id to [(container id, running)];
    ``chains`` holds the chain ids of every layer a container's root filesystem is made of;
    ``unknown`` the containers whose records can't be read (what they use can't be known)."""

    def __init__(self):
        self.images: dict[str, list[tuple[str, bool]]] = {}
        self.chains: set[str] = set()
        self.unknown: list[str] = []


def claims(store) -> Claims:
    """What every container of ``store`` uses."""
    from ..runtime import process
    out = Claims()
    for cid in store.list_dir("containers"):
        cdir = store.paths.container_dir(cid)
        cfg, damaged = _read(os.path.join(cdir, "config.json"))
        spec, _ = _read(os.path.join(cdir, "spec.json"))
        dirs = list(cfg.get("layer_dirs") or []) if cfg else []
        if spec and isinstance(spec.get("lower"), list):
            dirs += spec["lower"]   # what its overlay was mounted from at its last start
        out.chains.update("sha256:" + os.path.basename(os.path.dirname(d)) for d in dirs
                          if isinstance(d, str))
        if cfg is None:
            if damaged and not spec:
                out.unknown.append(cid)
            continue   # without a config (a create killed half-way) it names no image
        try:
            state = process.effective_status(process.read_state(cdir))
            running = state.get("status") in _RUNNING
        except (ValueError, TypeError, AttributeError):
            running = True   # can't tell: as good as running, so it is never forced away
        image_id = cfg.get("image_id")
        if isinstance(image_id, str) and image_id:
            out.images.setdefault(image_id, []).append((cid, running))
    return out


def build_cache_claims(store) -> tuple[set[str], set[str]]:
    """(chain ids, blob digests) the build cache's records name (engine/build/cache.py): kept
    as long as the cache keeps them, as an image's are. A record that can't be read names
    nothing (the cache treats it as absent too)."""
    chains: set[str] = set()
    blobs: set[str] = set()
    d = store.path("build-cache")
    try:
        names = os.listdir(d)
    except FileNotFoundError:
        return chains, blobs
    for name in names:
        if not name.endswith(".json") or ".tmp." in name:
            continue
        doc, _ = _read(os.path.join(d, name))
        for layer in (doc or {}).get("layers") or []:
            if isinstance(layer, dict):
                if isinstance(layer.get("chain_id"), str):
                    chains.add(layer["chain_id"])
                if isinstance(layer.get("blob"), str):
                    blobs.add(layer["blob"])
    return chains, blobs


def _read(path: str) -> tuple[dict | None, bool]:
    """(the JSON object at ``path`` or None, whether a file is there but can't be read)."""
    from ..runtime import fastjson
    try:
        with open(path, "rb") as f:
            data = fastjson.loads(f.read())
    except FileNotFoundError:
        return None, False
    except (OSError, ValueError):
        return None, True
    return (data, False) if isinstance(data, dict) else (None, True)


def containers_using(store, image_id: str) -> list[tuple[str, bool]]:
    """(container id, running) of every container created from ``image_id``; running as the
    runtime sees it (a record that says running but whose monitor died is not)."""
    return claims(store).images.get(image_id, [])
