"""OCI layout archives of busybox (its real layer) under a config of the test's choosing: what a
hostile image would carry. Built with tarfile and hashlib, not with berth."""

from __future__ import annotations

import hashlib
import io
import json
import tarfile

from helpers import BUSYBOX_MUSL

BUSYBOX_CONFIG = "sha256:654fc8fd836e35f4a64586bddf8f59b9029b48cf80f520834c6c98ca8ab5def9"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"


def _digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def busybox_with(config: dict | None = None, tag: str = "evil:1", **section) -> tuple[bytes,
                                                                                     str]:
    """(an OCI archive of busybox whose config section is busybox's updated with ``section``,
    or whose whole config section is ``config``; the image id)."""
    with tarfile.open(BUSYBOX_MUSL) as t:
        def blob(digest: str) -> bytes:
            return t.extractfile(f"blobs/sha256/{digest.partition(':')[2]}").read()
        index = json.loads(t.extractfile("index.json").read())
        manifest = json.loads(blob(index["manifests"][0]["digest"]))
        layer_desc = manifest["layers"][0]
        layer = blob(layer_desc["digest"])
        doc = json.loads(blob(BUSYBOX_CONFIG))
    doc["config"] = dict(doc["config"], **section) if config is None else config
    config_bytes = json.dumps(doc).encode()
    manifest["config"] = {"mediaType": "application/vnd.oci.image.config.v1+json",
                          "digest": _digest(config_bytes), "size": len(config_bytes)}
    manifest_bytes = json.dumps(manifest).encode()
    index = {"schemaVersion": 2, "manifests": [{
        "mediaType": OCI_MANIFEST, "digest": _digest(manifest_bytes),
        "size": len(manifest_bytes), "annotations": {"org.opencontainers.image.ref.name": tag}}]}
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w") as t:
        for name, data in (("oci-layout", b'{"imageLayoutVersion": "1.0.0"}'),
                           ("index.json", json.dumps(index).encode()),
                           (f"blobs/sha256/{_digest(config_bytes)[7:]}", config_bytes),
                           (f"blobs/sha256/{_digest(manifest_bytes)[7:]}", manifest_bytes),
                           (f"blobs/sha256/{layer_desc['digest'][7:]}", layer)):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            t.addfile(info, io.BytesIO(data))
    return out.getvalue(), _digest(config_bytes)
