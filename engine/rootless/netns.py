"""The user's network namespace for container networks, joined to the outside by slirp4netns.

Without root berth can't make bridges, veths or nftables rules on the host. So, as rootless
podman does, it keeps one network namespace of its own per user (held by a sleeping
``berth-netns`` process, owned by the user's namespace) and does there exactly what it does on
the host with root: the default and user networks' bridges, the containers' veths, IPAM,
masquerade and published ports in its nftables table, hosts files naming the containers of a
network. One slirp4netns process gives that namespace its way out (``tap0``, 10.0.2.100, NATed
by slirp in user space) where /dev/net/tun allows, and forward.py carries each published port
from the host to berth's DNAT inside.

``call(fn, …)`` runs berth's network code there: in a thread of its own that unshares a mount
namespace (only that thread's), joins the network namespace and mounts a sysfs of it over /sys
(the network code reads /sys/class/net), so nothing of the calling process changes, whatever
threads it has. Processes started from it (nft, the default network's reaper) inherit it.
"""

from __future__ import annotations

import os

from ..errors import HostError
from ..paths import user_run
from . import holders

HOLDER_NAME = "berth-netns"
_inside: set[int] = set()          # threads already in the namespace (calls nest)


def _file(name: str) -> str:
    return os.path.join(user_run(), name)


def outbound() -> bool:
    """Whether containers can reach outside: slirp4netns needs /dev/net/tun, which some hosts
    keep to root (mode 0600). Without it networks still join containers to each other and
    published ports still reach them (forward.py needs no tun device)."""
    return os.access("/dev/net/tun", os.R_OK | os.W_OK)


NO_OUTBOUND = ("/dev/net/tun is closed to you (ask for mode 0666, as most distributions ship "
               "it): containers' networks join them to each other and to published ports, but "
               "not to the outside")


def holder() -> int:
    """The pid of the process holding the namespace, made (with its slirp4netns, where
    /dev/net/tun allows) if needed."""
    pid = holders.alive(_file("netns.pid"))
    if pid and (holders.alive(_file("slirp.pid")) or not outbound()):
        return pid
    import fcntl
    os.makedirs(user_run(), 0o700, exist_ok=True)
    lock = os.open(_file("netns.lock"), os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    try:
        fcntl.flock(lock, fcntl.LOCK_EX)
        pid = holders.alive(_file("netns.pid"))
        if not pid:
            old = holders.alive(_file("slirp.pid"))
            if old:   # the outside of a namespace that is gone
                os.kill(old, 9)
            from ..runtime import linux
            pid = holders.start(HOLDER_NAME, linux.CLONE_NEWNET, _lo_up)
            holders.record(_file("netns.pid"), pid)
        if outbound() and not holders.alive(_file("slirp.pid")):
            holders.record(_file("slirp.pid"), _start_slirp(pid))
        return pid
    finally:
        os.close(lock)


def _lo_up() -> None:
    from ..runtime.init import bring_up_loopback
    bring_up_loopback()      # slirp4netns --configure would; it may not run


def _start_slirp(pid: int) -> int:
    """slirp4netns for the namespace of ``pid``, in its own session; returns once it is ready."""
    import subprocess
    ready_r, ready_w = os.pipe()
    log = os.open(_file("slirp.log"), os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o600)
    try:
        proc = subprocess.Popen(
            ["slirp4netns", "--configure", "--mtu=65520", "--disable-host-loopback",
             "--ready-fd", str(ready_w), str(pid), "tap0"],
            stdin=subprocess.DEVNULL, stdout=log, stderr=log, pass_fds=(ready_w,),
            start_new_session=True, cwd="/")
    except FileNotFoundError:
        raise HostError("slirp4netns is not installed: install it (Debian: apt install "
                        "slirp4netns), or use --network none or host") from None
    finally:
        os.close(ready_w)
        os.close(log)
    try:
        if os.read(ready_r, 1) != b"1":
            proc.kill()
            proc.wait()
            with open(_file("slirp.log")) as f:
                why = (f.read().strip().splitlines() or ["it exited"])[-1]
            raise HostError(f"slirp4netns failed to start: {why}")
    finally:
        os.close(ready_r)
    proc.returncode = 0   # it lives on in its own session; nothing here waits for it
    return proc.pid


def call(fn, *args, **kwargs):
    """``fn(*args, **kwargs)`` run in the user's network namespace (see the module doc)."""
    import _thread
    if _thread.get_ident() in _inside:
        return fn(*args, **kwargs)
    pid = holder()
    if "/usr/sbin" not in os.environ.get("PATH", "").split(":"):
        # nft lives in /usr/sbin, which an ordinary user's PATH often lacks
        os.environ["PATH"] = os.environ.get("PATH", "/usr/bin:/bin") + ":/usr/sbin:/sbin"
    done = _thread.allocate_lock()
    done.acquire()
    out: list = [None, None]

    from ..store import STAND_INS
    caller = _thread.get_ident()

    def run() -> None:
        me = _thread.get_ident()
        try:
            _enter(pid)
            _inside.add(me)
            STAND_INS[me] = STAND_INS.get(caller, caller)   # the caller's root locks are ours
            out[0] = fn(*args, **kwargs)
        except BaseException as e:  # noqa: BLE001 - raised again in the caller's thread
            out[1] = e
        finally:
            STAND_INS.pop(me, None)
            _inside.discard(me)
            done.release()

    _thread.start_new_thread(run, ())
    done.acquire()
    if out[1] is not None:
        raise out[1]
    return out[0]


def _enter(pid: int) -> None:
    """This thread into the namespace of ``pid``, with a sysfs of it at /sys."""
    from ..runtime import linux
    linux.unshare(linux.CLONE_NEWNS)
    linux.mount(None, "/", None, linux.MS_REC | linux.MS_PRIVATE)
    fd = os.open(f"/proc/{pid}/ns/net", os.O_RDONLY | os.O_CLOEXEC)
    try:
        linux.setns(fd, linux.CLONE_NEWNET)
    finally:
        os.close(fd)
    linux.mount("sysfs", "/sys", "sysfs", linux.MS_NOSUID | linux.MS_NODEV | linux.MS_NOEXEC)


def attach(store, container, pid: int):
    """network.attach without root: in the namespace, then the published ports forwarded from
    the host. The DNAT inside matches any local address (slirp4netns delivers to 10.0.2.100);
    the address a port was published on is slirp4netns's to listen on."""
    from ..network.endpoints import NO_NETNS_MODES, attach as attach_inside
    from .forward import listen, spawn, unforward
    mode = container.config.network_mode or ""
    if mode == "none":       # lo only, which pid 1 brings up itself
        container.state.ports = []
        return {}
    if mode in NO_NETNS_MODES or mode.startswith("container:"):
        return attach_inside(store, container, pid)      # nothing of the namespace's
    asked = container.config.ports
    inside, twins = _one_per_host_port(asked)
    container.config.ports = [_on(p, "") for p in inside]
    try:
        endpoints = call(attach_inside, store, container, pid)
    finally:
        container.config.ports = asked
    _host_addresses(inside, container.state.ports)
    for twin in twins:   # the same host port on the other family: one forward inside serves both
        same = next(b for b in container.state.ports
                    if (b.host_port, b.proto) == (twin.host_port, twin.proto))
        container.state.ports.append(_on(same, twin.host_ip))
    try:
        # a restart by the monitor attaches again without a detach: the last start's
        # forwarder still holds the ports (attach_inside drops its endpoints likewise)
        unforward(store.paths, container.id)
        if container.state.ports:
            socks = listen(container.state.ports)
            call(spawn, store.paths, container.id, socks)
    except BaseException:
        detach(store, container)
        raise
    return endpoints


def _on(port, host_ip: str):
    """A copy of ``port`` published on ``host_ip``."""
    return type(port).from_dict({**port.to_dict(), "host_ip": host_ip})


def _one_per_host_port(ports) -> tuple[list, list]:
    """(ports to publish inside, their twins): inside the namespace a host port is one DNAT
    rule whatever host address it was asked on (the forwarder joins each host socket to
    127.0.0.1:<host port> there), so ``-p P:80 -p '[::]:P:80'`` (one port on both families, as
    Docker allows) is published once inside and forwarded from both host sockets. Conflict for
    a real clash (the same family's address and port twice); InvalidArgument when the two
    families would take one host port to two container ports, which one rule can't do."""
    from ..errors import Conflict, InvalidArgument
    from ..network.ports import _clash
    inside, twins, seen = [], [], set()
    for p in ports:
        if not p.host_port or p.host_port_end:
            inside.append(p)
            continue
        if _clash(seen, p.host_ip, p.host_port, p.proto, by_family=True):
            raise Conflict(f"Bind for {p.host_ip or '0.0.0.0'}:{p.host_port} failed: "
                           "port is already allocated")
        seen.add((p.host_ip, p.host_port, p.proto))
        first = next((q for q in inside if (q.host_port, q.proto) == (p.host_port, p.proto)),
                     None)
        if first is None:
            inside.append(p)
        elif first.container_port == p.container_port:
            twins.append(p)
        else:
            raise InvalidArgument(
                f"without root, host port {p.host_port}/{p.proto} on both IPv4 and IPv6 must "
                f"go to one container port (not {first.container_port} and "
                f"{p.container_port}): publish them on two host ports")
    return inside, twins


def _host_addresses(asked, bound) -> None:
    """Give each bound port the host address its -p asked for (the same container port may be
    published twice, on two addresses or host ports)."""
    left = list(asked)
    for p in bound:
        for i, a in enumerate(left):
            if (a.container_port, a.proto) == (p.container_port, p.proto) \
                    and (not a.host_port
                         or a.host_port <= p.host_port <= max(a.host_port, a.host_port_end)):
                p.host_ip = a.host_ip
                del left[i]
                break
        else:
            p.host_ip = ""


def detach(store, container) -> None:
    """network.detach without root: the host's forwards, then everything inside."""
    from ..network.endpoints import detach as detach_inside
    from .forward import unforward
    unforward(store.paths, container if isinstance(container, str) else container.id)
    if not holders.alive(_file("netns.pid")) and not isinstance(container, str) \
            and not container.state.networks:
        return    # never attached there (none, host): no namespace to make for it
    call(detach_inside, store, container)
