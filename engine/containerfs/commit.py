"""``commit``: a new image from a container's image and its changes."""

from __future__ import annotations

import os

from .changes import write_layer


def image_config(container, parent, changes=(), message: str = "", author: str = "") -> dict:
    """The committed image's config document: the parent's, with the container's settings (as
    Docker's commit takes them) and the ``--change`` instructions on top."""
    from ..clock import now_rfc3339
    from ..images.importer import apply_changes
    c = container.config
    cfg = dict(parent.config or {})
    cfg.update(Cmd=list(c.cmd) or None, Entrypoint=list(c.entrypoint) or None, Env=list(c.env),
               WorkingDir=c.workdir, User=c.user, Labels=dict(c.labels) or None,
               ExposedPorts={p: {} for p in c.exposed_ports} or None,
               Volumes={v: {} for v in c.image_volumes} or None)
    if c.stop_signal and c.stop_signal != "SIGTERM":
        cfg["StopSignal"] = c.stop_signal
    if c.healthcheck is not None:   # the container's, over the image's (as Docker commits)
        from ..healthconfig import to_docker
        cfg["Healthcheck"] = to_docker(c.healthcheck)
    cfg = {k: v for k, v in apply_changes(cfg, list(changes or ())).items() if v not in (None, "")}
    now = now_rfc3339()
    created_by = " ".join([*c.entrypoint, *c.cmd])
    step = {"created": now, "created_by": created_by}
    if author:
        step["author"] = author
    if message:
        step["comment"] = message
    doc = {"architecture": parent.architecture or "amd64", "os": parent.os or "linux",
           "created": now, "config": cfg, "container": container.id,
           "history": [*(parent.history or []), step]}
    if author:
        doc["author"] = author
    if message:
        doc["comment"] = message
    return doc


def commit(engine, container, repository: str | None = None, message: str = "",
           author: str = "", changes=(), pause: bool = True):
    """A new image: the container's image plus its upper dir as one more layer (overlay
    whiteouts as ``.wh.`` files, opaque directories marked), with the container's config."""
    import tempfile
    from ..images.importer import apply_changes
    apply_changes({}, list(changes or ()))   # refuse a bad --change before any work
    images = engine.image_store
    parent = images.resolve(container.config.image_id or container.config.image)
    upper = os.path.join(engine.paths.container_dir(container.id), "upper")
    cg = None
    if pause and container.running and container.state.status != "paused":
        from ..runtime import cgroups
        cg = cgroups.detect(engine.paths)
        if cg.version == 0:
            cg = None   # [rootless] no freezer without a delegated cgroup: committed as it runs
        else:
            cg.freeze(container.id)
    tmp_dir = engine.store.path("tmp")
    os.makedirs(tmp_dir, exist_ok=True)
    with images.busy():   # the new layer is an orphan until the image is recorded
        try:
            with tempfile.TemporaryFile(dir=tmp_dir) as tmp:
                write_layer(upper, tmp)
                tmp.seek(0)
                layer = images.add_layer(tmp, parent.chain_ids[-1] if parent.chain_ids else "")
        finally:
            if cg is not None:
                cg.thaw(container.id)
        doc = image_config(container, parent, changes, message, author)
        return images.create_image(doc, [*images.image_layers(parent), layer],
                                   [repository] if repository else [])
