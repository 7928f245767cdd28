"""The user's long-lived holders: sleeping processes that keep a namespace alive (``berth-pause``
for the user namespace, ``berth-netns`` for the network one), found through pid files that
also record their start time (a reused pid is not the holder)."""

from __future__ import annotations

import os

from ..errors import HostError


def alive(pidfile: str) -> int:
    """The pid in ``pidfile`` when that process still runs (same start time), else 0."""
    from ..runtime.process import start_time
    try:
        with open(pidfile) as f:
            pid, start = (int(x) for x in f.read().split())
    except (OSError, ValueError):
        return 0
    return pid if pid > 0 and start_time(pid) == start else 0


def adopt(name: str, pidfile: str) -> int:
    """A holder named ``name`` of this user's that another run directory recorded (a command
    run with another XDG_RUNTIME_DIR, or none, keeps its pid files elsewhere): recorded in
    ``pidfile`` too and its pid returned, else 0. Looked for only when ``pidfile`` names no
    live holder, so once per run directory; without it each run directory made its own
    namespace, and the user's containers were split between them."""
    want = f"{name}\0infinity\0".encode()
    uid = os.getuid()
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            if os.stat(f"/proc/{entry}").st_uid != uid:
                continue
            with open(f"/proc/{entry}/cmdline", "rb") as f:
                if f.read() != want:
                    continue
            with open(f"/proc/{entry}/uid_map", "rb") as f:
                if not f.read().strip():
                    continue   # still being made: its maker records it once mapped
        except OSError:
            continue
        record(pidfile, int(entry))
        if alive(pidfile):
            return int(entry)
    return 0


def record(pidfile: str, pid: int) -> None:
    from ..runtime.process import start_time
    tmp = f"{pidfile}.{os.getpid()}.tmp"
    with open(tmp, "w") as f:
        f.write(f"{pid} {start_time(pid)}\n")
    os.rename(tmp, pidfile)


def start(name: str, flags: int, setup=None) -> int:
    """A holder named ``name`` in new namespaces ``flags`` (``setup()`` run in it first), in a
    session of its own and no child of ours; returns its pid once the namespaces exist."""
    from ..runtime import linux
    r, w = os.pipe()
    child = os.fork()
    if child == 0:  # pragma: no cover - the intermediate: forks the holder and leaves
        try:
            os.close(r)
            os.setsid()
            if os.fork() == 0:
                linux.unshare(flags)
                if setup is not None:
                    setup()
                os.write(w, b"%d\n" % os.getpid())
                null = os.open(os.devnull, os.O_RDWR)
                for n in (0, 1, 2):
                    os.dup2(null, n)
                os.closerange(3, 65536)
                default_signals()
                os.execv("/bin/sleep", [name, "infinity"])
            os._exit(0)
        except BaseException:
            os._exit(1)
    os.close(w)
    try:
        os.waitpid(child, 0)
        data = os.read(r, 32)
    finally:
        os.close(r)
    if not data:
        raise HostError(f"could not create {name}'s namespace (is user.max_user_namespaces "
                        "0, or are unprivileged user namespaces disabled?)")
    return int(data)


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
