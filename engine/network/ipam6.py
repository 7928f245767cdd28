"""IPv6 on a network created with ``--ipv6``: its subnet, its gateway and its containers'
addresses.

A network's IPv6 side mirrors its IPv4 side: the gateway and every container sit at the same
offset in the IPv6 subnet as in the IPv4 one (10.90.0.5 on 10.90.0.0/16 is fd42::5 on
fd42::/64). So an address needs no allocation of its own (none to record, leak or repair),
and two containers never share one. Subnets are unique local (fd00::/8): berth gives
containers addresses of its own making only, never a piece of the host's routed space.
"""

from __future__ import annotations

import ipaddress
import os

from ..errors import Conflict, InvalidArgument

ULA = ipaddress.IPv6Network("fd00::/8")


def host_has_ipv6() -> bool:
    """Whether the kernel does IPv6 here (not built out, not switched off)."""
    try:
        with open("/proc/sys/net/ipv6/conf/all/disable_ipv6") as f:
            return f.read().strip() == "0" and os.path.exists("/proc/net/if_inet6")
    except OSError:
        return False


def check_host() -> None:
    if not host_has_ipv6():
        raise InvalidArgument("IPv6 is disabled on this host (net.ipv6.conf.all.disable_ipv6 "
                              "or no IPv6 in the kernel): create the network without --ipv6")


def parse_subnet6(text: str) -> ipaddress.IPv6Network:
    from .ipam import parse_network
    net = parse_network(text, 6, "fd42:1::/64")
    if not net.subnet_of(ULA):
        raise InvalidArgument(f"invalid IPv6 subnet {text}: berth's IPv6 networks take a unique "
                              "local range (fd00::/8), such as fd42:1::/64")
    return net


def check_fits(net6: ipaddress.IPv6Network, net4: ipaddress.IPv4Network) -> None:
    """The IPv6 subnet must hold every offset of the IPv4 one (see the module doc)."""
    if 128 - net6.prefixlen < 32 - net4.prefixlen:
        raise InvalidArgument(f"IPv6 subnet {net6} is smaller than the network's IPv4 subnet "
                              f"{net4}: give a larger one, such as a /64")


def gateway6(net6: ipaddress.IPv6Network, net4: ipaddress.IPv4Network, gateway4: str,
             wanted: str | None = None) -> str:
    """The IPv6 gateway: at the IPv4 gateway's offset; ``wanted`` (--gateway) must be that."""
    gw = mirror(net6, net4, gateway4)
    if wanted and ipaddress.ip_address(wanted) != ipaddress.ip_address(gw):
        raise InvalidArgument(f"IPv6 gateway {wanted}: berth puts a network's IPv6 gateway at "
                              f"the place of its IPv4 gateway ({gateway4}), here {gw}; give that "
                              "or none")
    return gw


def mirror(net6: ipaddress.IPv6Network, net4: ipaddress.IPv4Network, ip4: str) -> str:
    """The IPv6 address at ``ip4``'s offset in ``net4``."""
    offset = int(ipaddress.IPv4Address(ip4)) - int(net4.network_address)
    return str(ipaddress.IPv6Address(int(net6.network_address) + offset))


def address(network, ip4: str) -> str:
    """A container's IPv6 address on ``network`` (a NetworkRecord or Network) given its IPv4
    one; "" when the network has no IPv6."""
    if not network.ipv6 or not network.subnet6:
        return ""
    return mirror(ipaddress.IPv6Network(network.subnet6), ipaddress.IPv4Network(network.subnet),
                  ip4)


def host_routes6() -> list[tuple[ipaddress.IPv6Network, str]]:
    """The host's IPv6 routes other than default and link-local ones: (destination, device)."""
    import _socket
    from .netlink import Netlink
    with Netlink() as nl:
        names = {i: n for n, i in nl.links().items()}
        return [(dst, names.get(oif, "?")) for dst, oif in nl.routes(_socket.AF_INET6)
                if dst.prefixlen > 0 and not dst.is_link_local and not dst.is_loopback
                and not dst.is_multicast]


def conflict6(records, net6: ipaddress.IPv6Network, routes=None) -> str | None:
    """What ``net6`` overlaps (another network of the root, a host route), or None."""
    own = set()
    for rec in records:
        n = rec.network
        own.add(n.bridge)
        if n.ipv6 and n.subnet6 and ipaddress.IPv6Network(n.subnet6).overlaps(net6):
            return f"network '{n.name}' ({n.subnet6})"
    for dst, dev in (host_routes6() if routes is None else routes):
        if dev not in own and dst.overlaps(net6):
            return f"host route {dst} on {dev}"
    return None


def pick_subnet6(records) -> ipaddress.IPv6Network:
    """A /64 with a random 40-bit global id (as RFC 4193 asks) that nothing here uses."""
    routes = host_routes6()
    for _ in range(16):
        prefix = bytes([0xfd]) + os.urandom(5) + bytes(10)
        net = ipaddress.IPv6Network((prefix, 64))
        if conflict6(records, net, routes) is None:
            return net
    raise Conflict("no free IPv6 subnet found; give one with --subnet")
