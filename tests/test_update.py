"""``berth update`` on running and stopped containers: the new limit takes effect in the kernel at
once, is kept for the next start, shows in ``inspect`` and emits ``update``; Docker's rules for
what can change together."""

from __future__ import annotations

import json
import os

import pytest

from runtime_support import load_images, wait_for


def _read(cg, cid, ctrl, name) -> str:
    with open(os.path.join(cg.path(cid, ctrl), name)) as f:
        return f.read().strip()


def _host_config(run, ref) -> dict:
    return json.loads(run("inspect", ref).stdout)[0]["HostConfig"]


def test_update_memory_makes_a_larger_allocation_fail(run, cg, tmp_path):
    """A 100 MiB buffer fits under -m 256m; after ``update --memory 64m`` the same allocation
    in the same running container is OOM-killed."""
    trigger = tmp_path / "t"
    trigger.mkdir()
    script = ("dd if=/dev/zero of=/dev/null bs=100M count=1 2>/dev/null && echo first-ok; "
              "while [ ! -e /t/go ]; do sleep 0.05; done; "
              "dd if=/dev/zero of=/dev/null bs=100M count=1 2>/dev/null; echo second=$?; "
              "sleep 1000")
    cid = run("run", "-d", "--network", "none", "-m", "256m", "-v", f"{trigger}:/t", "busybox",
              "sh", "-c", script).stdout.strip()
    wait_for(lambda: "first-ok" in run("logs", cid).stdout, what="the first allocation")
    assert run("update", "--memory", "64m", cid).stdout == f"{cid}\n"
    assert int(_read(cg, cid, "memory", "memory.limit_in_bytes")) == 64 << 20
    (trigger / "go").touch()
    out = wait_for(lambda: [ln for ln in run("logs", cid).stdout.splitlines()
                            if ln.startswith("second=")], what="the second allocation")
    assert out == ["second=137"], out          # SIGKILLed by the OOM killer
    oom = dict(ln.split() for ln in _read(cg, cid, "memory", "memory.oom_control").splitlines())
    assert int(oom["oom_kill"]) >= 1
    assert json.loads(run("inspect", cid).stdout)[0]["State"]["Running"] is True
    run("rm", "-f", cid)


def test_lowering_memory_below_what_cannot_be_reclaimed_says_so(run, cg):
    """tmpfs pages can't be reclaimed without swap: the kernel answers EBUSY and berth says
    what happened; the record keeps the old limit."""
    cid = run("run", "-d", "--network", "none", "--shm-size", "256m", "busybox", "sh", "-c",
              "dd if=/dev/zero of=/dev/shm/x bs=1M count=100 2>/dev/null; echo filled; "
              "sleep 1000").stdout.strip()
    wait_for(lambda: "filled" in run("logs", cid).stdout, what="/dev/shm to fill")
    p = run("update", "--memory", "50m", cid, check=False)
    assert p.returncode == 125
    assert "cannot lower the memory limit" in p.stderr and "EBUSY" in p.stderr, p.stderr
    assert _host_config(run, cid)["Memory"] == 0
    run("update", "--memory", "300m", cid)
    assert int(_read(cg, cid, "memory", "memory.limit_in_bytes")) == 300 << 20
    run("rm", "-f", cid)


def test_memory_and_memsw_are_written_in_an_order_the_kernel_accepts(run, cg):
    cid = run("run", "-d", "--network", "none", "-m", "64m", "--memory-swap", "96m", "busybox",
              "sleep", "1000").stdout.strip()

    def limits():
        return (int(_read(cg, cid, "memory", "memory.limit_in_bytes")),
                int(_read(cg, cid, "memory", "memory.memsw.limit_in_bytes")))
    # raising memory past the current memsw: memsw must go first
    run("update", "--memory", "200m", "--memory-swap", "300m", cid)
    assert limits() == (200 << 20, 300 << 20)
    # lowering both below the old memory: memory must go first
    run("update", "--memory", "32m", "--memory-swap", "48m", cid)
    assert limits() == (32 << 20, 48 << 20)
    # memory alone past an explicit memsw: Docker's refusal
    p = run("update", "--memory", "100m", cid, check=False)
    assert "update the memoryswap at the same time" in p.stderr
    run("update", "--memory", "100m", "--memory-swap", "-1", cid)
    assert limits()[0] == 100 << 20 and limits()[1] > 1 << 60   # unlimited
    hc = _host_config(run, cid)
    assert (hc["Memory"], hc["MemorySwap"]) == (100 << 20, -1)
    run("rm", "-f", cid)


def test_update_cpu_pids_cpuset_blkio_live_and_inspect(run, cg, root):
    cid = run("run", "-d", "--network", "none", "--cpu-quota", "20000", "busybox", "sleep",
              "1000").stdout.strip()
    run("update", "--cpu-quota", "50000", "--cpu-period", "200000", "--cpu-shares", "700",
        "--cpuset-cpus", "1", "--cpuset-mems", "0", "--pids-limit", "12", "--blkio-weight",
        "400", cid)
    assert _read(cg, cid, "cpu", "cpu.cfs_quota_us") == "50000"
    assert _read(cg, cid, "cpu", "cpu.cfs_period_us") == "200000"
    assert _read(cg, cid, "cpu", "cpu.shares") == "700"
    assert _read(cg, cid, "cpuset", "cpuset.cpus") == "1"
    assert _read(cg, cid, "pids", "pids.max") == "12"
    weight = cg._blkio_weight_file()
    if weight:
        assert _read(cg, cid, "blkio", weight).split()[-1] == "400"
    hc = _host_config(run, cid)
    assert (hc["CpuQuota"], hc["CpuPeriod"], hc["CpuShares"], hc["CpusetCpus"],
            hc["CpusetMems"], hc["PidsLimit"], hc["BlkioWeight"]) == \
        (50000, 200000, 700, "1", "0", 12, 400)
    # --cpus and a quota exclude each other, as in Docker
    p = run("update", "--cpus", "1", cid, check=False)
    assert "Nano CPUs cannot be updated as CPU Period has already been set" in p.stderr
    with open(os.path.join(root, "events.jsonl")) as f:
        actions = [json.loads(ln)["action"] for ln in f]
    assert "update" in actions
    run("rm", "-f", cid)


def test_update_pids_limit_takes_effect_live(run, cg):
    cid = run("run", "-d", "--network", "none", "busybox", "sh", "-c",
              "sleep 1000").stdout.strip()
    run("update", "--pids-limit", "1", cid)      # only sh itself: no more forks
    assert _read(cg, cid, "pids", "pids.max") == "1"
    # a process moved into the cgroup can't fork either: the limit is the kernel's now
    pid = json.loads(run("inspect", cid).stdout)[0]["State"]["Pid"]
    assert int(_read(cg, cid, "pids", "pids.current")) >= 1
    assert pid in cg.pids(cid)
    child = os.fork()
    if child == 0:
        try:
            cg.join_self(cid)
            try:
                os.fork()
            except BlockingIOError:   # EAGAIN: pids.max reached
                os._exit(0)
            os._exit(1)
        finally:
            os._exit(2)
    _, status = os.waitpid(child, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    run("rm", "-f", cid)


def test_update_a_stopped_container_applies_at_its_next_start(run, cg):
    cid = run("create", "--network", "none", "busybox", "sleep", "1000").stdout.strip()
    assert run("update", "-m", "48m", "--cpus", "0.5", cid).stdout == f"{cid}\n"
    hc = _host_config(run, cid)
    assert (hc["Memory"], hc["NanoCpus"]) == (48 << 20, 500_000_000)
    run("start", cid)
    assert int(_read(cg, cid, "memory", "memory.limit_in_bytes")) == 48 << 20
    assert _read(cg, cid, "cpu", "cpu.cfs_quota_us") == "50000"
    run("rm", "-f", cid)


def test_update_restart_policy_reaches_the_running_monitor(run):
    cid = run("run", "-d", "--network", "none", "busybox", "sh", "-c",
              "sleep 1; exit 3").stdout.strip()
    run("update", "--restart", "on-failure:2", cid)
    assert _host_config(run, cid)["RestartPolicy"] == {"Name": "on-failure",
                                                        "MaximumRetryCount": 2}
    wait_for(lambda: json.loads(run("inspect", cid).stdout)[0]["RestartCount"] == 2
             and not json.loads(run("inspect", cid).stdout)[0]["State"]["Running"],
             what="two restarts under the updated policy")
    rm = run("create", "--rm", "--network", "none", "busybox", "true").stdout.strip()
    p = run("update", "--restart", "always", rm, check=False)
    assert "Restart policy cannot be updated because AutoRemove is enabled" in p.stderr


def test_update_needs_a_flag_and_refuses_kernel_memory(run):
    cid = run("create", "--network", "none", "busybox", "true").stdout.strip()
    p = run("update", cid, check=False)
    assert "you must provide one or more flags when using this command" in p.stderr
    p = run("update", "--kernel-memory", "10m", cid, check=False)
    assert p.returncode == 125 and "kernel memory limit is deprecated" in p.stderr
    p = run("update", "--memory-reservation", "1g", "-m", "512m", cid, check=False)
    assert "can not be less than memory reservation" in p.stderr
    p = run("update", "-m", "64m", "nosuch", check=False)
    assert "No such container: nosuch" in p.stderr


def test_engine_update_api(engine, root):
    """The facade the dashboard calls: a dict of changes or a Resources, a policy string."""
    from engine.models import Resources
    load_images(root)
    from engine.models import ContainerConfig
    c = engine.create(ContainerConfig(image="busybox", cmd=["true"], network_mode="none"))
    engine.update(c.id, {"memory": 64 << 20, "cpu_shares": 256}, "unless-stopped")
    engine.update(c.id, Resources(pids_limit=5))
    got = engine.container(c.id).config
    assert (got.resources.memory, got.resources.cpu_shares, got.resources.pids_limit,
            got.restart_policy.name) == (64 << 20, 256, 5, "unless-stopped")
    with pytest.raises(Exception, match="only .* can change after create"):
        engine.update(c.id, {"device_write_bps": []})
