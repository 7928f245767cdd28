"""Network records and address management: which subnet a network gets, which address each
container gets, all persisted in ``networks/<name>.json``.

A record is the ``Network`` model plus two maps berth keeps for itself:

- ``endpoints``: container id -> what ``attach`` made (name, aliases, address, MAC, host veth,
  interface inside, published ports). ``detach`` undoes exactly that, so it needs nothing from
  the container's monitor or state.
- ``members``: container id -> {aliases, ip} for containers connected while stopped; they join
  the network when they start.
- ``idle``, ``reaper``: when the default network's last container left (0 while it has some),
  and the process that takes its bridge down once it has been idle a moment.

Every change happens under ``store.lock()``. Choosing a subnet also holds a host-wide lock
(``/run/berth-networks.lock``), because other roots choose from the same pool at the same time
and only see each other's networks once the bridges exist.
"""

from __future__ import annotations

import fcntl
import ipaddress
import os

from contextlib import contextmanager

from ..clock import now_rfc3339
from ..errors import Conflict, InvalidArgument, NotFound

DEFAULT_NETWORK = "bridge"      # as Docker names its default network
LEGACY_DEFAULT = "berth"        # what berth called it before; migrated on first use (migrate_legacy)
# What names the default network in --network, NetworkMode and the network verbs
DEFAULT_NAMES = (DEFAULT_NETWORK, "default", LEGACY_DEFAULT)
DEFAULT_SUBNET = "10.88.0.0/16"
# Where subnets come from when none is given: 10.88.0.0/16, 10.89.0.0/16, … 10.127.0.0/16.
POOL_SECOND_OCTETS = range(88, 128)


def pool() -> list[ipaddress.IPv4Network]:
    return [ipaddress.IPv4Network(f"10.{i}.0.0/16") for i in POOL_SECOND_OCTETS]
PSEUDO = {"host": "host", "none": "null"}   # Docker's predefined networks with no bridge
HOST_LOCK = "/run/berth-networks.lock"
TYPE_CHECKING = False
if TYPE_CHECKING:  # annotations only (the monitor imports this: every import costs each start)
    from typing import Any, Iterator


def network_name(name: str) -> str:
    """The record name a network reference means: the default network's for "bridge",
    "default" and the legacy "berth"; ``name`` itself otherwise."""
    return DEFAULT_NETWORK if name in DEFAULT_NAMES else name


def valid_name(name: str) -> bool:
    """A name a network can have: it names the record's file, so nothing of a path."""
    # re is imported here, not at the top: attach never needs it
    import re
    return isinstance(name, str) and bool(re.fullmatch(r"[a-zA-Z0-9][a-zA-Z0-9_.-]*", name))


def _shown(value) -> str:
    from ..runtime.names import shown
    return shown(value)


class NetworkRecord:
    """The fields of ``models.Network``, without importing the models (the monitor imports this);
    ``to_model()`` gives the model to whoever wants one."""

    FIELDS = (("name", ""), ("id", ""), ("driver", "bridge"), ("bridge", ""), ("subnet", ""),
              ("gateway", ""), ("ip_range", ""), ("internal", False), ("labels", None),
              ("created", ""), ("mtu", 1500), ("allocations", None), ("options", None),
              ("ipv6", False), ("subnet6", ""), ("gateway6", ""))
    __slots__ = tuple(name for name, _ in FIELDS)

    def __init__(self, **values: Any):
        for name, default in self.FIELDS:
            value = values.get(name, default)
            setattr(self, name, {} if value is None and default is None else value)

    def to_dict(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name, _ in self.FIELDS}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "NetworkRecord":
        return cls(**{name: data[name] for name, _ in cls.FIELDS if name in data})

    def to_model(self):
        from ..models import Network
        return Network.from_dict(self.to_dict())


class NetRecord:
    """One network as stored: the model, its live endpoints and its stopped members.

    A plain class, not a dataclass: this is imported on every container start, and a
    dataclass compiles its methods at import (~4 ms)."""

    __slots__ = ("network", "endpoints", "members", "idle", "reaper")

    def __init__(self, network: NetworkRecord, endpoints: dict[str, dict[str, Any]] | None = None,
                 members: dict[str, dict[str, Any]] | None = None, idle: float = 0.0,
                 reaper: dict[str, int] | None = None):
        self.network = network
        self.endpoints = endpoints if endpoints is not None else {}
        self.members = members if members is not None else {}
        self.idle = idle            # when the default network's last container left (0: in use)
        self.reaper = reaper if reaper is not None else {}   # pid, start of its reaper

    def to_dict(self) -> dict[str, Any]:
        return {**self.network.to_dict(), "endpoints": self.endpoints, "members": self.members,
                "idle": self.idle, "reaper": self.reaper}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "NetRecord":
        idle = data.get("idle") or 0.0
        return cls(NetworkRecord.from_dict(data), data.get("endpoints") or {}, data.get("members") or {},
                   idle if isinstance(idle, (int, float)) else 0.0, data.get("reaper") or {})

    @property
    def net(self) -> ipaddress.IPv4Network:
        return ipaddress.IPv4Network(self.network.subnet)


# --- records ------------------------------------------------------------------------------

def read(store, name: str) -> tuple[NetRecord | None, str]:
    """(the record, "") or (None, what is wrong with it); (None, "") when there is none."""
    try:
        data = store.read("networks", f"{name}.json")
    except ValueError:
        return None, "not valid JSON"
    except OSError as e:
        return None, f"can't be read ({e.strerror})"
    if data is None:
        return None, ""
    try:
        rec = NetRecord.from_dict(data)
        if rec.network.name != name:
            raise ValueError("another network's name")
        rec.net   # a subnet that parses  # noqa: B018
        if not isinstance(rec.network.allocations, dict) or not isinstance(rec.endpoints, dict):
            raise ValueError("allocations or endpoints of the wrong type")
    except Exception as e:  # noqa: BLE001 - valid JSON of the wrong shape
        return None, f"not a network record ({e})"
    return rec, ""


def load(store, name: str) -> NetRecord | None:
    """The network's record, None when there is none; Conflict (noted as damaged) when it
    can't be read."""
    if "/" in name or name.startswith("."):   # a path, not a name: no record to read
        return None
    rec, problem = read(store, name)
    if rec is None and not problem and name == DEFAULT_NETWORK and _legacy_exists(store):
        migrate_legacy(store)
        rec, problem = read(store, name)
    if problem:
        store.note_damaged("network", name, f"networks/{name}.json is {problem}")
        raise Conflict(f"network {name} has a damaged record (networks/{name}.json is "
                       f"{problem}); run 'berth system check --repair'")
    return rec


def save(store, rec: NetRecord) -> None:
    # No fsync: a record lost to a power cut describes bridges and veths that are gone too.
    store.write(rec.to_dict(), "networks", f"{rec.network.name}.json", fsync=False)


def delete(store, name: str) -> None:
    """Remove the network's record, and the temporary files of its writers that were killed
    (a `rm -f` or monitor killed while it saved the record: nobody else would ever sweep them;
    engine/temps.py judges whether their writer is gone)."""
    store.delete("networks", f"{name}.json")
    from ..temps import sweep_temp_files
    sweep_temp_files(store, "networks")


def load_all(store) -> list[NetRecord]:
    """Every network whose record can be read (the others are noted as damaged)."""
    out = []
    names = store.list_dir("networks")
    if f"{LEGACY_DEFAULT}.json" in names:
        migrate_legacy(store)
        names = store.list_dir("networks")
    for fn in names:
        if fn.endswith(".json"):
            rec, problem = read(store, fn[:-5])
            if problem:
                store.note_damaged("network", fn[:-5], f"networks/{fn} is {problem}")
            elif rec:
                out.append(rec)
    return out


def _legacy_exists(store) -> bool:
    return os.path.exists(store.path("networks", f"{LEGACY_DEFAULT}.json"))


def migrate_legacy(store) -> None:
    """Rename an older root's default network ``berth`` to ``bridge``, as Docker names it:
    the same record (id, subnet, bridge device, addresses, endpoints) under the new name, and
    the name changed in every container's state.json and config.json that carries it.

    Crash-safe in order: the new record is written first, then the containers, then the old
    record goes; killed anywhere, the next look finds ``berth.json`` still there and finishes
    (rewriting the new record from the old one, which is the same)."""
    with store.lock():
        old, problem = read(store, LEGACY_DEFAULT)
        if old is None:
            return   # gone meanwhile (another process migrated it), or damaged: left to check
        rec, _ = read(store, DEFAULT_NETWORK)
        if rec is None:
            old.network.name = DEFAULT_NETWORK
            store.write(old.to_dict(), "networks", f"{DEFAULT_NETWORK}.json")
        _rename_in_containers(store)
        delete(store, LEGACY_DEFAULT)


def _rename_in_containers(store) -> None:
    """``berth`` -> ``bridge`` in each container's state (its endpoints) and config (its
    --network), under the runtime's lock on each record."""
    from ..runtime import process
    for cid in store.list_dir("containers"):
        cdir = store.paths.container_dir(cid)
        if not os.path.exists(os.path.join(cdir, process.STATE)):
            continue
        with process.container_lock(cdir):
            state = process.read_state(cdir)
            nets = state.get("networks")
            if isinstance(nets, dict) and LEGACY_DEFAULT in nets:
                nets[DEFAULT_NETWORK] = nets.pop(LEGACY_DEFAULT)
                process.write_json(os.path.join(cdir, process.STATE), state)
            config = process.read_json(os.path.join(cdir, process.CONFIG))
            if isinstance(config, dict) and (config.get("network_mode") == LEGACY_DEFAULT
                                             or LEGACY_DEFAULT in (config.get("networks") or [])):
                if config.get("network_mode") == LEGACY_DEFAULT:
                    config["network_mode"] = DEFAULT_NETWORK
                config["networks"] = [n for n in config.get("networks") or []
                                      if n != LEGACY_DEFAULT]
                process.write_json(os.path.join(cdir, process.CONFIG), config)


def find(store, ref: str) -> NetRecord:
    """The network named ``ref``, or with the id (or unique id prefix) ``ref``."""
    rec = load(store, ref) if valid_name(ref) else None
    if rec:
        return rec
    matches = [r for r in load_all(store) if ref and r.network.id.startswith(ref)]
    if len(matches) == 1:
        return matches[0]
    if len(matches) > 1:
        raise InvalidArgument(f"network id prefix {ref} is ambiguous; give more of the id")
    raise NotFound(f"network {ref} not found")


def check_name(name: str) -> None:
    if not valid_name(name):
        raise InvalidArgument(f"invalid network name \"{_shown(name)}\": use letters, digits, "
                              "'_', '.' and '-', starting with a letter or digit")


def new_record(name: str, subnet: ipaddress.IPv4Network, gateway: str | None,
               ip_range: str | None, internal: bool, labels: dict[str, str] | None,
               bridge: str, mtu: int = 1500) -> NetRecord:
    gw = _check_gateway(subnet, gateway)
    rng = _check_range(subnet, ip_range)
    return NetRecord(NetworkRecord(name=name, id=os.urandom(32).hex(), driver="bridge", bridge=bridge,
                             subnet=str(subnet), gateway=gw, ip_range=rng, internal=internal,
                             labels=dict(labels or {}), created=now_rfc3339(), mtu=mtu))


# Ranges a bridge network must not take: its gateway on the host would answer for them, or
# route them away from where they belong (loopback, multicast, 0.0.0.0/x for "any address").
SPECIAL_RANGES = (("0.0.0.0/8", "'this network' (0.0.0.0/8)"),
                  ("127.0.0.0/8", "loopback (127.0.0.0/8)"),
                  ("169.254.0.0/16", "link-local (169.254.0.0/16)"),
                  ("224.0.0.0/4", "multicast (224.0.0.0/4)"),
                  ("240.0.0.0/4", "reserved and broadcast (240.0.0.0/4)"))


def parse_network(text: str, version: int, example: str):
    """``text`` as an IP network of ``version``; InvalidArgument naming ``example`` if not."""
    try:
        net = ipaddress.ip_network(text, strict=False)
    except (TypeError, ValueError):
        net = None
    if net is None or net.version != version:
        raise InvalidArgument(f"invalid subnet {_shown(text)}: give an IPv{version} network "
                              f"such as {example}")
    return net


def parse_subnet(text: str) -> ipaddress.IPv4Network:
    net = parse_network(text, 4, "10.90.0.0/24 (an IPv6 one goes with --ipv6)")
    if net.prefixlen > 30:
        raise InvalidArgument(f"subnet {text} is too small: give at most a /30")
    for special, what in SPECIAL_RANGES:
        if net.overlaps(ipaddress.IPv4Network(special)):
            raise InvalidArgument(f"invalid subnet {text}: it overlaps the {what} range, which "
                                  "a network can't use; give a private range such as "
                                  "10.90.0.0/24 or 192.168.90.0/24")
    return net


def _check_gateway(subnet: ipaddress.IPv4Network, gateway: str | None) -> str:
    if not gateway:
        return str(subnet.network_address + 1)
    try:
        gw = ipaddress.IPv4Address(gateway)
    except (TypeError, ValueError):
        raise InvalidArgument(f"invalid gateway {_shown(gateway)}: give an IPv4 address") from None
    if gw not in subnet or gw in (subnet.network_address, subnet.broadcast_address):
        raise InvalidArgument(f"gateway {gateway} is not a host address of subnet {subnet}")
    return str(gw)


def _check_range(subnet: ipaddress.IPv4Network, ip_range: str | None) -> str:
    if not ip_range:
        return ""
    try:
        rng = ipaddress.ip_network(ip_range, strict=False)
    except (TypeError, ValueError):
        raise InvalidArgument(f"invalid ip-range {_shown(ip_range)}: give a network such as "
                              "10.90.0.128/25") from None
    if rng.version != 4 or not rng.subnet_of(subnet):
        raise InvalidArgument(f"ip-range {ip_range} is not inside subnet {subnet}")
    return str(rng)


# --- subnets ------------------------------------------------------------------------------

@contextmanager
def host_lock() -> Iterator[None]:
    """Serialise subnet choice and bridge creation between every berth root on this host."""
    from ..paths import rootless, user_run
    # [rootless] the user's networks are in a namespace of the user's own: so is the lock
    path = os.path.join(user_run(), "networks.lock") if rootless() else HOST_LOCK
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def host_routes() -> list[tuple[ipaddress.IPv4Network, str]]:
    """The host's IPv4 routes other than default routes: (destination, device name)."""
    from .netlink import Netlink
    with Netlink() as nl:
        names = {i: n for n, i in nl.links().items()}
        return [(dst, names.get(oif, "?")) for dst, oif in nl.routes()
                if dst.prefixlen > 0 and not dst.is_loopback]


def conflict(store, subnet: ipaddress.IPv4Network, skip: str = "",
             routes: list | None = None) -> str | None:
    """What ``subnet`` overlaps, said for a person ("network 'app' (10.89.0.0/16)",
    "host route 10.0.0.0/8 on eth0"), or None when it is free."""
    own_bridges = {}
    for rec in load_all(store):
        if rec.network.name == skip or not rec.network.subnet:
            continue
        own_bridges[rec.network.bridge] = rec
        if rec.net.overlaps(subnet):
            return f"network '{rec.network.name}' ({rec.network.subnet})"
    for dst, dev in (host_routes() if routes is None else routes):
        if dst.overlaps(subnet):
            if dev in own_bridges:
                continue  # our own bridge's route, already judged above by its network
            return f"host route {dst} on {dev}"
    return None


def pick_subnet(store, skip: str = "") -> ipaddress.IPv4Network:
    """The first /16 of the pool that nothing on the host or in this root uses."""
    routes = host_routes()
    nets = pool()
    for net in nets:
        if conflict(store, net, skip, routes) is None:
            return net
    raise Conflict(f"no free subnet left in berth's pool ({nets[0]} to {nets[-1]}); "
                   "remove unused networks or give one with --subnet")


def bridge_for(store, paths) -> str:
    """A bridge name of this root that no network of it uses yet (index 0 is the default's)."""
    used = {r.network.bridge for r in load_all(store)}
    i = 1
    # a bridge there without a record may be a damaged record's, still in use: not reused
    while paths.bridge_name(i) in used or os.path.exists(f"/sys/class/net/{paths.bridge_name(i)}"):
        i += 1
    return paths.bridge_name(i)


# --- addresses ----------------------------------------------------------------------------

def allocate(rec: NetRecord, cid: str, wanted: str = "") -> str:
    """Reserve an address in ``rec`` for container ``cid``: ``wanted`` (``--ip``) if given and
    free, otherwise the lowest free one of the ip-range (or subnet)."""
    net = rec.net
    gw = ipaddress.IPv4Address(rec.network.gateway)
    taken = rec.network.allocations
    if wanted:
        try:
            ip = ipaddress.IPv4Address(wanted)
        except (TypeError, ValueError):
            raise InvalidArgument(f"invalid IP address {_shown(wanted)}: give an IPv4 "
                                  "address") from None
        if ip not in net or ip in (net.network_address, net.broadcast_address):
            raise InvalidArgument(f"address {wanted} is not in network '{rec.network.name}' "
                                  f"({net}); choose one inside it")
        if ip == gw:
            raise Conflict(f"address {wanted} is the gateway of network '{rec.network.name}'; "
                           "choose another with --ip")
        holder = taken.get(str(ip))
        if holder and holder != cid:
            raise Conflict(f"address {wanted} is already in use on network '{rec.network.name}' "
                           f"by container {holder[:12]}; choose another with --ip")
        taken[str(ip)] = cid
        return str(ip)
    pool = ipaddress.IPv4Network(rec.network.ip_range) if rec.network.ip_range else net
    first = int(pool.network_address) + (1 if pool.prefixlen < 31 else 0)
    last = int(pool.broadcast_address) - (1 if pool.prefixlen < 31 else 0)
    lo, hi = int(net.network_address), int(net.broadcast_address)
    for n in range(first, last + 1):
        if n in (lo, hi, int(gw)):
            continue
        ip = str(ipaddress.IPv4Address(n))
        if ip not in taken:
            taken[ip] = cid
            return ip
    raise Conflict(f"no free address left in network '{rec.network.name}' ({pool}, "
                   f"{len(taken)} in use); remove containers from it or create a network with a "
                   "larger --subnet")


def release(rec: NetRecord, cid: str) -> list[str]:
    """Free every address ``cid`` holds in ``rec``; returns them."""
    freed = [ip for ip, holder in rec.network.allocations.items() if holder == cid]
    for ip in freed:
        del rec.network.allocations[ip]
    return freed


def mac_for(ip: str) -> str:
    """The MAC Docker derives from an address (02:42 then the four address bytes): unique
    wherever the address is, and stable so neighbours' caches stay right when it is reused."""
    return "02:42:" + ":".join(f"{b:02x}" for b in ipaddress.IPv4Address(ip).packed)
