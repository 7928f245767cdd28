"""Docker's resource flags that reach past one value: block I/O devices (weights and
throttles, checked against the host's devices), the OOM score, and the daemon-side checks of a
whole Resources record (cpusets against the online CPUs, limits the kernel would refuse), with
Docker's messages. The plain value parsers are engine/options.py's."""

from __future__ import annotations

import os

from .errors import InvalidArgument
from .options import INT64_MAX, MIN_MEMORY, _shown, parse_size

KERNEL_MEMORY_REFUSED = ("--kernel-memory: Specifying a kernel memory limit is deprecated and "
                         "will be removed in a future release; berth does not set it: drop the "
                         "flag")


def _device_spec(value: str, flag: str) -> tuple[str, str]:
    """(path, value) of ``/dev/x:VALUE``, with the docker CLI's format messages."""
    path, sep, rest = value.partition(":")
    if not sep or not path:
        raise InvalidArgument(f'invalid argument "{value}" for "{flag}" flag: bad format: {value}')
    if not path.startswith("/dev/"):
        raise InvalidArgument(f'invalid argument "{value}" for "{flag}" flag: bad format for '
                              f"device path: {value}")
    return path, rest


def check_block_device(path: str, flag: str = "") -> tuple[int, int]:
    """(major, minor) of the block device at ``path``; Docker's stat message when it is missing,
    and a refusal when it is something else (a char device's numbers would name another
    block device to the kernel)."""
    import stat as _stat
    try:
        st = os.stat(path)
    except OSError as e:
        raise InvalidArgument(f"stat {path}: {(e.strerror or str(e)).lower()}") from None
    if not _stat.S_ISBLK(st.st_mode):
        where = f" (given to {flag})" if flag else ""
        raise InvalidArgument(f"{path} is not a block device{where}: name a disk or partition "
                              "such as /dev/sda or a loop device")
    return os.major(st.st_rdev), os.minor(st.st_rdev)


def parse_weight_device(value: str):
    """--blkio-weight-device ``/dev/sda:200`` (a weight of 10..1000, or 0 to drop the rule)."""
    from .models import WeightDevice
    path, weight = _device_spec(value, "--blkio-weight-device")
    try:
        w = int(weight)
    except ValueError:
        w = -1
    if w < 0 or w > 65535 or (w and not 10 <= w <= 1000):
        raise InvalidArgument(f'invalid argument "{value}" for "--blkio-weight-device" flag: '
                              f"invalid weight for device: {value}")
    return WeightDevice(path, w)


def parse_throttle_bps(value: str, flag: str = "--device-write-bps"):
    """--device-{read,write}-bps ``/dev/sda:1mb`` (a size in Docker's notation, per second)."""
    from .models import ThrottleDevice
    path, rate = _device_spec(value, flag)
    try:
        n = parse_size(rate, flag)
    except InvalidArgument:
        n = -1
    if n < 0 or not rate:
        raise InvalidArgument(f'invalid argument "{value}" for "{flag}" flag: invalid rate for '
                              f"device: {value}. The correct format is <device-path>:<number>"
                              "[<unit>]. Number must be a positive integer. Unit is optional "
                              "and can be kb, mb, or gb")
    return ThrottleDevice(path, n)


def parse_throttle_iops(value: str, flag: str = "--device-write-iops"):
    """--device-{read,write}-iops ``/dev/sda:100`` (operations per second)."""
    from .models import ThrottleDevice
    path, rate = _device_spec(value, flag)
    if not rate.isdigit():
        raise InvalidArgument(f'invalid argument "{value}" for "{flag}" flag: invalid rate for '
                              f"device: {value}. The correct format is <device-path>:<number>. "
                              "Number must be a positive integer")
    return ThrottleDevice(path, int(rate))


def parse_oom_score_adj(value: str | int) -> int:
    try:
        n = int(value)
    except (TypeError, ValueError):
        raise InvalidArgument(f'invalid argument "{value}" for "--oom-score-adj" flag: '
                              "strconv.ParseInt: parsing: invalid syntax") from None
    if not -1000 <= n <= 1000:
        raise InvalidArgument(f"Invalid value {n}, range for oom score adj is [-1000, 1000]")
    return n


MAX_CPU_NUMBER = 8191   # the kernel's largest NR_CPUS
PIDS_MAX = 4194304      # pids.max refuses more (PID_MAX_LIMIT on 64-bit)
CFS_QUOTA_MAX = (1 << 44) - 1   # cpu.cfs_quota_us refuses more (max_cfs_runtime, in us)
_INT_FIELDS = {"memory": "--memory", "memory_swap": "--memory-swap",
               "memory_reservation": "--memory-reservation", "nano_cpus": "--cpus",
               "cpu_shares": "--cpu-shares", "cpu_period": "--cpu-period",
               "cpu_quota": "--cpu-quota", "pids_limit": "--pids-limit",
               "blkio_weight": "--blkio-weight"}


def _cpu_list(spec: str) -> set[int] | None:
    """The numbers of a cpuset list (``0-2,4``), None when it can't be parsed."""
    out: set[int] = set()
    for part in spec.split(","):
        lo, sep, hi = part.partition("-")
        if not lo.isdigit() or (sep and not hi.isdigit()):
            return None
        a, b = int(lo), int(hi) if sep else int(lo)
        if b < a or b > MAX_CPU_NUMBER:   # a hostile 0-99999999999 would fill the memory
            return None
        out.update(range(a, b + 1))
    return out


def _online(kind: str) -> str:
    path = {"cpus": "/sys/devices/system/cpu/online", "mems": "/sys/devices/system/node/online"}
    try:
        with open(path[kind]) as f:
            return f.read().strip()
    except OSError:
        return "0"


def validate_resources(r, oom_score_adj: int = 0) -> None:
    """Docker's daemon-side refusals of resource values (the ones it rejects rather than
    adjusts), with its messages; the same for create, run and update. Numbers no kernel
    interface takes (beyond an int64, more pids or CFS quota than the kernel allows) are refused
    here rather than at start."""
    for key, flag in _INT_FIELDS.items():
        value = getattr(r, key)
        if isinstance(value, bool) or not isinstance(value, int) or \
                not -INT64_MAX - 1 <= value <= INT64_MAX:
            raise InvalidArgument(f"invalid value for {flag}: {_shown(value)} is not a number "
                                  "from -9223372036854775808 to 9223372036854775807")
    if r.pids_limit > PIDS_MAX:
        raise InvalidArgument(f"invalid value for --pids-limit: {r.pids_limit} is more than the "
                              f"kernel allows ({PIDS_MAX}); give -1 for no limit")
    if r.cpu_quota > CFS_QUOTA_MAX:
        raise InvalidArgument(f"CPU cfs quota can not be more than {CFS_QUOTA_MAX} (the "
                              "kernel's largest)")
    if r.memory_reservation and r.memory_reservation < MIN_MEMORY:
        raise InvalidArgument("Minimum memory reservation allowed is 6MB")
    if r.memory and r.memory_reservation and r.memory < r.memory_reservation:
        raise InvalidArgument("Minimum memory limit can not be less than memory reservation "
                              "limit, see usage")
    if r.cpu_period and not 1000 <= r.cpu_period <= 1_000_000:
        raise InvalidArgument("CPU cfs period can not be less than 1ms (i.e. 1000) or larger "
                              "than 1s (i.e. 1000000)")
    if r.cpu_quota > 0 and r.cpu_quota < 1000:
        raise InvalidArgument("CPU cfs quota can not be less than 1ms (i.e. 1000)")
    if r.nano_cpus and r.cpu_period:
        raise InvalidArgument("Conflicting options: Nano CPUs and CPU Period cannot both be set")
    if r.nano_cpus and r.cpu_quota:
        raise InvalidArgument("Conflicting options: Nano CPUs and CPU Quota cannot both be set")
    if r.cpu_shares < 0:
        raise InvalidArgument(f"invalid CPU shares {r.cpu_shares}: shares must not be negative")
    for key, kind, word in (("cpuset_cpus", "cpus", "CPUs"), ("cpuset_mems", "mems",
                                                                "memory nodes")):
        spec = getattr(r, key)
        if not spec:
            continue
        wanted, online = _cpu_list(spec), _cpu_list(_online(kind)) or {0}
        if wanted is None:
            raise InvalidArgument(f"Invalid value {_shown(spec)} for cpuset {kind}")
        if not wanted <= online:
            raise InvalidArgument(f"Requested {word} are not available - requested {spec}, "
                                  f"available: {_online(kind)}")
    if r.blkio_weight and not 10 <= r.blkio_weight <= 1000:
        raise InvalidArgument("Range of blkio weight is from 10 to 1000")
    for key in ("blkio_weight_device", "device_read_bps", "device_write_bps",
                "device_read_iops", "device_write_iops"):
        for d in getattr(r, key):
            check_block_device(d.path, "--" + key.replace("_", "-"))
    if not -1000 <= oom_score_adj <= 1000:
        raise InvalidArgument(f"Invalid value {oom_score_adj}, range for oom score adj is "
                              "[-1000, 1000]")
