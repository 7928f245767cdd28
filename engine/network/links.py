"""Legacy links (``--link NAME:ALIAS``, HostConfig.Links): the environment Docker's default bridge
gives a container for each container it links to, made at every start from the linked
container as it runs then. The hosts entries (the alias, the linked container's hostname and
name) are hosts.py's, kept current as the linked container comes and goes."""

from __future__ import annotations

from ..errors import Conflict
from .hosts import split_links
from .ipam import DEFAULT_NETWORK, network_name


def link_env(store, container) -> list[str]:
    """``ALIAS_PORT_80_TCP=tcp://IP:80``, ``ALIAS_NAME=/me/alias``, ``ALIAS_ENV_X=…`` … for
    each link; none on a user network, where Docker's links are only names. Conflict when a
    linked container is not running, with Docker's words."""
    from ..runtime import records
    out: list[str] = []
    default = network_name(container.config.network_mode or "bridge") == DEFAULT_NETWORK
    for name, alias in split_links(container.config.links):
        child = records.find(store, name)
        link_name = f"/{container.name}/{alias}"
        if child.state.status not in ("running", "paused") or not child.state.pid:
            raise Conflict(f"Cannot link to a non running container: /{child.name} AS "
                           f"{link_name}")
        ip = ((child.state.networks or {}).get(DEFAULT_NETWORK) or {}).get("IPAddress", "")
        if default and ip:
            out += _env(alias, link_name, ip, child.config.exposed_ports, child.config.env)
    return out


def _env(alias: str, link_name: str, ip: str, exposed: list[str], child_env: list[str]) -> list[str]:
    """Docker's Link.ToEnv (daemon/links/links.go), variable for variable."""
    prefix = alias.upper().replace("-", "_")
    ports = []
    for spec in exposed:
        number, _, proto = spec.partition("/")
        if number.isdigit():
            ports.append((int(number), (proto or "tcp").lower()))
    ports.sort(key=lambda p: (p[0], p[1] != "tcp"))   # lowest first, tcp before udp
    env = []
    if ports:
        env.append(f"{prefix}_PORT={ports[0][1]}://{ip}:{ports[0][0]}")
    i = 0
    while i < len(ports):
        port, proto = ports[i]
        j = _next_contiguous(ports, i)
        if j > i + 1:   # a run of three or more ports is also given as a range
            key = f"{prefix}_PORT_{port}_{proto.upper()}"
            end_port, end_proto = ports[j]
            env += [f"{key}_START={proto}://{ip}:{port}", f"{key}_ADDR={ip}",
                    f"{key}_PROTO={proto}", f"{key}_PORT_START={port}",
                    f"{prefix}_PORT_{port}_{end_proto.upper()}_END={end_proto}://{ip}:{end_port}",
                    f"{prefix}_PORT_{port}_{end_proto.upper()}_PORT_END={end_port}"]
            i = j + 1
        else:
            i += 1
    for port, proto in ports:
        key = f"{prefix}_PORT_{port}_{proto.upper()}"
        env += [f"{key}={proto}://{ip}:{port}", f"{key}_ADDR={ip}", f"{key}_PORT={port}",
                f"{key}_PROTO={proto}"]
    env.append(f"{prefix}_NAME={link_name}")
    for item in child_env:
        key, eq, value = item.partition("=")
        if eq and key not in ("HOME", "PATH"):
            env.append(f"{prefix}_ENV_{key}={value}")
    return env


def _next_contiguous(ports: list[tuple[int, str]], index: int) -> int:
    value = ports[index][0]
    for i in range(index + 1, len(ports)):
        if ports[i][0] > value + 1:
            return i - 1
        value += 1
    return len(ports) - 1
