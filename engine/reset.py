"""``berth system reset``: remove a root and everything berth made on the host for it.

Deleting a root's directory alone would leave host state behind: running monitors and their
containers, the default network's reaper (which would then find no root and exit, but the bridge
it was waiting to take down stays), cgroups, bridges and veths, the nftables table, mounts, the
run directory. Reset removes them in the order that keeps any of them from coming back:

1. the network reaper and every monitor of the root, by pid (from the records, and from the
   processes whose environment names the root: monitors whose records are gone), SIGKILLed;
   then every process in the root's cgroups (a container's pid 1 dies with its monitor anyway);
2. the cgroups, deepest first, and the root's cgroup parent;
3. every mount below the root or its run directory, deepest first;
4. the bridges of its networks and every bridge and veth named as this root names its own;
5. its nftables table;
6. its run directory, then the root itself.
"""

from __future__ import annotations

import os

from .fswalk import remove_tree
from .rootless import in_netns

SIGKILL = 9
# what berth makes at the top of a root; nothing else there is deleted (a root set by mistake
# to a directory holding other things keeps them, and the directory)
def _root_entries() -> tuple[str, ...]:
    from .images.journal import BUSY
    return (".lock", *BUSY, "blobs", "build-cache", "cache", "containers", "images", "layers",
            "networks", "tmp", "userns", "volumes")


ROOT_ENTRIES = _root_entries()


def reset(store) -> list[str]:
    """Do it (see the module doc); what was removed, one line each."""
    from .errors import InvalidArgument
    if os.path.realpath(store.root) == "/":
        raise InvalidArgument("refusing to reset the root directory /: set BERTH_ROOT to the "
                              "berth root you mean")
    done: list[str] = []
    _processes(store, done)
    _cgroups(store, done)
    _mounts(store, done)
    _links(store, done)
    _nft(store, done)
    from .paths import rootless, user_run
    if rootless() and store.paths.run == user_run():
        # [rootless] the user's own run directory goes: so do the holders it names
        from .rootless.userns import stop_holders
        done += stop_holders()
    if os.path.isdir(store.paths.run):
        remove_tree(store.paths.run, ignore_errors=True)
        done.append(f"directory {store.paths.run}")
    _remove_root(store.root, done)
    return done


def _remove_root(root: str, done: list[str]) -> None:
    try:
        names = os.listdir(root)
    except FileNotFoundError:
        return
    for name in names:
        path = os.path.join(root, name)
        if name in ROOT_ENTRIES or name.startswith(("events.jsonl", ".lock.tmp.")):
            if os.path.isdir(path) and not os.path.islink(path):
                remove_tree(path, ignore_errors=True)   # containers' trees: of any depth
            else:
                os.unlink(path)
    try:
        os.rmdir(root)
        done.append(f"directory {root}")
    except OSError:
        left = ", ".join(sorted(os.listdir(root)))
        done.append(f"directory {root} kept: it holds what berth did not make ({left})")


def _processes(store, done: list[str]) -> None:
    from .check_host import known_monitors, root_processes
    from .network import ipam
    from .runtime import process
    from .runtime.release import wait_gone
    pids: set[int] = set()
    try:
        rec = ipam.read(store, ipam.DEFAULT_NETWORK)[0]
    except Exception:  # noqa: BLE001 - whatever the record holds, the scan below finds it
        rec = None
    reaper = rec.reaper if rec is not None else {}
    if reaper.get("pid") and process.start_time(reaper["pid"]) == reaper.get("start"):
        pids.add(reaper["pid"])
    pids |= known_monitors(store)
    # the records first (they can't be fooled by an environment); then the stragglers of
    # this root whose records are gone or damaged
    for _ in range(3):
        pids |= set(root_processes(store.root))
        for pid in sorted(pids):
            try:
                os.kill(pid, SIGKILL)
                done.append(f"process {pid}")
            except ProcessLookupError:
                pass
        for pid in pids:
            wait_gone(pid)
        pids = set()
        if not root_processes(store.root):
            break
    from .runtime import cgroups
    cg = cgroups.detect(store.paths)
    from .check_host import cgroup_children
    for cid in cgroup_children(store):
        for pid in cg.pids(cid):
            done.append(f"process {pid}")
        try:
            cg.kill_all(cid)
        except OSError:
            pass


def _cgroups(store, done: list[str]) -> None:
    from .check_host import cgroup_children
    from .runtime import cgroups
    cg = cgroups.detect(store.paths)
    if cg.version == 0:   # [rootless] no cgroups at all
        return
    for cid in cgroup_children(store):
        try:
            cg.remove(cid)
            done.append(f"cgroup {store.paths.cgroup_parent}/{cid}")
        except OSError:
            pass
    parent = os.path.dirname(cg.path("x"))
    for d in {os.path.dirname(p) for p in _cgroup_dirs(cg)} | {parent}:
        try:
            os.rmdir(d)
        except OSError:
            pass


def _cgroup_dirs(cg) -> list[str]:
    mounts = getattr(cg, "mounts", None)
    if isinstance(mounts, dict):
        return [os.path.join(m, cg.parent, "x") for m in mounts.values()]
    return [cg.path("x")]


def _mounts(store, done: list[str]) -> None:
    from .runtime import linux
    from .volumes.store import mounts_under
    for _ in range(16):
        points = sorted(set(mounts_under(store.root)) | set(mounts_under(store.paths.run)),
                        key=len, reverse=True)
        if not points:
            return
        for p in points:
            try:
                linux.umount2(p, linux.MNT_DETACH)
                done.append(f"mount {p}")
            except OSError:
                pass


@in_netns   # [rootless] the user's links and rules are in the user's network namespace
def _links(store, done: list[str]) -> None:
    from .network import ipam
    from .network.netlink import Netlink
    from .network.repair import host_links
    from .runtime import records
    names = set()
    for rec in ipam.load_all(store):
        names.add(rec.network.bridge)
        names |= {ep.get("veth") for ep in rec.endpoints.values() if ep.get("veth")}
    for cid in records.ids(store):
        names |= {store.paths.veth_name(cid, n) for n in range(16)}
    bridges, veths = host_links(store.paths)
    names |= set(bridges) | set(veths)
    try:
        with Netlink() as nl:
            for name in sorted(names, key=lambda n: not n.startswith("vb")):   # veths first
                if os.path.exists(f"/sys/class/net/{name}") and nl.delete_link(name):
                    done.append(f"link {name}")
    except OSError:
        pass


@in_netns
def _nft(store, done: list[str]) -> None:
    import subprocess
    # ip6: while a network with IPv6 was up; the services table: a node agent's (kube)
    for family, table in (("ip", store.paths.nft_table), ("ip6", store.paths.nft_table),
                          ("ip", store.paths.nft_services_table)):
        try:
            p = subprocess.run(["nft", "delete", "table", family, table], capture_output=True)
        except FileNotFoundError:
            return
        if p.returncode == 0:
            done.append(f"nftables table {family} {table}")
