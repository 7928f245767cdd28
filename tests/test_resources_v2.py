"""The cgroup v2 backend's resource files, against a directory tree shaped like a v2 hierarchy
(this host is v1): the right file, the right value, in v2's units and formats."""

from __future__ import annotations

import os

import pytest

from engine.models import Resources, ThrottleDevice, WeightDevice
from engine.runtime import cgroups


def _read(p) -> str:
    with open(p) as f:
        return f.read()


@pytest.fixture
def v2(tmp_path):
    mount = tmp_path / "cgroup2"
    (mount / "p").mkdir(parents=True)
    for d in (mount, mount / "p"):
        (d / "cgroup.controllers").write_text("cpuset cpu io memory pids\n")
        (d / "cgroup.subtree_control").write_text("")
    return cgroups.V2("p", str(mount))


@pytest.fixture
def block_device():
    """A block device node of this host, for its numbers ("MAJ:MIN")."""
    for name in sorted(os.listdir("/sys/block")):
        path = f"/dev/{name}"
        if os.path.exists(path):
            st = os.stat(path)
            return path, f"{os.major(st.st_rdev)}:{os.minor(st.st_rdev)}"
    pytest.skip("no block device node")


def test_io_max_one_line_per_device_with_every_key(v2, block_device):
    path, dev = block_device
    v2.create("c", Resources(device_read_bps=[ThrottleDevice(path, 2 << 20)],
                             device_write_bps=[ThrottleDevice(path, 1 << 20)],
                             device_read_iops=[ThrottleDevice(path, 100)],
                             device_write_iops=[ThrottleDevice(path, 0)]))
    line = _read(os.path.join(v2.path("c"), "io.max"))
    assert line == f"{dev} rbps={2 << 20} wbps={1 << 20} riops=100 wiops=max"


def test_memory_low_cpu_max_and_weight_conversions(v2):
    v2.create("c", Resources(memory=256 << 20, memory_reservation=128 << 20, cpu_quota=25000,
                             cpu_period=50000, cpu_shares=512, cpuset_mems="0"))
    d = v2.path("c")
    assert _read(f"{d}/memory.low") == str(128 << 20)
    assert _read(f"{d}/memory.max") == str(256 << 20)
    assert _read(f"{d}/cpu.max") == "25000 50000"
    # runc's conversion: 1 + ((shares - 2) * 9999) / 262142
    assert _read(f"{d}/cpu.weight") == str(1 + ((512 - 2) * 9999) // 262142) == "20"
    assert _read(f"{d}/cpuset.mems") == "0"
    v2.set_resources("c", Resources(cpu_quota=-1, cpu_period=100000))
    assert _read(f"{d}/cpu.max") == "max 100000"


@pytest.mark.parametrize("shares, weight", [(2, 1), (1024, 39), (262144, 10000), (512, 20)])
def test_shares_to_weight_as_runc(shares, weight):
    assert cgroups.shares_to_weight(shares) == weight


def test_blkio_weight_goes_to_io_weight_converted_or_to_bfq_as_is(v2, block_device):
    path, dev = block_device
    v2.create("c", Resources(blkio_weight=500,
                             blkio_weight_device=[WeightDevice(path, 1000)]))
    d = v2.path("c")
    # runc's conversion of the v1 range 10..1000 to io.weight's 1..10000
    assert cgroups.blkio_to_io_weight(10) == 1 and cgroups.blkio_to_io_weight(1000) == 10000
    # the fake file keeps only the last write: the device rule came after the default
    assert _read(f"{d}/io.weight") == f"{dev} 10000"
    v2.set_resources("c", Resources(blkio_weight=500))
    assert _read(f"{d}/io.weight") == f"default {cgroups.blkio_to_io_weight(500)}"
    (open(f"{d}/io.bfq.weight", "w")).close()          # a kernel with BFQ: its file, v1 range
    v2.set_resources("c", Resources(blkio_weight=500))
    assert _read(f"{d}/io.bfq.weight") == "500"


def test_v2_has_no_oom_kill_switch_and_says_so(v2):
    v2.create("c", Resources(memory=64 << 20, oom_kill_disable=True))
    assert not any("oom" in f for f in os.listdir(v2.path("c")))
    assert v2.warnings({"oom_kill_disable": True}) == [cgroups.NO_OOM_KILL_DISABLE]
    assert v2.warnings({"memory": 1, "memory_reservation": 1}) == []


def test_v2_without_io_controller_warns_as_docker(tmp_path):
    mount = tmp_path / "cg2"
    mount.mkdir()
    (mount / "cgroup.controllers").write_text("cpu memory pids\n")
    v2 = cgroups.V2("p", str(mount))
    w = v2.warnings({"blkio_weight": 100, "device_write_bps": [{"path": "/dev/x", "rate": 1}]})
    assert w == [cgroups.NO_BLKIO_WEIGHT, cgroups.NO_THROTTLE["device_write_bps"]]
