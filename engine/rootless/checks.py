"""What a container may ask for without root, checked at create (and update) so that a refusal
is one line before anything is written, instead of a failed start."""

from __future__ import annotations

from ..errors import InvalidArgument

UNPRIVILEGED_PORT_START = "/proc/sys/net/ipv4/ip_unprivileged_port_start"


def unprivileged_port_start() -> int:
    try:
        with open(UNPRIVILEGED_PORT_START) as f:
            return int(f.read())
    except (OSError, ValueError):
        return 1024


def validate(store, config) -> None:
    """Refuse what berth can't do for ``config`` without root, saying why and what to do; and
    warn (``store.warn``) where a network of the container's can't reach outside."""
    refuse_limits(store.paths, config.resources, config.cgroup_parent)
    if config.userns == "auto":
        raise InvalidArgument("--userns auto is not available without root: a rootless "
                              "container already runs in your own user namespace")
    low = unprivileged_port_start()
    for p in config.ports:
        if p.host_port and p.host_port < low:
            raise InvalidArgument(
                f"port {p.host_port} is below {low}, which only root may bind: publish a port "
                f">= {low}, or lower the limit with 'sysctl net.ipv4.ip_unprivileged_port_start="
                f"{p.host_port}' (as root)")
    mode = config.network_mode or "bridge"
    if mode not in ("none", "host") and not mode.startswith("container:"):
        from .netns import NO_OUTBOUND, outbound
        if not outbound():
            store.warn(NO_OUTBOUND)


def refuse_limits(paths, resources, cgroup_parent: str = "") -> None:
    """Refuse cgroup limits (and --cgroup-parent) when the user has no delegated cgroup (see
    rootless/cgroups.py)."""
    from .cgroups import REFUSED, limit_flags
    flags = limit_flags(resources) + (["--cgroup-parent"] if cgroup_parent else [])
    if not flags:
        return
    from ..runtime import cgroups
    if cgroups.detect(paths).version == 0:
        raise InvalidArgument(REFUSED.format(flag=flags[0]))

