"""Layers: unpacked once in overlay form under ``layers/<chain hex>/`` (``diff/`` and
``meta.json``), shared by chain id, made complete in the root's tmp/ and renamed into place, and
renamed away before they are removed, so a reader finds a layer whole or not at all (the
ImageStore's ``Layers`` part)."""

from __future__ import annotations

import os

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import BinaryIO

from ..errors import IntegrityError
from ..models import Image, Model
from . import scratch
from .blobs import sha256_bytes

OCI_LAYER_TAR = "application/vnd.oci.image.layer.v1.tar"
# what a new layer's blob is kept as when its tarball came neither gzipped nor zstd-compressed:
# gzip for every registry and client, at the level that costs least
_GZIP_LEVEL = 1


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
        """A fresh scratch directory under tmp/ named for this process (hold ``busy()``)."""
        if kind == "layer":
            scratch.spread_below(self.store.path("tmp"))
        return self.store.tmpdir(scratch.name(kind) + "-")

    def scratch_path(self, kind: str) -> str:
        """A path under tmp/ for a scratch file of this process (hold ``busy()``)."""
        return self.store.path("tmp", scratch.name(kind))

    def sweep_tmp(self) -> None:
        """Remove the scratch a killed berth left behind (its process is gone)."""
        scratch.sweep(self.store.path("tmp"))

    # --- layers -------------------------------------------------------------------------------
    def layer_dirs(self, image: Image) -> list[str]:
        """The diff dirs of ``image``, bottom layer first."""
        return [os.path.join(self.paths.layer_dir(c), "diff") for c in image.chain_ids]

    def has_layer(self, chain_id: str) -> bool:
        return os.path.isfile(os.path.join(self.paths.layer_dir(chain_id), "meta.json"))

    def layer_size(self, chain_id: str) -> int:
        """Bytes of file content in the layer (0 when it is not there). A damaged meta.json is
        named (``note_damaged``) and the size counted from the layer itself."""
        hexpart = chain_id.partition(":")[2]
        meta = self.layer_meta(chain_id)
        if meta is None:
            return 0
        if isinstance(meta, str):
            self.store.note_damaged("layer", hexpart[:12], meta)
            return scratch.tree_size(os.path.join(self.paths.layer_dir(chain_id), "diff"))
        return meta["size"]

    def layer_meta(self, chain_id: str) -> dict | str | None:
        """The layer's meta.json; None when there is none, or what is wrong with it."""
        hexpart = chain_id.partition(":")[2]
        where = f"layers/{hexpart}/meta.json"
        try:
            meta = self.store.read("layers", hexpart, "meta.json")
        except ValueError as e:
            return f"{where}: not JSON ({e})"
        if meta is None:
            return None
        if not isinstance(meta, dict) or not isinstance(meta.get("size"), int) \
                or meta.get("chain_id") not in (chain_id, None):
            return f"{where}: not a layer record"
        return meta

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
            _write_meta(tmp, {"chain_id": chain_id, "diff_id": got, "parent": parent,
                              "size": size})
            if not self._place(tmp, chain_id):
                scratch.remove_tree(tmp)
                return self.layer_size(chain_id), False
            return size, True
        except BaseException:
            scratch.remove_tree(tmp)
            raise

    def _place(self, staged: str, chain_id: str) -> bool:
        """Rename the complete layer ``staged`` into place; False when another berth put the
        same layer there first."""
        try:
            os.rename(staged, self.paths.layer_dir(chain_id))
            return True
        except OSError:
            if self.has_layer(chain_id):
                return False
            if os.path.isdir(self.paths.layer_dir(chain_id)):
                raise IntegrityError(f"layer {chain_id[7:19]} is damaged (its meta.json is "
                                     "missing): run 'berth system check --repair'") from None
            raise

    def add_layer(self, stream: BinaryIO, parent_chain_id: str = "",
                  compression: str | None = None) -> Layer:
        """A new layer from a tar stream (plain, gzip, zstd, xz, bzip2; detected when
        ``compression`` is None), unpacked on top of ``parent_chain_id`` as it streams. Its blob
        is the stream as it came when gzip or zstd, else gzip made as it streams: the
        uncompressed tarball is never stored. Until an image uses it the layer is an orphan:
        hold ``busy()`` until the image is recorded."""
        from .tarstream import TarStream, compression_of, decompressed
        from .unpack import unpack
        if compression is None:
            if not hasattr(stream, "peek"):
                import io
                stream = io.BufferedReader(stream)  # type: ignore[arg-type]
            compression = compression_of(stream.peek(6)[:6])  # type: ignore[attr-defined]
        stage = self.tmpdir("layer")
        try:
            os.mkdir(os.path.join(stage, "diff"), 0o755)
            with open(os.path.join(stage, "blob"), "wb") as f:
                out = _Hashed(f)
                if compression in ("gzip", "zstd"):
                    kept = _Kept(stream, out.write)
                    ts = TarStream(decompressed(kept, compression))
                    size = unpack(ts, os.path.join(stage, "diff"))
                    kept.drain()
                    media_type = f"{OCI_LAYER_TAR}+{compression}"
                else:
                    import zlib
                    gz = zlib.compressobj(_GZIP_LEVEL, zlib.DEFLATED, 31)
                    ts = TarStream(decompressed(stream, compression),
                                   lambda chunk: out.write(gz.compress(chunk)))
                    size = unpack(ts, os.path.join(stage, "diff"))
                    out.write(gz.flush())
                    media_type = f"{OCI_LAYER_TAR}+gzip"
            diff_id = ts.digest()
            chain = diff_id if not parent_chain_id else \
                sha256_bytes(f"{parent_chain_id} {diff_id}".encode())
            # hashed as it was written: not read back
            blob, _ = self.blobs.ingest(os.path.join(stage, "blob"), out.digest(), True)
            _write_meta(stage, {"chain_id": chain, "diff_id": diff_id,
                                "parent": parent_chain_id, "size": size})
            if self.has_layer(chain) or not self._place(stage, chain):
                scratch.remove_tree(stage)
            return Layer(diff_id, chain, blob, media_type, size)
        except BaseException:
            scratch.remove_tree(stage)
            raise

    def adopt_layer(self, tree: str, write_tar, parent_chain_id: str = "") -> Layer:
        """A new layer from ``tree``, a directory already in overlay form on this root's
        filesystem (a build step's upper dir): ``write_tar(out)`` writes the tar of it, which
        gives the diff_id and the blob (gzip, as ``add_layer`` keeps it); the directory itself is
        renamed into place as the layer, not unpacked again. ``tree`` is gone afterwards. Hold
        ``busy()`` until an image or the build cache names the layer."""
        stage = self.tmpdir("layer")
        try:
            with open(os.path.join(stage, "blob"), "wb") as f:
                out = _Hashed(f)
                sink = _GzipSink(out)
                try:
                    write_tar(sink)
                finally:
                    digest = sink.close()
            diff_id = "sha256:" + digest
            chain = diff_id if not parent_chain_id else \
                sha256_bytes(f"{parent_chain_id} {diff_id}".encode())
            # hashed as it was written: not read back
            blob, _ = self.blobs.ingest(os.path.join(stage, "blob"), out.digest(), True)
            size = scratch.tree_size(tree)
            os.rename(tree, os.path.join(stage, "diff"))
            _write_meta(stage, {"chain_id": chain, "diff_id": diff_id,
                                "parent": parent_chain_id, "size": size})
            if self.has_layer(chain) or not self._place(stage, chain):
                scratch.remove_tree(stage)
            return Layer(diff_id, chain, blob, f"{OCI_LAYER_TAR}+gzip", size)
        except BaseException:
            scratch.remove_tree(stage)
            raise

    def _remove_layer(self, chain_id: str) -> None:
        # renamed away first, so the layer is either whole or absent for every reader
        path = self.paths.layer_dir(chain_id)
        doomed = self.scratch_path(f"gone-{os.path.basename(path)}")
        try:
            os.rename(path, doomed)
        except FileNotFoundError:
            return
        scratch.remove_tree(doomed)


def _write_meta(stage: str, meta: dict) -> None:
    """A staged layer's meta.json, with the mode of every record (not the umask's)."""
    from ..store import write_json
    # not fsynced: the layer's files are not either, and the rename into place comes after
    write_json(os.path.join(stage, "meta.json"), meta, fsync=False)


class _GzipSink:
    """A writer that hashes what it is given (the diff_id) and gzips it into ``out`` in a
    thread of its own (zlib and sha256 let go of the GIL), so a tar is made while the last
    megabyte of it is compressed."""

    CHUNK = 1 << 20

    def __init__(self, out):
        import queue
        import threading
        self.out = out
        self.buf: list[bytes] = []
        self.size = 0
        self.q: queue.Queue = queue.Queue(maxsize=8)
        self.error: BaseException | None = None
        self.digest = ""
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        import hashlib
        import struct
        import zlib
        h = hashlib.sha256()
        # one gzip member written by hand around raw deflate, so that each megabyte can be
        # compressed or, when it won't compress (random or already compressed bytes), kept in
        # stored blocks: deflate at any level costs ~30 MB/s on such data and saves nothing
        deflate = zlib.compressobj(_GZIP_LEVEL, zlib.DEFLATED, -15)
        pending = False   # deflate holds bits not yet flushed to a byte boundary
        crc = size = 0
        ended = False
        try:
            self.out.write(b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\xff")
            while True:
                data = self.q.get()
                if data is None:
                    ended = True
                    break
                h.update(data)
                crc = zlib.crc32(data, crc)
                size += len(data)
                if _compressible(data):
                    self.out.write(deflate.compress(data))
                    pending = True
                    continue
                if pending:
                    self.out.write(deflate.flush(zlib.Z_FULL_FLUSH))
                    pending = False
                for i in range(0, len(data), 0xFFFF):
                    block = data[i:i + 0xFFFF]
                    self.out.write(struct.pack("<BHH", 0, len(block), len(block) ^ 0xFFFF))
                    self.out.write(block)
            if pending:
                self.out.write(deflate.flush(zlib.Z_SYNC_FLUSH))
            # the last block: empty, stored, final; then CRC-32 and size
            self.out.write(b"\x01\x00\x00\xff\xff" + struct.pack("<II", crc & 0xFFFFFFFF,
                                                                   size & 0xFFFFFFFF))
            self.digest = h.hexdigest()
        except BaseException as e:  # noqa: BLE001 - raised again in the writer's thread
            self.error = e
            while not ended and self.q.get() is not None:   # let the writer finish
                pass

    def write(self, chunk) -> int:
        if self.error is not None:
            raise self.error
        self.buf.append(bytes(chunk))
        self.size += len(chunk)
        if self.size >= self.CHUNK:
            self.q.put(b"".join(self.buf))
            self.buf, self.size = [], 0
        return len(chunk)

    def close(self) -> str:
        """Wait for the last of it; the sha256 (hex) of everything written."""
        if self.buf:
            self.q.put(b"".join(self.buf))
            self.buf = []
        self.q.put(None)
        self.thread.join()
        if self.error is not None:
            raise self.error
        return self.digest


def _compressible(data: bytes) -> bool:
    """Whether deflate is worth its time on ``data``, judged by a sample of it."""
    import zlib
    sample = data[:1 << 16]
    return len(zlib.compress(sample, 1)) < len(sample) * 0.9


class _Hashed:
    """A writer to ``f`` that hashes what it writes: a new layer's blob digest, known without
    reading the blob back."""

    def __init__(self, f):
        import hashlib
        self.f = f
        self.h = hashlib.sha256()

    def write(self, data) -> int:
        self.h.update(data)
        return self.f.write(data)

    def digest(self) -> str:
        return "sha256:" + self.h.hexdigest()


class _Kept:
    """A reader of ``f`` that hands every byte it reads to ``keep`` (the layer's blob)."""

    def __init__(self, f, keep):
        self.f = f
        self.keep = keep

    def read(self, n: int = -1) -> bytes:
        data = self.f.read(n)
        if data:
            self.keep(data)
        return data

    def drain(self) -> None:
        """Keep whatever follows the compressed stream too, so the blob is all of the input."""
        while self.read(1 << 20):
            pass
