"""``system check`` of networks and of what berth made on the host for a root (engine/check.py
runs these): damaged network records, networks without their bridge, endpoints and address
leases that hold nothing, bridges, veths and nftables elements no record accounts for, and
processes, cgroups, mounts and run directories whose container is gone.
"""

from __future__ import annotations

import os

from .check import finding, settled
from .rootless import in_netns

TYPE_CHECKING = False
if TYPE_CHECKING:
    from .models import Finding

STARTING_GRACE = 5.0   # seconds: a monitor this young may not have taken its lock yet


# --- networks -----------------------------------------------------------------------------

@in_netns   # [rootless] the user's bridges, veths and rules are in the user's network namespace
def check_networks(store, repair: bool) -> list[Finding]:
    from .network import bridge, ipam, lifecycle, repair as nrepair
    out = []
    with store.lock():
        for fn in store.list_dir("networks"):
            if not fn.endswith(".json"):
                continue
            name = fn[:-5]
            rec, problem = ipam.read(store, name)
            if problem:
                out.append(finding("network", name, f"networks/{fn} is {problem}",
                                    "write its record again from its containers' states and "
                                    "its bridge (labels and IP range are lost)", repair,
                                    lambda n=name: nrepair.rebuild(store, n)))
        for net, cid, why in _stale(store):
            out.append(finding("lease", f"{net}:{cid[:12]}",
                                f"an endpoint that holds nothing real: {why}",
                                "release its address, veth and published ports", repair,
                                lambda n=net: nrepair.drop_stale(store, only=n)))
        for rec in ipam.load_all(store):
            name = rec.network.name
            for ip, holder in list(rec.network.allocations.items()):
                if holder not in rec.endpoints:
                    out.append(finding("lease", f"{name}:{ip}",
                                        f"leased to container {holder[:12]}, which does not "
                                        "hold it", "release the address", repair,
                                        lambda n=name, i=ip: _release_lease(store, n, i)))
            wants_bridge = name != ipam.DEFAULT_NETWORK or rec.endpoints
            if wants_bridge and not bridge.bridge_exists(rec.network.bridge):
                out.append(finding("network", name,
                                    f"its bridge {rec.network.bridge} is missing",
                                    "create the bridge and its rules", repair,
                                    lambda r=rec: (bridge.create(r.network),
                                                   lifecycle.sync_rules(store))))
        # a damaged record's bridge and ports are accounted for only once it is rebuilt
        damaged = any(ipam.read(store, fn[:-5])[1] for fn in store.list_dir("networks")
                      if fn.endswith(".json"))
        out += settled(_links, store, repair, damaged)
        out += _nft(store, repair, damaged)
    return out


def _stale(store) -> list[tuple[str, str, str]]:
    """Endpoints that hold nothing real, but those of a container whose monitor is letting go
    of them (it holds ``.monitor``) or that a berth is starting or removing."""
    from .network import ipam, repair as nrepair
    return [(rec.network.name, cid, why) for rec in ipam.load_all(store)
            for cid, ep in rec.endpoints.items() for why in [nrepair.stale(store, cid, ep)]
            if why and not _attended(store, cid)]


def _attended(store, cid: str) -> bool:
    """Whether a live process looks after the container ``cid`` right now: its monitor (or
    someone releasing what a dead one left) holds ``.monitor``, or a berth starting, removing
    or updating it holds ``.start``."""
    from .check import busy
    from .runtime import process
    d = store.paths.container_dir(cid)
    return process.monitor_lock(d)[0] == "held" or busy(d)


def _release_lease(store, name: str, ip: str) -> None:
    from .network import ipam
    rec = ipam.load(store, name)
    if rec is not None and rec.network.allocations.get(ip) not in rec.endpoints:
        rec.network.allocations.pop(ip, None)
        ipam.save(store, rec)


def _links(store, repair: bool, damaged: bool) -> list[Finding]:
    """Bridges and veths named as this root names its own that no record accounts for (while
    a network record is damaged, not the bridges no record claims, nor what hangs on them)."""
    from .network import bridge, ipam, repair as nrepair
    recs = ipam.load_all(store)
    claimed = {r.network.bridge for r in recs}
    in_use = {ep.get("veth") for r in recs for ep in r.endpoints.values()}
    bridges, veths = nrepair.host_links(store.paths)
    unclaimed = {b for b in bridges if b not in claimed}
    out = []
    for name in sorted(unclaimed) if not damaged else []:
        out.append(finding("veth", name, "a bridge of this root that no network record has",
                            "delete it", repair, lambda n=name: bridge.remove(n)))
    for name in veths:
        if name not in in_use and not (damaged and nrepair._master(name) in unclaimed):
            out.append(finding("veth", name, "a veth of this root that no container's "
                                "endpoint has", "delete it", repair,
                                lambda n=name: _delete_link(n)))
    return out


def _delete_link(name: str) -> None:
    from .network.netlink import Netlink
    with Netlink() as nl:
        nl.delete_link(name)


def _nft(store, repair: bool, damaged: bool) -> list[Finding]:
    """Published-port elements in this root's nftables table that no endpoint has, and those
    endpoints have that the table lacks; a table with no network up. (While a network record
    is damaged, only elements leading into the readable networks are judged.)"""
    import ipaddress
    from .network import ipam, lifecycle, nat, repair as nrepair
    have = nrepair.nft_elements(store.paths)
    live = lifecycle.live_networks(store)
    out = []
    if have is None:
        if live:
            out.append(finding("nft", store.paths.nft_table, "the nftables table is missing",
                                "create it with its rules and published ports", repair,
                                lambda: _republish(store)))
        return out
    if not live:
        if not damaged:
            out.append(finding("nft", store.paths.nft_table, "an nftables table with no "
                                "network of this root up", "delete it", repair,
                                lambda: lifecycle.sync_rules(store)))
        return out
    want = nrepair.expected_elements(store)
    if damaged:
        nets = [r.net for r in ipam.load_all(store)]
        have = {e for e in have if any(ipaddress.IPv4Address(e[3]) in n for n in nets)}
    for e in sorted(have - want):
        out.append(finding("nft", _elem(e), "a published port no container has",
                            "delete the element", repair,
                            lambda e=e: nat.unpublish(store.paths, [e])))
    for e in sorted(want - have):
        out.append(finding("nft", _elem(e), "a container's published port is missing from "
                            "the table", "add the element", repair,
                            lambda e=e: nat.publish(store.paths, [e])))
    return out


def _republish(store) -> None:
    from .network import lifecycle, nat, repair as nrepair
    lifecycle.sync_rules(store)
    nat.publish(store.paths, sorted(nrepair.expected_elements(store)))


def _elem(e: tuple) -> str:
    proto, host_ip, host_port, ip, port = e
    return f"{host_ip or '0.0.0.0'}:{host_port}->{ip}:{port}/{proto}"


# --- processes, cgroups, mounts, run directories ------------------------------------------

def check_host(store, repair: bool) -> list[Finding]:
    out = []
    out += _orphan_monitors(store, repair)
    out += settled(_orphan_cgroups, store, repair)
    out += _orphan_mounts(store, repair)
    out += _orphan_run_dirs(store, repair)
    return out


def _containers(store) -> set[str]:
    from .runtime import records
    return {cid for cid in records.ids(store) if os.path.isdir(store.paths.container_dir(cid))}


def known_monitors(store) -> set[int]:
    """The live monitors the root's containers name."""
    from .runtime import records
    from .runtime.release import monitors_of
    return {pid for cid in records.ids(store)
            for pid in monitors_of(store.paths.container_dir(cid))}


def root_processes(root: str) -> dict[int, str]:
    """pid -> module of every monitor and network reaper started for ``root``: a monitor by its
    marks (runtime/monitor_fork.py is_monitor: one forked from the CLI has the CLI's command
    line and environment), a reaper, or a monitor whose interpreter is still starting, by its
    environment and command line."""
    from .runtime.monitor_fork import is_monitor
    out = {}
    want = f"BERTH_ROOT={root}".encode()
    for p in os.listdir("/proc"):
        if not p.isdigit() or int(p) == os.getpid():
            continue
        if is_monitor(int(p), root):
            out[int(p)] = "engine.runtime.monitor"
            continue
        try:
            with open(f"/proc/{p}/environ", "rb") as f:
                env = f.read().split(b"\0")
            with open(f"/proc/{p}/cmdline", "rb") as f:
                argv = f.read().split(b"\0")
        except OSError:
            continue
        if want not in env:
            continue
        for module in ("engine.runtime.monitor", "engine.network.reaper"):
            if module.encode() in argv:
                out[int(p)] = module
    return out


def _age(pid: int) -> float:
    from .runtime.process import start_time
    try:
        with open("/proc/uptime") as f:
            uptime = float(f.read().split()[0])
    except OSError:
        return 0.0
    return uptime - start_time(pid) / os.sysconf("SC_CLK_TCK")


def _orphan_monitors(store, repair: bool) -> list[Finding]:
    known = known_monitors(store)
    out = []
    for pid, module in sorted(root_processes(store.root).items()):
        if module != "engine.runtime.monitor" or pid in known or _age(pid) < STARTING_GRACE \
                or not _serves_a_container(store, pid):
            continue
        out.append(finding("process", str(pid), "a monitor of this root whose container is "
                            "gone or does not know it", "kill it", repair,
                            lambda p=pid: _kill(p)))
    return out


def _serves_a_container(store, pid: int) -> bool:
    """Whether monitor ``pid`` has a container: its pid 1 lives, or it holds a ``.monitor``
    that is not being removed. One that has neither waits for the container its launcher
    (a start) will name, or is finishing a --rm removal: either exits by itself."""
    from .runtime.process import _child_of
    if _child_of(pid):
        return True
    try:
        fds = os.listdir(f"/proc/{pid}/fd")
    except OSError:
        return False
    for fd in fds:
        try:
            target = os.readlink(f"/proc/{pid}/fd/{fd}")
        except OSError:
            continue
        if target.endswith("/.monitor"):
            return ".tmp." not in os.path.basename(os.path.dirname(target))
    return False


def _kill(pid: int) -> None:
    from .runtime.release import wait_gone
    try:
        os.kill(pid, 9)
    except ProcessLookupError:
        return
    wait_gone(pid)


def cgroup_children(store) -> list[str]:
    """Container ids with a cgroup under this root's cgroup parent."""
    from .runtime import cgroups
    cg = cgroups.detect(store.paths)
    if cg.version == 0:   # [rootless] no cgroups at all
        return []
    parent = os.path.dirname(cg.path("x"))
    try:
        return sorted(n for n in os.listdir(parent) if os.path.isdir(os.path.join(parent, n)))
    except FileNotFoundError:
        return []


def _orphan_cgroups(store, repair: bool) -> list[Finding]:
    from .runtime import cgroups, process
    cg = cgroups.detect(store.paths)
    children = cgroup_children(store)   # first, as _orphan_run_dirs lists its directories
    have = _containers(store)
    out = []
    for cid in children:
        if not os.path.isdir(cg.path(cid)):
            continue   # removed since the listing, with or before its container
        d = store.paths.container_dir(cid)
        if cid in have:
            state = process.read_state(d)
            if (state.get("status") in process.RUNNING or _attended(store, cid)
                    or process.needs_release(d, state)):
                continue   # its own, one a start is making, or the container check's
        pids = cg.pids(cid)
        problem = ("a cgroup whose container is gone" if cid not in have
                   else "a cgroup of a container that is not running")
        if pids:
            problem += f", with {len(pids)} process{'es' if len(pids) > 1 else ''} in it"
        out.append(finding("cgroup", f"{store.paths.cgroup_parent}/{cid[:12]}", problem,
                            "kill what is in it and remove it", repair,
                            lambda c=cid: (cg.kill_all(c), cg.remove(c))))
    return out


def _orphan_mounts(store, repair: bool) -> list[Finding]:
    """Mounts below the root or the run directory that nothing running needs: anything below
    a container's directory or the run directory (containers mount in their own namespace),
    device volumes no running container uses."""
    from .volumes import store as vstore
    # the mounts first, then who uses them, then the mounts again: a volume a start mounts
    # or a stop unmounts meanwhile is no leftover
    def points() -> list[str]:
        return list(dict.fromkeys(p for base in (store.root, store.paths.run)
                                  for p in vstore.mounts_under(base)))
    before = points()
    running_users = {name for name, users in vstore.volume_users(store).items()
                     if any(r or _attended(store, cid) for cid, r in users)}
    # what a container binds from the host (a Kubernetes pod's tmpfs volumes, which its node
    # agent unmounts as it removes the pod) is its own for as long as the container is there
    bound = {os.path.realpath(m.source) for cid in vstore.container_ids(store)
             for m in vstore.container_mounts(store, cid) if m.type == "bind" and m.source}
    still = set(points())
    out = []
    for point in before:
        rel = os.path.relpath(point, store.paths.volume_dir("."))
        name = rel.split("/")[0] if not rel.startswith("..") else ""
        if point not in still or point in bound \
                or (name and rel == f"{name}/_data" and name in running_users):
            continue
        out.append(finding("mount", point, "a mount of this root that nothing running uses",
                            "unmount it", repair, lambda p=point: vstore.unmount_all(p)))
    return out


def _orphan_run_dirs(store, repair: bool) -> list[Finding]:
    """Run directories whose container is gone. A container's directory is made before its
    run directory and removed after it (runtime/release.py, monitor_end.py), so the run
    directories are listed first and the containers then, and a directory is judged only if
    it is still there: a container a berth creates or removes meanwhile is no leftover."""
    import shutil
    base = os.path.join(store.paths.run, "c")
    try:
        names = sorted(os.listdir(base))
    except FileNotFoundError:
        return []
    have = _containers(store)
    out = []
    for cid in names:
        path = os.path.join(base, cid)
        # removed since the listing: its container went after it
        if cid not in have and os.path.isdir(path):
            out.append(finding("record", path, "a run directory whose container is gone",
                                "delete it", repair,
                                lambda p=path: shutil.rmtree(p, ignore_errors=True)))
    return out
