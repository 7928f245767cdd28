"""The stats readers' pure parts: each cgroup file's parser, Docker's formulas, and the v2 table
read through StatsReader from a fixture tree shaped like a v2 host (this host is v1)."""

from __future__ import annotations

import os
import select
import shutil
from pathlib import Path

import pytest

from engine import stats
from engine.runtime import oomwatch
from engine.runtime.cgroups import V2

FIXTURE = Path(__file__).parent / "fixtures" / "cgroup2"
CID = "4c3d0e5f"
MIB = 1024 * 1024


@pytest.fixture
def v2tree(tmp_path):
    """A writable copy of the v2 fixture tree and the runtime's v2 backend over it."""
    mount = tmp_path / "cgroup2"
    shutil.copytree(FIXTURE, mount)
    return mount, V2("berth", str(mount))


# --- parsers ------------------------------------------------------------------------------------

@pytest.mark.parametrize("text,want", [("123\n", 123), ("max\n", None), ("", None),
                                       ("9223372036854771712\n", 9223372036854771712)])
def test_parse_value(text, want):
    assert stats.parse_value(text) == want


def test_parse_keyed_skips_lines_that_are_not_numbers():
    assert stats.parse_keyed("a 1\nb x\nc 3\n\n") == {"a": 1, "c": 3}


def test_parse_blkio_sums_read_and_write_over_devices():
    text = ("8:0 Read 4096\n8:0 Write 8192\n8:0 Sync 8192\n8:0 Async 4096\n8:0 Discard 0\n"
            "8:0 Total 12288\n254:0 Read 1\n254:0 Write 2\nTotal 12291\n")
    assert stats.parse_blkio(text) == (4097, 8194)
    assert stats.parse_blkio("Total 0\n") == (0, 0)


def test_parse_io_stat():
    assert stats.parse_io_stat("254:0 rbytes=10 wbytes=20 rios=1 wios=2 dbytes=0 dios=0\n"
                               "8:0 rbytes=1 wbytes=2\n") == (11, 22)
    assert stats.parse_io_stat("") == (0, 0)


def test_parse_cpu_stat_ns():
    assert stats.parse_cpu_stat_ns("usage_usec 1500\nuser_usec 1000\n") == 1_500_000


def test_parse_proc_stat_sums_seven_fields_and_counts_online_cpus():
    tick_ns = 1_000_000_000 // os.sysconf("SC_CLK_TCK")
    text = ("cpu  10 1 5 100 2 0 3 7 0 0\ncpu0 5 1 2 50 1 0 1 3 0 0\ncpu1 5 0 3 50 1 0 2 4 0 0\n"
            "intr 1 2 3\n")
    # steal (7) is not part of Docker's system time
    assert stats.parse_proc_stat(text) == ((10 + 1 + 5 + 100 + 2 + 0 + 3) * tick_ns, 2)


def test_parse_net_dev_with_counters_running_into_the_colon():
    text = ("Inter-|   Receive                            |  Transmit\n"
            " face |bytes    packets errs drop fifo frame compressed multicast|bytes packets\n"
            "    lo:    1000      10    0    0    0     0          0         0     1000      10 0 0 0 0 0 0\n"
            "  eth0:12345678901   20    0    0    0     0          0         0      300       3 0 0 0 0 0 0\n")
    ifaces = stats.parse_net_dev(text)
    assert ifaces == {"lo": (1000, 10, 1000, 10), "eth0": (12345678901, 20, 300, 3)}
    assert stats.net_totals(ifaces) == (12345678901, 20, 300, 3)
    assert stats.net_totals(ifaces, include_lo=True) == (12345679901, 30, 1300, 13)


def test_parse_meminfo_total():
    assert stats.parse_meminfo_total("MemTotal:       24576000 kB\nMemFree: 1 kB\n") == 24576000 * 1024


# --- formulas -----------------------------------------------------------------------------------

def test_cpu_percent_is_dockers_formula():
    # half a second of CPU over one second of wall time on 2 CPUs (2 s of system time) is 50 %
    assert stats.cpu_percent(0, 500_000_000, 0, 2_000_000_000, 2) == pytest.approx(50.0)
    assert stats.cpu_percent(5, 5, 0, 10, 2) == 0.0
    assert stats.cpu_percent(0, 10, 10, 10, 2) == 0.0


def test_memory_usage_leaves_out_inactive_file_cache():
    assert stats.memory_usage(100, {"total_inactive_file": 30}, "total_inactive_file") == 70
    assert stats.memory_usage(100, {"inactive_file": 30}, "inactive_file") == 70
    # more cache than usage (can happen between the two reads): usage as it is
    assert stats.memory_usage(100, {"inactive_file": 300}, "inactive_file") == 100


def test_memory_limit_is_the_lowest_that_applies():
    host = 24 << 30
    assert stats.memory_limit(None, {}, host) == host
    assert stats.memory_limit(stats.UNLIMITED, {}, host) == host
    assert stats.memory_limit(128 * MIB, {}, host) == 128 * MIB
    assert stats.memory_limit(stats.UNLIMITED, {"hierarchical_memory_limit": 64 * MIB}, host) == 64 * MIB
    assert stats.memory_limit(48 << 30, {}, host) == host


# --- the v2 table over a fixture tree -----------------------------------------------------------

def test_v2_sample_from_the_fixture_tree(v2tree):
    _, backend = v2tree
    reader = stats.StatsReader(backend, host_memory=24 << 30)
    try:
        s = reader.sample(CID, "web", 0, 1.0, (10_000_000_000, 2), network=False)
    finally:
        reader.close()
    assert s.cpu_total_ns == 2_500_000_000
    assert s.memory_usage == 73400320 - 8388608          # memory.current - inactive_file
    assert s.memory_limit == 128 * MIB
    assert s.memory_percent == pytest.approx((73400320 - 8388608) / (128 * MIB) * 100)
    assert (s.block_read, s.block_write) == (4194304 + 1048576, 10485760)
    assert (s.pids, s.pids_limit) == (96, 512)
    assert (s.system_ns, s.online_cpus) == (10_000_000_000, 2)


def test_v2_unlimited_reads_as_the_hosts_memory_and_no_pids_limit(v2tree):
    _, backend = v2tree
    reader = stats.StatsReader(backend, host_memory=24 << 30)
    try:
        s = reader.sample("unlimited", "x", 0, 1.0, (1, 2), network=False)
    finally:
        reader.close()
    assert (s.memory_limit, s.pids_limit, s.block_write) == (24 << 30, 0, 0)


def test_v2_rereads_the_same_descriptors_each_tick(v2tree):
    mount, backend = v2tree
    reader = stats.StatsReader(backend, host_memory=24 << 30)
    try:
        first = reader.sample(CID, "web", 0, 1.0, (2_000_000_000, 2), network=False)
        fds = list(reader._fds[CID])
        # a regular file rewritten in place, as the kernel regenerates cgroup files
        cpu_stat = mount / "berth" / CID / "cpu.stat"
        with open(cpu_stat, "r+") as f:
            f.write("usage_usec 3000000\n")
        second = reader.sample(CID, "web", 0, 2.0, (4_000_000_000, 2), network=False)
        assert reader._fds[CID] == fds
    finally:
        reader.close()
    stats.with_rates(first, second)
    assert second.cpu_percent == pytest.approx(50.0)


def test_missing_cgroup_is_not_running(v2tree):
    _, backend = v2tree
    reader = stats.StatsReader(backend, host_memory=1)
    try:
        assert reader.read_raw("nosuchcontainer") is None
        assert reader._fds == {}
    finally:
        reader.close()


def test_v2_oom_watch_wakes_on_memory_events(v2tree):
    mount, backend = v2tree
    events = mount / "berth" / CID / "memory.events"
    watch = oomwatch.oom_watch(backend, CID)
    try:
        assert watch.kills == 1        # the count when the watch began is not news
        assert select.select([watch], [], [], 0)[0] == []
        events.write_text(events.read_text().replace("max 37", "max 38"))
        assert select.select([watch], [], [], 5)[0] == [watch]
        assert watch.check() == 0      # woken, but nothing was killed
        events.write_text(events.read_text().replace("oom_kill 1", "oom_kill 3"))
        assert select.select([watch], [], [], 5)[0] == [watch]
        assert watch.check() == 2
        assert select.select([watch], [], [], 0)[0] == []
    finally:
        watch.close()


def test_block_device_of_is_a_whole_disk_or_none():
    assert stats.block_device_of("/proc") is None   # no block device behind it
    disk = stats.block_device_of("/var/tmp")
    if disk is not None:
        assert os.path.isdir(f"/sys/dev/block/{disk}")
        assert not os.path.exists(f"/sys/dev/block/{disk}/partition")


def test_the_monitors_oom_watch_loads_nothing_but_itself(tmp_path):
    """Every monitor loads engine.runtime.oomwatch for its whole life: it must not pull in
    engine.stats (the dashboard's readings), models, typing or json."""
    import subprocess
    import sys
    code = ("import sys; import engine.runtime.cgroup_common; before = set(sys.modules); "
            "import engine.runtime.oomwatch; "
            "print(' '.join(sorted(set(sys.modules) - before)))")
    out = subprocess.run([sys.executable, "-S", "-c", code], capture_output=True, text=True,
                         cwd=Path(__file__).parents[1], check=True).stdout
    assert out.split() == ["engine.runtime.oomwatch"]


def test_stats_module_imports_only_os(tmp_path):
    """engine.stats (what `stats` and the dashboard read) keeps its imports light too."""
    import subprocess
    import sys
    code = ("import sys; before = set(sys.modules); import engine.stats; "
            "print(' '.join(sorted(set(sys.modules) - before)))")
    out = subprocess.run([sys.executable, "-S", "-c", code], capture_output=True, text=True,
                         cwd=Path(__file__).parents[1], check=True).stdout
    loaded = set(out.split())
    assert "engine.stats" in loaded
    assert not loaded & {"typing", "dataclasses", "json", "ctypes", "asyncio", "engine.models",
                         "engine.paths", "engine.events"}


def test_limits_are_read_again_every_few_ticks(v2tree):
    """Counters are read every tick; limits (which only `update` changes) every LIMIT_EVERY."""
    mount, backend = v2tree
    reader = stats.StatsReader(backend, host_memory=24 << 30)
    d = mount / "berth" / CID
    try:
        reader.system()
        assert reader.sample(CID, "w", 0, 1.0, (1, 2), network=False).memory_limit == 128 * MIB
        (d / "memory.max").write_text(f"{256 * MIB}\n")
        (d / "pids.current").write_text("7\n")
        limits = []
        for _ in range(stats.LIMIT_EVERY):
            reader.system()
            s = reader.sample(CID, "w", 0, 1.0, (1, 2), network=False)
            assert s.pids == 7
            limits.append(s.memory_limit)
    finally:
        reader.close()
    assert limits[0] == 128 * MIB and limits[-1] == 256 * MIB


def test_oom_watch_of_a_missing_cgroup_says_so(v2tree):
    from engine.errors import HostError
    _, backend = v2tree
    with pytest.raises(HostError, match="watching nosuch for OOM"):
        oomwatch.oom_watch(backend, "nosuch")
