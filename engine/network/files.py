"""The files every container gets from its network setup: /etc/hosts, /etc/resolv.conf and
/etc/hostname, kept in the container's directory and bind-mounted into its root."""

from __future__ import annotations

import os

from ..models import Container
from ..store import write_atomic

HOST_RESOLV = "/etc/resolv.conf"
FALLBACK_DNS = ["8.8.8.8", "8.8.4.4"]  # what Docker uses when the host has only loopback resolvers


def hosts_text(container: Container, entries: list[tuple[str, list[str]]] = ()) -> str:
    """/etc/hosts: loopback, the container's own addresses, then peers and --add-host entries."""
    name = container.config.hostname or container.id[:12]
    lines = ["127.0.0.1\tlocalhost", "::1\tlocalhost ip6-localhost ip6-loopback",
             "fe00::0\tip6-localnet", "ff00::0\tip6-mcastprefix", "ff02::1\tip6-allnodes",
             "ff02::2\tip6-allrouters"]
    own = [ep.get("IPAddress") for ep in container.state.networks.values() if ep.get("IPAddress")]
    for ip in own:
        lines.append(f"{ip}\t{name}")
    for ip, names in entries:
        lines.append(f"{ip}\t{' '.join(names)}")
    for spec in container.config.extra_hosts:
        host, _, ip = spec.partition(":")
        lines.append(f"{ip}\t{host}")
    return "\n".join(lines) + "\n"


def resolv_text(container: Container, host_resolv: str = HOST_RESOLV) -> str:
    """resolv.conf as Docker builds it: the host's, without loopback nameservers (they mean
    nothing inside another network namespace), or the flags' --dns / --dns-search / --dns-option."""
    nameservers: list[str] = []
    search: list[str] = []
    options: list[str] = []
    try:
        with open(host_resolv) as f:
            for line in f:
                parts = line.split()
                if not parts or parts[0].startswith(("#", ";")):
                    continue
                if parts[0] == "nameserver" and len(parts) > 1:
                    nameservers.append(parts[1])
                elif parts[0] in ("search", "domain"):
                    search = parts[1:]
                elif parts[0] == "options":
                    options.extend(parts[1:])
    except OSError:
        pass
    if container.config.network_mode != "host":
        nameservers = [n for n in nameservers if not n.startswith("127.") and n != "::1"]
        if not nameservers:
            nameservers = list(FALLBACK_DNS)
    if container.config.dns:
        nameservers = list(container.config.dns)
    if container.config.dns_search:
        search = list(container.config.dns_search)
    if container.config.dns_options:
        options = list(container.config.dns_options)
    out = [f"nameserver {n}" for n in nameservers]
    if search:
        out.append("search " + " ".join(search))
    if options:
        out.append("options " + " ".join(options))
    return "\n".join(out) + "\n"


def write_container_files(container_dir: str, container: Container,
                          peers: list[tuple[str, list[str]]] = ()) -> None:
    """Write hosts, resolv.conf and hostname into ``container_dir`` (atomically; a running
    container's bind mount sees the new content only when written in place, see rewrite_hosts)."""
    name = container.config.hostname or container.id[:12]
    if container.config.network_mode == "host":
        try:
            with open("/etc/hosts", "rb") as f:
                hosts = f.read()
        except OSError:
            hosts = hosts_text(container, peers).encode()
    else:
        hosts = hosts_text(container, peers).encode()
    write_atomic(os.path.join(container_dir, "hosts"), hosts, fsync=False)
    write_atomic(os.path.join(container_dir, "resolv.conf"), resolv_text(container).encode(),
                 fsync=False)
    write_atomic(os.path.join(container_dir, "hostname"), (name + "\n").encode(), fsync=False)
