"""The image store: image records, names, and layers unpacked once and shared by chain id.

On disk (under one root): ``images/<hex>.json`` is an Image (its id is the config digest),
``images/refs.json`` maps every tag and repo digest to an image id, ``layers/<chain hex>/`` holds
``diff/`` (the layer in overlay form) and ``meta.json``, ``blobs/sha256/`` the manifests, configs
and layer tarballs. Adding an image is all-or-nothing: layers are unpacked in the root's tmp/ and
renamed into place, records are written under the root's lock, and a failure removes whatever
the call added. Removing the last image that uses a layer or blob removes it too.
"""

from __future__ import annotations

import os

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import BinaryIO

from ..errors import Conflict, IntegrityError, InvalidArgument, NotFound
from ..models import Image, Model
from . import reference
from .blobs import Blobs, check_digest, chain_ids, sha256_bytes

REFS = ("images", "refs.json")
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
OCI_LAYER_TAR = "application/vnd.oci.image.layer.v1.tar"
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"


def _json():
    import json  # only where images are added: resolving a name (every run) needs none of it
    return json


def _rmtree(path: str, ignore_errors: bool = True) -> None:
    import shutil
    shutil.rmtree(path, ignore_errors=ignore_errors)


TMP_PREFIX = "img-"  # + pid: the image area's scratch in tmp/, swept once that process is gone


class Layer(Model):
    """A layer of an image: its blob, what the blob unpacks to, and where it is unpacked."""

    diff_id: str
    chain_id: str
    blob: str = ""               # digest of the (maybe compressed) tarball in blobs/
    media_type: str = OCI_LAYER_TAR
    size: int = 0                # bytes of file content once unpacked


def containers_using(store, image_id: str) -> list[tuple[str, bool]]:
    """(container id, running) of every container created from ``image_id``; running as the
    runtime sees it (a record that says running but whose monitor died is not)."""
    try:
        from ..runtime.process import effective_status
    except ImportError:  # pragma: no cover - a build without the runtime
        def effective_status(state):
            return state
    out = []
    for cid in store.list_dir("containers"):
        cfg = store.read("containers", cid, "config.json")
        if not isinstance(cfg, dict) or cfg.get("image_id") != image_id:
            continue
        state = effective_status(store.read("containers", cid, "state.json") or {})
        out.append((cid, state.get("status") in ("running", "paused", "restarting")))
    return out


class ImageStore:
    """Images, names and layers of one berth root (``engine.store.Store``)."""

    def __init__(self, store):
        self.store = store
        self.paths = store.paths
        self.blobs = Blobs(store.paths)

    # --- scratch space ------------------------------------------------------------------------
    def tmpdir(self, kind: str) -> str:
        """A fresh scratch directory under tmp/ named for this process."""
        return self.store.tmpdir(f"{TMP_PREFIX}{os.getpid()}-{kind}-")

    def sweep_tmp(self) -> None:
        """Remove the scratch a killed berth left behind (its pid no longer runs)."""
        for name in self.store.list_dir("tmp"):
            if not name.startswith(TMP_PREFIX):
                continue
            pid = name[len(TMP_PREFIX):].partition("-")[0]
            if not pid.isdigit() or os.path.exists(f"/proc/{pid}"):
                continue
            path = self.store.path("tmp", name)
            if os.path.isdir(path) and not os.path.islink(path):
                _rmtree(path, ignore_errors=True)
            else:
                try:
                    os.unlink(path)
                except FileNotFoundError:
                    pass

    # --- blobs --------------------------------------------------------------------------------
    def has_blob(self, digest: str) -> bool:
        return self.blobs.has(digest)

    def blob_path(self, digest: str) -> str:
        return self.blobs.path(digest)

    def ingest_blob(self, src_path: str, expected_digest: str | None = None,
                    media_type: str | None = None) -> str:
        """Verify the file at ``src_path`` and move it into blobs/ atomically; its digest."""
        return self.blobs.ingest(src_path, expected_digest)[0]

    # --- names --------------------------------------------------------------------------------
    def _refs(self) -> dict:
        refs = self.store.read(*REFS) or {}
        refs.setdefault("tags", {})
        refs.setdefault("digests", {})
        return refs

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

    def _lookup(self, ref: str) -> str | None:
        hexpart = ref[7:] if ref.startswith("sha256:") else ref
        ids = self._ids()
        if len(hexpart) == 64 and ("sha256:" + hexpart) in ids:
            return "sha256:" + hexpart
        if not ref.startswith("sha256:"):
            try:
                r = reference.parse(ref)
            except InvalidArgument:
                r = None
            if r is not None:
                refs = self._refs()
                if r.digest:
                    hit = refs["digests"].get(f"{r.name}@{r.digest}")
                    if hit:
                        return hit
                    # a digest names content: any local image pulled by that manifest will do
                    for name, iid in refs["digests"].items():
                        if name.endswith("@" + r.digest):
                            return iid
                else:
                    hit = refs["tags"].get(str(r.with_default_tag()))
                    if hit:
                        return hit
        if hexpart and all(c in "0123456789abcdef" for c in hexpart):
            found = [i for i in ids if i[7:].startswith(hexpart)]
            if len(found) > 1:
                raise InvalidArgument(f"image id prefix '{ref}' is ambiguous: give more digits")
            if found:
                return found[0]
        return None

    def _sync_names(self, refs: dict, ids: set[str]) -> None:
        """Rewrite the refs and the repo_tags/repo_digests of the images in ``ids``."""
        self.store.write(refs, *REFS)
        for iid in ids:
            img = self._record(iid)
            if img is None:
                continue
            img.repo_tags = sorted(t for t, i in refs["tags"].items() if i == iid)
            img.repo_digests = sorted(d for d, i in refs["digests"].items() if i == iid)
            self._write(img)

    def _write(self, img: Image) -> None:
        self.store.write(img.to_dict(), "images", img.id.partition(":")[2] + ".json")

    def tag(self, image: Image, target: str) -> str:
        """Point the tag ``target`` at ``image``; the normalised tag."""
        r = reference.parse(target)
        if r.digest:
            raise InvalidArgument(f"refusing to create a tag with a digest reference: {target}")
        name = str(r.with_default_tag())
        with self.store.lock():
            if self._record(image.id) is None:
                raise NotFound(f"No such image: {image.id}")
            refs = self._refs()
            old = refs["tags"].get(name)
            refs["tags"][name] = image.id
            self._sync_names(refs, {image.id} | ({old} if old else set()))
        return name

    def untag(self, ref: str) -> str:
        """Remove the tag (or name@digest) ``ref``; the normalised name removed."""
        r = reference.parse(ref)
        with self.store.lock():
            refs = self._refs()
            key = f"{r.name}@{r.digest}" if r.digest else str(r.with_default_tag())
            table = refs["digests"] if r.digest else refs["tags"]
            iid = table.pop(key, None)
            if iid is None:
                raise NotFound(f"No such image: {ref}")
            self._sync_names(refs, {iid})
        return key

    # --- layers -------------------------------------------------------------------------------
    def layer_dirs(self, image: Image) -> list[str]:
        """The diff dirs of ``image``, bottom layer first."""
        return [os.path.join(self.paths.layer_dir(c), "diff") for c in image.chain_ids]

    def has_layer(self, chain_id: str) -> bool:
        return os.path.isfile(os.path.join(self.paths.layer_dir(chain_id), "meta.json"))

    def layer_size(self, chain_id: str) -> int:
        meta = self.store.read("layers", chain_id.partition(":")[2], "meta.json") or {}
        return int(meta.get("size") or 0)

    def image_layers(self, image: Image) -> list[Layer]:
        """The layers of ``image`` (for building an image on top of it, as commit does)."""
        out = []
        for i, (d, c) in enumerate(zip(image.diff_ids, image.chain_ids)):
            out.append(Layer(d, c, image.layers[i] if i < len(image.layers) else "",
                             image.layer_media_types[i] if i < len(image.layer_media_types)
                             else OCI_LAYER_TAR, self.layer_size(c)))
        return out

    def _unpack_into_place(self, chain_id: str, diff_id: str, parent: str, source,
                           compression: str | None = None) -> tuple[int, bool]:
        """Unpack ``source`` (a file object, or a blob digest) as layer ``chain_id``;
        (size, newly made). The layer appears at once, complete, or not at all."""
        from .unpack import unpack_file
        if self.has_layer(chain_id):
            return self.layer_size(chain_id), False
        tmp = self.tmpdir("layer")
        try:
            os.mkdir(os.path.join(tmp, "diff"), 0o755)
            if isinstance(source, str):
                with open(self.blob_path(source), "rb", buffering=1 << 16) as f:
                    got, size = unpack_file(f, os.path.join(tmp, "diff"))
            else:
                got, size = unpack_file(source, os.path.join(tmp, "diff"), compression)
            if diff_id and got != diff_id:
                what = f"layer {source}" if isinstance(source, str) else "the layer"
                raise IntegrityError(f"{what} does not match its diff_id: it unpacks to {got}, "
                                     f"the config says {diff_id}")
            chain_id = chain_id or got
            meta = {"chain_id": chain_id, "diff_id": got, "parent": parent, "size": size}
            with open(os.path.join(tmp, "meta.json"), "w") as f:
                _json().dump(meta, f)
            dest = self.paths.layer_dir(chain_id)
            try:
                os.rename(tmp, dest)
            except OSError:
                if self.has_layer(chain_id):  # another berth unpacked it meanwhile
                    _rmtree(tmp, ignore_errors=True)
                    return self.layer_size(chain_id), False
                raise
            return size, True
        except BaseException:
            _rmtree(tmp, ignore_errors=True)
            raise

    def add_layer(self, stream: BinaryIO, parent_chain_id: str = "",
                  compression: str | None = None) -> Layer:
        """A new layer from a tar stream (plain, gzip, zstd, xz; detected when ``compression`` is
        None and the stream can peek): stored as an uncompressed tar blob and unpacked on top of
        ``parent_chain_id``. Until an image uses it, ``discard_unused`` may remove it."""
        tmp_blob = self.store.path("tmp", f"{TMP_PREFIX}{os.getpid()}-{id(stream)}.tar")
        out = open(tmp_blob, "wb")
        try:
            stage = self.tmpdir("layer")
            try:
                from .tarstream import TarStream, decompressed
                from .unpack import unpack
                ts = TarStream(decompressed(stream, compression), out.write)
                os.mkdir(os.path.join(stage, "diff"), 0o755)
                size = unpack(ts, os.path.join(stage, "diff"))
                out.close()
                diff_id = ts.digest()
                chain = diff_id if not parent_chain_id else \
                    sha256_bytes(f"{parent_chain_id} {diff_id}".encode())
                blob, new_blob = self.blobs.ingest(tmp_blob, diff_id)
                try:
                    with open(os.path.join(stage, "meta.json"), "w") as f:
                        _json().dump({"chain_id": chain, "diff_id": diff_id,
                                   "parent": parent_chain_id, "size": size}, f)
                    if not self.has_layer(chain):
                        try:
                            os.rename(stage, self.paths.layer_dir(chain))
                        except OSError:
                            if not self.has_layer(chain):
                                raise
                except BaseException:
                    if new_blob:
                        self.discard_unused([blob], [])
                    raise
                return Layer(diff_id, chain, blob, OCI_LAYER_TAR, size)
            finally:
                _rmtree(stage, ignore_errors=True)
        finally:
            out.close()
            try:
                os.unlink(tmp_blob)
            except FileNotFoundError:
                pass

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

    def _remove_layer(self, chain_id: str) -> None:
        # renamed away first, so the layer is either whole or absent for every reader
        path = self.paths.layer_dir(chain_id)
        doomed = os.path.join(self.store.path("tmp"), f"{TMP_PREFIX}{os.getpid()}-gone-"
                                                      f"{os.path.basename(path)}")
        try:
            os.rename(path, doomed)
        except FileNotFoundError:
            return
        _rmtree(doomed, ignore_errors=True)

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
