"""What both sides of a container's life share: its state record under its own lock, whether its
monitor is alive, and launching that monitor.

Light on purpose (os, fcntl, json): the monitor imports it, and so does every CLI verb. The state
record is ContainerState as JSON; the monitor changes it as a plain dict so it never loads the
models.
"""

from __future__ import annotations

import fcntl
import os

from . import fastjson

STATE = "state.json"
CONFIG = "config.json"


def write_json(path: str, obj, fsync: bool = False) -> None:
    """Atomic write (temp file + rename); fsync only where a crash must not lose the record."""
    from ..store import write_json as write   # with the mode of records (config holds secrets)
    write(path, obj, fsync=fsync)


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


def read_state(cdir: str) -> dict:
    try:
        return read_json(os.path.join(cdir, STATE)) or {}
    except ValueError:   # torn by a power cut (state.json is not fsynced): know nothing
        return {}


def update_state(cdir: str, **changes) -> dict:
    """Change fields of the state record under the container's lock; returns the new record."""
    with container_lock(cdir):
        state = read_state(cdir)
        state.update(changes)
        write_json(os.path.join(cdir, STATE), state)
        return state


def remove_tree(path: str) -> None:
    """rm -rf without shutil (whose import pulls in re: 4 ms of a --rm container's exit)."""
    try:
        entries = list(os.scandir(path))
    except FileNotFoundError:
        return
    except NotADirectoryError:
        os.unlink(path)
        return
    for e in entries:
        if e.is_dir(follow_symlinks=False):
            remove_tree(e.path)
        else:
            try:
                os.unlink(e.path)
            except FileNotFoundError:
                pass
    try:
        os.rmdir(path)
    except FileNotFoundError:
        pass


class MonitorLaunch:
    """A monitor whose interpreter starts while the caller is still preparing the container
    (its ~15 ms boot overlaps writing the record, the spec and the cgroup)."""

    def __init__(self, root: str, run: str, cgroup_parent: str, attach_fd: int | None = None):
        ready_w, ctl_r = -1, -1
        try:
            self.ready, ready_w = os.pipe()
            ctl_r, self.ctl = os.pipe()
            self.pid = spawn_monitor("-", root, run, cgroup_parent, ready_w, attach_fd, ctl_r)
        finally:
            for fd in (ready_w, ctl_r):
                if fd >= 0:
                    os.close(fd)

    def assign(self, cid: str) -> None:
        """Tell the monitor which container it runs (its spec.json must exist by now)."""
        os.write(self.ctl, f"{cid}\n".encode())

    def cgroup_made(self, made: bool) -> None:
        if made:
            os.write(self.ctl, b"1")
        self._close_ctl()

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


def effective_status(state: dict) -> dict:
    """The state as readers must see it: a container whose monitor died (SIGKILL, OOM of the
    host) is no longer running, whatever the record last said; its pid 1 died with the monitor
    (PR_SET_PDEATHSIG)."""
    if state.get("status") in ("running", "paused", "restarting") and not monitor_alive(state):
        state = dict(state, status="exited", pid=0, exit_code=137,
                     error=state.get("error") or "the container's monitor exited unexpectedly")
    return state


def spawn_monitor(cid: str, root: str, run: str, cgroup_parent: str,
                  ready_fd: int, attach_fd: int | None = None,
                  cgroup_fd: int | None = None) -> int:
    """Launch ``python -m engine.runtime.monitor <id>`` (sealed: see sealed.python_command) in
    its own session.

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
        argv = python_command("engine.runtime.monitor", cid,
                              *(["--attach"] if attach_fd is not None else []),
                              *(["--cgroup-fd"] if cgroup_fd is not None else []))
        pid = os.posix_spawn(argv[0], argv, env, file_actions=actions, setsid=True)
    finally:
        os.close(null)
        os.close(ready_fd)
        if attach_fd is not None:
            os.close(attach_fd)
        if cgroup_fd is not None:
            os.close(cgroup_fd)
    return pid
