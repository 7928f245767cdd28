"""One long-lived user namespace per user, which every berth process of that user joins.

A holder process (``berth-pause``, as podman's pause process) is made once: it unshares a user
namespace, gets the user's maps (``idmap``) and then only sleeps, keeping the namespace alive.
Each berth command joins it with one ``setns`` before it does anything else, and everything it
starts (monitors, slirp4netns, builds) inherits it. Inside, berth is uid 0 with every
capability over what the namespace owns: it unpacks layers as their owners (a layer's uid N is
subordinate id base+N-1 on disk), mounts overlays and makes the containers' other namespaces.

Why one namespace for all rather than one per container: joining costs one setns (0.13 ms
measured); making a namespace costs a fork and the two setuid helpers newuidmap and newgidmap
(8 to 36 ms measured, bench/rootless/run, on a loaded 2-core machine), which every start,
exec, cp, rm and prune of layers the user can't otherwise delete would pay. One namespace also means one owner for everything in the
user's store, so layers are shared by all containers as with root.
"""

from __future__ import annotations

import os

from ..errors import HostError
from ..paths import user_run
from . import holders

PAUSE_NAME = "berth-pause"
PIDFILE = "pause.pid"
_joined: list[str] = []


def pidfile() -> str:
    """Where the holder's pid and start time are written: the user's own run directory, not
    BERTH_RUN's (one namespace per user, whatever root a command names)."""
    return os.path.join(user_run(), PIDFILE)


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
    pid = holders.alive(pidfile())    # the pid file is replaced whole: no lock to read it
    if not pid:
        import fcntl
        lock = os.open(_lock_path(run), os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        try:
            fcntl.flock(lock, fcntl.LOCK_EX)
            pid = holders.alive(pidfile()) or holders.adopt(PAUSE_NAME, pidfile()) or \
                _make_holder(maps)
        finally:
            os.close(lock)
    _join(pid)
    _joined.append(warning)
    return warning


def _lock_path(run: str) -> str:
    """The lock held while the holder is looked for and made: one per user, whatever run
    directory a command uses (two first commands, one with XDG_RUNTIME_DIR and one without,
    made two namespaces), in the user's own ~/.config/berth; the run directory's where the
    home can't take it."""
    import pwd
    try:
        d = os.path.join(pwd.getpwuid(os.getuid()).pw_dir, ".config", "berth")
        os.makedirs(d, 0o700, exist_ok=True)
        if os.access(d, os.W_OK):
            return os.path.join(d, "pause.lock")
    except (KeyError, OSError):
        pass
    return os.path.join(run, "pause.lock")


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
    pid = holders.start(PAUSE_NAME, linux.CLONE_NEWUSER)
    try:
        maps.write(pid)
    except BaseException:
        os.kill(pid, 9)
        raise
    holders.record(pidfile(), pid)
    return pid


def stop_holders() -> list[str]:
    """End the user's holders (the network namespace's, its slirp4netns, the user namespace's),
    for ``system reset`` of the user's own run directory; what was stopped, one line each. The
    caller keeps its namespace: a namespace lives while any process is in it."""
    done = []
    for name, what in (("netns.pid", "network namespace holder"), ("slirp.pid", "slirp4netns"),
                       (PIDFILE, "user namespace holder")):
        path = os.path.join(user_run(), name)
        pid = holders.alive(path)
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
