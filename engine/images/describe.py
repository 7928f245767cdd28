"""Docker-shaped views of an image: ``image inspect`` JSON and ``history`` rows."""

from __future__ import annotations

from . import reference

_CONFIG_DEFAULTS = {
    "Hostname": "", "Domainname": "", "User": "", "AttachStdin": False, "AttachStdout": False,
    "AttachStderr": False, "Tty": False, "OpenStdin": False, "StdinOnce": False, "Env": None,
    "Cmd": None, "Image": "", "Volumes": None, "WorkingDir": "", "Entrypoint": None,
    "OnBuild": None, "Labels": None,
}


def inspect(store, img) -> dict:
    """The JSON ``docker image inspect`` prints for ``img``."""
    dirs = store.layer_dirs(img)
    config = {**_CONFIG_DEFAULTS, **(img.config or {})}
    graph = {"Name": "overlay2", "Data": {}}
    if dirs:
        graph["Data"] = {"MergedDir": "", "UpperDir": dirs[-1], "WorkDir": ""}
        if len(dirs) > 1:
            graph["Data"]["LowerDir"] = ":".join(reversed(dirs[:-1]))
    return {
        "Id": img.id,
        "RepoTags": [reference.familiar(t) for t in img.repo_tags],
        "RepoDigests": [reference.familiar(d) for d in img.repo_digests],
        "Parent": img.parent,
        "Comment": img.comment,
        "Created": img.created,
        "DockerVersion": "",
        "Author": img.author,
        "Config": config,
        "Architecture": img.architecture,
        "Os": img.os,
        "Size": img.size,
        "GraphDriver": graph,
        "RootFS": {"Type": "layers", "Layers": list(img.diff_ids)},
        "History": list(img.history),
        # Go's zero time when it was never tagged (clients parse it as a time)
        "Metadata": {"LastTagTime": img.last_tag_time or "0001-01-01T00:00:00Z"},
        **({"Descriptor": _descriptor(store, img.manifest_digest)} if img.manifest_digest
           else {}),
        **({"Damaged": store.damaged(img)} if store.damaged(img) else {}),
    }


def _descriptor(store, digest: str) -> dict:
    """The OCI descriptor of the image's manifest, as dockerd's containerd store gives it."""
    import json
    import os
    path = store.blob_path(digest)
    try:
        with open(path, "rb") as f:
            raw = f.read()
        media = json.loads(raw).get("mediaType") or "application/vnd.oci.image.manifest.v1+json"
    except (OSError, ValueError, AttributeError):
        return {"digest": digest}
    return {"mediaType": media, "digest": digest, "size": os.path.getsize(path)}


def history(store, img) -> list[dict]:
    """``docker history`` rows, newest first: Id, Created, CreatedBy, Tags, Size, Comment."""
    entries = list(img.history) or [{"created": img.created} for _ in img.diff_ids]
    sizes = [store.layer_size(c) for c in img.chain_ids]
    rows = []
    layer = 0
    for h in entries:
        empty = bool(h.get("empty_layer"))
        size = 0
        if not empty and layer < len(sizes):
            size = sizes[layer]
            layer += 1
        rows.append({"Id": "<missing>", "Created": h.get("created", ""),
                     "CreatedBy": h.get("created_by", ""), "Tags": None, "Size": size,
                     "Comment": h.get("comment", "")})
    rows.reverse()
    if rows:
        rows[0]["Id"] = img.id
        rows[0]["Tags"] = [reference.familiar(t) for t in img.repo_tags] or None
    return rows
