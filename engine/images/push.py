"""berth push: every blob of a local image that the registry lacks, mounted from another
repository of the same registry when it has it there, else uploaded (in one PUT, or in
chunks past the chunk size); then the manifest."""

from __future__ import annotations

import json
import os

from ..errors import InvalidArgument, NotFound
from .distribution import RepoRef, at_the_edge, parse_repo_ref
from .manifests import OCI_MANIFEST, sha256_digest
from .registry_client import PUSH_CHUNK_SIZE, RegistryClient
from .transfer import PARALLEL_BLOBS, Progress, Reporter, run_all, short_id

def _image_manifest(images, image) -> tuple[bytes, str]:
    """The manifest to push for a local image: the one it came with when the store has it,
    else an OCI manifest made from its config and layers."""
    if image.manifest_digest and images.has_blob(image.manifest_digest):
        with open(images.blob_path(image.manifest_digest), "rb") as f:
            body = f.read()
        try:
            doc = json.loads(body)
            if doc.get("config", {}).get("digest") == image.id:
                return body, doc.get("mediaType") or OCI_MANIFEST
        except (ValueError, AttributeError):
            pass
    config_size = os.path.getsize(images.blob_path(image.id))
    layers = []
    for i, d in enumerate(image.layers):
        mt = (image.layer_media_types[i] if i < len(image.layer_media_types)
              else "application/vnd.oci.image.layer.v1.tar+gzip")
        layers.append({"mediaType": mt, "digest": d, "size": os.path.getsize(images.blob_path(d))})
    doc = {"schemaVersion": 2, "mediaType": OCI_MANIFEST,
           "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                      "digest": image.id, "size": config_size},
           "layers": layers}
    return json.dumps(doc, separators=(",", ":")).encode(), OCI_MANIFEST


def _mount_sources(image, r: RepoRef) -> list[str]:
    """Other repositories of the same registry this image came from or went to."""
    out = []
    for name in [*image.repo_digests, *image.repo_tags]:
        base = name.split("@", 1)[0]
        if ":" in base.rsplit("/", 1)[-1]:
            base = base.rsplit(":", 1)[0]
        registry, _, repo = base.partition("/")
        if registry == r.registry and repo and repo != r.repository and repo not in out:
            out.append(repo)
    return out


@at_the_edge
def push_image(store, ref: str, progress: Progress | None = None, insecure: bool = False,
               chunk_size: int | None = None,
               credentials: tuple[str, str] | None = None,
               destination: str | None = None, cancel: list | None = None) -> str:
    """Push the local image ``ref`` to its registry, or to ``destination`` (podman's
    ``push IMAGE DESTINATION``, without tagging it first); returns the manifest digest.
    ``credentials`` (user, password) stand in for the ones ``berth login`` saved. Blocking;
    ``cancel`` as pull_image's."""
    from .auth import get_credentials
    from .store import ImageStore

    r = parse_repo_ref(destination or ref)
    if r.digest:
        raise InvalidArgument(f"cannot push to a digest ({destination or ref}): push a tag")
    images = ImageStore(store)
    image = images.resolve(ref)
    body, media_type = _image_manifest(images, image)
    manifest = json.loads(body)
    blobs = [*manifest.get("layers", []), manifest["config"]]
    if chunk_size is None:
        chunk_size = int(os.environ.get("BERTH_PUSH_CHUNK_SIZE") or PUSH_CHUNK_SIZE)
    report = Reporter(progress)
    sources = _mount_sources(image, r)
    report(f"The push refers to repository [{r.name}]")
    client = RegistryClient(r.registry, credentials or get_credentials(r.registry), insecure)
    if cancel is not None:
        cancel.append(client.abort)
    with client:
        import threading
        sem = threading.BoundedSemaphore(PARALLEL_BLOBS)

        def one(desc: dict) -> None:
            digest = desc["digest"]
            sid = short_id(digest)
            is_layer = desc is not manifest["config"]
            path = images.blob_path(digest)
            if not os.path.exists(path):
                raise NotFound(f"blob {digest} of {ref} is missing from the store")
            size = os.path.getsize(path)
            with sem:
                if is_layer:
                    report("Preparing", sid)
                if client.blob_exists(r.repository, digest):
                    if is_layer:
                        report("Layer already exists", sid)
                    return
                for source in sources:
                    if client.mount_blob(r.repository, digest, source):
                        if is_layer:
                            report(f"Mounted from {source}", sid)
                        return
                client.upload_blob(
                    r.repository, digest, path, size, chunk_size,
                    (lambda cur, tot: report.bytes("Pushing", sid, cur, tot)) if is_layer
                    else None)
                if is_layer:
                    report("Pushed", sid)

        run_all([lambda d=d: one(d) for d in blobs], client.abort)
        digest = client.put_manifest(r.repository, r.tag or "latest", body, media_type)
    if digest == sha256_digest(body):
        # Record where the image now lives, as Docker adds a RepoDigest after a push.
        with open(images.blob_path(image.id), "rb") as f:
            config_bytes = f.read()
        images.add_image(body, config_bytes, [], f"{r.name}@{digest}")
    report(f"{r.tag or 'latest'}: digest: {digest} size: {len(body)}")
    return digest

