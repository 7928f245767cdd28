"""A step's container and the layer it leaves: what RUN, COPY, ADD and WORKDIR stand on.

Every step that changes files does it in an ordinary berth container created from the step's
image (``Engine.create`` with the state's layers): RUN starts it (run_step.py), COPY, ADD and
WORKDIR write into its overlay from a forked child in a private mount namespace without
starting it (``in_root``). Its upper directory becomes the new layer exactly as ``commit``
makes one (containerfs/changes.py ``write_layer``, ``ImageStore.add_layer``), and the
container is removed whatever happens.
"""

from __future__ import annotations

import os

from ..errors import BerthError, HostError, NotFound
from ..images.layers import Layer
from ..models import ContainerConfig
from ..rootless import overlay
from .state import State


def image_tuple(images, state: State, keep=("Env", "WorkingDir", "User", "Shell")) -> tuple:
    """What ``Engine.create(_image=…)`` takes for ``state``: the config section (only what a
    build step's container uses: no entrypoint, healthcheck, volumes or ports), an id, the
    layer directories bottom first."""
    cfg = {k: v for k, v in state.config.items() if k in keep}
    dirs = [os.path.join(images.paths.layer_dir(l.chain_id), "diff") for l in state.layers]
    return cfg, state.id, dirs


def step_name() -> str:
    """A fresh name for a step's container (so a failed start still finds what it made)."""
    return "build-" + os.urandom(6).hex()


def create(engine, state: State, config: ContainerConfig, attach_fd: int | None = None,
           name: str = ""):
    """A container for a step on ``state``: created, or with ``attach_fd`` run (RUN)."""
    config.image = config.image or state.id
    config.labels = {**config.labels, "berth.build": "step"}
    tup = image_tuple(engine.image_store, state)
    name = name or step_name()
    if attach_fd is None:
        return engine.create(config, name, entrypoint_set=True, _image=tup)
    return engine.run(config, name, entrypoint_set=True, attach_fd=attach_fd, _image=tup)


def discard(engine, cid: str) -> None:
    """Remove a step's container with whatever it holds (volumes of its own included)."""
    try:
        engine.remove(cid, force=True, volumes=True)
    except NotFound:
        pass


def commit_layer(engine, cid: str, state: State) -> Layer:
    """The container's upper directory as a new layer on top of ``state``'s: its tar (as
    ``commit`` writes it) gives the blob, and the directory itself becomes the layer, moved
    rather than unpacked again (the caller holds ``images.busy()`` until the cache records it;
    the container is only fit for removal afterwards)."""
    from ..containerfs import DIR
    from ..containerfs.changes import _runtime_leftover, write_layer
    upper = os.path.join(engine.paths.container_dir(cid), "upper")
    fd = os.open(upper, DIR)
    try:
        for name in os.listdir(fd):
            if _runtime_leftover(fd, name):   # the runtime's empty mount points: not the step's
                os.rmdir(name, dir_fd=fd)
    finally:
        os.close(fd)
    return engine.image_store.adopt_layer(upper, lambda out: write_layer(upper, out),
                                          state.layers[-1].chain_id if state.layers else "")


def in_root(engine, cid: str, state: State, op, source: State | None = None) -> None:
    """``op(root_fd, source_fd)`` in a forked child that mounted the (not started) container's
    overlay in a private mount namespace: the container's root as a descriptor, and with
    ``source`` the root of that image read-only (COPY --from), else -1. Errors raised in
    the child are raised here as the same berth error."""
    import json  # noqa: F401 - report_failure uses it in the child
    from ..containerfs.inroot import raise_reported, report_failure
    from ..runtime import linux
    from ..runtime.spec import init_layer
    images = engine.image_store
    d = engine.paths.container_dir(cid)
    lowers = [init_layer(engine.store),
              *reversed(image_tuple(images, state)[2])]
    src_lowers = list(reversed(image_tuple(images, source)[2])) if source is not None else []
    src_dir = os.path.join(d, "source")
    if source is not None:
        os.makedirs(os.path.join(d, "source-empty"), exist_ok=True)
        os.makedirs(src_dir, exist_ok=True)
    # the child must not import: another thread of this process (the API server's, the
    # dashboard's) may have held the import lock when it forked. What the copy uses is loaded
    # here.
    import bz2  # noqa: F401 - tarfile's r:* opens these lazily
    import errno  # noqa: F401
    import fnmatch  # noqa: F401
    import gzip  # noqa: F401
    import io  # noqa: F401
    import lzma  # noqa: F401
    import tarfile  # noqa: F401
    import tempfile  # noqa: F401
    from ..containerfs import extract, tarwrite  # noqa: F401
    from ..runtime import users  # noqa: F401
    err_r, err_w = os.pipe()
    child = os.fork()
    if child == 0:   # pragma: no cover - runs in the child; its outcome is reported
        code = 0
        try:
            os.close(err_r)
            linux.unshare(linux.CLONE_NEWNS)
            linux.mount(None, "/", None, linux.MS_REC | linux.MS_PRIVATE)
            rootfs = os.path.join(d, "rootfs")
            overlay.mount(rootfs, f"lowerdir={':'.join(lowers)},upperdir="
                          f"{os.path.join(d, 'upper')},workdir={os.path.join(d, 'work')}")
            src_fd = -1
            if source is not None:
                # a read-only overlay needs two lower layers at least: an empty one on top
                overlay.mount(src_dir, "lowerdir=" + ":".join(
                    [os.path.join(d, "source-empty"), *src_lowers]), linux.MS_RDONLY)
                src_fd = os.open(src_dir, os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
            root = os.open(rootfs, os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
            op(root, src_fd)
        except BaseException as e:  # noqa: BLE001 - reported to the parent
            code = 1
            if isinstance(e, OSError) and not isinstance(e, BerthError):
                e = HostError(f"{e.filename + ': ' if e.filename else ''}{e.strerror or e}")
            report_failure(err_w, e)
        overlay.release()    # fuse-overlayfs's daemons end with their mounts
        os._exit(code)
    os.close(err_w)
    from ..runtime.exec import _read_all
    try:
        report = _read_all(err_r)
    finally:
        os.close(err_r)
        _, status = os.waitpid(child, 0)
    raise_reported(report, status, "writing into the build step's filesystem failed")
