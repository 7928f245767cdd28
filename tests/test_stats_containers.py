"""Stats, events and OOM through real containers of the busybox image: the issue's correctness
checks, and its "done when" through the command line."""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import time

import pytest

from engine import stats
from engine.models import ContainerConfig, Resources

from helpers import BERTH, REPO

MIB = 1024 * 1024


@pytest.fixture
def run(engine, busybox):
    """run(*cmd, **config) -> id of a started busybox container (no network unless asked)."""
    def start(*cmd: str, resources: Resources | None = None, **cfg) -> str:
        cfg.setdefault("network_mode", "none")
        c = engine.create(ContainerConfig(image=str(busybox), cmd=list(cmd),
                                          resources=resources or Resources(), **cfg))
        engine.start(c.id)
        return c.id
    return start


def _one(engine, cid: str, interval: float = 0.5):
    (s,) = [s for s in engine.stats_once([cid], interval=interval)]
    return s


def _wait_for(predicate, what: str, tries: int = 600):
    for _ in range(tries):
        value = predicate()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"never happened: {what}")


def test_busy_loop_under_half_a_cpu_reads_40_to_60_percent(engine, run):
    cid = run("sh", "-c", "while :; do :; done", resources=Resources(nano_cpus=500_000_000))
    s = _one(engine, cid, interval=2.0)
    assert 40.0 <= s.cpu_percent <= 60.0, s.cpu_percent
    assert s.pids == 1


def test_64_mib_under_a_128m_limit(engine, run):
    # tmpfs pages are charged to the writer's cgroup and can't be reclaimed: 64 MiB that stay
    cid = run("sh", "-c", "head -c 67108864 /dev/zero > /dev/shm/fill && echo full && sleep 600",
              resources=Resources(memory=128 * MIB), shm_size=100 * MIB)
    _wait_for(lambda: "full" in "".join(line.text for line in engine.logs(cid)),
              "the container filled /dev/shm")
    s = _one(engine, cid)
    assert abs(s.memory_usage - 64 * MIB) <= 0.10 * 64 * MIB, s.memory_usage
    assert s.memory_limit == 128 * MIB
    assert s.memory_percent == pytest.approx(s.memory_usage / (128 * MIB) * 100)


def test_unlimited_container_shows_the_hosts_memory(engine, run):
    cid = run("sleep", "600")
    with open("/proc/meminfo") as f:
        assert _one(engine, cid).memory_limit == stats.parse_meminfo_total(f.read())


def test_1_mib_received_on_the_bridge_shows_in_rx(engine, run):
    cid = run("sh", "-c", "nc -l -p 5000 > /dev/null; sleep 600", network_mode="bridge")
    (endpoint,) = engine.container(cid).state.networks.values()
    ip = endpoint.get("IPAddress") or endpoint.get("ip")   # Docker-shaped, or berth's first shape
    assert ip, endpoint
    before = _one(engine, cid, interval=0.1)
    for _ in range(100):  # nc may not listen yet
        try:
            conn = socket.create_connection((ip.split("/")[0], 5000), timeout=5)
            break
        except ConnectionRefusedError:
            time.sleep(0.05)
    else:
        raise AssertionError("the container never listened")
    with conn:
        conn.sendall(b"x" * MIB)
    after = _wait_for(lambda: (s := _one(engine, cid, interval=0.1)).net_rx - before.net_rx >= MIB
                      and s, "1 MiB in the container's rx")
    assert after.net_rx_packets > before.net_rx_packets
    assert after.net_tx > before.net_tx     # the ACKs


LOOPBACK_MIB = """
import socket, threading
srv = socket.socket(); srv.bind(("127.0.0.1", 0)); srv.listen()
def sink():
    s, _ = srv.accept()
    while s.recv(65536): pass
t = threading.Thread(target=sink); t.start()
c = socket.create_connection(srv.getsockname()); c.sendall(b"x" * (1 << 20)); c.close(); t.join()
"""


def test_loopback_traffic_does_not_count(engine, run):
    """With --network none only lo exists, and Docker leaves lo out of NET I/O: 1 MiB over the
    container's loopback (sent from its network namespace) shows on lo, not in the sample."""
    cid = run("sleep", "600")
    pid = engine.container(cid).state.pid
    subprocess.run(["nsenter", "-t", str(pid), "-n", sys.executable, "-c", LOOPBACK_MIB],
                   check=True, timeout=60)
    with open(f"/proc/{pid}/net/dev") as f:
        ifaces = stats.parse_net_dev(f.read())
    assert set(ifaces) == {"lo"} and ifaces["lo"][0] >= MIB
    s = _one(engine, cid, interval=0.1)
    assert (s.net_rx, s.net_tx) == (0, 0)


@pytest.fixture
def block_accounting(root):
    """Switch on v1 blkio counting for the disk under the berth root (see
    stats.enable_block_accounting): a rule of "no limit" in a cgroup of the test's own, removed
    at once; the device's queue keeps counting for every cgroup afterwards."""
    device = stats.block_device_of(root)
    if device is None:
        pytest.skip("the berth root is on no block device: nothing to account")
    if not os.path.isdir("/sys/fs/cgroup/blkio"):
        return device  # v2: io.stat counts always
    d = f"/sys/fs/cgroup/blkio/berth-statstest-{secrets.token_hex(4)}"
    os.mkdir(d)
    try:
        with open(f"{d}/blkio.throttle.read_bps_device", "w") as f:
            f.write(f"{device} 0")
    finally:
        os.rmdir(d)
    return device


@pytest.mark.parametrize("flag", ["oflag=direct", "conv=fsync"])
def test_10_mib_written_shows_in_block_write(engine, run, block_accounting, flag):
    cid = run("sh", "-c", f"dd if=/dev/zero of=/ten bs=1M count=10 {flag} && echo written "
              f"&& sleep 600")
    _wait_for(lambda: "written" in "".join(line.text for line in engine.logs(cid)),
              "dd finished")
    s = _one(engine, cid, interval=0.1)
    assert s.block_write >= 10 * MIB, s.block_write


def test_events_show_start_and_die_with_the_exit_code(engine, run):
    async def main():
        got = []

        async def follow():
            async for ev in engine.follow_events(filters={"type": ["container"]}):
                got.append(ev)
                if ev.action == "die":
                    return
        task = asyncio.create_task(follow())
        await asyncio.sleep(0.3)
        cid = await asyncio.to_thread(run, "sh", "-c", "exit 3")
        await asyncio.wait_for(task, 60)
        return cid, got
    cid, got = asyncio.run(main())
    actions = [(e.action, e.id) for e in got]
    assert ("create", cid) in actions and ("start", cid) in actions
    assert (got[-1].action, got[-1].id, got[-1].attributes["exitCode"]) == ("die", cid, "3")


def test_oom_kill_is_recorded_and_logged(engine, run):
    cid = run("sh", "-c", "exec dd if=/dev/zero of=/dev/null bs=128M count=1",
              resources=Resources(memory=32 * MIB))
    assert engine.wait(cid) == 137
    assert engine.container(cid).state.oom_killed
    actions = [e.action for e in engine.events(filters={"container": [cid]})]
    assert "oom" in actions
    assert actions.index("oom") < actions.index("die")
    (die,) = [e for e in engine.events(filters={"container": [cid], "event": ["die"]})]
    assert die.attributes["exitCode"] == "137"


def test_done_when_berth_events_shows_start_die_and_oom(root, cli, busybox):
    """`berth events` in one terminal; `berth run` in another: start, die with the exit code,
    and oom for the one that is OOM-killed."""
    env = {**os.environ, "BERTH_ROOT": root}
    # --since now: whatever is logged after this moment is shown, however late it starts
    ev = subprocess.Popen([*BERTH, "events", "--filter", "type=container",
                           "--since", f"{time.time():.6f}"],
                          stdout=subprocess.PIPE, text=True, env=env, cwd=REPO)
    try:
        assert cli("run", "--network", "none", str(busybox), "sh", "-c", "exit 3",
                   check=False).returncode == 3
        assert cli("run", "--network", "none", "-m", "32m", str(busybox), "dd", "if=/dev/zero",
                   "of=/dev/null", "bs=128M", "count=1", check=False).returncode == 137
        lines = []
        while sum(" die " in ln for ln in lines) < 2:
            line = ev.stdout.readline()
            assert line, f"berth events exited: {lines}"
            lines.append(line.rstrip())
        actions = [ln.split()[2] for ln in lines]
        assert actions == ["create", "start", "die", "create", "start", "oom", "die"], lines
        assert "(exitCode=3, " in lines[2]
        assert "exitCode=137" in lines[6]
        ev.send_signal(signal.SIGINT)
        assert ev.wait(30) == 0
    finally:
        if ev.poll() is None:
            ev.kill()
            ev.wait()


def test_done_when_berth_stats_shows_the_limits(cli, busybox):
    cid = cli("run", "-d", "--network", "none", "--cpus", "0.5", "-m", "128m", str(busybox),
              "sh", "-c", "while :; do :; done").stdout.strip()
    (line,) = cli("stats", "--no-stream", "--format", "json", cid[:12]).stdout.splitlines()
    obj = json.loads(line)
    assert obj["ID"] == cid[:12] and obj["MemUsage"].endswith(" / 128MiB")
    assert 40.0 <= float(obj["CPUPerc"].rstrip("%")) <= 60.0, obj
    assert obj["PIDs"] == "1"
