"""``update``: change a container's limits and restart policy, running or not.

The new values are merged into the record the way Docker merges them (a value left unset keeps
the old one; CPU quota and --cpus exclude each other), checked with Docker's messages, written
to the running container's cgroup at once, then kept in ``config.json`` so every later start
uses them. The container's ``.start`` lock is held throughout, so an update never races a start
that is building its cgroup from the old record.
"""

from __future__ import annotations

import errno
import os

from ..errors import Conflict, HostError, InvalidArgument
from ..models import Container, Resources, RestartPolicy
from ..paths import rootless

# the fields ``berth update`` may change (as ``docker update``); device throttles and the OOM
# switch are fixed at create
UPDATABLE = ("memory", "memory_swap", "memory_reservation", "nano_cpus", "cpu_shares",
             "cpu_period", "cpu_quota", "cpuset_cpus", "cpuset_mems", "pids_limit",
             "blkio_weight")


def merge(current: Resources, changes: dict) -> Resources:
    """``current`` with ``changes`` applied as Docker applies an update; InvalidArgument or
    Conflict with Docker's message when the combination can't be kept."""
    unknown = set(changes) - set(UPDATABLE)
    if unknown:
        raise InvalidArgument(f"cannot update {', '.join(sorted(unknown))}: only "
                              f"{', '.join(UPDATABLE)} can change after create")
    new = Resources.from_dict(current.to_dict())
    ch = {k: v for k, v in changes.items() if v not in (None, 0, "")}
    if ch.get("nano_cpus") and current.cpu_period:
        raise Conflict("Conflicting options: Nano CPUs cannot be updated as CPU Period has "
                       "already been set")
    if ch.get("nano_cpus") and current.cpu_quota:
        raise Conflict("Conflicting options: Nano CPUs cannot be updated as CPU Quota has "
                       "already been set")
    if ch.get("cpu_period") and current.nano_cpus:
        raise Conflict("Conflicting options: CPU Period cannot be updated as NanoCPUs has "
                       "already been set")
    if ch.get("cpu_quota") and current.nano_cpus:
        raise Conflict("Conflicting options: CPU Quota cannot be updated as NanoCPUs has "
                       "already been set")
    if ch.get("memory"):
        # an explicit memory+swap the new memory would exceed must change with it (Docker);
        # the default (0: twice the memory) and unlimited (-1) follow on their own
        if current.memory_swap > 0 and ch["memory"] > current.memory_swap \
                and not ch.get("memory_swap"):
            raise Conflict("Memory limit should be smaller than already set memoryswap limit, "
                           "update the memoryswap at the same time")
    for key, value in ch.items():
        setattr(new, key, value)
    if new.memory_swap and not new.memory:
        raise InvalidArgument("You should always set the Memory limit when using Memoryswap "
                              "limit, see usage")
    if new.memory_swap > 0 and new.memory_swap < new.memory:
        raise InvalidArgument("Minimum memoryswap limit should be larger than memory limit, "
                              "see usage")
    if new.memory and new.memory < 6 * 1024 * 1024:
        raise InvalidArgument("Minimum memory limit allowed is 6MB")
    return new


def update(engine, ref: str, changes: dict, restart_policy: RestartPolicy | None = None
           ) -> Container:
    """Apply ``changes`` (Resources field -> new value) and ``restart_policy`` to ``ref``."""
    import fcntl
    from ..resource_options import validate_resources
    from . import records
    c = engine.container(ref)
    d = engine.paths.container_dir(c.id)
    lock = os.open(os.path.join(d, ".start"), os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    try:
        fcntl.flock(lock, fcntl.LOCK_EX)
        c = records.load(engine.store, c.id) or c
        new = merge(c.config.resources, changes)
        # as Docker: the update's own values are checked, not the merged record (a device
        # given at create may be gone, and a new --memory below an old reservation is fine)
        validate_resources(Resources(**{k: v for k, v in changes.items() if v}))
        if rootless():
            from ..rootless.checks import refuse_limits
            refuse_limits(engine.paths, Resources(**{k: v for k, v in changes.items() if v}))
        if restart_policy is not None and restart_policy.name != "no" and c.config.auto_remove:
            raise InvalidArgument("Restart policy cannot be updated because AutoRemove is "
                                  "enabled for the container")
        if c.running and changes:
            _apply_live(engine, c, new)
        with engine.store.lock():
            raw = records.read_raw(engine.store, c.id)
            if raw is None:   # removed meanwhile
                from ..errors import NotFound
                raise NotFound(f"No such container: {ref}")
            c = records.load(engine.store, c.id) or c
            c.config.resources = new
            if restart_policy is not None:
                c.config.restart_policy = restart_policy
            records.write_config(engine.store, c, raw.get("layer_dirs") or [])
            if restart_policy is not None and c.running:
                _tell_monitor(d, restart_policy)
    finally:
        os.close(lock)
    engine.emit("container", "update", c.id, name=c.name, image=c.config.image)
    return engine.container(c.id)


def _apply_live(engine, c: Container, new: Resources) -> None:
    """Write ``new`` to the running container's cgroup, turning the kernel's refusals into
    sentences."""
    from . import cgroups
    cg = cgroups.detect(engine.paths)
    if not os.path.isdir(cg.path(c.id, "memory" if cg.version == 1 else "")):
        return   # it stopped meanwhile: the record alone carries the values to its next start
    # only what an update can change: the device rules were written at start and their
    # devices may be gone by now
    live = {k: v for k, v in new.to_dict().items() if k in UPDATABLE}
    try:
        cg.set_resources(c.id, live)
    except OSError as e:
        if e.errno == errno.EBUSY and new.memory:
            used = _memory_usage(cg, c.id)
            raise HostError(
                f"cannot lower the memory limit of {c.name} to {_mib(new.memory)}: it uses "
                f"{_mib(used)} that the kernel could not reclaim (EBUSY, and no swap to push it "
                "to); free memory inside the container, or stop it and update") from None
        if e.errno == errno.ENOENT:
            return   # its cgroup went with it as it stopped
        raise HostError(f"update the cgroup of {c.name}: {e.strerror or e}") from None


def _tell_monitor(cdir: str, policy: RestartPolicy) -> None:
    """The monitor decides restarts from the spec it started with: give it the new policy in
    spec.json, which it re-reads when the container exits."""
    from . import process
    path = os.path.join(cdir, "spec.json")
    spec = process.read_json(path)
    if isinstance(spec, dict):
        spec["restart"] = policy.to_dict()
        process.write_json(path, spec)


def _memory_usage(cg, cid: str) -> int:
    name = "memory.usage_in_bytes" if cg.version == 1 else "memory.current"
    try:
        with open(os.path.join(cg.path(cid, "memory"), name)) as f:
            return int(f.read())
    except (OSError, ValueError):
        return 0


def _mib(n: int) -> str:
    return f"{n / (1 << 20):.0f}MiB"
