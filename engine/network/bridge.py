"""Bridges: one per network, named by ``paths``, with the gateway address on it.

Host-wide settings: berth sets per-bridge sysctls on its own bridges only
(``net.ipv4.conf.<bridge>.route_localnet=1``, so the host's 127.0.0.1 reaches published ports).
The one host-wide setting it needs is ``net.ipv4.ip_forward=1``, without which traffic from
containers cannot be routed out (masquerade) and published ports cannot be reached from other
hosts. It is turned on when a network that is not ``--internal`` comes up and is off, and berth
never turns it off again (other software may have come to rely on it by then).
"""

from __future__ import annotations

import ipaddress
import os

from ..errors import HostError, host_error
from .netlink import Netlink

IP_FORWARD = "/proc/sys/net/ipv4/ip_forward"


def _write_sysctl(path: str, value: str) -> None:
    with open(path, "w") as f:
        f.write(value)


def ensure_ip_forward() -> bool:
    """Turn on IPv4 forwarding if it is off; True when berth turned it on just now."""
    try:
        with open(IP_FORWARD) as f:
            if f.read().strip() == "1":
                return False
        _write_sysctl(IP_FORWARD, "1")
        return True
    except OSError as e:
        raise host_error("turning on net.ipv4.ip_forward (containers need it to reach "
                         "outside their network)", e) from None


def bridge_exists(name: str) -> bool:
    import os
    return os.path.exists(f"/sys/class/net/{name}")


def create(network) -> None:
    """Make ``network``'s bridge with its gateway address, up; a bridge left over under that
    name by a crash is replaced."""
    net = ipaddress.IPv4Network(network.subnet)
    try:
        with Netlink() as nl:
            nl.delete_link(network.bridge)
            # A fixed MAC: a bridge otherwise takes the lowest of its ports' and changes it as
            # containers come and go, which confuses every neighbour cache behind it.
            mac = "02:" + ":".join(f"{b:02x}" for b in os.urandom(5))
            idx = nl.create_bridge(network.bridge, network.mtu, mac)
            nl.add_address(idx, network.gateway, net.prefixlen)
            if getattr(network, "ipv6", False) and network.subnet6:
                nl.add_address(idx, network.gateway6, int(network.subnet6.partition("/")[2]))
            _write_sysctl(f"/proc/sys/net/ipv4/conf/{network.bridge}/route_localnet", "1")
            nl.set_up(idx)
    except OSError as e:
        remove(network.bridge)
        raise host_error(f"creating bridge {network.bridge} for network '{network.name}'", e) from None
    if not network.internal:
        ensure_ip_forward()


def remove(name: str) -> None:
    """Delete bridge ``name`` if it exists (its veths go with their containers)."""
    try:
        with Netlink() as nl:
            nl.delete_link(name)
    except OSError as e:
        raise HostError(f"removing bridge {name}: {e.strerror}") from None
