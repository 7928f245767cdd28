"""Image archives in: ``load`` reads OCI layout tars and ``docker save`` archives (the layout
before Docker 25 with ``<id>/layer.tar`` and the current one with ``blobs/sha256``); export.py
writes them.

The archive is untrusted: its member names are only keys into a table of temporary files, never
paths berth writes to; every blob is verified against its digest, every layer against its diff_id.
"""

from __future__ import annotations

import json
import os
import platform as _platform
import shutil
import tarfile
import zlib

from ..errors import IntegrityError, InvalidArgument, NotFound
from . import reference
from .blobs import sha256_bytes, sha256_file
from .store import DOCKER_MANIFEST, ImageStore

OCI_INDEX = "application/vnd.oci.image.index.v1+json"
DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
DOCKER_CONFIG = "application/vnd.docker.container.image.v1+json"
DOCKER_LAYER = "application/vnd.docker.image.rootfs.diff.tar"
_LAYER_TYPES = {"gzip": "+gzip", "zstd": "+zstd", "none": ""}
_ARCH = {"x86_64": "amd64", "aarch64": "arm64", "armv7l": "arm", "i686": "386"}


def _norm(name: str) -> str:
    return "/".join(p for p in name.split("/") if p and p != ".")


class _Members:
    """The regular files of an archive, each copied once into a private temporary file."""

    def __init__(self, images: ImageStore, path: str):
        self.images = images
        self.dir = images.tmpdir("load")
        self.files: dict[str, str] = {}
        self.links: dict[str, str] = {}
        try:
            tf = tarfile.open(path, "r:*")
        except tarfile.ReadError:
            self.close()
            raise InvalidArgument(f"{path} is not an image archive: not a tar file (plain, "
                                  "gzip, bzip2 or xz)") from None
        except (tarfile.TarError, OSError) as e:
            self.close()
            raise InvalidArgument(f"cannot read {path}: {e}") from None
        with tf:
            try:
                for n, m in enumerate(tf):
                    if m.issym() or m.islnk():
                        # docker save shares a layer between images with a link; a link is only
                        # ever a name for another member, never followed on disk
                        base = os.path.dirname(_norm(m.name)) if m.issym() else ""
                        self.links[_norm(m.name)] = _norm(os.path.normpath(
                            os.path.join(base, m.linkname)))
                        continue
                    if not m.isfile():
                        continue
                    dest = os.path.join(self.dir, str(n))
                    with tf.extractfile(m) as src, open(dest, "wb") as out:
                        shutil.copyfileobj(src, out, 1 << 20)
                    self.files[_norm(m.name)] = dest
            except (tarfile.TarError, EOFError, zlib.error) as e:
                self.close()
                raise IntegrityError(f"{path} is a damaged archive: {e}") from None
            except BaseException:
                self.close()
                raise

    def key(self, name: str) -> str:
        """The member a name stands for, links followed (within the archive's names only)."""
        key = _norm(name)
        for _ in range(8):
            if key in self.links and key not in self.files:
                key = self.links[key]
        return key

    def has(self, name: str) -> bool:
        return self.key(name) in self.files

    def read(self, name: str) -> bytes:
        try:
            with open(self.files[self.key(name)], "rb") as f:
                return f.read()
        except KeyError:
            raise IntegrityError(f"the archive lacks {name}") from None

    def json(self, name: str):
        try:
            return json.loads(self.read(name))
        except ValueError as e:
            raise IntegrityError(f"{name} in the archive is not JSON: {e}") from None

    def ingest(self, name: str, expected: str | None = None) -> tuple[str, bool]:
        """Move the member into the blob store (verified); (digest, newly stored)."""
        key = self.key(name)
        if key not in self.files:
            raise IntegrityError(f"the archive lacks {name}")
        src = self.files.pop(key)
        digest, new = self.images.blobs.ingest(src, expected)
        return digest, new

    def close(self) -> None:
        shutil.rmtree(self.dir, ignore_errors=True)


def _host_platform() -> tuple[str, str]:
    m = _platform.machine()
    return "linux", _ARCH.get(m, m)


def _choose(index: dict, members: _Members, seen: int = 0) -> list[tuple[dict, dict]]:
    """(manifest descriptor, annotations) of the images an OCI index holds, nested indexes
    resolved to the host's platform."""
    out = []
    for desc in index.get("manifests") or []:
        mt = desc.get("mediaType", "")
        ann = desc.get("annotations") or {}
        if mt in (OCI_INDEX, DOCKER_LIST):
            if seen > 4:
                raise IntegrityError("the archive's indexes nest too deeply")
            inner = json.loads(_blob(members, desc["digest"]))
            found = _choose(inner, members, seen + 1)
            want_os, want_arch = _host_platform()
            pick = [f for f in found if (f[0].get("platform") or {}).get("architecture")
                    in (None, want_arch) and (f[0].get("platform") or {}).get("os")
                    in (None, want_os)]
            if not pick:
                raise NotFound(f"the archive has no image for {want_os}/{want_arch}")
            out.append((pick[0][0], {**pick[0][1], **ann}))
        else:
            out.append((desc, ann))
    return out


def _blob_name(digest: str) -> str:
    algo, _, hexpart = digest.partition(":")
    return f"blobs/{algo}/{hexpart}"


def _blob(members: _Members, digest: str) -> bytes:
    data = members.read(_blob_name(digest))
    if sha256_bytes(data) != digest:
        raise IntegrityError(f"blob {digest} in the archive does not match its digest")
    return data


def _oci_tags(ann: dict) -> list[str]:
    name = ann.get("io.containerd.image.name") or ann.get("org.opencontainers.image.ref.name")
    if not name:
        return []
    if "/" not in name and ":" not in name and "@" not in name and \
            "io.containerd.image.name" not in ann:
        # a bare ref.name is only a tag: there is no repository to give it
        return []
    try:
        r = reference.parse(name)
    except InvalidArgument:
        return []
    return [str(r.with_default_tag())] if not r.digest else []


def load(images: ImageStore, path: str, emit=None):
    """Load every image in the archive at ``path``; the Images, in archive order."""
    if not os.path.exists(path):
        raise NotFound(f"open {path}: no such file or directory")
    with images.busy():   # its blobs are orphans until the images are recorded
        return _load(images, path)


def _load(images: ImageStore, path: str):
    members = _Members(images, path)
    new_blobs: list[str] = []
    try:
        if members.has("manifest.json"):
            plan = _docker_plan(members, new_blobs)
        elif members.has("index.json"):
            plan = _oci_plan(members, new_blobs)
        elif members.has("repositories"):
            plan = _docker_plan(members, new_blobs, _v1_entries(members))
        else:
            raise InvalidArgument(f"{path} is neither an OCI layout nor a docker save archive "
                                  "(no index.json or manifest.json)")
        if not plan:
            raise InvalidArgument(f"{path} holds no images")
        out = []
        for m, c, tags in plan:
            img = images.add_image(m, c, tags)
            img.loaded_tags = list(tags)   # what the archive named it (load's report)
            out.append(img)
        return out
    except BaseException:
        images.discard_unused(new_blobs, [])
        raise
    finally:
        members.close()


def _ingest(members: _Members, name: str, expected: str | None, new_blobs: list[str]) -> str:
    digest, new = members.ingest(name, expected) if members.has(name) else (expected, False)
    if new:
        new_blobs.append(digest)
    elif not members.images.has_blob(digest):
        raise IntegrityError(f"the archive lacks {name}")
    return digest


def _oci_plan(members: _Members, new_blobs: list[str]) -> list[tuple[bytes, bytes, list[str]]]:
    index = members.json("index.json")
    plan = []
    for desc, ann in _choose(index, members):
        manifest_bytes = _blob(members, desc["digest"])
        try:
            manifest = json.loads(manifest_bytes)
            config_digest = manifest["config"]["digest"]
            layers = [l["digest"] for l in manifest.get("layers") or []]
        except (ValueError, KeyError, TypeError) as e:
            raise IntegrityError(f"manifest {desc['digest']} is malformed: {e}") from None
        config_bytes = _blob(members, config_digest)
        for d in layers:
            if not members.images.has_blob(d) or members.has(_blob_name(d)):
                _ingest(members, _blob_name(d), d, new_blobs)
        plan.append((manifest_bytes, config_bytes, _oci_tags(ann)))
    return plan


def _v1_entries(members: _Members) -> list[dict]:
    """manifest.json entries for a docker save archive from before Docker 1.10 (only a
    ``repositories`` file and ``<id>/json`` + ``<id>/layer.tar`` per v1 layer): each image's
    config is made from its top v1 json, with the layers' diff_ids and a history."""
    repos = members.json("repositories")
    by_top: dict[str, list[str]] = {}
    for repo, tags in (repos or {}).items():
        for tag, top in (tags or {}).items():
            by_top.setdefault(top, []).append(f"{repo}:{tag}")
    entries = []
    for top, tags in by_top.items():
        chain, seen, v1 = [], set(), None
        cur = top
        while cur:
            if cur in seen or len(chain) > 200:
                raise IntegrityError("the archive's v1 layers form a loop")
            seen.add(cur)
            meta = members.json(f"{cur}/json")
            v1 = v1 or meta
            chain.append((cur, meta))
            cur = meta.get("parent") or ""
        chain.reverse()
        config = {k: v for k, v in v1.items()
                  if k not in ("id", "parent", "Size", "parent_id", "layer_id", "throwaway")}
        config["history"] = [{"created": m.get("created", ""),
                              "created_by": " ".join((m.get("container_config") or {})
                                                     .get("Cmd") or [])}
                             for _, m in chain]
        layers = [f"{i}/layer.tar" for i, _ in chain]
        diff_ids = [sha256_file(members.files[members.key(l)]) for l in layers
                    if members.has(l)]
        if len(diff_ids) != len(layers):
            raise IntegrityError(f"the archive lacks a layer of {tags[0]}")
        config["rootfs"] = {"type": "layers", "diff_ids": diff_ids}
        name = f"v1-{top}.json"
        members.files[name] = os.path.join(members.dir, name)
        with open(members.files[name], "wb") as f:
            f.write(json.dumps(config, separators=(",", ":")).encode())
        entries.append({"Config": name, "RepoTags": tags, "Layers": layers})
    return entries


def _docker_plan(members: _Members, new_blobs: list[str],
                 entries: list | None = None) -> list[tuple[bytes, bytes, list[str]]]:
    from .tarstream import compression_of
    if entries is None:
        entries = members.json("manifest.json")
    if not isinstance(entries, list):
        raise IntegrityError("manifest.json in the archive is not a list of images")
    plan = []
    taken: dict[str, str] = {}  # member -> digest of layers already moved into the store
    for entry in entries:
        try:
            config_bytes = members.read(entry["Config"])
            layer_names = list(entry.get("Layers") or [])
            repo_tags = list(entry.get("RepoTags") or [])
        except (KeyError, TypeError) as e:
            raise IntegrityError(f"manifest.json in the archive is malformed: {e}") from None
        config_digest = sha256_bytes(config_bytes)
        descs = []
        for name in layer_names:
            # The member may be a layer another entry already took into the store.
            key = members.key(name)
            if key in taken:
                digest = taken[key]
            elif members.has(name):
                digest = _ingest(members, name, None, new_blobs)
                taken[key] = digest
            else:
                raise IntegrityError(f"the archive lacks the layer {name}")
            with open(members.images.blob_path(digest), "rb") as f:
                kind = compression_of(f.read(6))
            mt = DOCKER_LAYER + {"gzip": ".gzip", "zstd": ".zstd"}.get(kind, "")
            descs.append({"mediaType": mt, "digest": digest,
                          "size": os.path.getsize(members.images.blob_path(digest))})
        manifest = {"schemaVersion": 2, "mediaType": DOCKER_MANIFEST,
                    "config": {"mediaType": DOCKER_CONFIG, "digest": config_digest,
                               "size": len(config_bytes)},
                    "layers": descs}
        tags = []
        for t in repo_tags:
            try:
                tags.append(str(reference.parse(t).with_default_tag()))
            except InvalidArgument:
                continue
        plan.append((json.dumps(manifest, separators=(",", ":")).encode(), config_bytes, tags))
    return plan
