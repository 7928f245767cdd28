"""Healing a root's networks after a crash or a damaged record.

- ``drop_stale``: endpoints that hold nothing real (a dead container's, or one whose veth a
  killed join never made) are released, under the root's lock, by every attach and connect, by
  ``network rm`` and by system check.
- ``evidence`` / ``rebuild``: a network record that can't be read is written again from what
  the containers' state.json (network id, gateway, prefix, each container's address and MAC)
  and the host (the bridge those containers' veths hang on) still tell; its labels, IP range
  and stopped members are lost.
- ``host_links`` / ``nft_elements``: bridges, veths and published-port elements of this root
  that no record accounts for, for system check to find and remove.
"""

from __future__ import annotations

import ipaddress
import os

from . import ipam
from .endpoints import _detach_locked, primary_network
from .hosts import refresh_hosts

TYPE_CHECKING = False
if TYPE_CHECKING:
    import re
    from typing import Any


# --- stale endpoints ---------------------------------------------------------------------

def stale(store, cid: str, ep: dict[str, Any]) -> str:
    """Why the endpoint ``ep`` of ``cid`` holds nothing real any more ("" while it does): the
    container is gone, its process (and so its network namespace) is, or its veth never came
    or went. Only meaningful under the root's lock (a join in progress holds it)."""
    if not os.path.isdir(store.paths.container_dir(cid)):
        return "its container is gone"
    try:
        st = os.stat(f"/proc/{ep.get('pid') or 0}/ns/net")
    except OSError:
        return "its container's process is gone"
    ino = ep.get("netns_ino")
    if ino is not None and st.st_ino != ino:
        return "its container's process is gone"
    if ep.get("veth") and not os.path.exists(f"/sys/class/net/{ep['veth']}"):
        return f"its veth {ep['veth']} is missing"
    return ""


def drop_stale(store, only: str | None = None, idle_ok: bool = True
               ) -> list[tuple[str, str, str]]:
    """Release every ``stale`` endpoint (on network ``only`` if given), under the root's lock;
    (network, container id, why) of each. ``idle_ok``: False when a container is about to join
    (the default network must not be handed to its reaper meanwhile)."""
    found = [(rec.network.name, cid, why) for rec in ipam.load_all(store)
             if not only or rec.network.name == only
             for cid, ep in rec.endpoints.items() for why in [stale(store, cid, ep)] if why]
    changed: set[str] = set()
    for name, cid, _ in found:
        changed |= _detach_locked(store, cid, only=name, background=True, idle_ok=idle_ok)
    refresh_hosts(store, changed)
    return found


# --- a damaged record, rebuilt ------------------------------------------------------------

class Evidence:
    """What is still known of a network whose record can't be read."""

    def __init__(self):
        self.id = ""
        self.subnet: ipaddress.IPv4Network | None = None
        self.gateway = ""
        self.bridge = ""
        self.endpoints: dict[str, dict[str, Any]] = {}


def evidence(store, name: str) -> Evidence:
    """What the containers' state.json and the host tell of network ``name``: its id, subnet
    and gateway, its bridge, and the endpoints of the containers still running on it."""
    from ..runtime import process, records
    ev = Evidence()
    if name == ipam.DEFAULT_NETWORK:
        ev.bridge = store.paths.default_bridge
    _from_text(store, name, ev)
    for cid in records.ids(store):
        d = store.paths.container_dir(cid)
        state = process.read_state(d)
        net = (state.get("networks") or {}).get(name)
        if not isinstance(net, dict):
            continue
        try:
            addr = ipaddress.IPv4Interface(f"{net['IPAddress']}/{net['IPPrefixLen']}")
        except (KeyError, ValueError):
            continue
        ev.id = ev.id or str(net.get("NetworkID") or "")
        ev.subnet = ev.subnet or addr.network
        ev.gateway = ev.gateway or str(net.get("Gateway") or "")
        if state.get("status") not in process.RUNNING or not process.monitor_alive(state):
            continue
        ep = _endpoint(store, cid, state, name, net, ev.bridge)
        if ep is not None:
            ev.bridge = ev.bridge or ep.pop("_bridge")
            ep.pop("_bridge", None)
            ev.endpoints[cid] = ep
    if not ev.bridge and ev.gateway:
        ev.bridge = _bridge_with(store, ev.gateway)
    if not ev.bridge:
        ev.bridge = _lone_bridge(store)
    if ev.bridge and not ev.subnet:
        addr = _address_of(ev.bridge)
        if addr is not None:
            ev.subnet, ev.gateway = addr.network, str(addr.ip)
    return ev


def _address_of(link: str) -> ipaddress.IPv4Interface | None:
    """The IPv4 address (with its prefix) on ``link``: a bridge's is its network's gateway."""
    import subprocess
    out = subprocess.run(["ip", "-4", "-o", "addr", "show", "dev", link],
                         capture_output=True, text=True).stdout.split()
    if "inet" not in out:
        return None
    try:
        return ipaddress.IPv4Interface(out[out.index("inet") + 1])
    except (ValueError, IndexError):
        return None


def _from_text(store, name: str, ev: Evidence) -> None:
    """The network's own fields from what is left of its record's text (a torn record keeps
    its beginning, where they are written)."""
    try:
        with open(store.path("networks", f"{name}.json"), "rb") as f:
            text = f.read().decode("utf-8", "replace")
    except OSError:
        return
    import re   # here, not at the top: a start's attach imports this module
    found = {}
    for key in ("id", "subnet", "gateway", "bridge"):
        m = re.search(rf'"{key}"\s*:\s*"([^"\\]*)"', text)
        if m:
            found[key] = m.group(1)
    try:
        ev.subnet = ipaddress.IPv4Network(found.get("subnet", ""))
        if ipaddress.IPv4Address(found.get("gateway", "")) in ev.subnet:
            ev.gateway = found["gateway"]
    except ValueError:
        ev.subnet = None
    if re.fullmatch(r"[0-9a-f]{64}", found.get("id", "")):
        ev.id = found["id"]
    if _bridge_pattern(store.paths).fullmatch(found.get("bridge", "")):
        ev.bridge = ev.bridge or found["bridge"]


def _lone_bridge(store) -> str:
    """The bridge of this root no readable record claims, nothing is plugged into, and that is
    not the default network's, when there is exactly one damaged record to own it."""
    damaged = [fn for fn in store.list_dir("networks")
               if fn.endswith(".json") and ipam.read(store, fn[:-5])[1]]
    if len(damaged) != 1:
        return ""
    claimed = {r.network.bridge for r in ipam.load_all(store)} | {store.paths.default_bridge}
    free = [b for b in host_links(store.paths)[0] if b not in claimed and not _ports(b)]
    return free[0] if len(free) == 1 else ""


def _ports(bridge: str) -> list[str]:
    try:
        return os.listdir(f"/sys/class/net/{bridge}/brif")
    except OSError:
        return []


def _endpoint(store, cid: str, state: dict, name: str, net: dict, bridge: str):
    """The endpoint a running container has on network ``name``, found by its veth (the one of
    its veths whose master is ``bridge``, or any of this root's bridges when that is unknown)."""
    from ..runtime import records
    ours = _bridge_pattern(store.paths)
    for n in range(16):
        veth = store.paths.veth_name(cid, n)
        try:
            master = os.path.basename(os.readlink(f"/sys/class/net/{veth}/master"))
        except OSError:
            continue
        if master != bridge and (bridge or not ours.fullmatch(master)):
            continue
        raw = records.read_config(store, cid)[0] or {}
        pid = int(state.get("pid") or 0)
        try:
            ino = os.stat(f"/proc/{pid}/ns/net").st_ino
        except OSError:
            return None
        first = primary_network(_Cfg(raw)) == name
        return {"name": raw.get("name") or (state.get("name") or ""),
                "aliases": list(net.get("Aliases") or []), "ip": net["IPAddress"],
                "mac": net.get("MacAddress") or ipam.mac_for(net["IPAddress"]), "veth": veth,
                "ifname": f"eth{n}", "pid": pid, "default_route": bool(net.get("Gateway")),
                "ports": list(state.get("ports") or []) if first else [],
                "hostname": raw.get("hostname") or cid[:12],
                "extra_hosts": list(raw.get("extra_hosts") or []),
                "endpoint_id": str(net.get("EndpointID") or os.urandom(32).hex()),
                "netns_ino": ino, "_bridge": master}
    return None


class _Cfg:
    def __init__(self, raw: dict):
        self.network_mode = raw.get("network_mode") or "bridge"


def _bridge_pattern(paths) -> re.Pattern:
    import re
    # another root's bridges are berth<4 hex><index>: the default root's index has 1-4 digits
    return re.compile(rf"berth{paths.suffix}\d{{1,4}}" if not paths.suffix
                      else rf"berth{paths.suffix}\d+")


def _bridge_with(store, gateway: str) -> str:
    """This root's bridge that no readable record claims and that carries ``gateway``."""
    claimed = {r.network.bridge for r in ipam.load_all(store)}
    for name in host_links(store.paths)[0]:
        addr = _address_of(name) if name not in claimed else None
        if addr is not None and str(addr.ip) == gateway:
            return name
    return ""


def rebuild(store, name: str) -> ipam.NetRecord:
    """Write network ``name``'s record again from ``evidence`` (a fresh subnet when none is
    known), with its bridge up and its endpoints' ports published. Under the root's lock."""
    from . import bridge, lifecycle, nat
    from .endpoints import _rules
    ev = evidence(store, name)
    with ipam.host_lock():
        subnet = ev.subnet or ipam.pick_subnet(store)
        gateway = ev.gateway if ev.gateway and ipaddress.IPv4Address(ev.gateway) in subnet else None
        bridge_name = ev.bridge or ipam.bridge_for(store, store.paths)
        rec = ipam.new_record(name, subnet, gateway, None, False, None, bridge_name)
    rec.network.id = ev.id or rec.network.id
    for cid, ep in ev.endpoints.items():
        rec.endpoints[cid] = ep
        rec.network.allocations[ep["ip"]] = cid
    ipam.save(store, rec)   # over the damaged one, in one rename
    if not bridge.bridge_exists(bridge_name) and (name != ipam.DEFAULT_NETWORK or rec.endpoints):
        bridge.create(rec.network)
    lifecycle.sync_rules(store)
    for ep in rec.endpoints.values():
        nat.publish(store.paths, _rules(ep))
    return rec


# --- what the host has of this root --------------------------------------------------------

def host_links(paths) -> tuple[list[str], list[str]]:
    """(bridges, veths) on the host named as this root names its own (the default root's veths
    can't be told from another root's by name: only those on its bridges are listed)."""
    bridges, veths = [], []
    ours = _bridge_pattern(paths)
    try:
        names = os.listdir("/sys/class/net")
    except OSError:
        return bridges, veths
    for n in names:
        if ours.fullmatch(n):
            bridges.append(n)
    for n in names:
        if not n.startswith(f"vb{paths.suffix}"):
            continue
        if paths.suffix or _master(n) in bridges:
            veths.append(n)
    return sorted(bridges), sorted(veths)


def _master(link: str) -> str:
    try:
        return os.path.basename(os.readlink(f"/sys/class/net/{link}/master"))
    except OSError:
        return ""


def nft_elements(paths) -> set[tuple[str, str, int, str, int]] | None:
    """The published-port elements in this root's nftables table, as (proto, host_ip,
    host_port, container_ip, container_port); None when there is no table."""
    import json
    import subprocess
    items = []
    for family in ("ip", "ip6"):   # the IPv6 table exists while an IPv6 network is up
        p = subprocess.run(["nft", "-j", "list", "table", family, paths.nft_table],
                           capture_output=True, text=True)
        if p.returncode == 0:
            items += json.loads(p.stdout).get("nftables", [])
        elif family == "ip":
            return None
    out = set()
    for item in items:
        m = item.get("map")
        if not m or m.get("name") not in ("tcp_any", "tcp_ip", "udp_any", "udp_ip"):
            continue
        proto = m["name"][:3]
        for key, value in m.get("elem") or []:
            ip, port = value["concat"]
            if isinstance(key, dict):
                host_ip, host_port = key["concat"]
            else:
                host_ip, host_port = "", key
            out.add((proto, host_ip, int(host_port), ip, int(port)))
    return out


def expected_elements(store) -> set[tuple[str, str, int, str, int]]:
    """The elements the records say should be there."""
    from .endpoints import _rules
    out = set()
    for rec in ipam.load_all(store):
        for ep in rec.endpoints.values():
            for proto, host_ip, host_port, ip, port in _rules(ep):
                out.add((proto, "" if host_ip in ("", "0.0.0.0", "::") else host_ip, host_port,
                         ip, port))
    return out
