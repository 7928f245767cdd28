"""The files every container gets from its network setup: /etc/hosts, /etc/resolv.conf and
/etc/hostname, kept in the container's directory and bind-mounted into its root."""

from __future__ import annotations

import os

TYPE_CHECKING = False
if TYPE_CHECKING:
    from ..models import Container

HOST_RESOLV = "/etc/resolv.conf"
FALLBACK_DNS = ["8.8.8.8", "8.8.4.4"]  # what Docker uses when the host has only loopback resolvers


LOCALHOST_LINES = ["127.0.0.1\tlocalhost", "::1\tlocalhost ip6-localhost ip6-loopback",
                   "fe00::0\tip6-localnet", "ff00::0\tip6-mcastprefix", "ff02::1\tip6-allnodes",
                   "ff02::2\tip6-allrouters"]


def _field(value) -> bool:
    """Whether ``value`` may be one field of a hosts or resolv.conf line. The last line of
    defence: create and connect refuse such values with a message (engine/config_check.py), but
    a record written before they did, or by hand, must not reach a neighbour's file either."""
    if not value or not isinstance(value, str):
        return False
    return value.isprintable() and not any(c.isspace() or c == "#" for c in value)


def hosts_lines(hostname: str, own_ips: list[str], peers: list[tuple[str, list[str]]] = (),
                extra_hosts: list[str] = (), gateway: str = "") -> str:
    """/etc/hosts: loopback, the container's own addresses under its hostname, the other
    containers on its networks (``peers``: address, names), then --add-host entries
    (``name:ip``; ``host-gateway`` means the gateway of the container's first network).
    A field that could split a line (whitespace, a control character) is left out: never
    an error here, which would cost every neighbour its hosts file."""
    lines = list(LOCALHOST_LINES)
    for ip in own_ips:
        if _field(ip) and _field(hostname):
            lines.append(f"{ip}\t{hostname}")
    for ip, names in peers:
        names = [n for n in names if _field(n)]
        if _field(ip) and names:
            lines.append(f"{ip}\t{' '.join(names)}")
    for spec in extra_hosts:
        host, ip = _split_add_host(spec)
        if ip == "host-gateway":
            if not gateway:
                continue
            ip = gateway
        if _field(ip) and _field(host):
            lines.append(f"{ip}\t{host}")
    return "\n".join(lines) + "\n"


def _split_add_host(spec: str) -> tuple[str, str]:
    # Docker accepts name:ip and name=ip; the address may be IPv6, so split at the first mark.
    if "=" in spec:
        host, _, ip = spec.partition("=")
    else:
        host, _, ip = spec.partition(":")
    return host, ip.strip("[]")


def check_add_host(spec: str) -> None:
    """Refuse a --add-host that is not NAME:IP (InvalidArgument, with the docker CLI's
    ValidateExtraHost wording), or whose name or address is not one field of a hosts line."""
    import ipaddress
    from ..errors import InvalidArgument
    from ..runtime.names import shown
    if not isinstance(spec, str):
        raise InvalidArgument(f"bad format for add-host: {shown(spec)}")
    host, ip = _split_add_host(spec)
    if not host or not ip or ":" in host or not _field(host):
        raise InvalidArgument(f'bad format for add-host: "{shown(spec)}"')
    if ip != "host-gateway":
        try:
            ipaddress.ip_address(ip if _field(ip) else "-")
        except ValueError:
            raise InvalidArgument(f'invalid IP address in add-host: "{shown(ip)}"') from None


def hosts_text(container: Container, entries: list[tuple[str, list[str]]] = ()) -> str:
    """/etc/hosts: loopback, the container's own addresses, then peers and --add-host entries."""
    name = container.config.hostname if _field(container.config.hostname) else container.id[:12]
    own = [ep.get("IPAddress") for ep in container.state.networks.values() if ep.get("IPAddress")]
    gateway = next((ep.get("Gateway") for ep in container.state.networks.values()
                    if ep.get("Gateway")), "")
    return hosts_lines(name, own, entries, container.config.extra_hosts, gateway)


def write_in_place(path: str, data: bytes) -> None:
    """Replace the content of ``path`` keeping its inode: a bind mount of the file (a running
    container's /etc/hosts) follows the inode, so a rename would leave it on the old content.
    A reader racing the write may see a mix for an instant; hosts files are read whole and
    rarely, and the next rewrite repairs it."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_CLOEXEC, 0o644)
    try:
        view = memoryview(data)
        off = 0
        while off < len(data):
            off += os.pwrite(fd, view[off:], off)
        os.ftruncate(fd, len(data))
    finally:
        os.close(fd)


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
    nameservers, search, options = ([v for v in values if _field(v)]
                                    for values in (nameservers, search, options))
    out = [f"nameserver {n}" for n in nameservers]
    if search:
        out.append("search " + " ".join(search))
    if options:
        out.append("options " + " ".join(options))
    return "\n".join(out) + "\n"


def write_container_files(container_dir: str, container: Container,
                          peers: list[tuple[str, list[str]]] = ()) -> None:
    """Write hosts, resolv.conf and hostname into ``container_dir``, before the container's
    mounts are made (they are replaced by rename; once bind-mounted, only ``write_in_place``
    reaches the container). ``attach`` later rewrites hosts in place with the container's
    addresses and its peers."""
    from ..store import write_atomic
    name = container.config.hostname if _field(container.config.hostname) else container.id[:12]
    if container.config.network_mode == "host":
        try:
            with open("/etc/hosts", "rb") as f:
                hosts = f.read()
            if container.config.extra_hosts:
                extra = hosts_lines(name, [], [], container.config.extra_hosts)
                hosts = hosts.rstrip(b"\n") + b"\n" + extra.split("\n", len(LOCALHOST_LINES))[-1].encode()
        except OSError:
            hosts = hosts_text(container, peers).encode()
    else:
        hosts = hosts_text(container, peers).encode()
    write_atomic(os.path.join(container_dir, "hosts"), hosts, fsync=False)
    write_atomic(os.path.join(container_dir, "resolv.conf"), resolv_text(container).encode(),
                 fsync=False)
    write_atomic(os.path.join(container_dir, "hostname"), (name + "\n").encode(), fsync=False)
