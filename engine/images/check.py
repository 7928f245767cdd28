"""``berth system check`` for the image store: what is damaged, missing or left over, and with
``repair`` what can be done about it, never touching anything a container or a readable image
needs. engine/check.py calls ``check_images`` with the other areas' checks."""

from __future__ import annotations

import os

from ..models import Finding
from . import garbage
from .names import REFS, valid_refs
from .store import ImageStore

_REMOVE = "remove the image and its names (pull or load it again)"


def check_images(store, repair: bool) -> list[Finding]:
    """Findings about the image store of ``store`` (an engine.store.Store); with ``repair``,
    each one fixed where it can be (``repaired``)."""
    images = ImageStore(store)
    out: list[Finding] = []
    with store.lock():
        if images.pending_change():
            f = Finding("record", "images/journal.json", "an image change was interrupted (a "
                        "berth was killed while recording it)", "finish it")
            if repair:
                images._replay()
                f.repaired = True
            out.append(f)
        out += _check_refs(images, repair)
        out += _check_records(images, repair)
        out += _check_layers(images, repair)
        out += _check_images(images, repair)
        out += _check_garbage(images, repair)
    return out


def _check_refs(images: ImageStore, repair: bool) -> list[Finding]:
    try:
        doc = images.store.read(*REFS)
    except ValueError as e:
        problem = f"damaged: not JSON ({e})"
    else:
        if doc is None:
            rebuilt = images._refs_from_records()
            problem = "missing" if rebuilt["tags"] or rebuilt["digests"] else ""
        else:
            problem = "" if valid_refs(doc) else "damaged: not a table of names"
    if not problem:
        return []
    f = Finding("record", "images/refs.json", f"the table of image names is {problem}",
                "rebuild it from the names the image records keep")
    if repair:
        images.store.write(images._refs_from_records(), *REFS)
        f.repaired = True
    return [f]


def _check_records(images: ImageStore, repair: bool) -> list[Finding]:
    from .users import claims
    out = []
    _, damaged = images._all_records()
    used = claims(images.store).images
    for iid, problem in damaged.items():
        rebuilt = images.rebuild(iid)
        if rebuilt is not None:
            f = Finding("image", iid, f"damaged record: {problem}",
                        "rebuild it from the image's config and manifest blobs")
        elif iid in used:
            f = Finding("image", iid, f"damaged record: {problem}; its config or manifest blob "
                        f"is gone, and container {used[iid][0][0][:12]} uses it", "")
        else:
            f = Finding("image", iid, f"damaged record: {problem}; its config or manifest blob "
                        "is gone", _REMOVE)
        if repair and f.repair:
            refs = images._live_refs(keep=[iid])
            if rebuilt is not None:
                images._journal_names(refs, set(), rebuilt)
            else:
                images.delete(_stub(iid))
            f.repaired = True
        out.append(f)
    return out


def _stub(iid: str):
    from ..models import Image
    return Image(id=iid)


def _check_layers(images: ImageStore, repair: bool) -> list[Finding]:
    """Layers whose meta.json is damaged or missing while their diff is there: the meta is
    written again (from the image records that use the layer) when an image uses it."""
    out = []
    users: dict[str, tuple[str, str]] = {}   # chain -> (diff_id, parent chain)
    for img in images._all_records()[0]:
        for i, (d, c) in enumerate(zip(img.diff_ids, img.chain_ids)):
            users[c] = (d, img.chain_ids[i - 1] if i else "")
    for name in images.store.list_dir("layers"):
        chain = "sha256:" + name
        meta = images.layer_meta(chain)
        if isinstance(meta, dict) or len(name) != 64 or chain not in users:
            continue   # fine, or garbage (_check_garbage)
        diff = os.path.join(images.paths.layer_dir(chain), "diff")
        if not os.path.isdir(diff):
            continue   # a missing layer (_check_images)
        problem = meta if isinstance(meta, str) else f"layers/{name}/meta.json is missing"
        f = Finding("layer", chain, f"damaged layer record: {problem}",
                    "write it again from the image records that use the layer")
        if repair:
            from . import scratch
            diff_id, parent = users[chain]
            images.store.write({"chain_id": chain, "diff_id": diff_id, "parent": parent,
                                "size": scratch.tree_size(diff)}, "layers", name, "meta.json")
            f.repaired = True
        out.append(f)
    return out


def _check_images(images: ImageStore, repair: bool) -> list[Finding]:
    """Readable images whose layers or blobs are missing."""
    from .users import claims
    out = []
    used = claims(images.store).images
    for img in images._all_records()[0]:
        # (a layer whose meta.json alone is gone is _check_layers')
        missing = [c for c in img.chain_ids
                   if not os.path.isdir(os.path.join(images.paths.layer_dir(c), "diff"))]
        for i, c in enumerate(img.chain_ids):
            if c not in missing:
                continue
            blob = img.layers[i] if i < len(img.layers) else ""
            if blob and images.has_blob(blob):
                f = Finding("layer", c, f"layer {i + 1} of image {img.short_id} is missing",
                            "unpack it again from its blob")
                if repair:
                    images._remove_layer(c)   # whatever half of it is left
                    with images.busy():
                        images._unpack_into_place(c, img.diff_ids[i],
                                                  img.chain_ids[i - 1] if i else "", blob)
                    f.repaired = True
                out.append(f)
                missing.remove(c)
        gone = [b for b in [img.id, img.manifest_digest, *img.layers]
                if b and not images.has_blob(b)]
        if missing:
            user = used.get(img.id)
            f = Finding("image", img.id, f"{len(missing)} of its layers are missing and cannot "
                        "be unpacked again (their blobs are gone)",
                        "" if user else _REMOVE)
            if repair and not user:
                images.delete(img)
                f.repaired = True
            out.append(f)
        elif gone:
            out.append(Finding("blob", gone[0], f"{len(gone)} blob(s) of image {img.short_id} "
                               "are missing: it runs, but save and push of it fail", ""))
    return out


def _check_garbage(images: ImageStore, repair: bool) -> list[Finding]:
    held = images.exclusive()
    if held is None:
        return []   # a berth is adding images: until its record is written, its new layers
        # and blobs look exactly like orphans (the next check judges them)
    with held:
        g = garbage.find(images)
        out = [Finding("layer", c, "an orphan layer: no image or container uses it", "remove it")
               for c in g.layers]
        out += [Finding("blob", b, "an orphan blob: no image uses it", "remove it")
                for b in g.blobs]
        out += [Finding("tempfile", os.path.relpath(p, images.store.root), "left behind by a "
                        "berth that was killed or failed", "remove it") for p in g.temps]
        if g.unjudged:
            out.append(Finding("image", "garbage", "orphan layers and blobs were not checked: "
                               + g.unjudged, ""))
        if repair:
            garbage.remove(images, g)
            for f in out:
                f.repaired = bool(f.repair)
    return out

