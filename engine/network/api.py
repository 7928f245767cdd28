"""Network verbs: network create, ls, inspect, rm, prune, connect, disconnect, and port.

Each is ordered so that a SIGKILL at any instant leaves the old state or the new one, or one the
next command heals (every step below runs under the root's lock, so whoever takes it next finds
a finished state or a killed one, never one in progress):

- create: the record is written first, then the bridge, then the rules. Killed after the record,
  the network exists without its bridge: a container joining it makes the bridge
  (lifecycle.ensure_up) and system check --repair does at once.
- rm: the bridge goes first, then the record, then the rules (``nat.sync`` rewrites them whole
  at the next change). Killed in between, the network is there without its bridge, as above.
- connect: the container's membership is recorded first (the intent: its next start joins it),
  then the endpoint (address recorded before the veth is made: endpoints._join), then its
  state.json. A connect killed part-way is finished by running it again; an endpoint whose veth
  never came is released by the next attach or connect (repair.drop_stale).
- disconnect: membership goes first, then the endpoint (veth, rules, address), then state.json;
  the next disconnect of the same pair finishes a killed one.
"""

from __future__ import annotations

import os

TYPE_CHECKING = False
if TYPE_CHECKING:   # typing (with contextlib) costs every `berth run` 3 ms
    from typing import Any

from ..errors import Conflict, InvalidArgument, NotFound
from ..models import Network, Port
from ..rootless import in_netns   # [rootless] the user's network namespace

# the default network's names (engine/network/ipam.py DEFAULT_NAMES), host and none
PREDEFINED = ("bridge", "default", "berth", "host", "none")


class NetworksAPI:
    """Network verbs: network create, ls, inspect, rm, prune, connect, disconnect (engine/network)."""

    # --- reading --------------------------------------------------------------------------
    def networks(self) -> list[Network]:
        """Every network: the default one (its record made on first sight), host, none, and
        the user's, by name."""
        from ..errors import Conflict as _Damaged
        from . import ipam, lifecycle
        with self.store.lock():
            try:
                lifecycle.default_record(self.store)
            except _Damaged:
                pass   # a damaged record: named by the warning, the others still listed
            recs = ipam.load_all(self.store)
        out = [r.network.to_model() for r in recs if r.network.name == ipam.DEFAULT_NETWORK]
        out += [_pseudo(n) for n in ("host", "none")]
        out += sorted((r.network.to_model() for r in recs
                       if r.network.name != ipam.DEFAULT_NETWORK), key=lambda n: n.name)
        return out

    def network(self, ref: str) -> Network:
        net = self._network_record(ref).network
        return net if isinstance(net, Network) else net.to_model()

    def _network_record(self, ref: str):
        from . import ipam, lifecycle
        if ref in ("host", "none"):
            return ipam.NetRecord(_pseudo(ref))
        if ref in ipam.DEFAULT_NAMES:
            with self.store.lock():
                return lifecycle.default_record(self.store)
        return ipam.find(self.store, ref)

    def network_inspect(self, ref: str) -> dict[str, Any]:
        from .inspect import network_inspect
        return network_inspect(self._network_record(ref))

    # --- creating and removing -------------------------------------------------------------
    @in_netns
    def create_network(self, name: str, subnet: str | None = None, gateway: str | None = None,
                       ip_range: str | None = None, internal: bool = False,
                       labels: dict[str, str] | None = None, options: dict[str, str] | None = None,
                       ipv6: bool = False, subnet6: str | None = None,
                       gateway6: str | None = None) -> Network:
        """A bridge network with its own bridge and subnet (the next free /16 of the pool
        unless ``subnet`` is given); its bridge and rules exist from now until it is removed.
        ``options``: driver options, shown by inspect as given (the MTU one is honoured);
        ``ipv6``: an IPv6 subnet too (``subnet6``, or a random unique local /64)."""
        from . import bridge, ipam, ipam6, lifecycle
        from ..options import validate_labels
        ipam.check_name(name)
        validate_labels(labels or {})
        if name in PREDEFINED:
            raise Conflict(f"network with name {name} already exists: it is predefined; "
                           "choose another name")
        if (gateway or ip_range) and not subnet:
            raise InvalidArgument("--gateway and --ip-range need --subnet; give the subnet too")
        mtu, ipv6 = _driver_options(options or {}, ipv6)
        if (subnet6 or gateway6) and not ipv6:
            raise InvalidArgument("an IPv6 subnet needs an IPv6 network: add --ipv6")
        if gateway6 and not subnet6:
            raise InvalidArgument("an IPv6 --gateway needs its --subnet; give the subnet too")
        net = ipam.parse_subnet(subnet) if subnet else None
        net6 = ipam6.parse_subnet6(subnet6) if subnet6 else None
        if ipv6:
            ipam6.check_host()
        store = self.store
        with store.lock():
            if ipam.load(store, name):
                raise Conflict(f"network with name {name} already exists; choose another name "
                               "or remove it first")
            with ipam.host_lock():
                if net is None:
                    net = ipam.pick_subnet(store)
                else:
                    clash = ipam.conflict(store, net)
                    if clash:
                        raise Conflict(f"subnet {net} overlaps {clash}; choose another with --subnet")
                rec = ipam.new_record(name, net, gateway, ip_range, internal, labels,
                                      ipam.bridge_for(store, store.paths), mtu)
                rec.network.options = dict(options or {})
                if ipv6:
                    records = ipam.load_all(store)
                    if net6 is None:
                        net6 = ipam6.pick_subnet6(records)
                    else:
                        clash = ipam6.conflict6(records, net6)
                        if clash:
                            raise Conflict(f"subnet {net6} overlaps {clash}; choose another "
                                           "with --subnet")
                    ipam6.check_fits(net6, net)
                    rec.network.ipv6, rec.network.subnet6 = True, str(net6)
                    rec.network.gateway6 = ipam6.gateway6(net6, net, rec.network.gateway, gateway6)
                ipam.save(store, rec)
                try:
                    bridge.create(rec.network)
                except BaseException:
                    ipam.delete(store, name)
                    raise
            try:
                lifecycle.sync_rules(store)
            except BaseException:
                bridge.remove(rec.network.bridge)
                ipam.delete(store, name)
                lifecycle.sync_rules(store)
                raise
        _event(self, "create", rec.network.id, name=name, type="bridge")
        return rec.network.to_model()

    @in_netns
    def remove_network(self, ref: str) -> None:
        """Remove a user network: its bridge, its rules, its record. Refused while containers
        are attached (named in the message)."""
        from . import bridge, ipam, lifecycle
        if ref in PREDEFINED:
            raise Conflict(f"{ref} is a pre-defined network and cannot be removed")
        store = self.store
        with store.lock():
            if ipam.read(store, ref)[1]:
                self._remove_damaged(ref)
                return
            rec = ipam.find(store, ref)
            self._drop_stale(rec)
            if rec.endpoints:
                names = ", ".join(sorted(ep.get("name") or cid[:12] for cid, ep in rec.endpoints.items()))
                raise Conflict(f"network {rec.network.name} is in use by container(s) {names}; "
                               "stop them or disconnect them first")
            bridge.remove(rec.network.bridge)
            ipam.delete(store, rec.network.name)
            lifecycle.sync_rules(store)
        _event(self, "destroy", rec.network.id, name=rec.network.name, type="bridge")

    def _remove_damaged(self, name: str) -> None:
        """``network rm`` of a network whose record can't be read: its bridge (as far as the
        host and its containers' states tell, network/repair.py), its record, its rules."""
        from . import bridge, ipam, lifecycle, repair
        found = repair.evidence(self.store, name)
        if found.bridge:
            bridge.remove(found.bridge)
        ipam.delete(self.store, name)
        lifecycle.sync_rules(self.store)
        _event(self, "destroy", found.id, name=name, type="bridge")

    @in_netns
    def prune_networks(self) -> list[str]:
        """Remove every user network no container is attached to; their names."""
        from . import ipam, lifecycle
        try:
            lifecycle.reap(self.store)   # the default network's bridge, if no container uses it
        except Conflict:
            pass   # its record is damaged: system check --repair
        removed = []
        for rec in ipam.load_all(self.store):
            if rec.network.name in PREDEFINED:
                continue
            try:
                self.remove_network(rec.network.name)
                removed.append(rec.network.name)
            except (Conflict, NotFound):
                pass
        return removed

    def _drop_stale(self, rec) -> None:
        """Release the endpoints of containers that are gone (removed, or whose process and
        monitor were killed without a detach), so they do not hold a network forever."""
        from . import ipam, repair
        repair.drop_stale(self.store, only=rec.network.name)
        fresh = ipam.load(self.store, rec.network.name)
        rec.endpoints, rec.network = fresh.endpoints, fresh.network

    # --- containers on networks -------------------------------------------------------------
    def _container_for_network(self, ref: str):
        return self.container(ref)

    @in_netns
    def connect(self, network: str, container: str, ip: str | None = None,
                aliases=()) -> None:
        """Connect a container to a network: now if it runs, at its next start if not."""
        from . import endpoints, ipam, repair
        from .hosts import refresh_hosts
        from .inspect import docker_endpoint
        from ..runtime.names import check_alias
        if isinstance(aliases, str) or not all(isinstance(a, str) for a in aliases):
            raise InvalidArgument("network aliases are a list of names")
        for alias in aliases:
            check_alias(alias)
        c = self._container_for_network(container)
        mode = c.config.network_mode or "bridge"
        if mode in ("host", "none") or mode.startswith("container:"):
            raise Conflict(f"container {c.name} uses network mode {mode} and cannot be "
                           "connected to other networks")
        store = self.store
        with store.lock():
            rec = self._network_record(network)
            if rec.network.driver != "bridge":
                raise Conflict(f"containers cannot be connected to the {rec.network.name} network; "
                               "run them with --network host or none instead")
            name = rec.network.name
            if c.running and c.state.pid:
                # an endpoint a killed connect left without its veth is made again below
                repair.drop_stale(store, only=name, idle_ok=False)
                rec = ipam.load(store, name) or rec
            joined = {n for n, _, _ in endpoints.wanted_networks(store, c)}
            if name in joined and (not c.running or c.id in rec.endpoints):
                raise Conflict(f"container {c.name} is already connected to network {name}")
            if ip:
                import copy
                ipam.allocate(copy.deepcopy(rec), c.id, ip)  # refuse a bad --ip before any change
            # the intent first: killed from here on, its next start (or connect) finishes it
            was_member = c.id in rec.members
            rec.members[c.id] = {"aliases": list(aliases), "ip": ip or ""}
            ipam.save(store, rec)
            if c.running and c.state.pid:
                used = {int(ep["ifname"][3:]) for ep in endpoints._own(store, c.id)}
                n = next(i for i in range(len(used) + 1) if i not in used)
                try:
                    ep = endpoints._join(store, rec, c, c.state.pid, n, list(aliases), ip or "",
                                         default_route=not any(e.get("default_route")
                                                               for e in endpoints._own(store, c.id)))
                except BaseException:
                    endpoints._detach_locked(store, c.id, only=name)
                    if not was_member:
                        rec = ipam.load(store, name) or rec
                        rec.members.pop(c.id, None)
                        ipam.save(store, rec)
                    raise
                _set_state_network(store, c.id, name,
                                   docker_endpoint(rec, ep, requested_ip=ip or "", cid=c.id))
                refresh_hosts(store, {name, *(r.network.name for r in ipam.load_all(store)
                                              if c.id in r.endpoints)})
        _event(self, "connect", rec.network.id, name=name, type="bridge", container=c.id)

    @in_netns
    def disconnect(self, network: str, container: str, force: bool = False) -> None:
        """Take a container off a network (its address, veth and names there go at once)."""
        from . import endpoints, ipam
        from .hosts import refresh_hosts
        store = self.store
        from ..runtime import records
        try:
            c = self._container_for_network(container)
            cid, cname = c.id, c.name
        except NotFound:
            if not force:
                raise
            c, cid, cname = None, container, container
        with store.lock():
            rec = self._network_record(network)
            name = rec.network.name
            # a network its config names (--network, create's EndpointsConfig), even before
            # its first start, as well as one it joined by `network connect`
            declared = c is not None and name in {
                n for n, _, _ in endpoints.wanted_networks(store, c)} and cid not in rec.members
            if cid not in rec.endpoints and cid not in rec.members and not declared:
                raise Conflict(f"container {cname} is not connected to network {name}")
            # the intent first: killed from here on, it is off the network from its next start
            # on, and the next disconnect finishes it
            if declared:
                records.update_raw(store, cid, lambda raw: raw.__setitem__(
                    "left_networks", [*(raw.get("left_networks") or []), name]))
            if rec.members.pop(cid, None) is not None:
                ipam.save(store, rec)
            changed = endpoints._detach_locked(store, cid, only=name)
            rec = ipam.load(store, name) or rec
            _set_state_network(store, cid, name, None)
            # the container's own hosts file too, through the networks it is still on
            refresh_hosts(store, changed | {r.network.name for r in ipam.load_all(store)
                                            if cid in r.endpoints})
        _event(self, "disconnect", rec.network.id, name=name, type="bridge", container=cid)

    def port(self, ref: str) -> list[Port]:
        """The container's published ports as bound (``berth port``)."""
        from . import ipam
        c = self._container_for_network(ref)
        from ..paths import rootless
        if rootless() and c.running:    # the host's side: the forwarder's, not the records'
            return list(c.state.ports)
        out = []
        for rec in ipam.load_all(self.store):
            ep = rec.endpoints.get(c.id)
            if ep:
                out += [Port.from_dict(p) for p in ep.get("ports") or []]
        return out or ([] if not c.running else list(c.state.ports))


MTU_OPTION = "com.docker.network.driver.mtu"
IPV6_OPTION = "com.docker.network.enable_ipv6"


def _driver_options(options: dict[str, str], ipv6: bool) -> tuple[int, bool]:
    """(MTU, IPv6) from ``network create -o`` options. Options of Docker's bridge driver that
    berth doesn't honour are refused by name; others are kept and shown, as Docker's bridge
    driver ignores options it doesn't know."""
    from ..runtime.names import shown
    mtu = 1500
    for key, value in options.items():
        if not isinstance(key, str) or not isinstance(value, str):
            raise InvalidArgument("network options are strings: give KEY=VALUE")
        if key == MTU_OPTION:
            if not value.isdigit() or not 68 <= int(value) <= 65535:
                raise InvalidArgument(f"invalid MTU {shown(value)}: give a number from 68 "
                                      "to 65535")
            mtu = int(value)
        elif key == IPV6_OPTION:
            if value.lower() not in ("true", "false", "1", "0"):
                raise InvalidArgument(f"invalid value {shown(value)} for {key}: give true or false")
            ipv6 = ipv6 or value.lower() in ("true", "1")
        elif key.startswith("com.docker.network."):
            raise InvalidArgument(f"network option {shown(key)} is not supported by berth (it "
                                  f"honours {MTU_OPTION} and {IPV6_OPTION}); remove it")
    return mtu, ipv6


def _event(engine, action: str, nid: str, **attributes: str) -> None:
    # Docker's network events carry a "type" attribute, which Engine.emit's signature can't take.
    from ..events import emit
    emit(engine.paths, "network", action, nid, attributes)


def _pseudo(name: str) -> Network:
    from .ipam import PSEUDO
    # Stable ids, so scripts that saved them keep working.
    import hashlib
    return Network(name=name, id=hashlib.sha256(f"berth-{name}".encode()).hexdigest(),
                   driver=PSEUDO[name])


def _set_state_network(store, cid: str, name: str, endpoint: dict | None) -> None:
    """Record (or drop) one network in the container's state.json, under the runtime's lock on
    that record so that the monitor's own changes are not lost."""
    from ..runtime import process
    cdir = store.paths.container_dir(cid)
    if not os.path.exists(os.path.join(cdir, process.STATE)):
        return
    with process.container_lock(cdir):
        state = process.read_state(cdir)
        nets = dict(state.get("networks") or {})
        if endpoint is None:
            nets.pop(name, None)
        else:
            nets[name] = endpoint
        state["networks"] = nets
        process.write_json(os.path.join(cdir, process.STATE), state)
