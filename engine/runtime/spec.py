"""What ``create`` and ``start`` decide before a monitor exists: the image config merged with the
flags (as Docker merges them), and the start spec the monitor hands its child.

The spec is plain JSON written to ``containers/<id>/spec.json`` at every start: the security
profile prepared (seccomp compiled once and cached), the mounts resolved, the argv, env and
limits settled. The monitor then only reads it, so it never loads the models or the stores.
"""

from __future__ import annotations

import os

from ..models import Container, ContainerConfig
from ..options import merge_env

DEFAULT_PATH = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


def merge_image(config: ContainerConfig, image_config: dict, entrypoint_set: bool = False) -> None:
    """Fill what the flags left unset from the image's config, in place.

    ``entrypoint_set`` says --entrypoint was given (even empty): then the image's Cmd is not
    used either, as Docker does. ``config.entrypoint == [""]`` clears the image's entrypoint.
    """
    ic = image_config or {}
    if entrypoint_set or config.entrypoint:
        config.entrypoint = [a for a in config.entrypoint if a != ""] if config.entrypoint != [""] else []
    else:
        config.entrypoint = list(ic.get("Entrypoint") or [])
        if not config.cmd:
            config.cmd = list(ic.get("Cmd") or [])
    env = merge_env(list(ic.get("Env") or []), config.env)
    if not any(e.startswith("PATH=") for e in env):
        env.insert(0, DEFAULT_PATH)
    config.env = env
    config.workdir = config.workdir or ic.get("WorkingDir") or ""
    config.user = config.user or ic.get("User") or ""
    ports = list(ic.get("ExposedPorts") or {})
    for p in config.exposed_ports:
        if p not in ports:
            ports.append(p)
    for p in config.ports:
        key = f"{p.container_port}/{p.proto}"
        if key not in ports:
            ports.append(key)
    config.exposed_ports = ports
    config.image_volumes = list(ic.get("Volumes") or {})
    if config.stop_signal in ("", "SIGTERM") and ic.get("StopSignal"):
        from ..options import parse_stop_signal
        config.stop_signal = parse_stop_signal(ic["StopSignal"])
    labels = dict(ic.get("Labels") or {})
    labels.update(config.labels)
    config.labels = labels
    if config.healthcheck is not None or ic.get("Healthcheck"):
        from ..healthconfig import merge
        config.healthcheck = merge(config.healthcheck, ic.get("Healthcheck"))
    config.shell = config.shell or list(ic.get("Shell") or [])


def build(store, container: Container, layer_dirs: list[str]) -> dict:
    """The start spec for ``container`` (see the module doc)."""
    c = container.config
    d = store.paths.container_dir(container.id)
    security = device_rules = None
    try:
        from . import security as sec
    except ImportError:
        sec = None
    if sec is not None:
        security = sec.prepare(c, cid=container.id, root=store.paths.root)
        device_rules = sec.device_cgroup_rules(c)
    mounts = []
    if c.mounts or c.image_volumes or c.volumes_from:
        from ..volumes import prepare_mounts
        mounts = prepare_mounts(store, container, layer_dirs)
    hostname = c.hostname or (os.uname().nodename if c.network_mode == "host"
                              else container.id[:12])
    netns_pid = 0
    if c.network_mode.startswith("container:"):
        from ..network import netns_pid as _netns_pid
        netns_pid = _netns_pid(store, c.network_mode.partition(":")[2])
    shared: dict = {}
    env = c.env
    if (c.pid_mode or c.ipc_mode or c.uts_mode or c.cgroup_parent or c.links
            or c.network_mode.startswith("container:")):
        from .namespaces import resolve
        shared = resolve(store, container)
        hostname = shared.get("hostname") or hostname
        if shared.get("link_env"):
            env = merge_env(shared["link_env"], c.env)   # the container's own env wins
    return {
        "id": container.id, "name": container.name, "image": c.image, "cdir": d,
        "rootfs": os.path.join(d, "rootfs"), "upper": os.path.join(d, "upper"),
        "work": os.path.join(d, "work"),
        "lower": [init_layer(store), *reversed(layer_dirs)],
        "hostname": hostname, "domainname": shared.get("domainname", c.domainname),
        "namespaces": shared.get("namespaces") or {}, "etc_dir": shared.get("etc_dir", ""),
        "cgroup_parent": shared.get("cgroup_parent", ""),
        "argv": [*c.entrypoint, *c.cmd], "env": env, "workdir": c.workdir, "user": c.user,
        "network_mode": c.network_mode, "netns_pid": netns_pid, "shm_size": c.shm_size,
        "ulimits": [u.to_dict() for u in c.ulimits], "init": c.init,
        "resources": c.resources.to_dict(), "restart": c.restart_policy.to_dict(),
        "auto_remove": c.auto_remove, "log_opts": c.log_opts,
        "log_driver": c.log_driver, "tty": c.tty,
        "open_stdin": c.open_stdin, "security": security, "device_rules": device_rules,
        "mounts": mounts, "oom_score_adj": c.oom_score_adj, "healthcheck": _health(c),
    }


def _health(c: ContainerConfig) -> dict | None:
    """What the monitor's checks run (engine/runtime/health.py): the argv and the schedule."""
    if c.healthcheck is None:
        return None
    from ..healthconfig import probe, schedule
    argv = probe(c.healthcheck, c.shell)
    return {"argv": argv, **schedule(c.healthcheck)} if argv else None


def init_layer(store) -> str:
    """The layer berth puts above every container's image, as Docker's init layer: only
    ``/.dockerenv``, the empty file by which programs (testcontainers among them) tell they
    run in a container. A lower layer, so it is in no ``diff``, ``commit`` or upper dir."""
    d = os.path.join(store.paths.root, "cache", "init", "diff")
    marker = os.path.join(d, ".dockerenv")
    if not os.path.exists(marker):
        os.makedirs(d, 0o755, exist_ok=True)
        os.chmod(d, 0o755)
        fd = os.open(marker, os.O_WRONLY | os.O_CREAT | os.O_CLOEXEC, 0o755)
        os.fchmod(fd, 0o755)
        os.close(fd)
    return d
