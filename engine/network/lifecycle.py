"""Networks coming up and going down: the default network made on first use, bridges made when
a container needs them, the nftables chains kept in step, and the default network's bridge taken
down a moment after its last container left."""

from __future__ import annotations

import ipaddress
import os

from . import bridge, ipam, nat
from .ipam import DEFAULT_NETWORK, NetRecord


def default_record(store) -> NetRecord:
    """The default network's record, made (with a free subnet) if this root has none yet."""
    rec = ipam.load(store, DEFAULT_NETWORK)
    if rec:
        return rec
    with ipam.host_lock():
        subnet = ipaddress.IPv4Network(ipam.DEFAULT_SUBNET)
        if ipam.conflict(store, subnet) is not None:
            subnet = ipam.pick_subnet(store)
        rec = ipam.new_record(DEFAULT_NETWORK, subnet, None, None, False, None,
                              store.paths.default_bridge)
        ipam.save(store, rec)
    return rec


def ensure_up(store, rec: NetRecord) -> bool:
    """Make sure ``rec``'s bridge exists (the default network's is made on first use and goes
    when its last container does). True when it had to be made."""
    if bridge.bridge_exists(rec.network.bridge):
        return False
    with ipam.host_lock():
        if not rec.endpoints and rec.network.name == DEFAULT_NETWORK:
            # While it was down another root (or a new host route) may have taken its subnet.
            if ipam.conflict(store, rec.net, skip=rec.network.name) is not None:
                rec.network.subnet = str(ipam.pick_subnet(store, skip=rec.network.name))
                rec.network.gateway = str(rec.net.network_address + 1)
                rec.network.allocations.clear()
                ipam.save(store, rec)
        bridge.create(rec.network)
    sync_rules(store)
    return True


def linger_seconds() -> float:
    try:
        return float(os.environ.get("BERTH_NETWORK_LINGER", "1"))
    except ValueError:
        return 1.0


def linger(store, rec: NetRecord) -> None:
    """The default network's last container has left (``rec.idle`` says when): take its bridge
    and rules down once it has been idle ``BERTH_NETWORK_LINGER`` seconds (default 1; 0 means
    at once).

    The default network's bridge lives only while containers use it, so a root with no
    containers leaves nothing of itself in ``ip link`` or the ruleset. Taking a bridge down
    costs ~30 ms of kernel RCU waits plus an nft run, and bringing it up again as much, so
    instead of paying that inside every ``run --rm``, one short-lived reaper process per root
    (``python -m engine.network.reaper``) does it once things have gone quiet.
    Called under ``store.lock()``.
    """
    grace = linger_seconds()
    if grace <= 0:
        _reap_locked(store, rec)
        return
    if _reaper_alive(rec.reaper):
        return  # it will see the new idle time and wait for it
    from ..runtime.sealed import environment, python_command
    env = environment(BERTH_ROOT=store.paths.root, BERTH_RUN=store.paths.run,
                      BERTH_NETWORK_LINGER=str(grace))
    try:
        _spawn_detached(["setsid", "-f", *python_command("engine.network.reaper")], env)
    except OSError:
        _reap_locked(store, rec)


def _spawn_detached(argv: list[str], env: dict[str, str]) -> None:
    """Run ``argv`` (``setsid -f …``: it returns at once and leaves nothing to reap, wherever
    detach is called from) with /dev/null as stdio and wait for it. ``argv[0]`` is found
    through the sealed environment's PATH, which has no relative entries. posix_spawn, not
    subprocess: importing that costs a `run --rm`'s teardown 5 ms before its exit is told."""
    import errno
    import fcntl
    exe = next((p for p in (os.path.join(d, argv[0]) for d in env["PATH"].split(":"))
                if os.access(p, os.X_OK)), None)
    if exe is None:
        raise OSError(errno.ENOENT, f"{argv[0]} not found in {env['PATH']}")
    null = os.open(os.devnull, os.O_RDWR | os.O_CLOEXEC)
    try:
        high = fcntl.fcntl(null, fcntl.F_DUPFD_CLOEXEC, 10)   # so no dup2 below is a no-op
        try:
            pid = os.posix_spawn(exe, argv, env, file_actions=[
                (os.POSIX_SPAWN_DUP2, high, 0), (os.POSIX_SPAWN_DUP2, high, 1),
                (os.POSIX_SPAWN_DUP2, high, 2)])
        finally:
            os.close(high)
    finally:
        os.close(null)
    try:
        _, status = os.waitpid(pid, 0)
    except ChildProcessError:   # reaped by a child watcher of the caller's (the dashboard)
        return
    if status != 0:
        raise OSError(errno.ECHILD, f"{argv[0]} failed ({status})")


def _reaper_alive(reaper: dict[str, int]) -> bool:
    from ..runtime.process import start_time
    pid = reaper.get("pid") or 0
    return bool(pid) and start_time(pid) == reaper.get("start")


def reap(store, wait: bool = False) -> bool:
    """Take the default network's bridge and rules down if no container uses it. With
    ``wait`` (the reaper), first wait until it has been idle for the linger time, and give up
    as soon as a container joins it. True when it was taken down."""
    import time
    from ..runtime.process import start_time
    me = {"pid": os.getpid(), "start": start_time(os.getpid())}
    grace = linger_seconds()
    while True:
        with store.lock():
            rec = ipam.load(store, DEFAULT_NETWORK)
            if rec is None or rec.endpoints or (wait and not rec.idle):
                if rec is not None and rec.reaper == me:
                    rec.reaper = {}
                    ipam.save(store, rec)
                return False
            left = rec.idle + grace - time.time() if wait else 0
            if left <= 0:
                return _reap_locked(store, rec)
            if rec.reaper != me:
                rec.reaper = me
                ipam.save(store, rec)
        time.sleep(left)


def _reap_locked(store, rec: NetRecord) -> bool:
    rec.idle, rec.reaper = 0.0, {}
    ipam.save(store, rec)
    if not bridge.bridge_exists(rec.network.bridge):
        return False
    bridge.remove(rec.network.bridge)
    sync_rules(store)
    return True


def live_networks(store) -> list:
    return [r.network for r in ipam.load_all(store) if bridge.bridge_exists(r.network.bridge)]


def sync_rules(store) -> None:
    nat.sync(store.paths, live_networks(store))
