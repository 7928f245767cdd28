"""The stats stream, stats_once and `berth stats` over container records whose processes live in
real cgroups made by the runtime's backend (plain processes stand in for containers, so these
tests don't depend on the whole runtime); the root fixture removes the cgroups and processes."""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import subprocess
import sys
import threading

import pytest

from engine.errors import NotFound
from engine.runtime import cgroups, process

MIB = 1024 * 1024


class FakeContainers:
    """Container records written as the runtime writes them, each running a real process."""

    def __init__(self, engine):
        self.engine = engine
        self.backend = cgroups.detect(engine.paths)
        self.procs: list[subprocess.Popen] = []

    def add(self, name: str, code: str = "import time; time.sleep(600)", running: bool = True,
            resources: dict | None = None, network_mode: str = "none") -> str:
        cid = secrets.token_hex(32)
        cdir = self.engine.paths.container_dir(cid)
        os.makedirs(cdir)
        process.write_json(os.path.join(cdir, "config.json"),
                           {"id": cid, "name": name, "created": "", "image": "busybox",
                            "network_mode": network_mode})
        state = {"status": "exited", "pid": 0}
        if running:
            self.backend.create(cid, resources or {})
            p = subprocess.Popen([sys.executable, "-c", f"import sys\nsys.stdin.readline()\n{code}"],
                                 stdin=subprocess.PIPE)
            self.procs.append(p)
            self.backend.add(cid, p.pid)
            p.stdin.write(b"go\n")
            p.stdin.flush()
            # the process is its own "monitor", so the record reads as running
            state = {"status": "running", "pid": p.pid, "monitor_pid": p.pid,
                     "monitor_start": process.start_time(p.pid)}
        process.write_json(os.path.join(cdir, "state.json"), state)
        return cid

    def stop_all(self) -> None:
        for p in self.procs:
            if p.poll() is None:
                p.kill()
            p.wait()


@pytest.fixture
def fake(engine):
    f = FakeContainers(engine)
    yield f
    f.stop_all()


def test_stats_once_reads_running_containers_and_skips_stopped(engine, fake):
    # memory is charged where it is first touched: the 8 MiB after joining the cgroup count
    busy = fake.add("busy", "b = b'x' * (8 << 20)\nwhile True: pass",
                    resources={"nano_cpus": 500_000_000, "memory": 128 * MIB, "pids_limit": 100})
    fake.add("stopped", running=False)
    samples = engine.stats_once(interval=1.0)
    assert [s.name for s in samples] == ["busy"]
    (s,) = samples
    assert s.id == busy
    assert 40.0 <= s.cpu_percent <= 60.0, s.cpu_percent
    assert s.memory_limit == 128 * MIB
    assert 8 * MIB <= s.memory_usage < 64 * MIB
    assert (s.pids, s.pids_limit) == (1, 100)


def test_stats_all_shows_stopped_containers_with_zeros(engine, fake):
    fake.add("up")
    down = fake.add("down", running=False)
    by_name = {s.name: s for s in engine.stats_once(all=True, interval=0.1)}
    assert set(by_name) == {"up", "down"}
    assert by_name["down"].id == down
    assert (by_name["down"].memory_usage, by_name["down"].pids) == (0, 0)
    assert by_name["up"].pids == 1


def test_stats_of_named_containers(engine, fake):
    fake.add("one")
    two = fake.add("two")
    down = fake.add("down", running=False)
    assert [s.id for s in engine.stats_once(["two"], interval=0.1)] == [two]
    # named, a stopped container is shown anyway, with zeros (as docker stats does)
    (s,) = engine.stats_once(["down"], interval=0.1)
    assert (s.id, s.memory_usage, s.pids) == (down, 0, 0)
    assert [s.id for s in engine.stats_once([two[:10]], interval=0.1)] == [two]
    with pytest.raises(NotFound, match="No such container: nope"):
        engine.stats_once(["nope"])


def test_stream_follows_containers_as_they_start_and_stop(engine, fake):
    fake.add("first")
    ticks: list[list[str]] = []
    threads: set[str] = set()
    real_tick = engine._stats_tick

    def tick(*a):
        threads.add(threading.current_thread().name)
        return real_tick(*a)
    engine._stats_tick = tick

    async def main():
        agen = engine.stats(interval=0.05)
        try:
            ticks.append([s.name for s in await agen.__anext__()])
            second = fake.add("second")
            ticks.append([s.name for s in await agen.__anext__()])
            fake.procs[0].kill()
            fake.procs[0].wait()
            ticks.append([s.name for s in await agen.__anext__()])
            return second
        finally:
            await agen.aclose()
    asyncio.run(main())
    assert ticks[0] == ["first"]
    assert sorted(ticks[1]) == ["first", "second"]
    assert ticks[2] == ["second"]        # its process is gone: no longer running
    # the kernel is read in worker threads, never on the event loop's
    assert threads and threading.main_thread().name not in threads


def test_cli_stats_no_stream(cli, fake):
    cid = fake.add("web", resources={"memory": 64 * MIB})
    out = cli("stats", "--no-stream").stdout.splitlines()
    assert out[0].split() == ["CONTAINER", "ID", "NAME", "CPU", "%", "MEM", "USAGE", "/", "LIMIT",
                              "MEM", "%", "NET", "I/O", "BLOCK", "I/O", "PIDS"]
    (row,) = out[1:]
    assert row.startswith(cid[:12] + " ") and " web " in row and "/ 64MiB" in row
    assert row.split()[-1] == "1"
    (line,) = cli("stats", "--no-stream", "--no-trunc", "--format", "json").stdout.splitlines()
    obj = json.loads(line)
    assert (obj["ID"], obj["Name"], obj["PIDs"]) == (cid, "web", "1")
    assert obj["MemUsage"].endswith(" / 64MiB")


def test_cli_stats_streams_until_interrupted(root, fake):
    fake.add("web")
    env = {**os.environ, "BERTH_ROOT": root}
    from helpers import BERTH, REPO
    p = subprocess.Popen([*BERTH, "stats", "--format", "json", "--interval", "0.1"],
                         stdout=subprocess.PIPE, text=True, env=env, cwd=REPO)
    try:
        names = [json.loads(p.stdout.readline())["Name"] for _ in range(3)]
        assert names == ["web"] * 3
        p.send_signal(2)
        assert p.wait(30) == 0
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()


def test_host_totals(engine):
    from engine import stats
    from tui.commands.stats import host_line
    t = engine.host_totals()
    with open("/proc/meminfo") as f:
        assert t["memory_total"] == stats.parse_meminfo_total(f.read())
    assert 0 < t["memory_used"] < t["memory_total"]
    assert t["cpus"] == os.cpu_count() and 0.0 <= t["cpu_percent"] <= 100.0
    assert (t["load1"], t["load5"], t["load15"]) == pytest.approx(os.getloadavg(), abs=1.0)
    assert host_line(t).startswith(f"HOST  CPU {t['cpu_percent']:.1f}% of {t['cpus']}   MEM ")


def test_cli_stats_redraws_a_terminal_with_host_totals(root, fake):
    """On a terminal the table is redrawn in place under a line of the host's totals."""
    import pty
    fake.add("web")
    from helpers import BERTH, REPO
    pid, fd = pty.fork()
    if pid == 0:  # pragma: no cover - the child execs
        os.chdir(REPO)
        os.environ["BERTH_ROOT"] = root
        os.execv(BERTH[0], [*BERTH, "stats", "--interval", "0.1"])
    out = b""
    try:
        while out.count(b"\x1b[2J\x1b[H") < 2:
            chunk = os.read(fd, 65536)
            assert chunk, out
            out += chunk
    finally:
        os.kill(pid, 2)
        os.waitpid(pid, 0)
        os.close(fd)
    frame = out.split(b"\x1b[2J\x1b[H")[1].decode()
    lines = frame.splitlines()
    assert lines[0].startswith("HOST  CPU ") and "LOAD " in lines[0]
    assert lines[2].startswith("CONTAINER ID") and " web " in lines[3]


def test_a_removed_container_leaves_the_stream_at_once(engine, fake):
    import shutil
    keep = fake.add("keep", running=False)
    gone = fake.add("gone", running=False)
    agen = engine.iter_stats(all=True, interval=0)
    try:
        assert sorted(s.id for s in next(agen)) == sorted([keep, gone])
        shutil.rmtree(engine.paths.container_dir(gone))
        assert [s.id for s in next(agen)] == [keep]
    finally:
        agen.close()
