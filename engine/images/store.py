"""The image store: image records, and adding and removing images over their names
(names.py), layers (layers.py) and blobs (blobs.py).

On disk (under one root): ``images/<hex>.json`` is an Image (its id is the config digest),
``images/refs.json`` maps every tag and repo digest to an image id, ``layers/<chain hex>/`` holds
``diff/`` (the layer in overlay form) and ``meta.json``, ``blobs/sha256/`` the manifests, configs
and layer tarballs. Adding an image is all-or-nothing: layers are unpacked in the root's tmp/ and
renamed into place, records are written under the root's lock, and a failure removes whatever
the call added. Removing the last image that uses a layer or blob removes it too.
"""

from __future__ import annotations

import os

from ..errors import Conflict, IntegrityError, InvalidArgument, NotFound
from ..models import Image
from . import reference
from .blobs import Blobs, check_digest, chain_ids, sha256_bytes
from .layers import OCI_LAYER_TAR, Layer, Layers
from .names import REFS, Names
from .users import containers_using

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"


def _json():
    import json  # only where images are added: resolving a name (every run) needs none of it
    return json


class ImageStore(Names, Layers):
    """Images, names and layers of one berth root (``engine.store.Store``)."""

    def __init__(self, store):
        self.store = store
        self.paths = store.paths
        self.blobs = Blobs(store.paths)

    # --- blobs --------------------------------------------------------------------------------
    def has_blob(self, digest: str) -> bool:
        return self.blobs.has(digest)

    def blob_path(self, digest: str) -> str:
        return self.blobs.path(digest)

    def ingest_blob(self, src_path: str, expected_digest: str | None = None,
                    media_type: str | None = None) -> str:
        """Verify the file at ``src_path`` and move it into blobs/ atomically; its digest."""
        return self.blobs.ingest(src_path, expected_digest)[0]

    # --- records --------------------------------------------------------------------------------
    def _record(self, image_id: str) -> Image | None:
        data = self.store.read("images", image_id.partition(":")[2] + ".json")
        return Image.from_dict(data) if data else None

    def _ids(self) -> list[str]:
        return ["sha256:" + n[:-5] for n in self.store.list_dir("images")
                if n.endswith(".json") and n != "refs.json"]

    def images(self) -> list[Image]:
        """Every image, newest first."""
        out = [img for img in (self._record(i) for i in self._ids()) if img]
        out.sort(key=lambda i: i.created, reverse=True)
        return out

    def resolve(self, ref: str) -> Image:
        """The image named by a tag, a name@digest, a full id or a unique id prefix."""
        if not ref:
            raise InvalidArgument("an image name or id is required")
        image_id = self._lookup(ref)
        img = self._record(image_id) if image_id else None
        if img is None:
            raise NotFound(f"No such image: {ref}")
        return img

    def _write(self, img: Image) -> None:
        self.store.write(img.to_dict(), "images", img.id.partition(":")[2] + ".json")

    # --- adding images ------------------------------------------------------------------------
    def add_image(self, manifest_bytes: bytes, config_bytes: bytes, tags: list[str] = (),
                  repo_digest: str | None = None) -> Image:
        """Record an image whose layer blobs are in the store: unpack what is missing, verify
        the diff_ids, write the record and the names. All or nothing."""
        new_blobs: list[str] = []
        new_layers: list[str] = []
        try:
            try:
                manifest = _json().loads(manifest_bytes)
                config = _json().loads(config_bytes)
                cdesc = manifest["config"]
                descs = list(manifest.get("layers") or [])
                diff_ids = list((config.get("rootfs") or {}).get("diff_ids") or [])
            except (ValueError, KeyError, TypeError, AttributeError) as e:
                raise IntegrityError(f"the image manifest or config is malformed: {e}") from None
            image_id = sha256_bytes(config_bytes)
            if cdesc.get("digest") != image_id:
                raise IntegrityError(f"config {cdesc.get('digest')} does not match its digest: "
                                     f"the content hashes to {image_id}")
            if len(descs) != len(diff_ids):
                raise IntegrityError(f"the manifest lists {len(descs)} layers but the config "
                                     f"{len(diff_ids)} diff_ids")
            for d in diff_ids:
                check_digest(d)
            tags = [str(reference.parse(t).with_default_tag()) for t in tags]
            for blob in (manifest_bytes, config_bytes):
                digest, new = self.blobs.put(blob)
                if new:
                    new_blobs.append(digest)
            chains = chain_ids(diff_ids)
            layer_blobs = [check_digest(d.get("digest")) for d in descs]
            # A concurrent rmi may remove a shared layer between our check and our record; the
            # record is only written once, under the lock, everything it names is there.
            for _attempt in range(3):
                size = self._ensure_layers(layer_blobs, diff_ids, chains, new_layers)
                img = Image(
                    id=image_id, created=config.get("created") or "", size=size,
                    architecture=config.get("architecture") or "", os=config.get("os") or "",
                    config=config.get("config") or {}, diff_ids=diff_ids, chain_ids=chains,
                    layers=layer_blobs,
                    layer_media_types=[d.get("mediaType") or OCI_LAYER_TAR for d in descs],
                    manifest_digest=sha256_bytes(manifest_bytes),
                    history=list(config.get("history") or []),
                    author=config.get("author") or "", comment=config.get("comment") or "")
                with self.store.lock():
                    if not all(self.has_layer(c) for c in chains):
                        continue
                    for b in layer_blobs:
                        if not self.has_blob(b):
                            raise IntegrityError(f"layer blob {b} was removed while the image "
                                                 "was being added; try again")
                    for blob in (manifest_bytes, config_bytes):
                        self.blobs.put(blob)
                    old = self._commit(img, tags, repo_digest)
                if old is not None:
                    # the same image came again with other blobs (say, uncompressed layers from
                    # a docker archive): the last one added is kept, the other's go
                    self.discard_unused([*old.layers, old.manifest_digest], [])
                break
            else:
                raise Conflict("another berth keeps removing this image's layers; try again")
            return self._record(image_id) or img
        except BaseException:
            self.discard_unused(new_blobs, new_layers)
            raise

    def _ensure_layers(self, blobs: list[str], diff_ids: list[str], chains: list[str],
                       new_layers: list[str]) -> int:
        """Unpack the layers not yet in the store; the image's total unpacked size."""
        size = 0
        for i, digest in enumerate(blobs):
            if self.has_layer(chains[i]):
                size += self.layer_size(chains[i])
                continue
            if not self.has_blob(digest):
                raise NotFound(f"layer blob {digest} is not in the store")
            try:
                n, made = self._unpack_into_place(chains[i], diff_ids[i],
                                                  chains[i - 1] if i else "", digest)
            except IntegrityError as e:
                raise IntegrityError(f"layer {digest[7:19]}: {e}") from None
            if made:
                new_layers.append(chains[i])
            size += n
        return size

    def _commit(self, img: Image, tags: list[str], repo_digest: str | None) -> Image | None:
        """Write the record and point the names at it (the caller holds the lock); the record
        it replaced, if the image was there already."""
        old = self._record(img.id)
        self._write(img)
        refs = self._refs()
        touched = {img.id}
        for t in tags:
            prev = refs["tags"].get(t)
            if prev:
                touched.add(prev)
            refs["tags"][t] = img.id
        if repo_digest:
            refs["digests"][repo_digest] = img.id
        self._sync_names(refs, touched)
        return old

    def create_image(self, config: dict, layers: list[Layer], tags: list[str] = ()) -> Image:
        """An image from a config document (its rootfs filled in here) and layers already in the
        store (from ``add_layer`` or another image), as import and commit make them."""
        config = dict(config)
        config["rootfs"] = {"type": "layers", "diff_ids": [l.diff_id for l in layers]}
        config_bytes = _json().dumps(config, separators=(",", ":")).encode()
        manifest = {
            "schemaVersion": 2, "mediaType": OCI_MANIFEST,
            "config": {"mediaType": OCI_CONFIG, "digest": sha256_bytes(config_bytes),
                       "size": len(config_bytes)},
            "layers": [{"mediaType": l.media_type, "digest": l.blob,
                        "size": os.path.getsize(self.blob_path(l.blob))} for l in layers],
        }
        try:
            return self.add_image(_json().dumps(manifest, separators=(",", ":")).encode(),
                                  config_bytes, list(tags))
        except BaseException:
            self.discard_unused([l.blob for l in layers], [l.chain_id for l in layers])
            raise

    # --- removing -----------------------------------------------------------------------------
    def _in_use(self, exclude: str = "") -> tuple[set[str], set[str]]:
        blobs: set[str] = set()
        chains: set[str] = set()
        for iid in self._ids():
            if iid == exclude:
                continue
            img = self._record(iid)
            if img is None:
                continue
            chains.update(img.chain_ids)
            blobs.update(img.layers)
            blobs.add(img.id)
            if img.manifest_digest:
                blobs.add(img.manifest_digest)
        return blobs, chains

    def discard_unused(self, blobs: list[str], chains: list[str]) -> None:
        """Remove these blobs and layers unless an image uses them."""
        if not blobs and not chains:
            return
        with self.store.lock():
            used_blobs, used_chains = self._in_use()
            for c in chains:
                if c not in used_chains:
                    self._remove_layer(c)
            for b in blobs:
                if b not in used_blobs:
                    self.blobs.remove(b)

    def delete(self, image: Image) -> None:
        """Remove the image, its names, and its layers and blobs that no other image uses."""
        with self.store.lock():
            refs = self._refs()
            for table in (refs["tags"], refs["digests"]):
                for k in [k for k, v in table.items() if v == image.id]:
                    del table[k]
            self.store.write(refs, *REFS)
            self.store.delete("images", image.id.partition(":")[2] + ".json")
            used_blobs, used_chains = self._in_use()
            for c in image.chain_ids:
                if c not in used_chains:
                    self._remove_layer(c)
            for b in [*image.layers, image.id, image.manifest_digest]:
                if b and b not in used_blobs:
                    self.blobs.remove(b)

    def check_removable(self, image: Image, force: bool) -> list[tuple[str, bool]]:
        """The containers using ``image``; Conflict if one is running (even with force)."""
        users = containers_using(self.store, image.id)
        running = [c for c, r in users if r]
        if running:
            raise Conflict(f"conflict: unable to delete {image.short_id} (cannot be forced) - "
                           f"image is being used by running container {running[0][:12]}")
        return users
