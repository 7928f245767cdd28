"""berth's nftables table: masquerade, published ports, isolation of internal networks.

The table (``paths.nft_table``, family ``ip``) belongs to one berth root and to nothing else.
It has two parts:

- the chains, a pure function of the root's networks that have a bridge up. ``sync`` rewrites
  them in one atomic ``nft -f`` transaction whenever a bridge comes or goes, and deletes the
  table when none is left;
- four maps holding the published ports, one element per port::

      tcp_any  host port            -> container address . container port   (-p 8080:80)
      tcp_ip   host address . port  -> container address . container port   (-p 127.0.0.1:8080:80)
      udp_any, udp_ip               the same for UDP

  so publishing and unpublishing a container's ports adds and deletes exactly its elements and
  never touches another container's rules. Deleting is written as "add then delete" in one
  transaction, which succeeds whether or not the element was still there.

Published ports are DNATed in prerouting (traffic from outside and from containers) and in
output (traffic from the host itself, 127.0.0.1 included). Loopback-sourced packets can only
leave through a bridge with ``route_localnet=1`` on that bridge (set by bridge.py on berth's
bridges only) and are masqueraded to the bridge's address on the way out.
"""

from __future__ import annotations

from ..errors import HostError

MAPS = ("tcp_any", "tcp_ip", "udp_any", "udp_ip")


def _run(script: str, what: str) -> None:
    import subprocess
    from ..runtime.sealed import environment
    try:
        # found through the sealed PATH: a relative entry in root's PATH (".") must not make
        # berth run an nft from the directory it was started in
        p = subprocess.run(["nft", "-f", "-"], input=script, capture_output=True, text=True,
                           env=environment())
    except FileNotFoundError:
        raise HostError(f"{what}: the nft command is not installed; install nftables") from None
    if p.returncode != 0:
        reason = next((ln for ln in p.stderr.splitlines() if ln.strip()), "unknown error")
        raise HostError(f"{what}: nftables refused: {reason}")


def _declarations(t: str) -> list[str]:
    """Statements that make the table, its base chains and its maps exist (no-ops if they do)."""
    return [
        f"add table ip {t}",
        f"add chain ip {t} prerouting {{ type nat hook prerouting priority dstnat; policy accept; }}",
        f"add chain ip {t} output {{ type nat hook output priority -100; policy accept; }}",
        f"add chain ip {t} postrouting {{ type nat hook postrouting priority srcnat; policy accept; }}",
        f"add chain ip {t} forward {{ type filter hook forward priority filter; policy accept; }}",
        f"add chain ip {t} published",
        f"add map ip {t} tcp_any {{ type inet_service : ipv4_addr . inet_service; }}",
        f"add map ip {t} udp_any {{ type inet_service : ipv4_addr . inet_service; }}",
        f"add map ip {t} tcp_ip {{ type ipv4_addr . inet_service : ipv4_addr . inet_service; }}",
        f"add map ip {t} udp_ip {{ type ipv4_addr . inet_service : ipv4_addr . inet_service; }}",
    ]


def sync(paths, networks: list) -> None:
    """Make the table's chains match ``networks`` (Network models whose bridges are up); with
    none, delete the table."""
    t = paths.nft_table
    if not networks:
        _run(f"add table ip {t}\ndelete table ip {t}\n", "removing berth's nftables table")
        return
    lines = _declarations(t)
    for chain in ("prerouting", "output", "postrouting", "forward", "published"):
        lines.append(f"flush chain ip {t} {chain}")
    lines += [
        f"add rule ip {t} prerouting fib daddr type local jump published",
        f"add rule ip {t} output fib daddr type local jump published",
    ]
    for proto in ("tcp", "udp"):
        lines += [
            f"add rule ip {t} published meta l4proto {proto} dnat to ip daddr . {proto} dport map @{proto}_ip",
            f"add rule ip {t} published meta l4proto {proto} dnat to {proto} dport map @{proto}_any",
        ]
    prefix = paths.bridge_name(0)[:-1] + "*"    # every bridge of this root
    for net in networks:
        br, sub = net.bridge, net.subnet
        # Traffic from the host's loopback to a published port, DNATed in output.
        lines.append(f'add rule ip {t} postrouting oifname "{br}" ip saddr 127.0.0.0/8 masquerade')
        # A container reaching a published port of the host that leads back to its own bridge.
        lines.append(f'add rule ip {t} postrouting oifname "{br}" ip saddr {sub} ct status dnat masquerade')
        if net.internal:
            lines.append(f'add rule ip {t} forward iifname "{br}" ip daddr != {sub} drop')
            lines.append(f'add rule ip {t} forward oifname "{br}" ip saddr != {sub} drop')
        else:
            lines.append(f'add rule ip {t} postrouting ip saddr {sub} oifname != "{br}" masquerade')
            # Networks are isolated from one another, as Docker's are.
            lines.append(f'add rule ip {t} forward iifname "{br}" oifname != "{br}" '
                         f'oifname "{prefix}" drop')
    _run("\n".join(lines) + "\n", "setting up berth's nftables rules")


def _elements(rules: list[tuple[str, str, int, str, int]]) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {m: [] for m in MAPS}
    for proto, host_ip, host_port, ip, port in rules:
        if host_ip and host_ip != "0.0.0.0":
            out[f"{proto}_ip"].append(f"{host_ip} . {host_port} : {ip} . {port}")
        else:
            out[f"{proto}_any"].append(f"{host_port} : {ip} . {port}")
    return out


def publish(paths, rules: list[tuple[str, str, int, str, int]]) -> None:
    """DNAT each (proto, host_ip, host_port, container_ip, container_port)."""
    if not rules:
        return
    t = paths.nft_table
    lines = _declarations(t)
    for m, elems in _elements(rules).items():
        if elems:
            lines.append(f"add element ip {t} {m} {{ {', '.join(elems)} }}")
    _run("\n".join(lines) + "\n", "publishing ports")


def unpublish(paths, rules: list[tuple[str, str, int, str, int]]) -> None:
    """Remove the DNAT of each rule; rules already gone are fine."""
    if not rules:
        return
    t = paths.nft_table
    lines = _declarations(t)
    for m, elems in _elements(rules).items():
        if elems:
            body = ", ".join(elems)
            lines.append(f"add element ip {t} {m} {{ {body} }}")
            lines.append(f"delete element ip {t} {m} {{ {body} }}")
    _run("\n".join(lines) + "\n", "removing published ports")
