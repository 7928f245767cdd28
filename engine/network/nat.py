"""berth's nftables table: masquerade, published ports, isolation of internal networks.

The table (``paths.nft_table``, family ``ip``; and its twin of family ``ip6`` while a network
with IPv6 is up) belongs to one berth root and to nothing else.
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



def run_script(script: str, what: str) -> None:
    """Apply an nft script in one transaction (``nft -f -``); HostError saying ``what`` failed."""
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


def _declarations(t: str, family: str = "ip") -> list[str]:
    """Statements that make the table, its base chains and its maps exist (no-ops if they do);
    ``family`` ip, or ip6 for the IPv6 networks' twin table."""
    addr = "ipv6_addr" if family == "ip6" else "ipv4_addr"
    return [
        f"add table {family} {t}",
        f"add chain {family} {t} prerouting {{ type nat hook prerouting priority dstnat; policy accept; }}",
        f"add chain {family} {t} output {{ type nat hook output priority -100; policy accept; }}",
        f"add chain {family} {t} postrouting {{ type nat hook postrouting priority srcnat; policy accept; }}",
        f"add chain {family} {t} forward {{ type filter hook forward priority filter; policy accept; }}",
        f"add chain {family} {t} published",
        f"add map {family} {t} tcp_any {{ type inet_service : {addr} . inet_service; }}",
        f"add map {family} {t} udp_any {{ type inet_service : {addr} . inet_service; }}",
        f"add map {family} {t} tcp_ip {{ type {addr} . inet_service : {addr} . inet_service; }}",
        f"add map {family} {t} udp_ip {{ type {addr} . inet_service : {addr} . inet_service; }}",
    ]


def sync(paths, networks: list) -> None:
    """Make the table's chains match ``networks`` (Network models whose bridges are up); with
    none, delete the table. The IPv6 table exists while a network with IPv6 is up."""
    t = paths.nft_table
    six = [n for n in networks if getattr(n, "ipv6", False) and n.subnet6]
    if not networks:
        run_script(f"add table ip {t}\ndelete table ip {t}\nadd table ip6 {t}\n"
                   f"delete table ip6 {t}\n", "removing berth's nftables table")
        return
    lines = _chains(t, "ip", [(n.bridge, n.subnet, n.internal) for n in networks], paths)
    if six:
        lines += _chains(t, "ip6", [(n.bridge, n.subnet6, n.internal) for n in six], paths)
    else:
        lines += [f"add table ip6 {t}", f"delete table ip6 {t}"]
    run_script("\n".join(lines) + "\n", "setting up berth's nftables rules")


def _chains(t: str, family: str, networks: list[tuple[str, str, bool]], paths) -> list[str]:
    """The rules of one family's table: (bridge, subnet, internal) of each network."""
    ip = "ip6" if family == "ip6" else "ip"
    lines = _declarations(t, family)
    for chain in ("prerouting", "output", "postrouting", "forward", "published"):
        lines.append(f"flush chain {family} {t} {chain}")
    # ::1 is left to the proxy (proxy6.py): the kernel drops a reply whose address is ::1
    # when it comes in on a bridge, and IPv6 has no route_localnet to allow it
    local = "ip6 daddr != ::1 " if family == "ip6" else ""
    lines += [
        f"add rule {family} {t} prerouting fib daddr type local jump published",
        f"add rule {family} {t} output {local}fib daddr type local jump published",
    ]
    for proto in ("tcp", "udp"):
        lines += [
            f"add rule {family} {t} published meta l4proto {proto} dnat to {ip} daddr . {proto} dport map @{proto}_ip",
            f"add rule {family} {t} published meta l4proto {proto} dnat to {proto} dport map @{proto}_any",
        ]
    prefix = paths.bridge_name(0)[:-1] + "*"    # every bridge of this root
    for br, sub, internal in networks:
        if family == "ip":
            # Traffic from the host's loopback to a published port, DNATed in output.
            lines.append(f'add rule ip {t} postrouting oifname "{br}" ip saddr 127.0.0.0/8 masquerade')
        # A container reaching a published port of the host that leads back to its own bridge.
        lines.append(f'add rule {family} {t} postrouting oifname "{br}" {ip} saddr {sub} ct status dnat masquerade')
        if internal:
            lines.append(f'add rule {family} {t} forward iifname "{br}" {ip} daddr != {sub} drop')
            lines.append(f'add rule {family} {t} forward oifname "{br}" {ip} saddr != {sub} drop')
        else:
            lines.append(f'add rule {family} {t} postrouting {ip} saddr {sub} oifname != "{br}" masquerade')
            # Networks are isolated from one another, as Docker's are.
            lines.append(f'add rule {family} {t} forward iifname "{br}" oifname != "{br}" '
                         f'oifname "{prefix}" drop')
    return lines


def _elements(rules: list[tuple[str, str, int, str, int]]) -> dict[tuple[str, str], list[str]]:
    """(family, map) -> its elements; a rule goes to the family of its container address."""
    out: dict[tuple[str, str], list[str]] = {}
    for proto, host_ip, host_port, ip, port in rules:
        family = "ip6" if ":" in ip else "ip"
        if host_ip and host_ip not in ("0.0.0.0", "::"):
            out.setdefault((family, f"{proto}_ip"), []).append(f"{host_ip} . {host_port} : {ip} . {port}")
        else:
            out.setdefault((family, f"{proto}_any"), []).append(f"{host_port} : {ip} . {port}")
    return out


def publish(paths, rules: list[tuple[str, str, int, str, int]]) -> None:
    """DNAT each (proto, host_ip, host_port, container_ip, container_port)."""
    if not rules:
        return
    t = paths.nft_table
    elements = _elements(rules)
    lines = []
    for family in sorted({f for f, _ in elements}):
        lines += _declarations(t, family)
    for (family, m), elems in elements.items():
        lines.append(f"add element {family} {t} {m} {{ {', '.join(elems)} }}")
    run_script("\n".join(lines) + "\n", "publishing ports")


def unpublish(paths, rules: list[tuple[str, str, int, str, int]]) -> None:
    """Remove the DNAT of each rule; rules already gone are fine."""
    if not rules:
        return
    t = paths.nft_table
    elements = _elements(rules)
    lines = []
    for family in sorted({f for f, _ in elements}):
        lines += _declarations(t, family)
    for (family, m), elems in elements.items():
        body = ", ".join(elems)
        lines.append(f"add element {family} {t} {m} {{ {body} }}")
        lines.append(f"delete element {family} {t} {m} {{ {body} }}")
    run_script("\n".join(lines) + "\n", "removing published ports")
