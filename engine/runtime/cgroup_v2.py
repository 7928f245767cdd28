"""The cgroup v2 backend: one unified hierarchy (engine/runtime/cgroups.py picks it)."""

from __future__ import annotations

import os
import time

from .cgroup_common import (DEFAULT_DEVICE_RULES, NO_BLKIO_WEIGHT, NO_BLKIO_WEIGHT_DEVICE,
                            NO_OOM_KILL_DISABLE, NO_RESERVATION, NO_THROTTLE, SIGKILL,
                            THROTTLES, V2_CONTROLLERS, _levels, _located, _read,
                            _read_quiet, _res, _rmdir_parents, _rmdir_retry, _write,
                            _write_weight_device, blkio_to_io_weight, cpu_quota,
                            device_numbers, memory_swap_limit, shares_to_weight,
                            oom_kills, signal_each)


class V2:
    """cgroup v2: one unified hierarchy; controllers enabled through cgroup.subtree_control."""

    version = 2

    def __init__(self, parent: str, mount: str = "/sys/fs/cgroup"):
        self.parent = parent
        self.mount = mount

    def path(self, cid: str, controller: str = "") -> str:
        return _located(os.path.join(self.mount, self.parent), cid)

    def create(self, cid: str, resources=None, device_rules: list[str] | None = None) -> None:
        parent = os.path.join(self.mount, self.parent)
        os.makedirs(parent, exist_ok=True)
        for d in (self.mount, *_levels(self.mount, self.parent)):
            self._enable_controllers(d)
        os.makedirs(self.path(cid), exist_ok=True)
        self.set_resources(cid, resources)
        self.set_devices(cid, DEFAULT_DEVICE_RULES if device_rules is None else device_rules)

    def set_devices(self, cid: str, rules: list[str]) -> None:
        """v2 has no devices.allow: the rules become an eBPF program on the cgroup
        (devicefilter.py). A directory that only looks like a cgroup (not on cgroup2) has
        nothing to attach to."""
        from . import devicefilter
        d = self.path(cid)
        if devicefilter.is_cgroup2(d):
            devicefilter.attach(d, rules)

    @staticmethod
    def _enable_controllers(d: str) -> None:
        try:
            available = _read(os.path.join(d, "cgroup.controllers")).split()
        except FileNotFoundError:
            return
        wanted = [c for c in V2_CONTROLLERS if c in available]
        if wanted:
            try:
                _write(os.path.join(d, "cgroup.subtree_control"), " ".join(f"+{c}" for c in wanted))
            except OSError:
                pass  # a controller the parent can't delegate; the limits it backs will fail loudly

    def set_resources(self, cid: str, resources=None) -> None:
        """Write every limit ``resources`` sets, in v2's files and units (idempotent: also what
        ``update`` calls). v2 has no OOM-killer switch; ``warnings`` says so."""
        res = _res(resources)
        d = self.path(cid)
        if res.get("memory"):
            _write(f"{d}/memory.max", res["memory"])
            swap = memory_swap_limit(res["memory"], res.get("memory_swap", 0))
            if swap:
                # v2 counts swap alone, v1 counts memory+swap
                _write(f"{d}/memory.swap.max", "max" if swap < 0 else max(swap - res["memory"], 0))
        if res.get("memory_reservation"):
            _write(f"{d}/memory.low", res["memory_reservation"])
        quota, period = cpu_quota(res)
        if quota:
            _write(f"{d}/cpu.max", f"{'max' if quota < 0 else quota} {period}")
        if res.get("cpu_shares"):
            _write(f"{d}/cpu.weight", shares_to_weight(res["cpu_shares"]))
        for key in ("cpuset_cpus", "cpuset_mems"):
            if res.get(key):
                _write(f"{d}/{key.replace('_', '.')}", res[key])
        if res.get("pids_limit"):
            _write(f"{d}/pids.max", "max" if res["pids_limit"] < 0 else res["pids_limit"])
        self._set_io(d, res)

    @staticmethod
    def _set_io(d: str, res: dict) -> None:
        # BFQ's own file takes the v1 range as it is; io.weight (iocost) needs runc's conversion
        bfq = f"{d}/io.bfq.weight"
        has_bfq = os.path.exists(bfq)
        if res.get("blkio_weight"):
            if has_bfq:
                _write(bfq, res["blkio_weight"])
            else:
                _write(f"{d}/io.weight", f"default {blkio_to_io_weight(res['blkio_weight'])}")
        for wd in res.get("blkio_weight_device") or ():
            dev = device_numbers(wd["path"])
            if has_bfq:
                _write_weight_device(bfq, f"{dev} {wd['weight']}")
            else:
                _write(f"{d}/io.weight", f"{dev} {blkio_to_io_weight(wd['weight'])}")
        limits: dict[str, list[str]] = {}
        for key, (_, name) in THROTTLES.items():
            for td in res.get(key) or ():
                limits.setdefault(device_numbers(td["path"]), []).append(
                    f"{name}={td['rate'] or 'max'}")
        for dev, keys in limits.items():   # one line per device: "MAJ:MIN rbps=… wbps=…"
            _write(f"{d}/io.max", f"{dev} {' '.join(keys)}")

    def warnings(self, resources) -> list[str]:
        """Docker's warning for each limit in ``resources`` that v2 can't apply."""
        res, out = _res(resources), []
        if res.get("oom_kill_disable"):
            out.append(NO_OOM_KILL_DISABLE)
        controllers = _read_quiet(os.path.join(self.mount, "cgroup.controllers")).split()
        if "io" not in controllers:
            if res.get("blkio_weight"):
                out.append(NO_BLKIO_WEIGHT)
            if res.get("blkio_weight_device"):
                out.append(NO_BLKIO_WEIGHT_DEVICE)
            out += [NO_THROTTLE[k] for k in THROTTLES if res.get(k)]
        if "memory" not in controllers and res.get("memory_reservation"):
            out.append(NO_RESERVATION)
        return out

    def add(self, cid: str, pid: int) -> None:
        _write(f"{self.path(cid)}/cgroup.procs", pid)

    def join_files(self, cid: str) -> list[str]:
        """The file a process writes "0" to, to join the cgroup (join_self)."""
        return [f"{self.path(cid)}/cgroup.procs"]

    def join_self(self, cid: str) -> None:
        """Move the calling process into the cgroup."""
        _write(f"{self.path(cid)}/cgroup.procs", 0)

    def freeze(self, cid: str) -> None:
        _write(f"{self.path(cid)}/cgroup.freeze", 1)
        events = f"{self.path(cid)}/cgroup.events"
        for _ in range(2000):
            if not os.path.exists(events) or "frozen 1" in _read(events):
                return
            time.sleep(0.001)

    def thaw(self, cid: str) -> None:
        _write(f"{self.path(cid)}/cgroup.freeze", 0)

    def frozen(self, cid: str) -> bool:
        try:
            return _read(f"{self.path(cid)}/cgroup.freeze").strip() == "1"
        except OSError:
            return False

    def pids(self, cid: str) -> list[int]:
        try:
            return [int(p) for p in _read(f"{self.path(cid)}/cgroup.procs").split()]
        except FileNotFoundError:
            return []

    def kill_all(self, cid: str, sig: int = SIGKILL) -> None:
        kill = f"{self.path(cid)}/cgroup.kill"
        if sig == SIGKILL and os.path.exists(kill):
            try:
                _write(kill, 1)
            except FileNotFoundError:
                pass
            return
        signal_each(self.pids(cid), sig)

    def remove(self, cid: str) -> None:
        d = self.path(cid)
        _rmdir_retry(d)
        _rmdir_parents(d, self.parent)

    def oom_kill_count(self, cid: str) -> int:
        try:
            text = _read(f"{self.path(cid)}/memory.events")
        except OSError:
            return 0
        return oom_kills(text)
