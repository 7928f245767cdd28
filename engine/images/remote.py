"""What a registry holds for a reference, without pulling it: the manifest's descriptor and the
platforms it serves (Docker's ``GET /distribution/{name}/json``), through berth's registry
client."""

from __future__ import annotations

import json

from ..errors import IntegrityError, RegistryError
from .distribution import at_the_edge, parse_repo_ref
from .manifests import INDEX_TYPES, sha256_digest
from .registry_client import RegistryClient

_PLATFORM_KEYS = ("architecture", "os", "os.version", "os.features", "variant")


@at_the_edge
def distribution_inspect(ref: str, insecure: bool = False,
                         credentials: tuple[str, str] | None = None) -> dict:
    """{"Descriptor": {mediaType, digest, size}, "Platforms": [...]} of ``ref`` in its
    registry: an index's platforms, or the one a single manifest's config names."""
    from .auth import get_credentials
    r = parse_repo_ref(ref)
    with RegistryClient(r.registry, credentials or get_credentials(r.registry),
                        insecure) as client:
        body, media_type, digest = client.get_manifest(r.repository, r.reference)
        doc = json.loads(body)
        platforms = []
        if media_type in INDEX_TYPES:
            for m in doc.get("manifests") or []:
                p = m.get("platform") or {}
                platforms.append({k: p[k] for k in _PLATFORM_KEYS if p.get(k)})
        else:
            config = _blob(client, r.repository, (doc.get("config") or {}).get("digest"))
            p = {k: config[k] for k in _PLATFORM_KEYS if config.get(k)}
            if p.get("os") or p.get("architecture"):
                platforms.append(p)
    return {"Descriptor": {"mediaType": media_type, "digest": digest, "size": len(body)},
            "Platforms": platforms}


def _blob(client: RegistryClient, repo: str, digest: str | None) -> dict:
    """A small JSON blob (an image config), checked against its digest."""
    if not digest:
        return {}
    resp = client.request("GET", f"/v2/{repo}/blobs/{digest}",
                          (f"repository:{repo}:pull",))
    try:
        if resp.status != 200:
            client._fail(resp, f"{client.registry}/{repo}@{digest}", repo)
        data = resp.read()
    finally:
        resp.release()
    if sha256_digest(data) != digest:
        raise IntegrityError(f"config {digest} of {repo} does not match its digest: refused")
    try:
        doc = json.loads(data)
    except ValueError:
        raise RegistryError(f"config {digest} of {repo} is not JSON") from None
    return doc if isinstance(doc, dict) else {}
