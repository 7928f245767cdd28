"""Published ports: parsing ``-p`` as Docker does, and choosing free host ports for ``-P`` and
``-p 80`` (a host port left for berth to pick).

``parse_publish`` accepts what ``docker run -p`` accepts::

    80                      container port 80/tcp on a host port berth picks
    8080:80                 host port 8080 on every host address
    127.0.0.1:8080:80       host port 8080 on 127.0.0.1 only
    127.0.0.1::80           a host port berth picks, on 127.0.0.1
    8000-8009:80-89         ranges of the same length, port by port
    8000-8009:80            one host port out of the range, for one container port
    [::1]:8080:80/udp       IPv6 host addresses in brackets; /tcp, /udp or /sctp

and gives the same messages as Docker for what it refuses.
"""

from __future__ import annotations

import errno
import ipaddress
import random
import socket

from ..errors import Conflict, InvalidArgument

TYPE_CHECKING = False
if TYPE_CHECKING:
    from ..models import Port

PROTOS = ("tcp", "udp", "sctp")


def _split_parts(raw: str) -> tuple[str, str, str]:
    # Docker's splitParts: the last part is the container port, the one before it the host
    # port, and everything before those the host address (which may itself contain colons).
    parts = raw.split(":")
    n = len(parts)
    if n == 1:
        return "", "", parts[0]
    if n == 2:
        return "", parts[0], parts[1]
    return ":".join(parts[:n - 2]), parts[n - 2], parts[n - 1]


def _port_range(text: str) -> tuple[int, int]:
    """'80' -> (80, 80); '80-89' -> (80, 89). ValueError for anything else."""
    if not text:
        raise ValueError("empty")
    lo, sep, hi = text.partition("-")
    start = _port(lo)
    end = _port(hi) if sep else start
    if end < start:
        raise ValueError("backwards range")
    return start, end


def _port(text: str) -> int:
    if not text.isdigit():
        raise ValueError(text)
    value = int(text)
    if not 0 <= value <= 65535:
        raise ValueError(text)
    return value


def parse_publish(spec: str) -> list[Port]:
    """The ports one ``-p`` flag publishes; InvalidArgument with Docker's message otherwise.

    A host port of 0 means "pick a free one when the container starts"; for a host range with a
    single container port the range is kept in ``host_port``..``host_port_end``.
    """
    from ..models import Port
    raw = spec.strip()
    ip, host, container = _split_parts(raw)
    container, _, proto = container.partition("/")
    proto = proto or "tcp"
    if ip.startswith("["):
        if not ip.endswith("]"):
            raise InvalidArgument(f"invalid IP address {ip}: missing ']' in address")
        ip = ip[1:-1]
    if ip:
        try:
            ipaddress.ip_address(ip)
        except ValueError:
            raise InvalidArgument(f"invalid IP address: {ip}") from None
    if not container:
        raise InvalidArgument(f"no port specified: {raw}<empty>")
    try:
        start, end = _port_range(container)
    except ValueError:
        raise InvalidArgument(f"invalid containerPort: {container}") from None
    if start == 0:
        raise InvalidArgument(f"invalid containerPort: {container}")
    hstart = hend = 0
    if host:
        try:
            hstart, hend = _port_range(host)
        except ValueError:
            raise InvalidArgument(f"invalid hostPort: {host}") from None
        if (end - start) != (hend - hstart) and end != start:
            raise InvalidArgument(f"invalid ranges specified for container and host Ports: "
                                  f"{container} and {host}")
    if proto.lower() not in PROTOS:
        raise InvalidArgument(f"invalid proto: {proto}")
    proto = proto.lower()
    out: list[Port] = []
    for i in range(end - start + 1):
        port = Port(container_port=start + i, proto=proto, host_ip=ip)
        if host:
            if start == end and hstart != hend:
                port.host_port, port.host_port_end = hstart, hend
            else:
                port.host_port = hstart + i
        out.append(port)
    return out


def parse_exposed(spec: str) -> tuple[int, str]:
    """'80/tcp' (an image's ExposedPorts key or ``--expose``) -> (80, 'tcp')."""
    number, _, proto = spec.partition("/")
    try:
        return _port(number), (proto or "tcp").lower()
    except ValueError:
        raise InvalidArgument(f"invalid exposed port: {spec}") from None


def port_key(port: Port) -> str:
    """Docker's key for a port in NetworkSettings.Ports and `docker port`: '80/tcp'."""
    return f"{port.container_port}/{port.proto}"


# --- choosing host ports ---------------------------------------------------------------

def ephemeral_range() -> tuple[int, int]:
    """The kernel's local port range, where Docker also picks ports for -P."""
    try:
        with open("/proc/sys/net/ipv4/ip_local_port_range") as f:
            lo, hi = (int(x) for x in f.read().split())
            return lo, hi
    except (OSError, ValueError):
        return 32768, 60999


def port_free(host_ip: str, port: int, proto: str) -> bool:
    """Whether nothing on the host is bound to host_ip:port/proto (checked by binding it)."""
    family = socket.AF_INET6 if ":" in (host_ip or "") else socket.AF_INET
    kind = socket.SOCK_DGRAM if proto == "udp" else socket.SOCK_STREAM
    s = socket.socket(family, kind)
    try:
        # No SO_REUSEADDR: a port in TIME_WAIT is still someone's.
        s.bind((host_ip or ("::" if family == socket.AF_INET6 else "0.0.0.0"), port))
        return True
    except OSError as e:
        if e.errno in (errno.EADDRINUSE, errno.EACCES):
            return False
        if e.errno == errno.EADDRNOTAVAIL:
            raise InvalidArgument(f"cannot publish on {host_ip}: no such address on this host") from None
        raise
    finally:
        s.close()


def assign_host_ports(ports: list[Port], taken: set[tuple[str, int, str]]) -> list[Port]:
    """Concrete bindings for ``ports``: explicit host ports checked, 0 and ranges filled in.

    ``taken`` holds (host_ip, port, proto) already published by this root; it grows with every
    port assigned here. Conflict with Docker's message when an explicit port is in use. One
    container may publish the same port on IPv4's and IPv6's every address (``-p P:80 -p
    '[::]:P:80'``, as Docker allows): its explicit IPv6 binding then takes the IPv6 side.
    """
    out: list[Port] = []
    mine: set[tuple[str, int, str]] = set()
    for p in ports:
        ip = p.host_ip
        if p.host_port and not p.host_port_end:
            if _clash(taken, ip, p.host_port, p.proto) or \
                    _clash(mine, ip, p.host_port, p.proto, by_family=True) or \
                    not port_free(ip, p.host_port, p.proto):
                raise Conflict(f"Bind for {ip or '0.0.0.0'}:{p.host_port} failed: "
                               "port is already allocated")
            chosen = p.host_port
        else:
            lo, hi = (p.host_port, p.host_port_end) if p.host_port_end else ephemeral_range()
            chosen = _pick(ip, p.proto, lo, hi, taken | mine)
            if chosen is None:
                where = f"{lo}-{hi}"
                raise Conflict(f"no free host port in {where} for {port_key(p)}; "
                               "publish it on an explicit port with -p HOST:CONTAINER")
        mine.add((ip, chosen, p.proto))
        out.append(type(p)(container_port=p.container_port, proto=p.proto, host_ip=ip,
                           host_port=chosen))
    taken |= mine
    return out


def _clash(taken: set[tuple[str, int, str]], ip: str, port: int, proto: str,
           by_family: bool = False) -> bool:
    # A port published on every address clashes with the same port on any one of them; with
    # ``by_family`` only on those of its own family ("" is IPv4's 0.0.0.0, "::" IPv6's).
    for tip, tport, tproto in taken:
        if tport != port or tproto != proto:
            continue
        if by_family and (":" in ip) != (":" in tip):
            continue
        if not ip or not tip or ip == tip or (by_family and (ip in WILDCARDS or
                                                              tip in WILDCARDS)):
            return True
    return False


WILDCARDS = ("0.0.0.0", "::")


def v6_overridden(ports: list[dict], p: dict) -> bool:
    """Whether ``p``, published on every address (host_ip ""), leaves the IPv6 side to an
    explicit IPv6 binding of the same port among ``ports`` (the records' dicts)."""
    return not p["host_ip"] and any(":" in q["host_ip"] and q["host_port"] == p["host_port"]
                                    and q["proto"] == p["proto"] for q in ports)


def _pick(ip: str, proto: str, lo: int, hi: int, taken) -> int | None:
    # Start at a random place so that two roots picking at once rarely pick the same port.
    span = hi - lo + 1
    offset = random.randrange(span)
    for i in range(span):
        port = lo + (offset + i) % span
        if not _clash(taken, ip, port, proto) and port_free(ip, port, proto):
            return port
    return None
