"""Layers: unpacked once in overlay form under ``layers/<chain hex>/`` (``diff/`` and
``meta.json``), shared by chain id, made complete in the root's tmp/ and renamed into place (the
ImageStore's ``Layers`` part)."""

from __future__ import annotations

import os

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import BinaryIO

from ..errors import IntegrityError
from ..models import Image, Model
from .blobs import sha256_bytes

OCI_LAYER_TAR = "application/vnd.oci.image.layer.v1.tar"
TMP_PREFIX = "img-"  # + pid: the image area's scratch in tmp/, swept once that process is gone


def _json():
    import json  # only where layers are made
    return json


def _rmtree(path: str, ignore_errors: bool = True) -> None:
    import shutil
    shutil.rmtree(path, ignore_errors=ignore_errors)


class Layer(Model):
    """A layer of an image: its blob, what the blob unpacks to, and where it is unpacked."""

    diff_id: str
    chain_id: str
    blob: str = ""               # digest of the (maybe compressed) tarball in blobs/
    media_type: str = OCI_LAYER_TAR
    size: int = 0                # bytes of file content once unpacked


class Layers:
    """The layers and scratch space of an ImageStore (mixed into ImageStore)."""

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
