"""The image store's garbage: layers and blobs that no image record or container needs (what a
berth killed while adding an image left, the blobs of a pull that failed), scratch and partial
downloads in tmp/, temporary files beside records (in images/, blobs/, layers/ and each layer's
directory: the image store owns these; engine/temps.py the root's other directories). Only
judged while no berth is adding images (``Journal.exclusive``) and under the root's lock:
until its record is written, a live berth's new layer looks exactly like an orphan, and every
record and blob is written under one of those locks."""

from __future__ import annotations

import os

from . import scratch
from .records import is_digest


class Garbage:
    """What ``find`` found: chain ids, blob digests, paths of temporary files and dirs; and why
    some of it could not be judged ("" when all of it could)."""

    def __init__(self):
        self.layers: list[str] = []
        self.blobs: list[str] = []
        self.temps: list[str] = []
        self.unjudged = ""


def find(images) -> Garbage:
    """The garbage of ``images`` (the caller holds the root's lock and ``exclusive()``)."""
    g = Garbage()
    needed_blobs, needed_chains = images._needs()
    if needed_chains is None or needed_blobs is None:
        g.unjudged = ("a damaged record (image or container) may need them: run 'berth system "
                      "check --repair' first")
    if needed_chains is not None:
        for name in images.store.list_dir("layers"):
            chain = "sha256:" + name
            if len(name) == 64 and chain not in needed_chains:
                g.layers.append(chain)
    if needed_blobs is not None:
        g.blobs = sorted(d for d in set(images.blobs.all()) - needed_blobs if is_digest(d))
    root = images.store.root
    for name in _listdir(os.path.join(root, "tmp")):
        if name.startswith((scratch.PREFIX, scratch.PARTIAL_PREFIX)):
            g.temps.append(os.path.join(root, "tmp", name))
    # temporaries of records and blobs: under these locks no berth is writing one
    layer_dirs = [f"layers/{n}" for n in _listdir(os.path.join(root, "layers"))
                  if ".tmp." not in n]
    for sub in ("images", "blobs", "blobs/sha256", "layers", *layer_dirs):
        for name in _listdir(os.path.join(root, sub)):
            if ".tmp." in name:
                g.temps.append(os.path.join(root, sub, name))
    return g


def remove(images, g: Garbage) -> int:
    """Remove what ``find`` found (same locks held); the bytes freed."""
    freed = 0
    for chain in g.layers:
        meta = images.layer_meta(chain)
        freed += meta["size"] if isinstance(meta, dict) else \
            scratch.tree_size(images.paths.layer_dir(chain))
        images._remove_layer(chain)
    for digest in g.blobs:
        try:
            freed += os.path.getsize(images.blob_path(digest))
        except OSError:
            pass
        images.blobs.remove(digest)
    for path in g.temps:
        if os.path.isdir(path) and not os.path.islink(path):
            freed += scratch.tree_size(path)
        else:
            try:
                freed += os.lstat(path).st_size
            except OSError:
                pass
        scratch.remove_tree(path)
    return freed


def collect(images) -> tuple[list[str], int]:
    """Remove the garbage, unless a berth is adding images right now (then nothing is judged:
    the next prune will); (what was removed, bytes freed)."""
    with images.store.lock():
        held = images.exclusive()
        if held is None:
            return [], 0
        with held:
            images._replay()
            g = find(images)
            freed = remove(images, g)
    return [*g.layers, *g.blobs, *(os.path.relpath(p, images.store.root) for p in g.temps)], freed


def _listdir(path: str) -> list[str]:
    try:
        return sorted(os.listdir(path))
    except FileNotFoundError:
        return []
