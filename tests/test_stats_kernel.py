"""The cgroup v1 readers against the real kernel, before any container exists: the test makes its
own cgroups (berth-statstest-<random>), puts a busy, allocating, writing or forking process in
them, reads them with StatsReader, and removes them whatever happens."""

from __future__ import annotations

import os
import secrets
import select
import signal
import subprocess
import sys
import time

import pytest

from engine import stats
from engine.runtime import oomwatch

V1_ROOT = "/sys/fs/cgroup"
CONTROLLERS = ("cpu", "cpuacct", "memory", "blkio", "pids")

pytestmark = pytest.mark.skipif(not os.path.exists(f"{V1_ROOT}/memory/memory.stat"),
                                reason="needs a cgroup v1 memory hierarchy (this host has one)")


class Backend:
    """The shape of the runtime's v1 backend that the readers use: ``path(cid, controller)``."""

    version = 1

    def __init__(self, parent: str):
        self.parent = parent
        self.mounts = {c: f"{V1_ROOT}/{c}" for c in CONTROLLERS}

    def path(self, cid: str, controller: str = "memory") -> str:
        return f"{self.mounts[controller]}/{self.parent}/{cid}"

    def add(self, cid: str, pid: int) -> None:
        for c in CONTROLLERS:
            with open(f"{self.path(cid, c)}/cgroup.procs", "w") as f:
                f.write(str(pid))

    def write(self, cid: str, controller: str, name: str, value) -> None:
        with open(f"{self.path(cid, controller)}/{name}", "w") as f:
            f.write(str(value))


def _procs(d: str) -> list[int]:
    try:
        with open(f"{d}/cgroup.procs") as f:
            return [int(p) for p in f.read().split()]
    except OSError:
        return []


@pytest.fixture
def cg():
    """A fresh v1 cgroup in every controller the readers use; killed and removed afterwards."""
    backend = Backend(f"berth-statstest-{secrets.token_hex(4)}")
    cid = "c" + secrets.token_hex(8)
    made = []
    try:
        for c in CONTROLLERS:
            for d in (f"{V1_ROOT}/{c}/{backend.parent}", backend.path(cid, c)):
                os.mkdir(d)
                made.append(d)
        yield backend, cid
    finally:
        for _ in range(100):
            pids = {p for d in made for p in _procs(d)}
            if not pids:
                break
            for p in pids:
                try:
                    os.kill(p, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            time.sleep(0.02)
        for d in reversed(made):
            for _ in range(100):
                try:
                    os.rmdir(d)
                    break
                except FileNotFoundError:
                    break
                except OSError:
                    time.sleep(0.02)


class Child:
    """A Python process that waits for a line on stdin, then runs ``code`` (after being put into
    the cgroup, so everything it does is accounted there)."""

    def __init__(self, code: str):
        self.p = subprocess.Popen([sys.executable, "-c", f"import sys\nsys.stdin.readline()\n{code}"],
                                  stdin=subprocess.PIPE, stdout=subprocess.PIPE)

    def go(self) -> None:
        self.p.stdin.write(b"go\n")
        self.p.stdin.flush()

    def line(self) -> str:
        return self.p.stdout.readline().decode().strip()

    def stop(self) -> None:
        if self.p.poll() is None:
            self.p.kill()
        self.p.wait()


@pytest.fixture
def child():
    made = []

    def make(code: str) -> Child:
        c = Child(code)
        made.append(c)
        return c
    yield make
    for c in made:
        c.stop()


def _sample(reader, cid, pid=0):
    return reader.sample(cid, "t", pid, time.monotonic(), reader.system(), network=bool(pid))


def _proc_cpu_ns(pid: int) -> int:
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) * (1_000_000_000 // os.sysconf("SC_CLK_TCK"))


def test_cpu_time_and_percent_under_a_half_cpu_quota(cg, child):
    backend, cid = cg
    backend.write(cid, "cpu", "cpu.cfs_period_us", 100000)
    backend.write(cid, "cpu", "cpu.cfs_quota_us", 50000)
    c = child("print('spinning', flush=True)\nwhile True: pass")
    backend.add(cid, c.p.pid)
    c.go()
    assert c.line() == "spinning"
    reader = stats.StatsReader(backend)
    try:
        first = _sample(reader, cid)
        proc_first = _proc_cpu_ns(c.p.pid)
        time.sleep(2)
        second = _sample(reader, cid)
        proc_second = _proc_cpu_ns(c.p.pid)
    finally:
        reader.close()
    stats.with_rates(first, second)
    # the cgroup's CPU time agrees with the process's own (clock-tick granularity: 10 ms a side)
    delta = second.cpu_total_ns - first.cpu_total_ns
    assert abs(delta - (proc_second - proc_first)) < 50_000_000
    assert 40.0 <= second.cpu_percent <= 60.0, second.cpu_percent
    assert second.online_cpus == os.cpu_count()


def test_memory_usage_and_limit_of_64_mib_under_128m(cg, child):
    backend, cid = cg
    backend.write(cid, "memory", "memory.limit_in_bytes", 128 * 1024 * 1024)
    c = child("print('idle', flush=True)\nsys.stdin.readline()\n"
              "b = bytearray(64 * 1024 * 1024)\n"
              "for i in range(0, len(b), 4096): b[i] = 1\n"
              "print('allocated', flush=True)\nsys.stdin.readline()")
    backend.add(cid, c.p.pid)
    c.go()
    assert c.line() == "idle"
    reader = stats.StatsReader(backend)
    try:
        before = _sample(reader, cid)
        c.go()
        assert c.line() == "allocated"
        after = _sample(reader, cid)
    finally:
        reader.close()
    mib64 = 64 * 1024 * 1024
    assert abs((after.memory_usage - before.memory_usage) - mib64) < mib64 * 0.10
    assert after.memory_limit == 128 * 1024 * 1024
    assert after.memory_percent == pytest.approx(after.memory_usage / (128 << 20) * 100)


def test_unlimited_memory_reads_as_the_hosts(cg, child):
    backend, cid = cg
    c = child("print('up', flush=True)\nsys.stdin.readline()")
    backend.add(cid, c.p.pid)
    c.go()
    assert c.line() == "up"
    reader = stats.StatsReader(backend)
    try:
        s = _sample(reader, cid)
    finally:
        reader.close()
    with open("/proc/meminfo") as f:
        host = stats.parse_meminfo_total(f.read())
    # a limit on a parent cgroup would apply instead; this one's parents set none
    assert s.memory_limit == host
    assert 0 < s.memory_usage < 100 * 1024 * 1024


def test_pids_and_their_limit(cg, child):
    backend, cid = cg
    backend.write(cid, "pids", "pids.max", 50)
    c = child("import os, time\nkids = []\n"
              "for _ in range(4):\n"
              "    pid = os.fork()\n"
              "    if pid == 0:\n"
              "        time.sleep(60); os._exit(0)\n"
              "    kids.append(pid)\n"
              "print('forked', flush=True)\nsys.stdin.readline()")
    backend.add(cid, c.p.pid)
    c.go()
    assert c.line() == "forked"
    reader = stats.StatsReader(backend)
    try:
        s = _sample(reader, cid)
    finally:
        reader.close()
    assert (s.pids, s.pids_limit) == (5, 50)


@pytest.mark.parametrize("how", ["oflag=direct", "conv=fsync"])
def test_block_write_of_10_mib(cg, tmp_path, how):
    backend, cid = cg
    device = stats.block_device_of(str(tmp_path))
    if device is None:
        pytest.skip(f"{tmp_path} is on no block device")
    # from Linux 6.9 v1 blkio counts only on devices where blk-throttle was configured
    assert stats.enable_block_accounting(backend, cid, device)
    target = tmp_path / "ten"
    p = subprocess.Popen(["sh", "-c", f"read x; exec dd if=/dev/zero of={target} bs=1M count=10 "
                          f"{how} status=none"], stdin=subprocess.PIPE)
    try:
        backend.add(cid, p.pid)
        p.communicate(b"go\n", timeout=60)
        assert p.returncode == 0
        reader = stats.StatsReader(backend)
        try:
            raw = reader.read_raw(cid)
        finally:
            reader.close()
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
    read, write = raw["io"]
    assert write >= 10 * 1024 * 1024


def test_loopback_traffic_in_the_processs_own_namespace(cg, child):
    """/proc/<pid>/net/dev is the namespace of that pid: 1 MiB over lo in a fresh netns shows on
    its lo line, and not in the totals (Docker leaves lo out)."""
    backend, cid = cg
    c = child("import ctypes, os, socket, threading\n"
              "assert ctypes.CDLL(None, use_errno=True).unshare(0x40000000) == 0\n"
              "os.system('ip link set lo up')\n"
              "srv = socket.socket(); srv.bind(('127.0.0.1', 0)); srv.listen()\n"
              "def sink():\n"
              "    s, _ = srv.accept()\n"
              "    while s.recv(65536): pass\n"
              "t = threading.Thread(target=sink); t.start()\n"
              "cl = socket.create_connection(srv.getsockname()); cl.sendall(b'x' * (1 << 20))\n"
              "cl.close(); t.join()\n"
              "print('sent', flush=True)\nsys.stdin.readline()")
    backend.add(cid, c.p.pid)
    c.go()
    assert c.line() == "sent"
    with open(f"/proc/{c.p.pid}/net/dev") as f:
        ifaces = stats.parse_net_dev(f.read())
    assert set(ifaces) == {"lo"}
    rx, _, tx, _ = stats.net_totals(ifaces, include_lo=True)
    assert rx >= 1 << 20 and tx >= 1 << 20
    reader = stats.StatsReader(backend)
    try:
        s = _sample(reader, cid, pid=c.p.pid)
    finally:
        reader.close()
    assert (s.net_rx, s.net_tx) == (0, 0)


def test_a_removed_cgroup_reads_as_not_running(cg, child):
    backend, cid = cg
    reader = stats.StatsReader(backend)
    try:
        c = child("print('up', flush=True)\nsys.stdin.readline()")
        backend.add(cid, c.p.pid)
        c.go()
        assert c.line() == "up"
        assert _sample(reader, cid) is not None
        c.stop()
        # an empty cgroup (what a killed monitor leaves) is not a running container either
        assert _sample(reader, cid) is None
        for ctrl in CONTROLLERS:
            os.rmdir(backend.path(cid, ctrl))
        assert reader.read_raw(cid) is None
        assert reader._fds == {}
    finally:
        reader.close()


def test_oom_kill_wakes_the_watch(cg, child):
    backend, cid = cg
    backend.write(cid, "memory", "memory.limit_in_bytes", 32 * 1024 * 1024)
    if os.path.exists(f"{backend.path(cid, 'memory')}/memory.memsw.limit_in_bytes"):
        backend.write(cid, "memory", "memory.memsw.limit_in_bytes", 32 * 1024 * 1024)
    watch = oomwatch.oom_watch(backend, cid)
    try:
        assert watch.check() == 0
        c = child("b = bytearray(128 * 1024 * 1024)\nfor i in range(0, len(b), 4096): b[i] = 1")
        backend.add(cid, c.p.pid)
        c.go()
        assert c.p.wait(60) == -signal.SIGKILL
        ready, _, _ = select.select([watch.fileno()], [], [], 10)
        assert ready == [watch.fileno()]
        assert watch.check() == 1
        # drained: not readable again until the next OOM
        assert select.select([watch.fileno()], [], [], 0)[0] == []
        assert watch.check() == 0
    finally:
        watch.close()
