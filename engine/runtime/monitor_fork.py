"""A container's monitor forked from ``berth run``'s CLI at its first instruction, instead of a
fresh interpreter exec'd for it (process.spawn_monitor): the interpreter's own start (10-20 ms
of CPU, and 20-30 ms of wall time on a busy 2-core host) was the start path's longest step.

Only the CLI forks, and only there: a single-threaded process that has loaded nothing but its
launcher (so the monitor inherits ~nothing it doesn't use, and no lock another thread held).
The API service and the dashboard, threaded, keep exec'ing monitors (process.spawn_monitor).

The child becomes what the exec'd monitor would have been (sealed.py): a session of its own,
descriptors 0-2 on /dev/null and 3-5 as spawn_monitor sets them, nothing else open, the signal
dispositions and mask of a fresh interpreter, an environment built from nothing
(sealed.environment), berth's tree and the standard library alone on sys.path, the CLI's
modules forgotten. Its argv is still the CLI's, so it is told apart by MONITOR_MARK (its comm,
as ``ps`` shows it) with its working directory the root it serves (``is_monitor``); an exec'd
monitor gets the same marks once its interpreter runs.
"""

from __future__ import annotations

import os
import sys

MONITOR_MARK = "berth-monitor"   # /proc/<pid>/comm of every monitor (at most 15 bytes)


# PYTHON* variables that change nothing a root process could be led by (buffering, bytecode
# files written or not, hashing, encodings): any other (PYTHONPATH, PYTHONHOME, PYTHONWARNINGS,
# PYTHONPYCACHEPREFIX, …) may have shaped this interpreter, and the monitor is exec'd sealed
HARMLESS = frozenset(("PYTHONUNBUFFERED", "PYTHONDONTWRITEBYTECODE", "PYTHONHASHSEED",
                      "PYTHONIOENCODING", "PYTHONUTF8", "PYTHONNOUSERSITE", "PYTHONSAFEPATH",
                      "PYTHONFAULTHANDLER", "PYTHONCOERCECLOCALE"))


def can_fork() -> bool:
    """Whether this process may fork a monitor: forking is on (BERTH_MONITOR_FORK is not "0"),
    no PYTHON* variable but HARMLESS ones shaped this interpreter (or it ignored them: -I,
    -E), and it runs one thread."""
    if os.environ.get("BERTH_MONITOR_FORK", "1") == "0":
        return False
    if not (sys.flags.isolated or sys.flags.ignore_environment) \
            and any(k.startswith("PYTHON") and k not in HARMLESS for k in os.environ):
        return False
    try:
        return len(os.listdir("/proc/self/task")) == 1
    except OSError:
        return False


def mark_self(root: str) -> None:
    """Give this monitor its marks: MONITOR_MARK as its comm, ``root`` as its directory."""
    try:
        with open("/proc/self/comm", "w") as f:
            f.write(MONITOR_MARK)
    except OSError:
        pass
    try:
        os.chdir(root)
    except OSError:
        os.chdir("/")


def is_monitor(pid: int, root: str) -> bool:
    """Whether process ``pid`` is a monitor of ``root`` by its marks (see the module doc)."""
    try:
        with open(f"/proc/{pid}/comm", "rb") as f:
            if f.read().rstrip(b"\n") != MONITOR_MARK.encode():
                return False
        cwd = os.readlink(f"/proc/{pid}/cwd")
    except OSError:
        return False
    if cwd.endswith(" (deleted)"):
        cwd = cwd[:-len(" (deleted)")]
    return cwd == os.path.realpath(root)


def fork_monitor(env: dict[str, str], args: list[str], ready_fd: int, attach_fd: int | None,
                 cgroup_fd: int | None) -> int:
    """Fork the monitor (see the module doc); its first process's pid, for the caller to reap
    as spawn_monitor's. ``env``: its environment; ``args``: the monitor's argv after its id
    ("-", then --attach, --cgroup-fd, --network as spawn_monitor passes them)."""
    import fcntl
    # above the targets, so no dup2 is a no-op that would keep FD_CLOEXEC
    moved = [(fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, 10), target)
             for fd, target in ((ready_fd, 3), (attach_fd, 4), (cgroup_fd, 5)) if fd is not None]
    null = os.open(os.devnull, os.O_RDWR | os.O_CLOEXEC)
    try:
        pid = os.fork()
        if pid == 0:
            _child(env, args, moved, null)   # never returns
    finally:
        os.close(null)
        for fd, _ in moved:
            os.close(fd)
    return pid


# what the CLI had loaded when it forked and the monitor never uses
LAUNCHER = ("tui", "engine.public", "engine.runtime.sealed", "importlib")   # and tui.*


def _child(env: dict[str, str], args: list[str], moved: list[tuple[int, int]], null: int):
    code = 125
    try:
        os.setsid()
        # detached here, the CLI's first child exiting at once, rather than by monitor.main's
        # fork once the monitor's modules are in: this copy of the process is the small one
        if os.fork() > 0:
            os._exit(0)
        mark_self(env["BERTH_ROOT"])
        for target in (0, 1, 2):
            os.dup2(null, target)
        for fd, target in moved:
            os.dup2(fd, target)
        os.closerange(6, os.sysconf("SC_OPEN_MAX"))
        _fresh_signals()
        _fresh_interpreter(env)
        from . import trace
        trace._fd = -1   # closed above: opened again at the next mark
        trace.role("monitor")
        trace.mark("forked from the CLI")
        from .monitor import main
        import gc
        gc.enable()   # a fresh interpreter's; `berth run` starts with it off (tui/berth.in)
        code = main(["monitor", *args, "--detached"])
    except BaseException:  # noqa: BLE001 - the CLI's code below us must never run here
        pass
    finally:
        os._exit(code)


def _fresh_signals() -> None:
    """The dispositions and mask an exec'd interpreter starts with: what the CLI catches goes
    back to the default (SIGINT to Python's), what it ignores stays ignored, as execve keeps
    it (SIGPIPE and SIGXFSZ: Python's own start ignores them)."""
    import _signal as signal
    signal.set_wakeup_fd(-1)
    for sig in range(1, signal.NSIG):
        try:
            handler = signal.getsignal(sig)
            if sig == signal.SIGINT:
                signal.signal(sig, signal.default_int_handler)
            elif sig in (signal.SIGPIPE, signal.SIGXFSZ):
                signal.signal(sig, signal.SIG_IGN)
            elif callable(handler):
                signal.signal(sig, signal.SIG_DFL)
        except (OSError, ValueError):
            pass   # SIGKILL, SIGSTOP, the real-time ones the C library keeps
    signal.pthread_sigmask(signal.SIG_SETMASK, [])


def _fresh_interpreter(env: dict[str, str]) -> None:
    """What ``python -I -S boot.py`` would have: this environment, berth's tree and the
    standard library on sys.path, no import hook of the launcher's, none of the CLI's
    modules."""
    os.environ.clear()
    os.environ.update(env)
    tree = __file__.rsplit("/", 3)[0]
    bases = (sys.base_prefix, sys.base_exec_prefix)
    sys.path[:] = [tree, *(p for p in sys.path
                           if p.startswith(bases) and "-packages" not in p)]
    sys.path_importer_cache.clear()
    sys.meta_path[:] = [f for f in sys.meta_path
                      if getattr(f, "__module__", "") != "tui.nosite"]
    for name in [n for n in sys.modules if n in LAUNCHER or n.startswith("tui.")]:
        module = sys.modules.pop(name)
        parent, _, attr = name.rpartition(".")
        if parent in sys.modules:
            sys.modules[parent].__dict__.pop(attr, None)
        if name != "importlib":
            # the CLI's frames below this one (never resumed here) keep their modules'
            # globals alive: let those go too
            module.__dict__.clear()
    sys.argv[:] = ["monitor"]
    import gc
    # what the CLI made before it forked us is never traversed by our collections, but once,
    # when the container has settled (slim.shed): a collection here (gc was off in the CLI, so
    # all of it is the youngest generation) wrote to the header of each of its ~5,000 objects,
    # copying nearly every page we share with the CLI (~2 ms of a start) to free ~20 of them
    gc.freeze()
