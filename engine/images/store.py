"""The image store: adding and removing images, over their records (records.py), names
(names.py), layers (layers.py), blobs (blobs.py) and the journal that makes every change whole
(journal.py).

On disk (under one root): ``images/<hex>.json`` is an Image (its id is the config digest),
``images/refs.json`` maps every tag and repo digest to an image id, ``layers/<chain hex>/`` holds
``diff/`` (the layer in overlay form) and ``meta.json``, ``blobs/sha256/`` the manifests, configs
and layer tarballs. Adding an image is all-or-nothing: layers are unpacked in the root's tmp/ and
renamed into place, the record and the names are committed by one journal entry under the root's
lock, and a failure removes whatever the call added. Removing the last image that uses a layer
or blob removes it too, unless a container's root filesystem is made of it.
"""

from __future__ import annotations

import errno
import os

from ..errors import Conflict, IntegrityError, InvalidArgument, NotFound
from ..models import Image
from . import reference
from .blobs import Blobs, check_digest, chain_ids, sha256_bytes
from .journal import Journal
from .layers import OCI_LAYER_TAR, Layer, Layers
from .names import REFS, Names
from .records import Records

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"


def _json():
    import json  # only where images are added: resolving a name (every run) needs none of it
    return json


class ImageStore(Records, Names, Layers, Journal):
    """Images, names and layers of one berth root (``engine.store.Store``)."""

    def __init__(self, store):
        self.store = store
        self.paths = store.paths
        self.blobs = Blobs(store.paths)
        self._damaged: dict[str, str] = {}   # image id -> what is wrong with its record

    # --- blobs --------------------------------------------------------------------------------
    def has_blob(self, digest: str) -> bool:
        return self.blobs.has(digest)

    def blob_path(self, digest: str) -> str:
        return self.blobs.path(digest)

    def ingest_blob(self, src_path: str, expected_digest: str | None = None,
                    media_type: str | None = None, verified: bool = False) -> str:
        """Verify the file at ``src_path`` (unless ``verified``: its writer hashed it against
        ``expected_digest``) and move it into blobs/ atomically; its digest."""
        return self.blobs.ingest(src_path, expected_digest, verified)[0]

    # --- reading ------------------------------------------------------------------------------
    def images(self) -> list[Image]:
        """Every readable image, newest first (the damaged ones are named, see
        ``Store.note_damaged``)."""
        self._settle()
        refs = self._refs()
        records, damaged = self._all_records()
        for iid, problem in damaged.items():
            self.store.note_damaged("image", iid[7:19], problem)
        out = [self._with_names(img, refs) for img in records]
        out.sort(key=lambda i: i.created, reverse=True)
        return out

    def resolve(self, ref: str, damaged_ok: bool = False) -> Image:
        """The image named by a tag, a name@digest, a full id or a unique id prefix. An image
        whose record is damaged is an IntegrityError saying so, unless ``damaged_ok`` (inspect,
        rmi): then it is what can be known of it (``damaged(image)`` is true)."""
        if not ref:
            raise InvalidArgument("an image name or id is required")
        self._settle()
        image_id = self._lookup(ref)
        got = self._read_record(image_id) if image_id else None
        if got is None:
            raise NotFound(f"No such image: {ref}")
        if isinstance(got, str):
            self.store.note_damaged("image", image_id[7:19], got)
            if not damaged_ok:
                raise IntegrityError(f"image {ref} has a damaged record ({got}): run 'berth "
                                     f"system check --repair', or remove it with 'berth rmi -f'")
            self._damaged[image_id] = got
            got = self.rebuild(image_id) or Image(id=image_id, architecture="", os="")
        return self._with_names(got, self._refs())

    def damaged(self, image: Image) -> str:
        """What is wrong with the record ``image`` came from ("" when nothing), as
        ``resolve(..., damaged_ok=True)`` found it."""
        return self._damaged.get(image.id, "")
    # --- adding images ------------------------------------------------------------------------
    def add_image(self, manifest_bytes: bytes, config_bytes: bytes, tags: list[str] = (),
                  repo_digest: str | None = None) -> Image:
        """Record an image whose layer blobs are in the store: unpack what is missing, verify
        the diff_ids, write the record and the names. All or nothing."""
        with self.busy():
            return self._add_image(manifest_bytes, config_bytes, tags, repo_digest)

    def _add_image(self, manifest_bytes: bytes, config_bytes: bytes, tags,
                   repo_digest: str | None) -> Image:
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
            self.check_config(config.get("config"), tags[0] if tags else image_id)
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
                    self._replay()
                    if not all(self.has_layer(c) for c in chains):
                        continue
                    for b in layer_blobs:
                        if not self.has_blob(b):
                            raise IntegrityError(f"layer blob {b} was removed while the image "
                                                 "was being added; try again")
                    for blob in (manifest_bytes, config_bytes):
                        self.blobs.put(blob)
                    self._commit(img, tags, repo_digest)
                break
            else:
                raise Conflict("another berth keeps removing this image's layers; try again")
            return self._with_names(self._record(image_id) or img, self._refs())
        except BaseException:
            self.discard_unused(new_blobs, new_layers)
            raise

    def check_config(self, config, name: str) -> dict:
        """The usable part of an image's config section (``config_check.usable``), each value
        left out told as a warning; InvalidArgument for a config that can't be used at all.
        ``name`` (a reference or an id) names the image in both."""
        from .config_check import usable
        shown = reference.familiar(name) if not name.startswith("sha256:") else name[7:19]
        out, warnings = usable(config, shown)
        for w in warnings:
            self.store.warn(w)
        return out

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

    def _commit(self, img: Image, tags: list[str], repo_digest: str | None) -> None:
        """Record ``img`` with its names (the caller holds the lock): one journalled change."""
        old = self._record(img.id)
        refs = self._live_refs(keep=[img.id])
        touched = {img.id}
        for t in tags:
            touched.add(refs["tags"].get(t))
            refs["tags"][t] = img.id
        if repo_digest:
            touched.add(refs["digests"].get(repo_digest))
            refs["digests"][repo_digest] = img.id
        # the same image again with other blobs (say, uncompressed layers from a docker
        # archive): the last one added is kept, the other's go once nothing uses them
        stale = [*old.layers, old.manifest_digest] if old is not None else []
        self._journal_names(refs, touched, img, blobs=stale)

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
            with self.busy():
                return self.add_image(_json().dumps(manifest, separators=(",", ":")).encode(),
                                      config_bytes, list(tags))
        except BaseException:
            self.discard_unused([l.blob for l in layers], [l.chain_id for l in layers])
            raise

    # --- removing -----------------------------------------------------------------------------
    def _needs(self) -> tuple[set[str] | None, set[str] | None]:
        """(blobs, chain ids) that the image records and containers need; None for what can't
        be known (a damaged record that can't be rebuilt, a container whose records can't be
        read): then none of that kind may be removed."""
        from .users import build_cache_claims, claims
        records, damaged = self._all_records()
        blobs: set[str] | None = set()
        chains: set[str] | None = set()
        for iid in damaged:
            img = self.rebuild(iid)
            if img is None:
                return None, None
            records.append(img)
        for img in records:
            chains.update(img.chain_ids)
            blobs.update(img.layers)
            blobs.add(img.id)
            if img.manifest_digest:
                blobs.add(img.manifest_digest)
        users = claims(self.store)
        chains |= users.chains
        cached_chains, cached_blobs = build_cache_claims(self.store)
        chains |= cached_chains
        blobs |= cached_blobs
        if users.unknown:
            chains = None
        return blobs, chains

    def _drop_unused(self, chains: list[str], blobs: list[str]) -> int:
        """Remove those of these layers and blobs that nothing needs (the caller holds the
        root's lock); the bytes of the layers removed."""
        needed_blobs, needed_chains = self._needs()
        freed = 0
        if needed_chains is not None:
            for c in dict.fromkeys(chains):
                if c and c not in needed_chains and os.path.isdir(self.paths.layer_dir(c)):
                    freed += self.layer_size(c)
                    self._remove_layer(c)
        if needed_blobs is not None:
            for b in blobs:
                if b and b not in needed_blobs:
                    self.blobs.remove(b)
        return freed

    def discard_unused(self, blobs: list[str], chains: list[str]) -> None:
        """Remove these blobs and layers unless an image or a container needs them."""
        if blobs or chains:
            with self.store.lock():
                self._replay()   # a pending change's records count as using what they name
                self._drop_unused(list(chains), list(blobs))

    def delete(self, image: Image, only_if_unused: bool = False,
               only_if_nameless: bool = False) -> int | None:
        """Remove the image with all its names, then its layers and blobs that nothing else
        needs; the bytes of the layers removed (None when ``only_if_unused`` and a container
        uses it, or ``only_if_nameless`` and it has a name, as prune asks). The record goes
        first: a berth killed after that leaves the image gone (its names name nothing) and
        its layers and blobs to prune."""
        with self.store.lock():
            self._replay()
            refs = self._live_refs()
            if only_if_nameless and any(image.id in t.values() for t in refs.values()):
                return None
            if only_if_unused:
                from .users import claims
                if image.id in claims(self.store).images:
                    return None
            self.store.delete("images", image.id.partition(":")[2] + ".json")
            self._damaged.pop(image.id, None)
            for table in refs.values():
                for k in [k for k, v in table.items() if v == image.id]:
                    del table[k]
            try:
                self.store.write(refs, *REFS)
            except OSError as e:
                # a full disk: the names of a record that is gone name nothing, and the next
                # change of names drops them; what follows frees the space
                if e.errno not in (errno.ENOSPC, errno.EDQUOT):
                    raise
            return self._drop_unused(list(image.chain_ids),
                                     [*image.layers, image.id, image.manifest_digest])
