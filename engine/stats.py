"""Resource readings from the kernel's own accounting: cgroup v1 and v2 files, the container's
network namespace, /proc/stat for the host's CPU time.

Each cgroup file is parsed by a small pure function; which files a version has is a table
(``V1`` / ``V2``), so nothing below asks which version the host runs. ``StatsReader`` reads many
containers once per tick through descriptors it keeps open (one ``pread`` per file), and
``cpu_percent`` is the ``docker stats`` formula. (The monitor's OOM watch is
engine/runtime/oomwatch.py: the monitor never loads this module.)
"""

from __future__ import annotations

import os

CLK_TCK = os.sysconf("SC_CLK_TCK")
# what the kernel reports as a v1 memory limit, or a v2 one written as "max", when none is set
UNLIMITED = 0x7FFFFFFFFFFFF000


# --- pure parsers: one per file shape -----------------------------------------------------------

def parse_cpu_max(text: str) -> float:
    """v2 ``cpu.max`` ("50000 100000", "max 100000") as CPUs allowed; 0.0 when unlimited."""
    parts = text.split()
    if len(parts) != 2 or parts[0] == "max":
        return 0.0
    return cpu_limit(int(parts[0]), int(parts[1]))


def cpu_limit(quota: int | None, period: int | None) -> float:
    """CFS quota over period as CPUs allowed (v1 writes -1 for no quota); 0.0 when unlimited."""
    if not quota or quota < 0 or not period:
        return 0.0
    return quota / period


def parse_value(text: str) -> int | None:
    """A single-value file (``memory.current``, ``pids.max``, ``cpuacct.usage``); ``max`` -> None."""
    text = text.strip()
    if not text or text == "max":
        return None
    return int(text)


def parse_keyed(text: str) -> dict[str, int]:
    """A flat keyed file: ``key value`` lines (``memory.stat``, ``cpu.stat``, ``memory.events``,
    v1 ``memory.oom_control``)."""
    out: dict[str, int] = {}
    for line in text.splitlines():
        key, _, value = line.partition(" ")
        if value:
            try:
                out[key] = int(value)
            except ValueError:
                pass
    return out


def parse_keys(text: str, keys: tuple[str, ...]) -> dict[str, int]:
    """Only ``keys`` of a flat keyed file: v1's memory.stat has 70 lines and a reader needs two,
    so it looks them up instead of splitting every line (a third of a tick's CPU otherwise)."""
    out: dict[str, int] = {}
    padded = "\n" + text
    for key in keys:
        at = padded.find(f"\n{key} ")
        if at >= 0:
            start = at + len(key) + 2
            end = padded.find("\n", start)
            out[key] = int(padded[start:end if end >= 0 else None])
    return out


def parse_v1_memory_stat(text: str) -> dict[str, int]:
    """v1 ``memory.stat``: the inactive file cache of the whole subtree and a parent's limit."""
    return parse_keys(text, ("total_inactive_file", "hierarchical_memory_limit"))


def parse_v2_memory_stat(text: str) -> dict[str, int]:
    """v2 ``memory.stat``: the inactive file cache."""
    return parse_keys(text, ("inactive_file",))


def parse_cpu_stat_ns(text: str) -> int:
    """v2 ``cpu.stat``: the container's CPU time in ns (``usage_usec`` x 1000)."""
    return parse_keyed(text).get("usage_usec", 0) * 1000


def parse_blkio(text: str) -> tuple[int, int]:
    """v1 ``blkio.*io_service_bytes*``: (read, write) bytes summed over devices.

    Lines are ``MAJ:MIN Op bytes``; the closing ``Total n`` line has no device and is skipped."""
    read = write = 0
    for line in text.splitlines():
        parts = line.split()
        if len(parts) != 3:
            continue
        if parts[1] == "Read":
            read += int(parts[2])
        elif parts[1] == "Write":
            write += int(parts[2])
    return read, write


def parse_io_stat(text: str) -> tuple[int, int]:
    """v2 ``io.stat``: (read, write) bytes summed over devices (``MAJ:MIN rbytes=… wbytes=…``)."""
    read = write = 0
    for line in text.splitlines():
        for field in line.split()[1:]:
            key, _, value = field.partition("=")
            if key == "rbytes":
                read += int(value)
            elif key == "wbytes":
                write += int(value)
    return read, write


def parse_proc_stat(text: str) -> tuple[int, int]:
    """/proc/stat: (host CPU time in ns, online CPUs), as ``docker stats`` reads it.

    Docker sums the first seven fields of the ``cpu`` line (user nice system idle iowait irq
    softirq; steal and guest are left out) and converts clock ticks to ns."""
    system = 0
    cpus = 0
    for line in text.splitlines():
        if not line.startswith("cpu"):
            break
        if line.startswith("cpu "):
            system = sum(int(x) for x in line.split()[1:8]) * (1_000_000_000 // CLK_TCK)
        else:
            cpus += 1  # /proc/stat lists only online CPUs
    return system, max(cpus, 1)


def parse_net_dev(text: str) -> dict[str, tuple[int, int, int, int]]:
    """/proc/<pid>/net/dev: interface -> (rx bytes, rx packets, tx bytes, tx packets)."""
    out = {}
    for line in text.splitlines()[2:]:
        name, _, rest = line.partition(":")  # big counters run into the colon: "eth0:123456"
        f = rest.split()
        if len(f) >= 10:
            out[name.strip()] = (int(f[0]), int(f[1]), int(f[8]), int(f[9]))
    return out


def net_totals(ifaces: dict[str, tuple[int, int, int, int]],
               include_lo: bool = False) -> tuple[int, int, int, int]:
    """Sum of the interfaces that count: every one but ``lo``, as Docker (which counts the
    container's endpoints; loopback traffic never leaves the container)."""
    rx = rxp = tx = txp = 0
    for name, (a, b, c, d) in ifaces.items():
        if name == "lo" and not include_lo:
            continue
        rx, rxp, tx, txp = rx + a, rxp + b, tx + c, txp + d
    return rx, rxp, tx, txp


def parse_meminfo_total(text: str) -> int:
    """/proc/meminfo: MemTotal in bytes."""
    for line in text.splitlines():
        if line.startswith("MemTotal:"):
            return int(line.split()[1]) * 1024
    return 0


# --- formulas -----------------------------------------------------------------------------------

def cpu_percent(prev_cpu: int, cpu: int, prev_system: int, system: int, online_cpus: int) -> float:
    """``docker stats``' CPU %: container CPU delta over host CPU delta, times online CPUs, x 100."""
    cpu_delta = cpu - prev_cpu
    system_delta = system - prev_system
    if cpu_delta <= 0 or system_delta <= 0:
        return 0.0
    return cpu_delta / system_delta * online_cpus * 100.0


def memory_usage(current: int, stat: dict[str, int], inactive_key: str) -> int:
    """Usage without the inactive file cache (Docker's ``usage - total_inactive_file`` on v1,
    ``memory.current - inactive_file`` on v2); unchanged when the cache would exceed it."""
    inactive = stat.get(inactive_key, 0)
    return current - inactive if inactive < current else current


def memory_limit(limit: int | None, stat: dict[str, int], host_memory: int) -> int:
    """The limit that applies: the cgroup's, a parent's (v1 ``hierarchical_memory_limit``), or the
    host's memory when none is lower, as Docker reports it."""
    candidates = [host_memory]
    if limit is not None and limit < UNLIMITED:
        candidates.append(limit)
    parent = stat.get("hierarchical_memory_limit")
    if parent is not None and parent < UNLIMITED:
        candidates.append(parent)
    return min(c for c in candidates if c > 0) if any(c > 0 for c in candidates) else 0


def memory_percent(usage: int, limit: int) -> float:
    return usage / limit * 100.0 if limit else 0.0


# --- the table of files per cgroup version ------------------------------------------------------

LIMIT_EVERY = 5   # limits change only with `update`: read them every 5th tick, counters every one


class Version:
    """What to read for one cgroup version: (key, controller, candidate file names, parser, read
    every n-th tick) per quantity, and the memory.stat key of the inactive file cache."""

    def __init__(self, name: str, ops: tuple, inactive_key: str):
        self.name = name
        self.ops = ops
        self.inactive_key = inactive_key


V1 = Version("v1", (
    ("cpu", "cpuacct", ("cpuacct.usage",), parse_value, 1),
    ("mem", "memory", ("memory.usage_in_bytes",), parse_value, 1),
    ("mem_stat", "memory", ("memory.stat",), parse_v1_memory_stat, 1),
    ("mem_max", "memory", ("memory.limit_in_bytes",), parse_value, LIMIT_EVERY),
    ("cpu_quota", "cpu", ("cpu.cfs_quota_us",), parse_value, LIMIT_EVERY),
    ("cpu_period", "cpu", ("cpu.cfs_period_us",), parse_value, LIMIT_EVERY),
    # throttle's counters are kept at the bio layer whatever the I/O scheduler; the others only
    # under CFQ/BFQ (see enable_block_accounting for when the throttle ones count at all)
    ("io", "blkio", ("blkio.throttle.io_service_bytes_recursive",
                     "blkio.io_service_bytes_recursive",
                     "blkio.bfq.io_service_bytes_recursive"), parse_blkio, 1),
    ("pids", "pids", ("pids.current",), parse_value, 1),
    ("pids_max", "pids", ("pids.max",), parse_value, LIMIT_EVERY),
), "total_inactive_file")

V2 = Version("v2", (
    ("cpu", "cpu", ("cpu.stat",), parse_cpu_stat_ns, 1),
    ("mem", "memory", ("memory.current",), parse_value, 1),
    ("mem_stat", "memory", ("memory.stat",), parse_v2_memory_stat, 1),
    ("mem_max", "memory", ("memory.max",), parse_value, LIMIT_EVERY),
    ("cpu_max", "cpu", ("cpu.max",), parse_cpu_max, LIMIT_EVERY),
    ("io", "io", ("io.stat",), parse_io_stat, 1),
    ("pids", "pids", ("pids.current",), parse_value, 1),
    ("pids_max", "pids", ("pids.max",), parse_value, LIMIT_EVERY),
), "inactive_file")


def version_of(backend) -> Version:
    return V2 if getattr(backend, "version", 1) == 2 else V1


def _pread(fd: int) -> str:
    # cgroup and proc seq files regenerate their text on a read at offset 0
    return os.pread(fd, 65536, 0).decode()


class StatsReader:
    """Reads many containers' counters, keeping each file's descriptor open between ticks so a
    reading is one ``pread`` per file. Not thread-safe: one reader per stream."""

    def __init__(self, backend, host_memory: int | None = None, proc: str = "/proc"):
        self.backend = backend
        self.version = version_of(backend)
        self.proc = proc
        self._fds: dict[str, list] = {}     # cid -> [(key, fd (-1: absent), parse, every)]
        self._last: dict[str, dict] = {}    # cid -> its previous values (for the limits)
        self._tick = 0
        self._net: dict[str, tuple[int, int]] = {}     # cid -> (pid, fd of its net/dev)
        self._stat_fd = os.open(f"{proc}/stat", os.O_RDONLY | os.O_CLOEXEC)
        if host_memory is None:
            with open(f"{proc}/meminfo") as f:
                host_memory = parse_meminfo_total(f.read())
        self.host_memory = host_memory
        from .models import StatsSample  # here, not at the top: the monitor imports this module
        self.sample_type = StatsSample

    def system(self) -> tuple[int, int]:
        """(host CPU ns, online CPUs) now; called once per tick, which it counts."""
        self._tick += 1
        return parse_proc_stat(_pread(self._stat_fd))

    def _open(self, cid: str) -> list:
        files = []
        try:
            for key, controller, names, parse, every in self.version.ops:
                fd = -1
                try:
                    d = self.backend.path(cid, controller)
                except KeyError:  # a controller this host doesn't mount: that value stays 0
                    d = None
                for name in names if d else ():
                    try:
                        fd = os.open(f"{d}/{name}", os.O_RDONLY | os.O_CLOEXEC)
                        break
                    except FileNotFoundError:
                        continue
                files.append((key, fd, parse, every))
        except BaseException:
            _close_all(f[1] for f in files)
            raise
        if all(f[1] < 0 for f in files):
            raise FileNotFoundError(f"no cgroup for {cid}")
        return files

    def read_raw(self, cid: str) -> dict | None:
        """The parsed cgroup values of one container, or None when its cgroup is gone."""
        files = self._fds.get(cid)
        try:
            if files is None:
                files = self._fds[cid] = self._open(cid)
            last = self._last.get(cid)
            tick = self._tick
            raw = {}
            # once per container per tick: kept tight (one pread and one parse per file)
            for key, fd, parse, every in files:
                if fd < 0:
                    raw[key] = None
                elif last is not None and tick % every:
                    raw[key] = last[key]
                else:
                    raw[key] = parse(os.pread(fd, 65536, 0).decode())
            self._last[cid] = raw
            return raw
        except (OSError, ValueError):
            # ENODEV/ENOENT: the cgroup was removed under us (the container stopped)
            self.forget(cid)
            return None

    def read_net(self, cid: str, pid: int) -> tuple[int, int, int, int]:
        """(rx, rx packets, tx, tx packets) of the network namespace of ``pid``.

        /proc/<pid>/net/dev shows the namespace of that process, so no setns is needed; the
        descriptor keeps pointing at that namespace, hence the cache is keyed by pid."""
        cached = self._net.get(cid)
        try:
            if cached is None or cached[0] != pid:
                if cached:
                    os.close(cached[1])
                    del self._net[cid]
                fd = os.open(f"{self.proc}/{pid}/net/dev", os.O_RDONLY | os.O_CLOEXEC)
                self._net[cid] = cached = (pid, fd)
            return net_totals(parse_net_dev(_pread(cached[1])))
        except OSError:
            self._net.pop(cid, None)
            if cached:
                _close_all([cached[1]])
            return 0, 0, 0, 0

    def sample(self, cid: str, name: str, pid: int, now: float, system: tuple[int, int],
               network: bool = True):
        """A StatsSample (without rates) for one container, or None when it is not running."""
        raw = self.read_raw(cid)
        if raw is None or raw.get("pids") == 0:
            # gone, or a cgroup left without processes (its monitor was killed): not running
            return None
        return build_sample(self.version, raw, cid, name, now, system, self.host_memory,
                            self.read_net(cid, pid) if network and pid else (0, 0, 0, 0),
                            self.sample_type)

    def forget(self, cid: str) -> None:
        """Close the descriptors of a container no longer read."""
        _close_all(f[1] for f in self._fds.pop(cid, ()))
        self._last.pop(cid, None)
        net = self._net.pop(cid, None)
        if net:
            _close_all([net[1]])

    def keep_only(self, cids) -> None:
        for cid in set(self._fds) - set(cids):
            self.forget(cid)

    def close(self) -> None:
        for cid in list(self._fds) + list(self._net):
            self.forget(cid)
        _close_all([self._stat_fd])
        self._stat_fd = -1


def build_sample(version: Version, raw: dict, cid: str, name: str, now: float,
                 system: tuple[int, int], host_memory: int, net: tuple[int, int, int, int],
                 sample_type):
    """Turn one container's parsed files into a sample; rates are left to ``with_rates``."""
    stat = raw.get("mem_stat") or {}
    usage = memory_usage(raw.get("mem") or 0, stat, version.inactive_key)
    limit = memory_limit(raw.get("mem_max"), stat, host_memory)
    read, write = raw.get("io") or (0, 0)
    return sample_type(
        id=cid, name=name, time=now, cpu_total_ns=raw.get("cpu") or 0,
        system_ns=system[0], online_cpus=system[1],
        memory_usage=usage, memory_limit=limit, memory_percent=memory_percent(usage, limit),
        net_rx=net[0], net_rx_packets=net[1], net_tx=net[2], net_tx_packets=net[3],
        block_read=read, block_write=write,
        pids=raw.get("pids") or 0, pids_limit=raw.get("pids_max") or 0,
        cpu_limit=raw.get("cpu_max") or cpu_limit(raw.get("cpu_quota"), raw.get("cpu_period")))


def with_rates(prev, cur):
    """Fill ``cur.cpu_percent`` from the previous sample of the same container (0 for the first)."""
    if prev is not None:
        cur.cpu_percent = cpu_percent(prev.cpu_total_ns, cur.cpu_total_ns, prev.system_ns,
                                      cur.system_ns, cur.online_cpus)
    return cur


def _close_all(fds) -> None:
    for fd in fds:
        if fd >= 0:
            try:
                os.close(fd)
            except OSError:
                pass


# --- block accounting on v1 ---------------------------------------------------------------------

def block_device_of(path: str, sys_block: str = "/sys/dev/block") -> str | None:
    """'MAJ:MIN' of the whole disk under ``path`` (throttle rules take disks, not partitions);
    None for a filesystem on no block device (tmpfs, overlay on tmpfs)."""
    dev = os.stat(path).st_dev
    node = f"{os.major(dev)}:{os.minor(dev)}"
    if os.major(dev) == 0:
        return None
    entry = f"{sys_block}/{node}"
    if not os.path.exists(entry):
        return None
    if os.path.exists(f"{entry}/partition"):
        with open(f"{os.path.realpath(entry)}/../dev") as f:
            return f.read().strip()
    return node


def enable_block_accounting(backend, cid: str, device: str) -> bool:
    """Make cgroup v1 count the block I/O of a device: from Linux 6.9 blk-throttle keeps its
    per-cgroup byte counters only once some cgroup configured a rule on that device. A rule of
    ``MAJ:MIN 0`` means "no limit" and switches the counting on. No-op on v2 (io.stat always
    counts). True when the rule was written."""
    if getattr(backend, "version", 1) == 2 or not device:
        return False
    try:
        with open(f"{backend.path(cid, 'blkio')}/blkio.throttle.read_bps_device", "w") as f:
            f.write(f"{device} 0")
        return True
    except (OSError, KeyError):
        return False
