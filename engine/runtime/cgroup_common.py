"""What both cgroup backends (cgroup_v1.py, cgroup_v2.py) share: Docker's defaults and
messages, the resource arithmetic, file reads and writes, and where a container's cgroup is."""

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


def signal_each(pids, sig: int) -> None:
    """Send ``sig`` to each of ``pids``; one that has exited meanwhile is skipped."""
    for pid in pids:
        try:
            os.kill(pid, sig)
        except ProcessLookupError:
            pass


def oom_kills(text: str) -> int:
    """The ``oom_kill`` count in a memory.oom_control (v1) or memory.events (v2) text."""
    for line in text.splitlines():
        key, _, value = line.partition(" ")
        if key == "oom_kill":
            return int(value)
    return 0


def _res(resources) -> dict:
    """Resources as a plain dict, whether given as the model or as its JSON."""
    if resources is None:
        return {}
    if isinstance(resources, dict):
        return resources
    return resources.to_dict()


def _write(path: str, value) -> None:
    # os.open with open()'s "w" flags: without the io layer's fstat, ioctl and lseek (a start
    # writes some 25 cgroup files)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o666)
    try:
        os.write(fd, str(value).encode())
    finally:
        os.close(fd)


def _read(path: str) -> str:
    fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    try:
        chunks = []
        while True:
            chunk = os.read(fd, 65536)
            if not chunk:
                return b"".join(chunks).decode()
            chunks.append(chunk)
    finally:
        os.close(fd)


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
