"""cgroups: the v2 backend against a directory tree shaped like a v2 hierarchy, the v1 backend
against this host's real controllers."""

from __future__ import annotations

import os
import signal
import subprocess

import pytest

from engine.models import Resources
from engine.runtime import cgroups


def _fake_v2(tmp_path):
    mount = tmp_path / "cgroup2"
    mount.mkdir()
    (mount / "cgroup.controllers").write_text("cpuset cpu io memory pids\n")
    (mount / "cgroup.subtree_control").write_text("")
    return mount


def _read(p) -> str:
    with open(p) as f:
        return f.read()


def test_v2_limits_are_written_in_v2_units(tmp_path):
    mount = _fake_v2(tmp_path)
    cg = cgroups.V2("berth-test", str(mount))
    res = Resources(memory=64 << 20, memory_swap=96 << 20, nano_cpus=1_500_000_000,
                    cpu_shares=512, cpuset_cpus="0", pids_limit=50, memory_reservation=32 << 20)
    (mount / "berth-test").mkdir()
    (mount / "berth-test" / "cgroup.controllers").write_text("cpuset cpu io memory pids\n")
    cg.create("c1", res)
    d = mount / "berth-test" / "c1"
    assert _read(mount / "cgroup.subtree_control") == "+cpuset +cpu +io +memory +pids"
    assert _read(mount / "berth-test" / "cgroup.subtree_control") == "+cpuset +cpu +io +memory +pids"
    assert _read(d / "memory.max") == str(64 << 20)
    assert _read(d / "memory.swap.max") == str(32 << 20)   # v2 counts swap alone
    assert _read(d / "memory.low") == str(32 << 20)
    assert _read(d / "cpu.max") == "150000 100000"
    assert _read(d / "cpu.weight") == str(cgroups.shares_to_weight(512))
    assert _read(d / "cpuset.cpus") == "0"
    assert _read(d / "pids.max") == "50"
    assert cg.path("c1", "memory") == str(d)


def test_v2_memory_swap_default_and_unlimited(tmp_path):
    mount = _fake_v2(tmp_path)
    cg = cgroups.V2("p", str(mount))
    cg.create("a", Resources(memory=10 << 20))
    assert _read(mount / "p" / "a" / "memory.swap.max") == str(10 << 20)  # Docker: 2x memory
    cg.create("b", Resources(memory=10 << 20, memory_swap=-1))
    assert _read(mount / "p" / "b" / "memory.swap.max") == "max"


def test_v2_freeze_oom_pids_and_remove(tmp_path):
    mount = _fake_v2(tmp_path)
    cg = cgroups.V2("p", str(mount))
    cg.create("c", None)
    d = mount / "p" / "c"
    (d / "cgroup.events").write_text("populated 1\nfrozen 1\n")
    cg.freeze("c")
    assert _read(d / "cgroup.freeze") == "1" and cg.frozen("c")
    cg.thaw("c")
    assert _read(d / "cgroup.freeze") == "0" and not cg.frozen("c")
    (d / "memory.events").write_text("low 0\nhigh 0\nmax 4\noom 2\noom_kill 1\n")
    assert cg.oom_kill_count("c") == 1
    cg.join_self("c")
    assert _read(d / "cgroup.procs") == "0"          # "0" is the writer itself
    (d / "cgroup.procs").write_text("12\n34\n")
    assert cg.pids("c") == [12, 34]
    (d / "cgroup.kill").write_text("")
    cg.kill_all("c")
    assert _read(d / "cgroup.kill") == "1"
    for f in os.listdir(d):      # a real cgroupfs directory goes with its files
        os.unlink(d / f)
    cg.remove("c")
    assert not d.exists()


def test_conversions():
    assert cgroups.shares_to_weight(2) == 1
    assert cgroups.shares_to_weight(262144) == 10000
    assert cgroups.shares_to_weight(1024) == 39
    assert cgroups.cpu_quota({"nano_cpus": 500_000_000}) == (50000, 100000)
    assert cgroups.cpu_quota({"cpu_quota": 20000, "cpu_period": 50000}) == (20000, 50000)
    assert cgroups.memory_swap_limit(100, 0) == 200
    assert cgroups.memory_swap_limit(0, 0) == 0


@pytest.fixture
def v1(root):
    from engine.paths import Paths
    backend = cgroups.detect(Paths.from_env(root))
    if backend.version != 1:  # pragma: no cover - this suite's host is v1
        pytest.skip("host has no cgroup v1 controllers")
    return backend


def test_v1_real_limits_freezer_and_removal(v1):
    cid = "f" * 64
    v1.create(cid, Resources(memory=32 << 20, nano_cpus=500_000_000, cpu_shares=256,
                             cpuset_cpus="0", pids_limit=20))
    try:
        assert int(_read(f"{v1.path(cid, 'memory')}/memory.limit_in_bytes")) == 32 << 20
        assert _read(f"{v1.path(cid, 'cpu')}/cpu.cfs_quota_us").strip() == "50000"
        assert _read(f"{v1.path(cid, 'cpu')}/cpu.shares").strip() == "256"
        assert _read(f"{v1.path(cid, 'cpuset')}/cpuset.cpus").strip() == "0"
        assert _read(f"{v1.path(cid, 'pids')}/pids.max").strip() == "20"
        assert "c 1:3 rwm" in _read(f"{v1.path(cid, 'devices')}/devices.list")
        p = subprocess.Popen(["sleep", "1000"])
        try:
            v1.add(cid, p.pid)
            assert v1.pids(cid) == [p.pid]
            v1.freeze(cid)
            assert v1.frozen(cid)
            assert _read(f"/proc/{p.pid}/stat").split(")")[1].split()[0] in ("D", "S")
            v1.thaw(cid)
            assert not v1.frozen(cid)
            v1.kill_all(cid)
            assert p.wait(timeout=30) == -signal.SIGKILL
        finally:
            p.kill()
            p.wait()
        assert v1.oom_kill_count(cid) == 0
        child = os.fork()
        if child == 0:  # a single-threaded process moves itself (through tasks, "0")
            try:
                v1.join_self(cid)
                with open("/proc/self/cgroup") as f:
                    inside = [ln for ln in f if ln.endswith(f"/{cid}\n")]
                os._exit(0 if len(inside) == len(v1.mounts) else 1)
            finally:
                os._exit(2)
        _, status = os.waitpid(child, 0)
        assert os.waitstatus_to_exitcode(status) == 0
    finally:
        v1.remove(cid)
    for ctrl in v1.mounts:
        assert not os.path.exists(os.path.dirname(v1.path(cid, ctrl)))  # parent went too
