"""Names on a network: the hosts file of every container, rewritten in place whenever a
container joins or leaves one of its networks (see endpoints.py for why hosts files and not a
DNS server)."""

from __future__ import annotations

import os

from . import ipam
from .files import hosts_lines, write_in_place

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any


def dns_names(cid: str, ep: dict[str, Any]) -> list[str]:
    """The names a container answers to on a network: name, aliases, short id."""
    out: list[str] = []
    for n in [ep.get("name", ""), *(ep.get("aliases") or []), cid[:12]]:
        n = n.lstrip("/")
        if n and n not in out:
            out.append(n)
    return out


def refresh_hosts(store, networks: set[str]) -> None:
    """Rewrite, in place, the hosts file of every container on ``networks``."""
    if not networks:
        return
    recs = ipam.load_all(store)
    affected = {cid for r in recs if r.network.name in networks for cid in r.endpoints}
    for cid in affected:
        mine = [r for r in recs if cid in r.endpoints]
        first = mine[0].endpoints[cid]
        own = [a for r in mine for a in (r.endpoints[cid]["ip"], r.endpoints[cid].get("ip6")) if a]
        peers: list[tuple[str, list[str]]] = []
        for r in mine:
            for other, ep in r.endpoints.items():
                if other != cid:
                    peers += [(a, dns_names(other, ep)) for a in (ep["ip"], ep.get("ip6")) if a]
        peers += _link_peers(first.get("links") or [], mine)
        gateway = next((r.network.gateway for r in mine if r.endpoints[cid].get("default_route")),
                       mine[0].network.gateway)
        text = hosts_lines(first.get("hostname") or cid[:12], own, peers,
                           first.get("extra_hosts") or [], gateway)
        path = os.path.join(store.paths.container_dir(cid), "hosts")
        if os.path.isdir(os.path.dirname(path)):
            try:
                write_in_place(path, text.encode())
            except OSError:
                pass  # a container being removed as we write; its peers still get theirs


# --- legacy links (--link NAME:ALIAS) -------------------------------------------------------

def split_links(links: list[str]) -> list[list[str]]:
    """``--link`` values as [name, alias] (``name`` alone is its own alias)."""
    out = []
    for link in links:
        name, _, alias = link.partition(":")
        name = name.lstrip("/")
        out.append([name, alias.rpartition("/")[2] or name])
    return out


def _link_peers(links: list[list[str]], mine: list) -> list[tuple[str, list[str]]]:
    """Hosts entries of the containers ``links`` names, found on the networks the linking
    container is on: the alias, the linked container's hostname and its name, as Docker
    writes them."""
    out: list[tuple[str, list[str]]] = []
    for name, alias in links:
        for r in mine:
            found = next(((cid, ep) for cid, ep in r.endpoints.items()
                          if ep.get("name") == name or cid.startswith(name)), None)
            if found is None:
                continue
            cid, ep = found
            names = [alias, ep.get("hostname") or cid[:12]]
            if alias != ep.get("name"):
                names.append(ep.get("name") or "")
            out += [(a, [n for n in names if n]) for a in (ep["ip"], ep.get("ip6")) if a]
            break
    return out
