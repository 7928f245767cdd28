"""The cgroup v1 backend: a directory per controller (engine/runtime/cgroups.py picks it)."""

from __future__ import annotations

import os
import time

from .cgroup_common import (DEFAULT_DEVICE_RULES, NO_BLKIO_WEIGHT, NO_BLKIO_WEIGHT_DEVICE,
                            NO_OOM_KILL_DISABLE, NO_RESERVATION, NO_THROTTLE,
                            OOM_WITHOUT_MEMORY, SIGKILL, THROTTLES, _levels, _located,
                            _read, _res, _rmdir_parents, _rmdir_retry, _weight_warnings,
                            _write, _write_weight_device, cpu_quota, device_numbers,
                            memory_swap_limit,
                            oom_kills, signal_each)


class V1:
    """cgroup v1: one hierarchy per controller (cpu and cpuacct may be separate mounts)."""

    version = 1

    def __init__(self, parent: str, mounts: dict[str, str]):
        self.parent = parent
        self.mounts = mounts          # controller -> its hierarchy's mount point

    def path(self, cid: str, controller: str = "memory") -> str:
        return _located(os.path.join(self.mounts[controller], self.parent), cid)

    def _dirs(self, cid: str) -> list[str]:
        seen, out = set(), []
        for c in self.mounts:
            d = self.path(cid, c)
            if d not in seen:
                seen.add(d)
                out.append(d)
        return out

    def create(self, cid: str, resources=None, device_rules: list[str] | None = None) -> None:
        for attempt in range(5):
            try:
                self._make_dirs(cid)
                break
            except FileNotFoundError:
                if attempt == 4:  # the parent keeps vanishing under a removal of its last child
                    raise
        self.set_resources(cid, resources)
        if "devices" in self.mounts:
            self.set_devices(cid, DEFAULT_DEVICE_RULES if device_rules is None else device_rules)

    def _make_dirs(self, cid: str) -> None:
        for ctrl in self.mounts:
            parent = os.path.join(self.mounts[ctrl], self.parent)
            for level in _levels(self.mounts[ctrl], self.parent):   # --cgroup-parent nests
                os.makedirs(level, exist_ok=True)
                if ctrl == "cpuset":
                    # a new cpuset cgroup starts empty and refuses tasks until cpus/mems are
                    # copied in
                    self._inherit_cpuset(level)
            os.makedirs(os.path.join(parent, cid), exist_ok=True)
            if ctrl == "cpuset":
                self._inherit_cpuset(os.path.join(parent, cid))

    @staticmethod
    def _inherit_cpuset(d: str) -> None:
        up = os.path.dirname(d)
        for f in ("cpuset.cpus", "cpuset.mems"):
            if not _read(os.path.join(d, f)).strip():
                _write(os.path.join(d, f), _read(os.path.join(up, f)).strip())

    def set_resources(self, cid: str, resources=None) -> None:
        """Write every limit ``resources`` sets (at create, and again for each ``update``:
        the writes are idempotent). A limit the host can't apply is skipped; ``warnings``
        says which, in Docker's words."""
        res = _res(resources)
        mem = self.path(cid, "memory") if "memory" in self.mounts else None
        if mem and res.get("memory"):
            self._set_memory(mem, res["memory"], memory_swap_limit(res["memory"],
                                                                   res.get("memory_swap", 0)))
        if mem and res.get("memory_reservation"):
            _write(f"{mem}/memory.soft_limit_in_bytes", res["memory_reservation"])
        if mem and res.get("oom_kill_disable"):
            _write(f"{mem}/memory.oom_control", 1)
        if "cpu" in self.mounts:
            cpu = self.path(cid, "cpu")
            quota, period = cpu_quota(res)
            if quota or res.get("cpu_period"):
                _write(f"{cpu}/cpu.cfs_period_us", period)
            if quota:
                _write(f"{cpu}/cpu.cfs_quota_us", -1 if quota < 0 else quota)
            if res.get("cpu_shares"):
                _write(f"{cpu}/cpu.shares", res["cpu_shares"])
        if "cpuset" in self.mounts:
            for key in ("cpuset_cpus", "cpuset_mems"):
                if res.get(key):
                    _write(f"{self.path(cid, 'cpuset')}/{key.replace('_', '.')}", res[key])
        if "pids" in self.mounts and res.get("pids_limit"):
            limit = res["pids_limit"]
            _write(f"{self.path(cid, 'pids')}/pids.max", "max" if limit < 0 else limit)
        if "blkio" in self.mounts:
            self._set_blkio(self.path(cid, "blkio"), res)

    @staticmethod
    def _set_memory(d: str, memory: int, memsw: int) -> None:
        """memory.limit_in_bytes and memory.memsw.limit_in_bytes in the order the kernel
        accepts: it refuses any write that would leave memory above memory+swap, so a limit
        that grows past the current memsw goes after memsw, one that fits goes first.
        Lowering below what the container uses makes the kernel reclaim, or fail with EBUSY."""
        limit, sw = f"{d}/memory.limit_in_bytes", f"{d}/memory.memsw.limit_in_bytes"
        if not memsw or not os.path.exists(sw):   # no swap accounting: memory alone
            _write(limit, memory)
            return
        if memory <= int(_read(sw)):
            _write(limit, memory)
            _write(sw, -1 if memsw < 0 else memsw)
        else:
            _write(sw, -1 if memsw < 0 else memsw)
            _write(limit, memory)

    def _blkio_weight_file(self) -> str | None:
        """The proportional-weight file this kernel has: CFQ's blkio.weight (gone since 5.0),
        BFQ's blkio.bfq.weight (only below the root, hence the probe of a sibling file), or
        None."""
        root = self.mounts.get("blkio")
        if root is None:
            return None
        if os.path.exists(f"{root}/blkio.weight"):
            return "blkio.weight"
        if os.path.exists(f"{root}/blkio.bfq.io_service_bytes"):
            return "blkio.bfq.weight"
        return None

    def _set_blkio(self, d: str, res: dict) -> None:
        weight = self._blkio_weight_file()
        if weight and res.get("blkio_weight"):
            _write(f"{d}/{weight}", res["blkio_weight"])
        if weight:
            for wd in res.get("blkio_weight_device") or ():
                _write_weight_device(f"{d}/{weight}_device",
                                     f"{device_numbers(wd['path'])} {wd['weight']}")
        for key, (name, _) in THROTTLES.items():
            for td in res.get(key) or ():
                _write(f"{d}/{name}", f"{device_numbers(td['path'])} {td['rate']}")

    def warnings(self, resources) -> list[str]:
        """Docker's warning for each limit in ``resources`` this host can't apply (and that
        set_resources therefore skips), plus berth's note when a weight can't act."""
        res, out = _res(resources), []
        if "memory" not in self.mounts:
            if res.get("memory_reservation"):
                out.append(NO_RESERVATION)
            if res.get("oom_kill_disable"):
                out.append(NO_OOM_KILL_DISABLE)
        elif res.get("oom_kill_disable") and not res.get("memory"):
            out.append(OOM_WITHOUT_MEMORY)
        weight = self._blkio_weight_file()
        if res.get("blkio_weight") and not weight:
            out.append(NO_BLKIO_WEIGHT)
        if res.get("blkio_weight_device") and not weight:
            out.append(NO_BLKIO_WEIGHT_DEVICE)
        if weight:
            out += _weight_warnings(res)
        root = self.mounts.get("blkio")
        for key, (name, _) in THROTTLES.items():
            if res.get(key) and not (root and os.path.exists(f"{root}/{name}")):
                out.append(NO_THROTTLE[key])
        return out

    def set_devices(self, cid: str, rules: list[str]) -> None:
        d = self.path(cid, "devices")
        _write(f"{d}/devices.deny", "a")
        # one rule per write, as the kernel parses them, on one descriptor (a start writes ~13)
        fd = os.open(f"{d}/devices.allow", os.O_WRONLY | os.O_CLOEXEC)
        try:
            for rule in rules:
                os.write(fd, rule.encode())
        finally:
            os.close(fd)

    def add(self, cid: str, pid: int) -> None:
        for d in self._dirs(cid):
            _write(f"{d}/cgroup.procs", pid)

    def join_files(self, cid: str) -> list[str]:
        """The files a single-threaded process writes "0" to, to join the cgroup (join_self)."""
        return [f"{d}/tasks" for d in self._dirs(cid)]

    def join_self(self, cid: str) -> None:
        """Move the calling process, which must be single-threaded, into the cgroup.

        Through ``tasks`` and "0" (this thread): the kernel then skips the global threadgroup
        lock, whose first write-lock waits for an RCU grace period (~10 ms here); moving the
        only thread moves the process."""
        for d in self._dirs(cid):
            _write(f"{d}/tasks", 0)

    def freeze(self, cid: str) -> None:
        self._freezer(cid, "FROZEN")

    def thaw(self, cid: str) -> None:
        self._freezer(cid, "THAWED")

    def frozen(self, cid: str) -> bool:
        try:
            return _read(f"{self.path(cid, 'freezer')}/freezer.state").strip() != "THAWED"
        except OSError:
            return False

    def _freezer(self, cid: str, want: str) -> None:
        f = f"{self.path(cid, 'freezer')}/freezer.state"
        _write(f, want)
        # FREEZING is transient: the kernel is still stopping tasks; ask again until it settles
        for _ in range(2000):
            if _read(f).strip() == want:
                return
            time.sleep(0.001)
            _write(f, want)

    def pids(self, cid: str) -> list[int]:
        ctrl = "pids" if "pids" in self.mounts else next(iter(self.mounts))
        try:
            return [int(p) for p in _read(f"{self.path(cid, ctrl)}/cgroup.procs").split()]
        except FileNotFoundError:
            return []

    def kill_all(self, cid: str, sig: int = SIGKILL) -> None:
        """Signal every process in the cgroup; frozen first so none can fork out of the way.
        A cgroup that vanishes meanwhile (its monitor removed it) had nothing left to kill."""
        have_freezer = "freezer" in self.mounts and os.path.isdir(self.path(cid, "freezer"))
        try:
            if have_freezer:
                self.freeze(cid)
            signal_each(self.pids(cid), sig)
            if have_freezer:
                self.thaw(cid)
        except OSError as e:
            if e.errno not in (2, 19):  # ENOENT, ENODEV: removed meanwhile by its monitor
                raise

    def remove(self, cid: str) -> None:
        for d in self._dirs(cid):
            _rmdir_retry(d)
            _rmdir_parents(d, self.parent)

    def oom_kill_count(self, cid: str) -> int:
        try:
            text = _read(f"{self.path(cid, 'memory')}/memory.oom_control")
        except (OSError, KeyError):
            return 0
        return oom_kills(text)
