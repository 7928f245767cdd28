"""What both sides of a container's life share: its state record under its own lock, whether its
monitor is alive, and launching that monitor.

Light on purpose (os, fcntl, json): the monitor imports it, and so does every CLI verb. The state
record is ContainerState as JSON; the monitor changes it as a plain dict so it never loads the
models.

A monitor holds an exclusive flock on ``containers/<id>/.monitor`` (its pid and start time
inside) from its first instant to the end of its teardown, and unlinks the file when that is
done. So whoever looks can tell, without trusting state.json: the file locked means a monitor
runs (``start`` never launches a second one); the file there but unlocked means a monitor died
before it had released the container's cgroup, network and mounts (the next reader does it,
engine/runtime/release.py); no file means nothing is held.
"""

from __future__ import annotations

import fcntl
import os

from . import fastjson

STATE = "state.json"
CONFIG = "config.json"
MONITOR = ".monitor"
RUNNING = ("running", "paused", "restarting")


def write_json(path: str, obj, fsync: bool = False) -> None:
    """Atomic write (temp file + rename); fsync only where a crash must not lose the record."""
    from ..store import write_json as write   # with the mode of records (config holds secrets)
    write(path, obj, fsync=fsync)


def read_line(fd: int) -> str:
    """One line from a pipe, without its newline ("" at EOF): byte by byte, so that what follows
    it (the cgroup's word after the monitor's id, the go after the prestart's directory) stays
    in the pipe for its own reader."""
    data = b""
    while not data.endswith(b"\n"):
        chunk = os.read(fd, 1)
        if not chunk:
            return ""
        data += chunk
    return data.decode().strip()


def read_json(path: str):
    try:
        with open(path, "rb") as f:
            return fastjson.loads(f.read())
    except FileNotFoundError:
        return None


class container_lock:
    """Exclusive lock on one container's records: the monitor and the verbs change its state
    under it, so a read-modify-write never loses another's change. (A class, not a
    contextmanager: contextlib costs the monitor 2 ms.)"""

    def __init__(self, cdir: str):
        self.path = os.path.join(cdir, ".lock")

    def __enter__(self):
        self.fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        fcntl.flock(self.fd, fcntl.LOCK_EX)
        return self

    def __exit__(self, *exc) -> None:
        os.close(self.fd)


def load_state(cdir: str) -> tuple[dict | None, str]:
    """(state.json as a dict, "") or (None, why it can't be used: missing, unreadable or not a
    state record)."""
    try:
        state = read_json(os.path.join(cdir, STATE))
    except ValueError:   # torn by a power cut (state.json is not fsynced), or garbled
        return None, "state.json is not valid JSON"
    except OSError as e:
        return None, f"state.json can't be read ({e.strerror})"
    if state is None:
        return None, "state.json is missing"
    return (state, "") if isinstance(state, dict) else (None, "state.json is not a state record")


def read_state(cdir: str) -> dict:
    """state.json as a dict ({} when it is missing or can't be read)."""
    return load_state(cdir)[0] or {}


def state_problem(cdir: str) -> str:
    """Why state.json can't be used ("" when it can)."""
    return load_state(cdir)[1]


def update_state(cdir: str, **changes) -> dict:
    """Change fields of the state record under the container's lock; returns the new record."""
    with container_lock(cdir):
        state = load_state(cdir)[0]
        if state is None:   # lost: start from what can be known, not from nothing
            state = salvaged_state(cdir)
        state.update(changes)
        write_json(os.path.join(cdir, STATE), state)
        return state


def remove_tree(path: str) -> None:
    """rm -rf of a tree however deep, never following a symlink (engine/fswalk.py; not shutil,
    whose import pulls in re: 4 ms of a --rm container's exit, and whose rmtree recurses)."""
    from ..fswalk import remove_tree as remove
    remove(path)


def discard(path: str) -> None:
    """Make directory ``path`` disappear at once (renamed to ``<path>.tmp.<pid>.<tid>`` beside
    it: a reader sees it whole or not at all), then delete it. A kill in between leaves only the
    temporary name, which create and system check sweep (engine/temps.py)."""
    trash = hide(path)
    if trash is not None:
        remove_tree(trash)


def hide(path: str) -> str | None:
    """The first half of ``discard``: ``path`` renamed to its temporary name, which is returned
    (None when there was nothing), for the caller to delete when it has the time."""
    import _thread
    trash = f"{path}.tmp.{os.getpid()}.{_thread.get_ident()}"
    try:
        os.rename(path, trash)
    except FileNotFoundError:
        return None
    return trash


class MonitorLaunch:
    """A monitor whose interpreter starts while the caller is still preparing the container
    (its ~15 ms boot overlaps writing the record, the spec and the cgroup)."""

    def __init__(self, root: str, run: str, cgroup_parent: str, attach_fd: int | None = None,
                 network: bool = False, fork: bool = False):
        """``network``: the container will likely join a network; the monitor loads the
        network's modules while it waits (a hint: wrong, it costs time or memory, no more).
        ``fork``: fork it from this process (monitor_fork.py: only the CLI at its start)."""
        ready_w, ctl_r = -1, -1
        self.detached = False
        try:
            self.ready, ready_w = os.pipe()
            ctl_r, self.ctl = os.pipe()
            self.pid = spawn_monitor("-", root, run, cgroup_parent, ready_w, attach_fd, ctl_r,
                                     network=network, fork=fork)
        finally:
            for fd in (ready_w, ctl_r):
                if fd >= 0:
                    os.close(fd)

    def assign(self, cid: str) -> None:
        """Tell the monitor which container it runs (its spec.json must exist by now), and
        whether no one reads the foreground socket it was given (``detached``: run -d)."""
        self._tell(f"{cid}{' detached' if self.detached else ''}\n".encode())

    def cgroup_made(self, made: bool) -> None:
        if made:
            self._tell(b"1")
        self._close_ctl()

    def _tell(self, data: bytes) -> None:
        try:
            os.write(self.ctl, data)
        except BrokenPipeError:
            pass   # the monitor died: ``result`` says so (not this command's stdout closing)

    def _close_ctl(self) -> None:
        if self.ctl >= 0:
            os.close(self.ctl)
            self.ctl = -1

    def result(self) -> dict:
        """The monitor's one line: {"pid"} once the command runs, else {"code", "error"}."""
        data = b""
        while not data.endswith(b"\n"):
            chunk = os.read(self.ready, 4096)
            if not chunk:
                break
            data += chunk
        if not data:
            return {"code": 125, "error": "the monitor exited before the container started "
                                          "(see monitor.log in the container's directory)"}
        return fastjson.loads(data)

    def close(self) -> None:
        """Release the pipes and reap the monitor's first process (an unassigned monitor
        exits on its own when the control pipe closes)."""
        self._close_ctl()
        if self.ready >= 0:
            os.close(self.ready)
            self.ready = -1
        if self.pid:
            os.waitpid(self.pid, 0)
            self.pid = 0


# --- a monitor launched at the CLI's first instruction ------------------------------------

_early: MonitorLaunch | None = None


def launch_early(root: str, run: str, cgroup_parent: str, network: bool = False) -> None:
    """``berth run``: start a monitor before the CLI has even parsed its flags, forked from the
    CLI when it can (monitor_fork.py), so its boot overlaps the CLI's own (argparse, the
    engine's imports, create) instead of following it. It gets a foreground socket pair (``early_socket``); ``take_early`` hands it
    to the start that asks with the same root and that socket. Unused (``run -d``, a flag
    error), it reads EOF on its control pipe when we close it or exit, and exits."""
    global _early
    import _socket
    from .monitor_fork import can_fork
    mine, theirs = _socket.socketpair(_socket.AF_UNIX, _socket.SOCK_STREAM)
    try:
        launch = MonitorLaunch(root, run, cgroup_parent, theirs.fileno(), network=network,
                               fork=can_fork())
    except BaseException:
        mine.close()
        theirs.close()
        raise
    launch.key = (root, run, cgroup_parent)
    launch.socks = (mine, theirs)
    _early = launch


def launch_early_here(root_option: str | None, network: bool = False) -> None:
    """``launch_early`` for the root the CLI's --root (or BERTH_ROOT, or the default) names."""
    from ..paths import Paths
    paths = Paths.from_env(root_option)
    launch_early(paths.root, paths.run, paths.cgroup_parent, network=network)


def early_socket():
    """(ours, the monitor's) ends of the early monitor's foreground socket, or None."""
    return _early.socks if _early is not None else None


def take_early(root: str, run: str, cgroup_parent: str, attach_fd: int | None):
    """The early monitor, when it was launched for this root with ``attach_fd`` as its
    foreground socket, or ``attach_fd`` is None (``run -d``: it is told so with the id, and its
    socket is closed); it is then the caller's. None otherwise."""
    global _early
    launch = _early
    if launch is None or launch.key != (root, run, cgroup_parent) \
            or attach_fd not in (None, launch.socks[1].fileno()):
        return None
    _early = None
    if attach_fd is None:
        launch.detached = True
        for s in launch.socks:
            s.close()
    return launch


def start_time(pid: int) -> int:
    """The process's start time in clock ticks since boot (0 when it does not exist), which
    tells a live monitor from a reused pid."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            data = f.read()
    except OSError:
        return 0
    fields = data[data.rfind(b")") + 2:].split()
    if fields[0] == b"Z":  # a zombie has finished its work
        return 0
    return int(fields[19])


def monitor_alive(state: dict) -> bool:
    pid = state.get("monitor_pid") or 0
    return bool(pid) and start_time(pid) == state.get("monitor_start")


MONITOR_DIED = "its monitor (pid {pid}) died, and the container with it"


def sleep_until_exit(pid: int, timeout: float) -> bool:
    """Sleep until process ``pid`` exits or ``timeout`` passes; whether it has exited (False
    also when it can't be watched: the caller then polls)."""
    import select
    try:
        fd = os.pidfd_open(pid)
    except OSError:
        return False   # gone already (ESRCH) or no pidfd here: the record says soon
    try:
        p = select.poll()
        p.register(fd, select.POLLIN)
        return bool(p.poll(max(timeout, 0) * 1000))
    finally:
        os.close(fd)


def effective_status(state: dict) -> dict:
    """The state as readers must see it: a container whose monitor died (SIGKILL, OOM of the
    host) is no longer running, whatever the record last said; its pid 1 died with the monitor
    (PR_SET_PDEATHSIG). The next reader through ``records.load`` also writes this down and
    releases what the container held (engine/runtime/release.py)."""
    if state.get("status") in RUNNING and not monitor_alive(state):
        state = dict(state, status="exited", pid=0, exit_code=137,
                     error=state.get("error")
                     or MONITOR_DIED.format(pid=state.get("monitor_pid") or "?"))
    return state


def salvaged_state(d: str) -> dict:
    """What can be known of a container's state without state.json: running while a monitor
    holds its ``.monitor`` lock (pid 1 is the monitor's child in the container's cgroup), else
    stopped."""
    kind, pid, start = monitor_lock(d)
    if kind == "held" and pid and start_time(pid) == start:
        return {"status": "running", "monitor_pid": pid, "monitor_start": start,
                "pid": _child_of(pid), "started_at": _boot_time_rfc3339(start),
                "error": "state.json was lost; run 'berth system check --repair'"}
    return {"status": "exited", "exit_code": 137, "pid": 0,
            "error": "state.json was lost; run 'berth system check --repair'"}


def _child_of(ppid: int) -> int:
    """The first child of ``ppid`` (a monitor's: its container's pid 1), or 0."""
    try:
        with open(f"/proc/{ppid}/task/{ppid}/children") as f:
            kids = f.read().split()
    except OSError:
        return 0
    return int(kids[0]) if kids else 0


def _boot_time_rfc3339(ticks: int) -> str:
    """When a process that started ``ticks`` clock ticks after boot started."""
    from ..clock import now_rfc3339
    try:
        with open("/proc/stat") as f:
            btime = next(int(line.split()[1]) for line in f if line.startswith("btime "))
    except (OSError, StopIteration, ValueError):
        return ""
    return now_rfc3339(btime + ticks / os.sysconf("SC_CLK_TCK"))


# --- the monitor's own lock ---------------------------------------------------------------

def monitor_started(cdir: str) -> int:
    """For the monitor, first thing: take ``.monitor`` (see the module doc) and record the
    monitor's pid in state.json, both under the container's lock. Returns the descriptor to
    keep open for life; raises BlockingIOError when another monitor runs for the container."""
    pid = os.getpid()
    me = start_time(pid)
    with container_lock(cdir):
        fd = os.open(os.path.join(cdir, MONITOR), os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BaseException:
            os.close(fd)
            raise
        os.ftruncate(fd, 0)
        os.write(fd, f"{pid} {me}\n".encode())
        state = read_state(cdir)
        state.update(monitor_pid=pid, monitor_start=me)
        write_json(os.path.join(cdir, STATE), state)
    return fd


def monitor_finished(cdir: str, fd: int) -> None:
    """For the monitor, last thing: everything it held is released; say so by removing
    ``.monitor`` (then let go of its lock)."""
    try:
        os.unlink(os.path.join(cdir, MONITOR))
    except FileNotFoundError:
        pass
    os.close(fd)


def monitor_lock(cdir: str) -> tuple[str, int, int]:
    """What ``.monitor`` says: ("held", pid, start) while a monitor holds it (or someone
    releasing what a dead one left: then ``pid`` is not alive with ``start``), ("dead", pid,
    start) when one died before its teardown was done, ("none", 0, 0) when there is none."""
    try:
        fd = os.open(os.path.join(cdir, MONITOR), os.O_RDONLY | os.O_CLOEXEC)
    except (FileNotFoundError, NotADirectoryError):
        return "none", 0, 0
    try:
        try:
            data = os.read(fd, 64).split()
            pid, start = int(data[0]), int(data[1])
        except (IndexError, ValueError):
            pid = start = 0
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            return "held", pid, start
        return "dead", pid, start
    finally:
        os.close(fd)


def needs_release(cdir: str, state: dict) -> bool:
    """Whether the container's monitor died still holding something: the record says it runs
    but its monitor is gone, or it has stopped but the monitor's teardown never finished. (A
    container being removed is the remover's: ``rm -f`` again finishes a killed one.)"""
    status = state.get("status")
    if status in RUNNING:
        return not monitor_alive(state)
    return status != "removing" and os.path.exists(os.path.join(cdir, MONITOR))


def spawn_monitor(cid: str, root: str, run: str, cgroup_parent: str,
                  ready_fd: int, attach_fd: int | None = None,
                  cgroup_fd: int | None = None, network: bool = False, fork: bool = False) -> int:
    """Launch ``python -m engine.runtime.monitor <id>`` (sealed: see sealed.python_command) in
    its own session, or with ``fork`` fork it from this process (monitor_fork.py).

    The monitor forks once and its first process exits at once; the caller reaps it with
    ``os.waitpid(returned pid, 0)`` (after doing its own work meanwhile), so a long-lived caller
    such as the dashboard never collects zombies. ``ready_fd`` becomes the monitor's fd 3
    (one JSON line when the container runs or failed to start); ``attach_fd``, when given,
    becomes fd 4, the stream of a foreground ``run`` or ``start -a``. ``cgroup_fd``, when
    given, becomes fd 5, the caller's control pipe: the container id and a newline first when
    ``cid`` is "-" (the monitor boots while the caller is still writing the record), then b"1"
    once the caller has created the container's cgroup (EOF instead: the monitor makes it).
    """
    from .sealed import environment, python_command
    env = environment(BERTH_ROOT=root, BERTH_RUN=run, BERTH_CGROUP_PARENT=cgroup_parent)
    args = [cid, *(["--attach"] if attach_fd is not None else []),
            *(["--cgroup-fd"] if cgroup_fd is not None else []),
            *(["--network"] if network else [])]
    if fork:
        from .monitor_fork import fork_monitor
        return fork_monitor(env, args, ready_fd, attach_fd, cgroup_fd)
    # moved above the targets, so no dup2 is a no-op that would keep FD_CLOEXEC
    ready_fd = fcntl.fcntl(ready_fd, fcntl.F_DUPFD_CLOEXEC, 10)
    actions = [(os.POSIX_SPAWN_DUP2, ready_fd, 3)]
    if attach_fd is not None:
        attach_fd = fcntl.fcntl(attach_fd, fcntl.F_DUPFD_CLOEXEC, 10)
        actions.append((os.POSIX_SPAWN_DUP2, attach_fd, 4))
    if cgroup_fd is not None:
        cgroup_fd = fcntl.fcntl(cgroup_fd, fcntl.F_DUPFD_CLOEXEC, 10)
        actions.append((os.POSIX_SPAWN_DUP2, cgroup_fd, 5))
    null = os.open(os.devnull, os.O_RDWR | os.O_CLOEXEC)
    try:
        for target in (0, 1, 2):
            actions.append((os.POSIX_SPAWN_DUP2, null, target))
        # sealed: nothing from the caller's directory or PYTHON* variables, no site-packages
        argv = python_command("engine.runtime.monitor", *args)
        pid = os.posix_spawn(argv[0], argv, env, file_actions=actions, setsid=True)
    finally:
        os.close(null)
        os.close(ready_fd)
        if attach_fd is not None:
            os.close(attach_fd)
        if cgroup_fd is not None:
            os.close(cgroup_fd)
    return pid
