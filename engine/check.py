"""``berth system check [--repair]``: what is wrong in a root, and with ``repair`` fixed.

``check(store, repair)`` runs every area's ``check_<area>(store, repair) -> list[Finding]``:
containers and volumes and stray temporary files here, networks and what berth made on the host
(processes, cgroups, bridges, veths, nftables elements, mounts, run directories) in
check_host.py, images in engine/images/check.py (another area's; skipped when this build has
none). A finding says what is wrong and what ``--repair`` does about it; with ``repair`` it is
done and ``repaired`` says whether it worked. Checking alone changes nothing: it reads the
records directly, not through ``records.load`` (which releases a dead monitor's leftovers).

After ``--repair`` every command works again: a container whose config is lost is stopped and
removed (nothing else can be done with it), one whose state is lost gets a state from what its
monitor (or its absence) tells, a dead monitor's leftovers are released; damaged network and
volume records are written again from what is left of them.
"""

from __future__ import annotations

import os

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Callable

    from .models import Finding


def check(store, repair: bool = False) -> list[Finding]:
    """Every finding of every area, in this order: containers, networks, volumes, host
    leftovers, temporary files, images."""
    from . import check_host
    out: list[Finding] = []
    for area in (check_containers, check_host.check_networks, check_volumes,
                 check_host.check_host, check_tempfiles, _check_images):
        out += area(store, repair)
    return out


def _check_images(store, repair: bool) -> list[Finding]:
    try:
        from .images.check import check_images
    except ImportError:
        return []   # this build's image area has no checks of its own
    return check_images(store, repair)


class RepairOnly(frozenset):
    """A ``repair`` that repairs only these (kind, id) findings (see settled)."""


def settled(find, store, repair, *args, looks: int = 3, pause: float = 0.15) -> list:
    """The findings of ``find(store, repair, *args)`` that stay the same over ``looks`` looks
    ``pause`` seconds apart; only those are repaired. What a berth or monitor is in the middle
    of (a veth its thread is deleting after the endpoint went, a cgroup it is about to remove)
    shows in one look and is gone by the next: no finding, and never repaired."""
    import time
    stable = None
    for i in range(looks):
        if i:
            time.sleep(pause)
        # by what it is, not by its words: a cgroup's count of processes may change meanwhile
        now = {(f.kind, f.id) for f in find(store, False, *args)}
        stable = now if stable is None else stable & now
        if not stable:
            return []
    out = find(store, RepairOnly(stable) if repair else False, *args)
    return [f for f in out if (f.kind, f.id) in stable]


def finding(kind: str, ident: str, problem: str, repair_text: str, repair: bool,
             fix: Callable[[], object] | None) -> Finding:
    """A Finding; with ``repair`` and a ``fix``, ``fix()`` is run (an exception: not repaired,
    its message added to the problem)."""
    from .models import Finding
    f = Finding(kind=kind, id=ident, problem=problem, repair=repair_text if fix else "")
    if isinstance(repair, RepairOnly) and (kind, ident) not in repair:
        repair = False
    if repair and fix is not None:
        try:
            fix()
            f.repaired = True
        except Exception as e:  # noqa: BLE001 - reported, and the other findings still fixed
            f.problem += f" (repair failed: {e})"
    return f


# --- containers ---------------------------------------------------------------------------

def check_containers(store, repair: bool) -> list[Finding]:
    from .runtime import process, records, release
    out = []
    for cid in records.ids(store):
        d = store.paths.container_dir(cid)
        if not os.path.isdir(d):
            continue
        short = cid[:12]
        config, problem = records.read_config(store, cid)
        state_problem = process.state_problem(d) if config is not None else ""
        if (config is None or state_problem) and not os.path.isdir(d):
            # renamed away whole by an rm while we read it: a container's files go with its
            # directory, never one by one, so this is no container, not a damaged one
            continue
        if config is None:
            out.append(finding(
                "container", short, problem,
                "stop it and remove it, releasing everything it holds (its configuration is "
                "lost)", repair, lambda c=cid: release.remove(store, c, None)))
            continue
        if state_problem:
            out.append(finding("container", short, state_problem,
                                "write its state again from what its monitor tells", repair,
                                lambda d=d: _restore_state(d)))
        state = process.salvaged_state(d) if process.state_problem(d) else process.read_state(d)
        if _monitor_dead(d):
            out.append(finding(
                "container", short,
                "its monitor died without releasing what the container held"
                if state.get("status") not in process.RUNNING
                else "its monitor died; it is recorded as running",
                "record it as exited and release its cgroup, addresses, ports and mounts",
                repair, lambda c=cid: release.release_dead(store, c)))
        if state.get("status") == "removing":
            if not busy(d):   # else an rm is at work on it
                out.append(finding("container", short, "its removal was interrupted",
                                    "finish removing it", repair,
                                    lambda c=cid, cfg=config: release.remove(store, c, cfg)))
            continue
        out += _check_container_files(store, cid, d, state, repair)
    return out


def busy(d: str) -> bool:
    """Whether a berth is starting, removing or updating the container of directory ``d``
    right now (it holds the container's ``.start`` lock): what the container holds meanwhile
    is that berth's to set right, not garbage."""
    return _flocked(os.path.join(d, ".start"))


def _flocked(path: str) -> bool:
    """Whether someone holds a flock on ``path`` (a file or directory)."""
    import fcntl
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    except OSError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        return False
    except BlockingIOError:
        return True
    finally:
        os.close(fd)


def _monitor_dead(d: str) -> bool:
    """Whether the container's monitor died still holding something, as the next reader's
    ``release.release_dead`` judges it (under the container's lock, and only when no monitor
    or releaser holds ``.monitor``): not a monitor in its teardown, nor a container an rm is
    killing."""
    from .runtime import process
    try:
        with process.container_lock(d):
            return process.needs_release(d, process.read_state(d)) \
                and process.monitor_lock(d)[0] != "held"
    except FileNotFoundError:
        return False   # removed meanwhile


def _restore_state(d: str) -> None:
    from .runtime import process
    with process.container_lock(d):
        if process.state_problem(d):
            process.write_json(os.path.join(d, process.STATE), process.salvaged_state(d))


def _check_container_files(store, cid: str, d: str, state: dict, repair: bool
                           ) -> list[Finding]:
    """spec.json and mounts.json that can't be read, a running container's attach socket."""
    from .runtime import process
    out = []
    short = cid[:12]
    running = state.get("status") in process.RUNNING and process.monitor_alive(state)
    spec = os.path.join(d, "spec.json")
    if _unreadable(spec):
        out.append(finding("container", short, "spec.json is not valid JSON",
                            "delete it (its monitor keeps the spec it read; the next start "
                            "writes it again)", repair, lambda: os.unlink(spec)))
    mounts = os.path.join(d, "mounts.json")
    if _unreadable(mounts):
        out.append(finding("container", short, "mounts.json is not valid JSON",
                            "write it again from its start's spec (else its config)", repair,
                            lambda: _restore_mounts(store, cid)))
    from .runtime.attach import socket_path
    if running and not os.path.exists(socket_path(store.paths.run, cid)) \
            and _same_run(state, process.read_state(d)):
        # the socket is there from before a run starts to after it ends: missing while one
        # run went on (read before and after the look), it is lost
        out.append(finding("container", short, "its attach socket is missing: attach and "
                            "'run' without -d can't reach it", "restart the container", False,
                            None))
    return out


def _same_run(before: dict, after: dict) -> bool:
    from .runtime import process
    return after.get("status") in process.RUNNING and all(
        before.get(k) == after.get(k) for k in ("monitor_pid", "monitor_start", "started_at"))


def _unreadable(path: str) -> bool:
    from .runtime import process
    try:
        return not isinstance(process.read_json(path), (dict, type(None)))
    except ValueError:
        return True
    except OSError:
        return False


def _restore_mounts(store, cid: str) -> None:
    """mounts.json from the mounts its last start prepared (anonymous volumes keep their
    names); without a spec, removed (computed again from the config at the next start)."""
    from .volumes.store import mounts_from_spec
    kept = mounts_from_spec(store, cid)
    if kept is None:
        os.unlink(os.path.join(store.paths.container_dir(cid), "mounts.json"))
    else:
        store.write(kept, "containers", cid, "mounts.json")


# --- volumes --------------------------------------------------------------------------------

def check_volumes(store, repair: bool) -> list[Finding]:
    from .volumes import store as vstore
    out = []
    for name in store.list_dir("volumes"):
        vdir = store.paths.volume_dir(name)
        if not os.path.isdir(vdir):
            continue
        out += _check_copy_up(name, vdir, repair)
        vol, problem = vstore.read_meta(store, name)
        if problem:
            out.append(finding("volume", name, problem,
                                "write its record again (as a plain local volume: its labels "
                                "and options are lost)", repair,
                                lambda n=name: _restore_volume(store, n)))
    return out


def _check_copy_up(name: str, vdir: str, repair: bool) -> list[Finding]:
    """A copy of an image's files into the volume that was cut short (volumes/copyup.py:
    ``_data.copying``, which the filler holds the volume's lock over while it copies)."""
    from .volumes.copyup import COPYING
    partial = os.path.join(vdir, COPYING)
    if not os.path.isdir(partial) or _flocked(vdir):
        return []   # none, or a container is filling or mounting the volume right now
    return [finding("volume", name, f"a copy of an image's files into it was cut short "
                    f"({COPYING} is left)", "delete the partial copy", repair,
                    lambda: _remove_copy(vdir))]


def _remove_copy(vdir: str) -> None:
    from .runtime.process import remove_tree
    from .volumes.copyup import COPYING, VolumeLock
    held = VolumeLock(os.path.join(vdir, "_data"), exclusive=True)   # no filler meanwhile
    try:
        remove_tree(os.path.join(vdir, COPYING))
    finally:
        held.release()


def _restore_volume(store, name: str) -> None:
    from .volumes import store as vstore
    with store.lock():
        vol = vstore.salvage(store, name)
        os.makedirs(vstore.data_dir(store, name), exist_ok=True)
        meta = vol.to_dict()
        meta["mountpoint"] = ""
        store.write(meta, "volumes", name, "meta.json")


# --- temporary files ----------------------------------------------------------------------

def check_tempfiles(store, repair: bool) -> list[Finding]:
    """Temporary files and directories whose writer is gone, in the directories engine/temps.py
    owns (the image store's are its own garbage: _check_images reports those)."""
    from . import temps
    out = []
    for path in temps.stray_temp_files(store):
        rel = os.path.relpath(path, store.root)
        area, _, name = rel.partition("/")
        if area in ("containers", "volumes") and "/" not in name:
            kind = area[:-1]   # a container or volume directory that was being made or removed
            out.append(finding(kind, name, f"left under a temporary name by a {kind} create or "
                                "rm that was killed", "delete it", repair,
                                lambda p=path: temps.remove(p)))
        else:
            out.append(finding("tempfile", rel,
                                "a temporary file its writer left when it was killed",
                                "delete it", repair, lambda p=path: temps.remove(p)))
    return out
