"""Image archives out: ``save`` writes images as an OCI layout tar (oci-archive) or a
``docker save`` archive (docker-archive); archive.py reads them."""

from __future__ import annotations

import io
import json
import os
import shutil
import tarfile
import time

from ..errors import IntegrityError, InvalidArgument, NotFound
from . import reference
from .archive import DOCKER_LAYER, OCI_INDEX, _blob_name
from .blobs import sha256_bytes, sha256_file
from .store import OCI_CONFIG, OCI_LAYER_TAR, OCI_MANIFEST, ImageStore


class _TarWriter:
    """Writes a tar of regular files and directories with fixed owners and times."""

    def __init__(self, path: str):
        self.tf = tarfile.open(path, "w", format=tarfile.PAX_FORMAT)
        self.dirs: set[str] = set()
        self.names: set[str] = set()
        self.mtime = int(time.time())

    def _dir(self, name: str) -> None:
        parent = os.path.dirname(name)
        if parent and parent not in self.dirs:
            self._dir(parent)
            ti = tarfile.TarInfo(parent + "/")
            ti.type, ti.mode, ti.mtime = tarfile.DIRTYPE, 0o755, self.mtime
            self.tf.addfile(ti)
            self.dirs.add(parent)

    def add_bytes(self, name: str, data: bytes) -> None:
        if name in self.names:
            return
        self._dir(name)
        ti = tarfile.TarInfo(name)
        ti.size, ti.mode, ti.mtime = len(data), 0o644, self.mtime
        self.tf.addfile(ti, io.BytesIO(data))
        self.names.add(name)

    def add_file(self, name: str, path: str, digest: str = "") -> None:
        """Add the file at ``path``; with ``digest``, checked against it as it is written."""
        if name in self.names:
            return
        self._dir(name)
        ti = tarfile.TarInfo(name)
        ti.size, ti.mode, ti.mtime = os.path.getsize(path), 0o644, self.mtime
        with open(path, "rb") as f:
            src = _Checked(f, digest) if digest else f
            self.tf.addfile(ti, src)
            if digest:
                src.check()
        self.names.add(name)

    def close(self) -> None:
        self.tf.close()


class _Checked:
    """A blob being read out of the store, hashed as it goes: ``check`` says whether it is
    still the blob its digest names (a damaged disk, a hand that edited it)."""

    def __init__(self, f, digest: str):
        import hashlib
        self.f, self.digest, self.hash = f, digest, hashlib.sha256()

    def read(self, n: int = -1) -> bytes:
        data = self.f.read(n)
        self.hash.update(data)
        return data

    def check(self) -> None:
        while self.read(1 << 20):
            pass
        got = "sha256:" + self.hash.hexdigest()
        if got != self.digest:
            raise IntegrityError(f"blob {self.digest} is damaged in the store (it hashes to "
                                 f"{got}): nothing was saved; remove the image and load or "
                                 "pull it again")


def _oci_media(mt: str) -> str:
    if mt.startswith(DOCKER_LAYER) or mt.startswith("application/vnd.docker.image.rootfs"):
        suffix = mt[len(DOCKER_LAYER):].lstrip(".")
        return OCI_LAYER_TAR + ("+" + suffix if suffix else "")
    return mt or OCI_LAYER_TAR


def _oci_manifest(images: ImageStore, img) -> bytes:
    """The image's own manifest when it is OCI and complete here, else one made from its parts."""
    if img.manifest_digest and images.has_blob(img.manifest_digest):
        body = images.blobs.read(img.manifest_digest)
        try:
            doc = json.loads(body)
            if doc.get("mediaType") == OCI_MANIFEST and doc["config"]["digest"] == img.id:
                return body
        except (ValueError, KeyError, TypeError):
            pass
    doc = {"schemaVersion": 2, "mediaType": OCI_MANIFEST,
           "config": {"mediaType": OCI_CONFIG, "digest": img.id,
                      "size": os.path.getsize(images.blob_path(img.id))},
           "layers": [{"mediaType": _oci_media(img.layer_media_types[i]
                                               if i < len(img.layer_media_types) else ""),
                       "digest": d, "size": os.path.getsize(images.blob_path(d))}
                      for i, d in enumerate(img.layers)]}
    return json.dumps(doc, separators=(",", ":")).encode()


def save(images: ImageStore, refs: list[str], path: str, format: str = "oci-archive") -> None:
    """Write the images ``refs`` to ``path`` as an oci-archive or a docker-archive."""
    if format not in ("oci-archive", "docker-archive"):
        raise InvalidArgument(f"unknown archive format '{format}': use oci-archive or "
                              "docker-archive")
    if not refs:
        raise InvalidArgument("save needs at least one image")
    chosen = []  # (image, tags to record)
    for ref in refs:
        img = images.resolve(ref)
        tags = []
        try:
            r = reference.parse(ref)
            if not r.digest and not ref.startswith("sha256:") and \
                    str(r.with_default_tag()) in img.repo_tags:
                tags = [str(r.with_default_tag())]
        except InvalidArgument:
            pass
        for prev_img, prev_tags in chosen:  # one entry per image, with all its asked-for names
            if prev_img.id == img.id:
                prev_tags.extend(t for t in tags if t not in prev_tags)
                break
        else:
            chosen.append((img, tags))
    for img, _ in chosen:
        for d in [img.id, *img.layers]:
            if not images.has_blob(d):
                raise NotFound(f"blob {d} of image {img.short_id} is missing from the store")
    tmp = f"{path}.tmp.{os.getpid()}"
    try:
        try:
            w = _TarWriter(tmp)
        except OSError as e:
            raise InvalidArgument(f"cannot write {path}: {e.strerror}") from None
        try:
            with images.busy():   # keeps prune off the scratch of a docker-archive
                if format == "oci-archive":
                    _write_oci(images, chosen, w)
                else:
                    _write_docker(images, chosen, w)
        finally:
            w.close()
        os.rename(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise


def _write_oci(images: ImageStore, chosen, w: _TarWriter) -> None:
    w.add_bytes("oci-layout", b'{"imageLayoutVersion":"1.0.0"}')
    manifests = []
    for img, tags in chosen:
        body = _oci_manifest(images, img)
        digest = sha256_bytes(body)
        w.add_bytes(_blob_name(digest), body)
        w.add_file(_blob_name(img.id), images.blob_path(img.id), img.id)
        for d in img.layers:
            w.add_file(_blob_name(d), images.blob_path(d), d)
        for_tags = tags or [None]
        for t in for_tags:
            desc = {"mediaType": OCI_MANIFEST, "digest": digest, "size": len(body),
                    "platform": {"architecture": img.architecture or "amd64",
                                 "os": img.os or "linux"}}
            if t:
                desc["annotations"] = {"io.containerd.image.name": t,
                                       "org.opencontainers.image.ref.name":
                                           reference.parse(t).tag}
            manifests.append(desc)
    index = {"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": manifests}
    w.add_bytes("index.json", json.dumps(index, separators=(",", ":")).encode())


def _write_docker(images: ImageStore, chosen, w: _TarWriter) -> None:
    """Docker's layout since 25: uncompressed layers named by diff_id, a manifest.json and a
    legacy ``repositories`` file."""
    from .tarstream import compression_of, decompressed
    entries = []
    repositories: dict[str, dict[str, str]] = {}
    tmpdir = images.tmpdir("save")
    try:
        for img, tags in chosen:
            layer_names = []
            for i, d in enumerate(img.layers):
                diff_id = img.diff_ids[i]
                name = _blob_name(diff_id)
                if name not in w.names:
                    src = images.blob_path(d)
                    with open(src, "rb") as f:
                        kind = compression_of(f.read(6))
                    if kind == "none":
                        w.add_file(name, src, d)
                    else:
                        plain = os.path.join(tmpdir, diff_id[7:])
                        with open(src, "rb", buffering=1 << 16) as f, open(plain, "wb") as out:
                            blob = _Checked(f, d)
                            r = decompressed(blob, kind)
                            while chunk := r.read(1 << 20):
                                out.write(chunk)
                            blob.check()
                        if sha256_file(plain) != diff_id:
                            raise IntegrityError(f"layer {d} does not unpack to its diff_id")
                        w.add_file(name, plain)
                        os.unlink(plain)
                layer_names.append(name)
            w.add_file(_blob_name(img.id), images.blob_path(img.id), img.id)
            familiar = [reference.familiar(t) for t in tags]
            entries.append({"Config": _blob_name(img.id), "RepoTags": familiar or None,
                            "Layers": layer_names})
            for t in tags:
                r = reference.parse(t)
                repositories.setdefault(r.familiar_name, {})[r.tag] = img.id[7:]
        w.add_bytes("manifest.json", json.dumps(entries, separators=(",", ":")).encode())
        if repositories:
            w.add_bytes("repositories", json.dumps(repositories).encode())
    finally:
        shutil.rmtree(tmpdir, ignore_errors=True)
