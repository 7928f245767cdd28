"""Letting go of what a container holds on the host, and removing it.

A started container holds its monitor and processes, its cgroup, on each of its networks an
address, a veth and its published ports (engine/network), device volumes mounted for it
(engine/volumes) and its attach socket; until ``rm``, also its ``--userns`` range, its run
directory and its own directory. Its monitor lets go of the first group when the container
stops. When the monitor dies first (SIGKILL, the OOM killer, a reboot), the next berth command
that reads the container (``records.load``: ps, inspect, start, the dashboard) calls
``release_dead``, which writes the container down as exited (137, its monitor died) and does
what the monitor's teardown would have done, as Docker does at stop. Whoever releases holds
the flock on ``containers/<id>/.monitor`` meanwhile (the monitor itself, or the reader that
found it dead: see process.py), so two readers never both release and ``start`` never launches
a monitor in the middle of it.

``rm`` goes in this order, so that a SIGKILL at any instant leaves the container either there
(in "Removal In Progress": ``rm -f`` again finishes it, ``start`` refuses it) or gone:

1. holding the container's ``.start`` lock (no start in flight) and then its record lock: kill
   its monitor (by pid and start time, from state.json or ``.monitor``) and every process in its
   cgroup; write status "removing";
2. holding ``.monitor``: remove the cgroup, release its networks and mounts (and with
   ``volumes`` its anonymous volumes), its ``--userns`` range and its run directory;
3. rename ``containers/<id>`` to ``containers/<id>.tmp.<pid>.<tid>``: the container is gone;
4. delete that tree (what a kill leaves of it is swept by the next create or rm, and named by
   system check), and sweep what killed creates and rms left beside it.
"""

from __future__ import annotations

import fcntl
import os
import time

from . import process

SIGKILL = 9


def _cdir(store, cid: str) -> str:
    return store.paths.container_dir(cid)


def _cgroups(store):
    from . import cgroups
    return cgroups.detect(store.paths)


# --- processes ----------------------------------------------------------------------------

def monitors_of(d: str, state: dict | None = None) -> set[int]:
    """The live monitor of container directory ``d``, as its state and its ``.monitor`` name
    it (by pid and start time: a reused pid is not it); empty when none lives."""
    state = process.read_state(d) if state is None else state
    out = set()
    if process.monitor_alive(state):
        out.add(state["monitor_pid"])
    kind, pid, start = process.monitor_lock(d)
    if kind == "held" and pid and process.start_time(pid) == start:
        out.add(pid)
    return out


def kill_processes(store, cid: str, state: dict | None = None) -> None:
    """SIGKILL the container's monitor and every process in its cgroup; return once the
    monitor is gone (its pid 1 dies with it: PR_SET_PDEATHSIG)."""
    monitors = monitors_of(_cdir(store, cid), state)
    for pid in monitors:
        try:
            os.kill(pid, SIGKILL)
        except ProcessLookupError:
            pass
    try:
        _cgroups(store).kill_all(cid)
    except OSError:
        pass  # no cgroup (never started, or removed by its monitor meanwhile)
    for pid in monitors:
        wait_gone(pid)


def wait_gone(pid: int, timeout: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout
    while process.start_time(pid):
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.005)
    return True


# --- the .monitor lock --------------------------------------------------------------------

def take(d: str, wait: float = 0.0) -> int | None:
    """The ``.monitor`` lock of container directory ``d`` (made if missing), or None when a
    monitor or another releaser keeps holding it for ``wait`` seconds."""
    try:
        fd = os.open(os.path.join(d, process.MONITOR), os.O_RDWR | os.O_CREAT | os.O_CLOEXEC,
                     0o600)
    except FileNotFoundError:
        return None   # the container's directory went meanwhile
    deadline = time.monotonic() + wait
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return fd
        except BlockingIOError:
            if time.monotonic() >= deadline:
                os.close(fd)
                return None
            time.sleep(0.01)


def let_go(d: str, fd: int) -> None:
    """Everything is released: remove ``.monitor``, then its lock."""
    process.monitor_finished(d, fd)


def settle(store, cid: str, timeout: float = 10.0) -> None:
    """For ``start``, before it launches a monitor: wait until no monitor holds the container
    (one that is still tearing down the last run, or someone releasing what a dead one left),
    releasing a dead monitor's leftovers ourselves. Conflict when one keeps holding it: never
    a second monitor for a container."""
    d = _cdir(store, cid)
    deadline = time.monotonic() + timeout
    while True:
        kind, pid, start = process.monitor_lock(d)
        if kind == "none":
            return
        if kind == "dead":
            release_dead(store, cid)
            if process.monitor_lock(d)[0] == "dead":
                return   # still there: a stray file, not a dead monitor's: start anew
            continue
        if time.monotonic() >= deadline:
            from ..errors import Conflict
            live = pid and process.start_time(pid) == start
            raise Conflict(f"container {cid[:12]} still has a monitor "
                           f"{f'(pid {pid}) ' if live else ''}holding it; a second one is not "
                           "started: stop it, or rm -f it")
        time.sleep(0.01)


def after_failed_start(store, cid: str) -> None:
    """``start`` heard no pid from its monitor: if the monitor died without taking ``.monitor``
    the cgroup ``start`` made for it is left to no one, so it goes here; if it died holding it,
    what it had made is released now rather than by the next reader."""
    d = _cdir(store, cid)
    kind = process.monitor_lock(d)[0]
    if kind == "dead":
        release_dead(store, cid)
    elif kind == "none":
        try:
            _cgroups(store).remove(cid)
        except OSError:
            pass


# --- releasing --------------------------------------------------------------------------------

def release_host(store, cid: str, config: dict | None, remove_anonymous: bool = False
                 ) -> list[str]:
    """What the monitor's teardown releases: the cgroup (after killing what is left in it),
    addresses, veths and published ports, device volumes and mount events (with
    ``remove_anonymous`` the anonymous volumes too), anything mounted on the host below the
    container's directories, the attach socket. ``config`` is config.json (None when it can't
    be read: then everything is tried). Never raises: the problems, one line each."""
    errors: list[str] = []
    cg = _cgroups(store)
    try:
        cg.kill_all(cid)
        cg.remove(cid)
    except FileNotFoundError:
        pass
    except OSError as e:
        errors.append(f"removing its cgroup: {e.strerror}")
    mode = (config or {}).get("network_mode") or "bridge"
    if mode not in ("none", "host") and not mode.startswith("container:"):
        try:
            from .. import network
            network.detach(store, cid)
        except Exception as e:  # noqa: BLE001 - said, and the rest still released
            errors.append(str(e))
    d = _cdir(store, cid)
    if (config is None or config.get("mounts") or config.get("image_volumes")
            or config.get("volumes_from") or os.path.exists(os.path.join(d, "mounts.json"))):
        try:
            from .. import volumes
            volumes.release(store, cid, remove_anonymous=remove_anonymous)
        except Exception as e:  # noqa: BLE001
            errors.append(f"releasing its mounts: {e}")
    from ..volumes.store import mounts_under, unmount_all
    run = store.paths.container_run_dir(cid)
    for path in (d, run):
        if mounts_under(path):
            unmount_all(path)
    try:
        os.unlink(os.path.join(run, "attach.sock"))
    except OSError:
        pass
    return errors


def release_dead(store, cid: str) -> bool:
    """The container's monitor died still holding things: write the container down as exited
    (137, unless it had already recorded its exit) and release them (and remove a --rm
    container), as its teardown would have. False when there was nothing to do, or someone
    else is doing it."""
    from ..clock import now_rfc3339
    d = _cdir(store, cid)
    try:
        with process.container_lock(d):
            state = process.read_state(d)
            if not process.needs_release(d, state):
                return False
            fd = take(d)
    except FileNotFoundError:
        return False   # removed meanwhile
    if fd is None:
        return False
    died = state.get("status") in process.RUNNING
    from .records import read_config
    config, _ = read_config(store, cid)
    auto_remove = bool(config and config.get("auto_remove"))
    if auto_remove:
        _emit(store, cid, config, "die", exitCode="137")
        remove(store, cid, config, volumes=True, held=fd, start_lock=False)
        return True
    try:
        errors = release_host(store, cid, config)
        with process.container_lock(d):
            state = process.read_state(d)
            changes = {}
            if died and state.get("status") in process.RUNNING:
                changes = {"status": "exited", "pid": 0, "exit_code": 137,
                           "finished_at": now_rfc3339(),
                           "error": process.MONITOR_DIED.format(
                               pid=state.get("monitor_pid") or "?")}
            if errors:
                changes["error"] = "; ".join([changes.get("error") or state.get("error") or "",
                                              "releasing: " + "; ".join(errors)]).lstrip("; ")
            if changes:
                state.update(changes)
                process.write_json(os.path.join(d, process.STATE), state)
    finally:
        let_go(d, fd)
    if died:
        _emit(store, cid, config, "die", exitCode="137")
    return True


def _emit(store, cid: str, config: dict | None, action: str, **attrs: str) -> None:
    from ..events import emit
    emit(store.paths, "container", action, cid,
         {"name": (config or {}).get("name", ""), "image": (config or {}).get("image", ""),
          **attrs})


# --- removing -----------------------------------------------------------------------------

def remove(store, cid: str, config: dict | None, volumes: bool = False, held: int | None = None,
           start_lock: bool = True) -> None:
    """``rm -f``, in the order of the module doc. ``held``: the ``.monitor`` lock, when the
    caller has it already; ``start_lock``: False when the caller may hold ``.start`` itself."""
    from ..errors import HostError
    d = _cdir(store, cid)
    starting = -1
    if start_lock:
        try:
            starting = os.open(os.path.join(d, ".start"), os.O_RDWR | os.O_CREAT | os.O_CLOEXEC,
                               0o600)
            fcntl.flock(starting, fcntl.LOCK_EX)   # a start in flight finishes first
        except FileNotFoundError:
            starting = -1
    try:
        try:
            with process.container_lock(d):
                state = process.read_state(d)
                kill_processes(store, cid, state)
                state["status"] = "removing"
                try:
                    process.write_json(os.path.join(d, process.STATE), state)
                except FileNotFoundError:
                    raise
                except OSError:
                    pass   # a full disk: the removal frees space rather than wait for a mark
        except FileNotFoundError:
            if held is not None:
                os.close(held)
            return   # removed meanwhile
        fd = held if held is not None else take(d, wait=10.0)
        try:
            errors = release_host(store, cid, config, remove_anonymous=volumes)
            from . import userns
            userns.release(store.paths.root, cid)
            import shutil
            shutil.rmtree(store.paths.container_run_dir(cid), ignore_errors=True)
            if errors:
                raise HostError(f"removing container {cid[:12]}: " + "; ".join(errors)
                                + "; it stays in 'Removal In Progress' until rm -f succeeds")
            try:
                process.discard(d)
            except OSError:
                pass   # renamed away already: the rest is garbage for system check
            from ..temps import sweep_temp_files
            sweep_temp_files(store, "containers")
        finally:
            if fd is not None:
                os.close(fd)
    finally:
        if starting >= 0:
            os.close(starting)
    _emit(store, cid, config, "destroy")

