"""Containers on networks: attach at start, detach at exit and rm, connect and disconnect.

Names resolve through hosts files (hosts.py), not a DNS server. Each container's ``hosts`` (in its
directory, bind-mounted on /etc/hosts) lists every other container on its networks by name,
aliases and short id, and is rewritten in place whenever a container joins or leaves one of
them. Why: berth has no daemon, and an embedded resolver would need a process living as long as
the network (or one per container inside its namespace); a hosts file needs nothing running,
works with musl, glibc and busybox alike, and costs one small write per peer. What it gives up:
``nslookup``/``dig`` (which ask DNS servers only) don't see container names.

Crashes. Everything here runs under the root's lock, so whoever takes it next finds either a
finished change or a killed one. A join records the endpoint (its address, its veth's name)
before it makes the veth; a detach deletes the veth and the rules before it saves the record
without the endpoint. So a killed join or detach leaves an endpoint whose veth is missing, and
a dead container leaves one whose network namespace is gone: ``repair.drop_stale`` (run by
every attach and connect, by ``network rm`` and system check) releases both, so a SIGKILLed monitor's
address and published ports are free for the next container at once.
"""

from __future__ import annotations

import ipaddress
import os
from contextlib import nullcontext

from ..errors import Conflict, HostError, InvalidArgument, NotFound
from ..paths import rootless
from ..runtime import trace
from . import bridge, ipam, ipam6, nat
from .hosts import refresh_hosts, split_links
from .inspect import docker_endpoint
from .ipam import DEFAULT_NETWORK, NetRecord
from .lifecycle import default_record, ensure_up, linger, live_networks

TYPE_CHECKING = False
if TYPE_CHECKING:  # annotations only: the monitor imports this, and typing costs it ~3 ms
    from typing import Any

    from ..models import Container, Port

NO_NETNS_MODES = ("host",)


# --- which networks -----------------------------------------------------------------------

def primary_network(config) -> str | None:
    """The network named by --network ("bridge" for the default one); None for host, none and
    container:NAME, which get no endpoint of their own."""
    mode = config.network_mode or "bridge"
    if mode in ("host", "none") or mode.startswith("container:"):
        return None
    return ipam.network_name(mode)


def wanted_networks(store, container: Container) -> list[tuple[str, list[str], str]]:
    """(network, aliases, requested address) for each network the container joins, first one
    first: --network, then further networks from the config, then `network connect` of it while
    it was stopped."""
    cfg = container.config
    first = primary_network(cfg)
    if first is None:
        return []
    left = {ipam.network_name(n) for n in cfg.left_networks}
    out = [] if first in left else [(first, list(cfg.aliases), cfg.ip_address)]
    names = {first} - left
    for name in cfg.networks:
        name = ipam.network_name(name)
        if name not in names and name not in left:
            out.append((name, list(cfg.aliases), ""))
            names.add(name)
    for rec in ipam.load_all(store):
        m = rec.members.get(container.id)
        if m is not None and rec.network.name not in names:
            out.append((rec.network.name, list(m.get("aliases") or []), m.get("ip") or ""))
            names.add(rec.network.name)
    return out


def validate(store, config) -> None:
    """Refuse, at create, network flags that can't work, with Docker's wording."""
    from .files import check_add_host
    mode = config.network_mode or "bridge"
    shared = mode.startswith("container:")
    if shared and not mode.partition(":")[2]:
        raise InvalidArgument("--network container: needs a container name or id")
    if (shared or mode == "host") and config.mac_address:
        raise InvalidArgument("conflicting options: mac-address and the network mode")
    if shared:
        if config.ports or config.publish_all:
            raise InvalidArgument("conflicting options: port publishing and the container type "
                                  "network mode")
        if config.dns or config.dns_search or config.dns_options:
            raise InvalidArgument("conflicting options: dns and the network mode")
        if config.extra_hosts:
            raise InvalidArgument("conflicting options: custom host-to-IP mapping and the "
                                  "network mode")
        if config.hostname:
            raise InvalidArgument("conflicting options: hostname and the network mode")
    for spec in config.extra_hosts:
        check_add_host(spec)
    for p in config.ports:
        if p.proto not in ("tcp", "udp"):
            raise InvalidArgument(f"cannot publish {p.container_port}/{p.proto}: berth publishes "
                                  "tcp and udp ports only")
    first = primary_network(config)
    for p in config.ports:
        # [rootless] the host's side is a forwarder of berth's (rootless/forward.py), which
        # takes IPv6 to the container's IPv4 address
        if p.host_ip and ipaddress.ip_address(p.host_ip).version == 6 and not rootless():
            rec = ipam.load(store, first) if first else None
            _check_ipv6_publish(p, rec.network if rec else None, first or config.network_mode)
    if first is None:
        if config.ip_address or config.aliases or config.networks:
            raise InvalidArgument(f"--ip, --network-alias and more networks need a bridge "
                                  f"network, not --network {mode}")
        return
    if first == DEFAULT_NETWORK:
        if config.ip_address:
            raise InvalidArgument("user specified IP address is supported on user defined "
                                  "networks only")
        if config.aliases:
            raise InvalidArgument("network-scoped alias is supported only for containers in "
                                  "user defined networks")
    for name in [first, *config.networks]:
        name = ipam.network_name(name)
        if name != DEFAULT_NETWORK and ipam.load(store, name) is None:
            raise NotFound(f"network {name} not found")
    if config.ip_address:
        rec = ipam.load(store, first)
        if rec is not None:
            import copy
            ipam.allocate(copy.deepcopy(rec), "-", config.ip_address)   # in the subnet, free


# --- attach and detach ----------------------------------------------------------------------

def attach(store, container: Container, pid: int) -> dict[str, dict[str, Any]]:
    """See engine.network.attach."""
    from .netlink import open_netns
    cfg = container.config
    if cfg.network_mode in NO_NETNS_MODES or (cfg.network_mode or "").startswith("container:"):
        container.state.ports = []
        return {}
    trace.mark("network modules imported")
    try:
        ns = open_netns(pid)
    except OSError as e:
        raise HostError(f"entering the network namespace of container {container.id[:12]}: "
                        f"{e.strerror}") from None
    try:
        try:
            ns.set_up(ns.link_index("lo"))
        except OSError as e:
            raise HostError(f"bringing up lo in container {container.id[:12]}: {e.strerror}") from None
        trace.mark("netlink socket in the container's namespace, lo up")
        return _attach(store, container, pid, ns)
    finally:
        ns.close()


def _attach(store, container: Container, pid: int, ns) -> dict[str, dict[str, Any]]:
    cfg = container.config
    endpoints: dict[str, dict[str, Any]] = {}
    with store.lock():
        wanted = wanted_networks(store, container)
        # Endpoints left from this container's previous life (a restart by its monitor, or a
        # monitor killed before it could detach) hold addresses and ports it needs again; so
        # may those of dead containers nobody has looked at since. Dropping them leaves the
        # default network idle (its reaper told) unless this container is about to join it.
        idle_ok = DEFAULT_NETWORK not in {name for name, _, _ in wanted}
        _detach_locked(store, container.id, idle_ok=idle_ok)
        from .repair import drop_stale
        drop_stale(store, idle_ok=idle_ok)
        trace.mark("root locked, stale endpoints looked for")
        try:
            for n, (name, aliases, ip) in enumerate(wanted):
                rec = default_record(store) if name == DEFAULT_NETWORK else ipam.load(store, name)
                if rec is None:
                    raise NotFound(f"network {name} not found")
                ep = _join(store, rec, container, pid, n, aliases, ip,
                           mac=cfg.mac_address if n == 0 else "",
                           default_route=not any(e.get("default_route") for e in _own(store, container.id)),
                           ns=ns)
                endpoints[name] = docker_endpoint(rec, ep, requested_ip=ip, cid=container.id)
            bound = _publish(store, container, wanted[0][0] if wanted else None)
            trace.mark("ports published (nft)")
        except BaseException:
            _detach_locked(store, container.id)
            raise
        container.state.ports = bound
        refresh_hosts(store, {name for name, _, _ in wanted})
        trace.mark("hosts files refreshed")
    for name, ep in endpoints.items():
        _event(store, "connect", ep["NetworkID"], name, container.id)
    trace.mark("connect events")
    return endpoints


def _event(store, action: str, network_id: str, name: str, cid: str) -> None:
    from ..events import emit
    emit(store.paths, "network", action, network_id,
         {"name": name, "type": "bridge", "container": cid})


def _own(store, cid: str) -> list[dict[str, Any]]:
    return [r.endpoints[cid] for r in ipam.load_all(store) if cid in r.endpoints]


def _join(store, rec: NetRecord, container: Container, pid: int, n: int, aliases: list[str],
          wanted_ip: str, mac: str = "", default_route: bool = True, ns=None) -> dict[str, Any]:
    """Give the container an address on ``rec`` and a veth into it, as interface eth<n>
    (``ns``: a Netlink socket already in its namespace, if the caller has one)."""
    import _socket
    from .netlink import Netlink, netns_of
    cid = container.id
    if cid in rec.endpoints:
        raise Conflict(f"container {container.name} is already attached to network "
                       f"'{rec.network.name}'")
    ensure_up(store, rec)
    trace.mark("bridge up (ensure_up)")
    rec.idle = 0.0   # a reaper that wakes up now finds the network in use again
    ip = ipam.allocate(rec, cid, wanted_ip)
    mac = mac or ipam.mac_for(ip)
    ifname = f"eth{n}"
    veth = store.paths.veth_name(cid, n)
    route = default_route and not rec.network.internal
    ep = {"name": container.name, "aliases": aliases, "ip": ip, "mac": mac, "veth": veth,
          "ifname": ifname, "pid": pid, "ports": [], "default_route": route,
          "hostname": container.config.hostname or cid[:12],
          "extra_hosts": list(container.config.extra_hosts),
          "endpoint_id": os.urandom(32).hex(), "netns_ino": _netns_ino(pid),
          "links": split_links(getattr(container.config, "links", None) or [])}
    ip6 = ipam6.address(rec.network, ip)
    if ip6:
        ep["ip6"] = ip6
    # Recorded before the veth exists, so that a crash from here on leaves detach everything
    # it needs to find and remove.
    rec.endpoints[cid] = ep
    ipam.save(store, rec)
    trace.mark("address allocated, network record saved")
    prefix = rec.net.prefixlen
    try:
        with Netlink() as nl:
            if os.path.exists(f"/sys/class/net/{veth}"):
                nl.delete_link(veth)  # left by a crashed attach under the same name
            nl.create_veth(veth, ifname, pid, _socket.if_nametoindex(rec.network.bridge),
                           rec.network.mtu, mac)
        trace.mark("veth pair created, host end on the bridge")
        with (nullcontext(ns) if ns is not None else netns_of(pid)) as inside:
            idx = inside.link_index(ifname)
            inside.add_address(idx, ip, prefix)
            if ip6:
                inside.add_address(idx, ip6, int(rec.network.subnet6.partition("/")[2]))
            inside.set_up(idx)
            if route:
                inside.add_default_route(rec.network.gateway, idx)
                if ip6:
                    inside.add_default_route(rec.network.gateway6, idx)
        trace.mark("address, link up, default route inside")
    except OSError as e:
        raise HostError(f"connecting container {container.name} to network "
                        f"'{rec.network.name}': {e.strerror}") from None
    return ep


def _netns_ino(pid: int) -> int | None:
    try:
        return os.stat(f"/proc/{pid}/ns/net").st_ino
    except OSError:
        return None


def _publish(store, container: Container, network: str | None) -> list[Port]:
    """Bind the container's -p and -P ports to its first network's address."""
    cfg = container.config
    if not (cfg.ports or cfg.publish_all) or network is None:
        return []
    from .ports import assign_host_ports, parse_exposed
    from ..models import Port
    wanted = list(cfg.ports)
    if cfg.publish_all:
        have = {(p.container_port, p.proto) for p in wanted}
        for spec in cfg.exposed_ports:
            port, proto = parse_exposed(spec)
            if (port, proto) not in have:
                wanted.append(Port(container_port=port, proto=proto))
                have.add((port, proto))
    if not wanted or network is None:
        return []
    rec = ipam.load(store, network)
    if rec is None or rec.network.internal:
        return []  # an internal network has no way in from outside, as Docker's
    for p in wanted:
        if p.proto not in ("tcp", "udp"):
            raise InvalidArgument(f"cannot publish {p.container_port}/{p.proto}: berth publishes "
                                  "tcp and udp ports only")
        if p.host_ip and ipaddress.ip_address(p.host_ip).version == 6:
            _check_ipv6_publish(p, rec.network, network)
    taken = {(q["host_ip"], q["host_port"], q["proto"])
             for r in ipam.load_all(store) for ep in r.endpoints.values() for q in ep["ports"]}
    bound = assign_host_ports(wanted, taken)
    ep = rec.endpoints[container.id]
    ep["ports"] = [p.to_dict() for p in bound]
    ipam.save(store, rec)
    nat.publish(store.paths, _rules(ep))
    if ep.get("ip6"):
        from .proxy6 import start_proxies
        ep["proxies"] = start_proxies(ep, ep["pid"])
        ipam.save(store, rec)
    return bound


def _check_ipv6_publish(p, network, name: str) -> None:
    """A port published on an IPv6 host address needs the container's network to have IPv6
    (nftables can't translate between the families); on ::1 it is forwarded for tcp only
    (proxy6.py says why)."""
    if network is None or not network.ipv6:
        raise InvalidArgument(f"cannot publish on [{p.host_ip}]: network {name} has no IPv6; "
                              "create the network with --ipv6")
    if p.host_ip == "::1" and p.proto != "tcp":
        raise InvalidArgument(f"cannot publish {p.proto} on [::1]: berth forwards IPv6 "
                              "loopback for tcp only")


def _rules(ep: dict[str, Any]) -> list[tuple[str, str, int, str, int]]:
    """The nftables elements of ``ep``'s published ports: on its IPv4 address, and on its IPv6
    one for ports published on every address or an IPv6 one (::1 excepted: proxy6.py)."""
    from .ports import v6_overridden
    out = []
    ports = ep.get("ports") or []
    for p in ports:
        host = p["host_ip"]
        v6 = ":" in host
        if not v6:
            out.append((p["proto"], host, p["host_port"], ep["ip"], p["container_port"]))
        if ep.get("ip6") and (v6 or not host) and host != "::1" and \
                not v6_overridden(ports, p):
            out.append((p["proto"], host or "::", p["host_port"], ep["ip6"], p["container_port"]))
    return out


def detach(store, container: Container | str, later: list | None = None) -> None:
    """See engine.network.detach. Accepts a Container or a container id. ``later``: deleting
    the veths (which waits for the kernel's RCU grace periods) is appended to it for the caller
    to run, instead of a thread's doing it now (the monitor runs it after it has told `run
    --rm` the exit code: as with the thread, the veth outlives the command for a moment)."""
    cid = container if isinstance(container, str) else container.id
    with store.lock():
        changed = _detach_locked(store, cid, background=True, later=later)
        refresh_hosts(store, changed)


def _detach_locked(store, cid: str, only: str | None = None, background: bool = False,
                   idle_ok: bool = True, later: list | None = None) -> set[str]:
    """Undo what attach (or connect) made for ``cid``; on network ``only`` if given. Returns
    the names of the networks that changed.

    With ``background`` (a container that has exited), the veths are deleted by a thread while
    the caller goes on: deleting a link waits ~15 ms for the kernel's RCU grace periods, and
    the container's end is in a namespace that is dying anyway, so nothing can use the address
    in the meantime. The thread is not a daemon, so the process does not exit before it is done.
    """
    from .netlink import Netlink
    import time
    changed: set[str] = set()
    doomed: list[str] = []
    idle_default: NetRecord | None = None
    errors: list[str] = []
    for rec in ipam.load_all(store):
        if only and rec.network.name != only:
            continue
        ep = rec.endpoints.pop(cid, None)
        freed = ipam.release(rec, cid)
        # Members are forgotten lazily: a container being removed still has its directory.
        gone = [m for m in rec.members if not os.path.isdir(store.paths.container_dir(m))]
        for m in gone:
            del rec.members[m]
        if ep is None and not freed:
            if gone:
                ipam.save(store, rec)
            continue
        changed.add(rec.network.name)
        _event(store, "disconnect", rec.network.id, rec.network.name, cid)
        if ep:
            if background:
                doomed.append(ep["veth"])
            else:
                try:
                    with Netlink() as nl:
                        # Deleting the host end takes the container's end with it; both are
                        # gone already when the container's namespace died first.
                        nl.delete_link(ep["veth"])
                except OSError as e:
                    errors.append(f"removing {ep['veth']}: {e.strerror}")
            if ep.get("proxies"):
                from .proxy6 import stop_proxies
                stop_proxies(ep["proxies"])
            try:
                _unpublish(store, rec, cid, ep)
            except HostError as e:
                errors.append(str(e))
        # [rootless] the bridge is in the user's own network namespace, where nothing of it
        # shows on the host: it stays, sparing the next run its making (~100 ms of a run
        # --rm: RCU waits, an nft run) and the reaper process that would take it down
        if rec.network.name == DEFAULT_NETWORK and not rec.endpoints and idle_ok \
                and not rootless():
            rec.idle = time.time()
            idle_default = rec
        ipam.save(store, rec)
    if doomed and later is not None:
        later.append(lambda: _delete_links(doomed))
    elif doomed:
        import threading
        threading.Thread(target=_delete_links, args=(doomed,), name="berth-veth-delete").start()
    if idle_default is not None:
        linger(store, idle_default)
    if errors:
        raise HostError(f"releasing the network of container {cid[:12]}: " + "; ".join(errors))
    return changed


def _delete_links(names: list[str]) -> None:
    from .netlink import Netlink
    try:
        with Netlink() as nl:
            for name in names:
                nl.delete_link(name)
    except OSError:
        pass  # nobody to tell; a veth left behind goes with its namespace or at the next attach


def _unpublish(store, rec: NetRecord, cid: str, ep: dict[str, Any]) -> None:
    rules = _rules(ep)
    if not rules:
        return
    # A host port another container took since (possible only when state was lost) is theirs now.
    held = {(q["host_ip"], q["host_port"], q["proto"])
            for r in ipam.load_all(store) for other_cid, other in r.endpoints.items()
            if other_cid != cid for q in other.get("ports") or []}
    rules = [r for r in rules if (r[1], r[2], r[0]) not in held]
    if bridge.bridge_exists(rec.network.bridge) or live_networks(store):
        nat.unpublish(store.paths, rules)


# --- container:NAME ------------------------------------------------------------------------

def netns_pid(store, ref: str) -> int:
    """See engine.network.netns_pid."""
    from ..runtime import records
    c = records.find(store, ref)
    if c.state.status not in ("running", "paused") or not c.state.pid:
        raise Conflict(f"cannot join the network of container {ref}: it is not running; "
                       f"start it first")
    if c.config.network_mode.startswith("container:"):
        # Join where that one joined, so chains of container:NAME share one namespace.
        return netns_pid(store, c.config.network_mode.partition(":")[2])
    if not os.path.exists(f"/proc/{c.state.pid}/ns/net"):
        raise Conflict(f"cannot join the network of container {ref}: its process is gone")
    return c.state.pid
