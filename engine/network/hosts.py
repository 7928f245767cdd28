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
        own = [r.endpoints[cid]["ip"] for r in mine]
        peers: list[tuple[str, list[str]]] = []
        for r in mine:
            for other, ep in r.endpoints.items():
                if other != cid:
                    peers.append((ep["ip"], dns_names(other, ep)))
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
