"""cgroups: one backend per hierarchy version, picked once by ``detect``; nothing else asks which
version the host has.

Both backends answer the same operations (create with limits, add a process, freeze and thaw,
list and kill the processes, read the OOM-kill counter, remove) and ``path(cid, controller)``,
which the stats readers use. A container's cgroup is ``<parent>/<container id>`` under every
controller (v1) or under the unified mount (v2); ``parent`` is derived from the berth root so two
roots never share one. The mount points are parameters so the v2 backend can be tested against
a directory tree shaped like a v2 hierarchy on this v1 host.
"""

from __future__ import annotations

import os
import time

SIGKILL = 9  # not from signal.py, which the monitor doesn't load (it imports enum)

V1_CONTROLLERS = ("cpu", "cpuacct", "cpuset", "memory", "devices", "freezer", "blkio", "pids")
V2_CONTROLLERS = ("cpuset", "cpu", "io", "memory", "pids")

# Docker's default device rules: the standard character devices, every pty, and mknod of any.
DEFAULT_DEVICE_RULES = ["c *:* m", "b *:* m", "c 1:3 rwm", "c 1:5 rwm", "c 1:7 rwm",
                        "c 1:8 rwm", "c 1:9 rwm", "c 5:0 rwm", "c 5:1 rwm", "c 5:2 rwm",
                        "c 136:* rwm", "c 10:200 rwm"]


def _res(resources) -> dict:
    """Resources as a plain dict, whether given as the model or as its JSON."""
    if resources is None:
        return {}
    if isinstance(resources, dict):
        return resources
    return resources.to_dict()


def _write(path: str, value) -> None:
    with open(path, "w") as f:
        f.write(str(value))


def _read(path: str) -> str:
    with open(path) as f:
        return f.read()


def _parent_name(paths_or_parent) -> str:
    return paths_or_parent if isinstance(paths_or_parent, str) else paths_or_parent.cgroup_parent


def memory_swap_limit(memory: int, memory_swap: int) -> int:
    """memory+swap as Docker sets it: twice --memory when --memory-swap is unset, -1 unlimited."""
    if memory_swap:
        return memory_swap
    return memory * 2 if memory else 0


def cpu_quota(res: dict) -> tuple[int, int]:
    """(quota, period) in microseconds from --cpus or --cpu-quota/--cpu-period; quota 0 = none."""
    period = res.get("cpu_period") or 100000
    if res.get("nano_cpus"):
        return res["nano_cpus"] * period // 1_000_000_000, period
    return res.get("cpu_quota") or 0, period


def shares_to_weight(shares: int) -> int:
    """cgroup v1 cpu.shares (2..262144) to v2 cpu.weight (1..10000), as runc converts it."""
    return 1 + ((shares - 2) * 9999) // 262142


def blkio_to_io_weight(weight: int) -> int:
    """--blkio-weight (10..1000) to v2 io.weight (1..10000), as runc converts it."""
    return 1 + ((weight - 10) * 9999) // 990


def device_numbers(path: str) -> str:
    """``MAJ:MIN`` of a device node, as the blkio and io files name devices. Read at every
    start (not at create): a loop device may be re-made with other numbers meanwhile."""
    rdev = os.stat(path).st_rdev
    return f"{os.major(rdev)}:{os.minor(rdev)}"


# Resources key -> (v1 blkio file, v2 io.max key)
THROTTLES = {"device_read_bps": ("blkio.throttle.read_bps_device", "rbps"),
             "device_write_bps": ("blkio.throttle.write_bps_device", "wbps"),
             "device_read_iops": ("blkio.throttle.read_iops_device", "riops"),
             "device_write_iops": ("blkio.throttle.write_iops_device", "wiops")}

# Docker's warnings for a limit the host can't apply (the limit is then discarded)
NO_RESERVATION = ("Your kernel does not support memory soft limit capabilities or the cgroup is "
                  "not mounted. Limitation discarded.")
NO_OOM_KILL_DISABLE = "Your kernel does not support OomKillDisable. OomKillDisable discarded."
OOM_WITHOUT_MEMORY = ("OOM killer is disabled for the container, but no memory limit is set, "
                      "this can result in the system running out of resources.")
NO_BLKIO_WEIGHT = ("Your kernel does not support Block I/O weight or the cgroup is not mounted. "
                   "Weight discarded.")
NO_BLKIO_WEIGHT_DEVICE = ("Your kernel does not support Block I/O weight_device or the cgroup is "
                          "not mounted. Weight-device discarded.")
NO_THROTTLE = {
    "device_read_bps": "Your kernel does not support BPS Block I/O read limit or the cgroup is "
                       "not mounted. Block I/O BPS read limit discarded.",
    "device_write_bps": "Your kernel does not support BPS Block I/O write limit or the cgroup is "
                        "not mounted. Block I/O BPS write limit discarded.",
    "device_read_iops": "Your kernel does not support IOPS Block read limit or the cgroup is not "
                        "mounted. Block I/O IOPS read limit discarded.",
    "device_write_iops": "Your kernel does not support IOPS Block write limit or the cgroup is "
                         "not mounted. Block I/O IOPS write limit discarded.",
}


def _scheduler(majmin: str, sys_dev: str = "/sys/dev/block") -> str:
    """The I/O scheduler a block device uses ("none", "mq-deadline", "bfq"), "" when unknown.
    A partition has no queue of its own: its disk's is one directory up."""
    for q in (f"{sys_dev}/{majmin}/queue/scheduler", f"{sys_dev}/{majmin}/../queue/scheduler"):
        try:
            text = _read(q)
        except OSError:
            continue
        return text.partition("[")[2].partition("]")[0]
    return ""


def _weight_warnings(res: dict, sys_block: str = "/sys/block") -> list[str]:
    """berth's note (Docker has none): a proportional weight acts only under BFQ."""
    out = []
    if res.get("blkio_weight"):
        try:
            disks = os.listdir(sys_block)
        except OSError:
            disks = []
        if not any("[bfq]" in _read_quiet(f"{sys_block}/{d}/queue/scheduler") for d in disks):
            out.append("Block I/O weight acts only on devices that use the BFQ I/O scheduler "
                       "and none here does (/sys/block/*/queue/scheduler): the weight is set "
                       "but has no effect until one does")
    for wd in res.get("blkio_weight_device") or ():
        try:
            sched = _scheduler(device_numbers(wd["path"]))
        except OSError:
            continue
        if sched and sched != "bfq":
            out.append(f"{wd['path']} uses the {sched} I/O scheduler: its weight has no effect "
                       "until it uses bfq (echo bfq > /sys/block/DEV/queue/scheduler)")
    return out


def _write_weight_device(path: str, line: str) -> None:
    # BFQ refuses a rule (EOPNOTSUPP) for a device whose scheduler isn't bfq; the limit is
    # kept in the record and ``warnings`` tells the user, rather than failing the start
    try:
        _write(path, line)
    except OSError as e:
        if e.errno != 95:   # EOPNOTSUPP
            raise


def _read_quiet(path: str) -> str:
    try:
        return _read(path)
    except OSError:
        return ""


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
        for rule in rules:
            _write(f"{d}/devices.allow", rule)

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
            for pid in self.pids(cid):
                try:
                    os.kill(pid, sig)
                except ProcessLookupError:
                    pass
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
        for line in text.splitlines():
            key, _, value = line.partition(" ")
            if key == "oom_kill":
                return int(value)
        return 0


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
        for pid in self.pids(cid):
            try:
                os.kill(pid, sig)
            except ProcessLookupError:
                pass

    def remove(self, cid: str) -> None:
        d = self.path(cid)
        _rmdir_retry(d)
        _rmdir_parents(d, self.parent)

    def oom_kill_count(self, cid: str) -> int:
        try:
            text = _read(f"{self.path(cid)}/memory.events")
        except OSError:
            return 0
        for line in text.splitlines():
            key, _, value = line.partition(" ")
            if key == "oom_kill":
                return int(value)
        return 0


def nested(parent: str, sub: str) -> str:
    """The parent cgroup of a container made with ``--cgroup-parent sub`` (runtime/namespaces.py
    keeps ``sub`` relative, inside berth's own ``parent``)."""
    return f"{parent}/{sub}" if sub else parent


def _levels(mount: str, parent: str) -> list[str]:
    """Each directory from the mount down to ``parent`` (one, unless --cgroup-parent nests)."""
    out, path = [], mount
    for part in parent.split("/"):
        path = os.path.join(path, part)
        out.append(path)
    return out


def _located(base: str, cid: str) -> str:
    """``base/cid``, or where a container started with --cgroup-parent has its cgroup
    (``base/<sub>/cid``): callers that know only the root's parent (stats, exec, update,
    release) still find it. One stat when it is in the usual place."""
    direct = os.path.join(base, cid)
    if os.path.isdir(direct) or "/" in cid:
        return direct
    try:
        entries = os.scandir(base)
    except OSError:
        return direct
    with entries:
        subs = [e.path for e in entries if len(e.name) != 64 and e.is_dir(follow_symlinks=False)]
    for sub in subs:
        found = _located(sub, cid)
        if os.path.isdir(found):
            return found
    return direct


def _rmdir_parents(d: str, parent: str) -> None:
    """After ``d`` went: its empty parents up to and including the root's own parent cgroup
    (the first part of ``parent``), which goes with its last container."""
    top = parent.split("/")[0]
    while True:
        d = os.path.dirname(d)
        _rmdir_if_empty(d)
        if os.path.basename(d) == top or d in ("/", ""):
            return


def _rmdir_if_empty(d: str) -> None:
    # the root's parent cgroup goes with its last container; a concurrent create re-makes it
    try:
        os.rmdir(d)
    except OSError:
        pass


def _rmdir_retry(d: str) -> None:
    # a cgroup stays busy for a moment after its last task was reaped
    for _ in range(200):
        try:
            os.rmdir(d)
            return
        except FileNotFoundError:
            return
        except OSError as e:
            if e.errno != 16:  # EBUSY
                raise
            time.sleep(0.005)
    os.rmdir(d)


def _v1_mounts(mountinfo: str = "/proc/self/mountinfo") -> dict[str, str]:
    mounts: dict[str, str] = {}
    with open(mountinfo) as f:
        for line in f:
            left, _, right = line.partition(" - ")
            fstype, _, superopts = right.split()[:3]
            if fstype != "cgroup":
                continue
            for opt in superopts.split(","):
                if opt in V1_CONTROLLERS and opt not in mounts:
                    mounts[opt] = left.split()[4]
    return mounts


def _v2_mount(mountinfo: str = "/proc/self/mountinfo") -> str | None:
    with open(mountinfo) as f:
        for line in f:
            left, _, right = line.partition(" - ")
            if right.split()[0] == "cgroup2":
                point = left.split()[4]
                try:
                    if _read(os.path.join(point, "cgroup.controllers")).split():
                        return point
                except OSError:
                    pass
    return None


_backend = None


def detect(paths_or_parent) -> V1 | V2:
    """The host's backend for this root: v1 when controllers are mounted as v1 hierarchies,
    otherwise the cgroup2 mount that has controllers."""
    global _backend
    parent = _parent_name(paths_or_parent)
    if _backend is None:
        v1 = _v1_mounts()
        if "memory" in v1:
            _backend = ("v1", v1)
        else:
            mount = _v2_mount()
            if mount is None:
                from ..errors import HostError
                raise HostError("no usable cgroup hierarchy: mount cgroup v1 controllers or "
                                "cgroup2 with controllers enabled at /sys/fs/cgroup")
            _backend = ("v2", mount)
    kind, where = _backend
    return V1(parent, where) if kind == "v1" else V2(parent, where)
