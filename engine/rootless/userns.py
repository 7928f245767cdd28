"""One long-lived user namespace per user, which every berth process of that user joins.

A holder process (``berth-pause``, as podman's pause process) is made once: it unshares a user
namespace, gets the user's maps (``idmap``) and then only sleeps, keeping the namespace alive.
Each berth command joins it with one ``setns`` before it does anything else, and everything it
starts (monitors, slirp4netns, builds) inherits it. Inside, berth is uid 0 with every
capability over what the namespace owns: it unpacks layers as their owners (a layer's uid N is
subordinate id base+N-1 on disk), mounts overlays and makes the containers' other namespaces.

Why one namespace for all rather than one per container: joining costs one setns (~0.05 ms);
making a namespace costs a fork and the two setuid helpers newuidmap and newgidmap (~8-13 ms,
bench/rootless/ns_latency.py), which every start, exec, cp, rm and prune of layers the user
can't otherwise delete would pay. One namespace also means one owner for everything in the
user's store, so layers are shared by all containers as with root.
"""

from __future__ import annotations

import os

from ..errors import HostError
from ..paths import user_run

PAUSE_NAME = "berth-pause"
PIDFILE = "pause.pid"
_joined: list[str] = []


def pidfile() -> str:
    """Where the holder's pid and start time are written: the user's own run directory, not
    BERTH_RUN's (one namespace per user, whatever root a command names)."""
    return os.path.join(user_run(), PIDFILE)


def _holder() -> int:
    """The live holder's pid, or 0."""
    from ..runtime.process import start_time
    try:
        with open(pidfile()) as f:
            pid, start = (int(x) for x in f.read().split())
    except (OSError, ValueError):
        return 0
    return pid if pid > 0 and start_time(pid) == start else 0


def enter() -> str:
    """Join the user's namespace, making it first when there is none. Call before the process
    starts a thread (the kernel lets only a single-threaded process change user namespace).
    Returns the warning to show when the user has no subordinate ids, else ""."""
    from .idmap import NO_RANGE_WARNING, IdMaps
    if os.geteuid() == 0:
        return _joined[0] if _joined else ""
    maps = IdMaps.for_current_user()
    warning = "" if maps.full else NO_RANGE_WARNING.format(user=maps.user)
    run = user_run()
    os.environ["BERTH_USER_RUN"] = run     # for the monitors, forwarders and reapers it starts
    os.makedirs(run, 0o700, exist_ok=True)
    import fcntl
    lock = os.open(os.path.join(run, "pause.lock"), os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    try:
        fcntl.flock(lock, fcntl.LOCK_EX)
        pid = _holder() or _make_holder(maps)
        _join(pid)
    finally:
        os.close(lock)
    _joined.append(warning)
    return warning


def default_signals() -> None:
    """Every signal back to its default action before a holder execs: ignored ones (the
    monitor ignores SIGTERM, Python SIGPIPE) would stay ignored across exec, and the holder
    must end at a plain kill."""
    import signal
    for n in range(1, signal.NSIG):
        try:
            signal.signal(n, signal.SIG_DFL)
        except (OSError, ValueError):
            pass
    signal.pthread_sigmask(signal.SIG_SETMASK, [])


def _join(pid: int) -> None:
    from ..runtime import linux
    if len(os.listdir("/proc/self/task")) > 1:
        raise HostError("berth must join its user namespace before it starts threads "
                        "(construct the Engine first)")
    cwd = os.getcwd()
    fd = os.open(f"/proc/{pid}/ns/user", os.O_RDONLY | os.O_CLOEXEC)
    try:
        linux.setns(fd, linux.CLONE_NEWUSER)
    except OSError as e:
        raise HostError(f"cannot join berth's user namespace (holder pid {pid}): {e.strerror}") from None
    finally:
        os.close(fd)
    # ids as the namespace sees them (uid 0 is the user), so files made from here are the user's
    os.setresgid(0, 0, 0)
    os.setresuid(0, 0, 0)
    os.chdir(cwd)


def _make_holder(maps) -> int:
    """Start the holder and map its namespace; returns its pid once the maps are written."""
    from ..runtime import linux
    from ..runtime.process import start_time
    pid_r, pid_w = os.pipe()
    go_r, go_w = os.pipe()
    child = os.fork()
    if child == 0:  # pragma: no cover - the intermediate: forks the holder and leaves
        try:
            os.close(pid_r)
            os.close(go_w)
            os.setsid()
            holder = os.fork()
            if holder == 0:
                linux.unshare(linux.CLONE_NEWUSER)
                os.write(pid_w, b"%d\n" % os.getpid())
                os.close(pid_w)
                os.read(go_r, 1)        # the maps are written (or the parent gave up)
                null = os.open(os.devnull, os.O_RDWR)
                for n in (0, 1, 2):
                    os.dup2(null, n)
                os.closerange(3, 65536)
                default_signals()
                os.execv("/bin/sleep", [PAUSE_NAME, "infinity"])
            os._exit(0)
        except BaseException:
            os._exit(1)
    os.close(pid_w)
    os.close(go_r)
    try:
        os.waitpid(child, 0)
        data = os.read(pid_r, 32)
        if not data:
            raise HostError("could not create a user namespace (is user.max_user_namespaces 0, "
                            "or are unprivileged user namespaces disabled?)")
        pid = int(data)
        try:
            maps.write(pid)
        except BaseException:
            os.kill(pid, 9)
            raise
        tmp = f"{pidfile()}.{os.getpid()}.tmp"
        with open(tmp, "w") as f:
            f.write(f"{pid} {start_time(pid)}\n")
        os.rename(tmp, pidfile())
        return pid
    finally:
        os.close(pid_r)
        os.close(go_w)


def stop_holders() -> list[str]:
    """End the user's holders (the network namespace's, its slirp4netns, the user namespace's),
    for ``system reset`` of the user's own run directory; what was stopped, one line each. The
    caller keeps its namespace: a namespace lives while any process is in it."""
    from .netns import _alive
    done = []
    for name, what in (("netns.pid", "network namespace holder"), ("slirp.pid", "slirp4netns"),
                       (PIDFILE, "user namespace holder")):
        path = os.path.join(user_run(), name)
        pid = _alive(path)
        if pid:
            try:
                os.kill(pid, 9)
                done.append(f"{what} (process {pid})")
            except ProcessLookupError:
                pass
        try:
            os.unlink(path)
        except FileNotFoundError:
            pass
    return done
