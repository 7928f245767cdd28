"""`berth system check` finds nothing on a sound root, however busy: containers starting,
stopping and being removed, copy-ups, image loads, networks lingering before their reaper takes
them down. What a live berth (or monitor) is doing is not a leftover. And what a killed copy-up
left (``_data.copying``) is found and repaired."""

from __future__ import annotations

import os
import random
import shutil
import signal
import subprocess
import threading
import time

import pytest

from crash_support import free_port
from helpers import BERTH, BUSYBOX_GLIBC, REPO, berth
from test_volume_copyup import _copy_started, _run_args, _start, image  # noqa: F401

SECONDS = float(os.environ.get("BERTH_CHECK_SOAK_SECONDS", "20"))


def _findings(root: str) -> list[str]:
    from engine import Engine
    return [f"{f.kind} {f.id}: {f.problem}" for f in Engine(root).system_check(repair=False)]


_given: set[int] = set()
_given_lock = threading.Lock()


def _unused_port() -> int:
    """A host port free now that no container of this test was given before: a stopped
    container's port is free on the host (free_port may hand it out again), and its restart by
    the other worker takes it back, which fails the later run as Docker's would."""
    with _given_lock:
        while (port := free_port()) in _given:
            pass
        _given.add(port)
        return port


class _Worker(threading.Thread):
    """Runs seeded container, network, volume and image verbs on containers of its own;
    ``failed`` holds every verb that did not work."""

    def __init__(self, root: str, k: int, seed: int, until: float):
        super().__init__()
        self.root, self.k, self.until = root, k, until
        self.rng = random.Random(seed * 10 + k)
        self.mine: list[str] = []
        self.failed: list[str] = []
        self.n = 0

    def b(self, *args: str) -> str:
        p = berth(self.root, *args, check=False, env={"BERTH_NETWORK_LINGER": "2"})
        if p.returncode:
            self.failed.append(f"{' '.join(args)}: {p.stderr.strip()}")
        return p.stdout.strip()

    def run(self) -> None:
        while time.monotonic() < self.until:
            self.n += 1
            name = f"w{self.k}n{self.n}"
            op = self.rng.choice(["run", "ports", "net", "copyup", "userns", "rm-on-exit",
                                  "restart", "rm", "networks", "volumes", "load"])
            if op == "run":
                self.mine.append(self.b("run", "-d", "--name", name, "busybox", "sleep", "60"))
            elif op == "ports":
                self.mine.append(self.b("run", "-d", "-p", f"{_unused_port()}:80", "busybox",
                                        "sleep", "60"))
            elif op == "net":
                self.mine.append(self.b("run", "-d", "--network", "app", "--init", "busybox",
                                        "sleep", "60"))
            elif op == "copyup":
                self.mine.append(self.b("run", "-d", "-v", f"{name}:/etc", "alpine", "sleep",
                                        "60"))
            elif op == "userns":
                self.mine.append(self.b("run", "-d", "--userns", "auto", "busybox", "sleep",
                                        "60"))
            elif op == "rm-on-exit":
                self.b("run", "--rm", "-v", "/anon", "busybox", "true")
            elif op == "restart" and self.mine:
                cid = self.rng.choice(self.mine)
                self.b("stop", "-t", "0", cid)
                self.b("start", cid)
            elif op == "rm" and self.mine:
                self.b("rm", "-f", "-v", self.mine.pop(self.rng.randrange(len(self.mine))))
            elif op == "networks":
                self.b("network", "create", name)
                self.b("run", "--rm", "--network", name, "busybox", "true")
                self.b("network", "rm", name)
            elif op == "volumes":
                self.b("volume", "create", name)
                self.b("volume", "rm", name)
            elif op == "load" and self.k == 0:
                self.b("load", "-i", str(BUSYBOX_GLIBC))
                self.b("rmi", "busybox:1.38.0-glibc")


def test_a_busy_sound_root_has_no_findings(run, root):
    seed = int(os.environ.get("BERTH_CRASH_SEED") or random.randrange(1 << 30))
    run("network", "create", "app")
    run("run", "-d", "--name", "steady", "-p", f"{_unused_port()}:80", "-v", "data:/data",
        "busybox", "sleep", "600")
    run("create", "--name", "made", "busybox", "true")
    run("run", "--name", "ran", "alpine", "true")
    assert _findings(root) == []
    workers = [_Worker(root, k, seed, time.monotonic() + SECONDS) for k in range(2)]
    for w in workers:
        w.start()
    found: dict[str, int] = {}
    checks = 0
    try:
        while any(w.is_alive() for w in workers):
            for f in _findings(root):
                found[f] = found.get(f, 0) + 1
            checks += 1
            time.sleep(0.05)
    finally:
        for w in workers:
            w.join()
    assert found == {}, f"seed {seed}: {checks} checks found {found}"
    assert [f for w in workers for f in w.failed] == [], f"seed {seed}"
    assert checks > 10 and sum(w.n for w in workers) > 10, (checks, [w.n for w in workers])
    assert _findings(root) == []


def test_a_network_lingering_before_its_reaper_is_no_finding(run, root):
    env = {"BERTH_NETWORK_LINGER": "30"}
    berth(root, "network", "create", "app")
    berth(root, "run", "--rm", "-p", f"{free_port()}:80", "busybox", "true", env=env)
    berth(root, "run", "--rm", "--network", "app", "busybox", "true", env=env)
    assert _findings(root) == []


@pytest.mark.skipif(not shutil.which("strace"), reason="needs strace (in SYSTEM_PACKAGES)")
def test_an_image_being_loaded_is_no_finding(run, root):
    """A load held up (strace delays it 4 s after its 5th rename, the one that puts its layer
    in place) with its blobs and layer there and no record yet: they are its work, not
    orphans."""
    env = {**os.environ, "BERTH_ROOT": root}
    env.pop("BERTH_RUN", None)
    p = subprocess.Popen(["strace", "-f", "-qq", "-o", "/dev/null", "-e",
                          "trace=rename,renameat,renameat2", "-e",
                          "inject=rename,renameat,renameat2:delay_exit=4000000:when=5",
                          *BERTH, "load", "-i", str(BUSYBOX_GLIBC)],
                         env=env, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        time.sleep(1.5)
        assert p.poll() is None and len(os.listdir(os.path.join(root, "layers"))) == 3
        assert _findings(root) == []
    finally:
        out, err = p.communicate(timeout=60)
    assert p.returncode == 0, err
    assert _findings(root) == []


def test_a_copy_up_in_progress_is_no_finding_and_a_killed_one_is_repaired(root, image):  # noqa: F811
    from helpers import _cgroup_dirs, _pids_in_cgroups

    from engine.paths import Paths
    ref, _ = image
    copier = _start(root, *_run_args(ref, "cut"))
    deadline = time.monotonic() + 60
    while not _copy_started(root, "cut"):
        assert copier.poll() is None and time.monotonic() < deadline, "the copy never started"
        time.sleep(0.002)
    partial = os.path.join(root, "volumes", "cut", "_data.copying")
    assert os.path.isdir(partial)
    assert _findings(root) == []   # copying: the copier holds the volume's lock
    for pid in _pids_in_cgroups(_cgroup_dirs(Paths.from_env(root).cgroup_parent)):
        os.kill(pid, signal.SIGKILL)   # the copier: the container's first process
    copier.communicate(timeout=60)
    assert os.path.isdir(partial)
    found = berth(root, "system", "check", check=False)
    assert found.returncode == 1
    (row,) = [line for line in found.stdout.splitlines() if line.startswith("volume ")]
    assert " cut " in row and "_data.copying" in row, found.stdout
    fixed = berth(root, "system", "check", "--repair", check=False)
    assert not os.path.exists(partial), fixed.stdout
    assert berth(root, "system", "check").stdout.endswith("no problems found\n")


def test_a_veth_on_its_way_out_is_no_finding_and_one_that_stays_is_repaired(engine):
    """A veth whose endpoint went but whose deletion (a monitor's thread) has not run yet shows
    in one look only: no finding, never repaired. One that stays is found and deleted."""
    from engine.network.repair import host_links

    def veth(cid: str) -> str:
        name = engine.paths.veth_name(cid, 0)
        subprocess.run(["ip", "link", "add", name, "type", "veth", "peer", "name",
                        f"tp{os.getpid() % 100000}{cid[:3]}"], check=True)
        return name

    passing = veth("a" * 64)
    threading.Timer(0.05, subprocess.run, (["ip", "link", "del", passing],)).start()
    staying = veth("b" * 64)
    try:
        found = [(f.kind, f.id, f.repaired) for f in engine.system_check(repair=True)]
        assert found == [("veth", staying, True)]
        assert passing not in host_links(engine.paths)[1]
        assert staying not in host_links(engine.paths)[1]
    finally:
        for name in (passing, staying):
            subprocess.run(["ip", "link", "del", name], capture_output=True)



@pytest.mark.parametrize("meanwhile", ["run", "rm"])
@pytest.mark.parametrize("look, reads", [("_orphan_run_dirs", "check_host._containers"),
                                         ("_orphan_cgroups", "check_host._containers"),
                                         ("_orphan_mounts", "vstore.volume_users")])
def test_what_a_berth_starts_or_removes_while_check_reads_is_no_finding(
        run, root, monkeypatch, meanwhile, look, reads):
    """Run directories, cgroups and mounts are read before the containers (or volume users)
    that account for them, and judged only while they are still there: a container a berth
    starts or removes between the two reads leaves no finding. Before, the containers were
    read first, and a `run -d` in between gave 'a run directory whose container is gone' (the
    busy-root soak, seed 244717967)."""
    from engine import Engine, check_host
    from engine.volumes import store as vstore
    def args(volume: str) -> tuple[str, ...]:
        run("volume", "create", "--opt", "type=tmpfs", "--opt", "device=tmpfs", volume)
        return ("run", "-d", "-v", f"{volume}:/dev-volume", "busybox", "sleep", "60")

    made = [run(*args("first")).stdout.strip()]   # a run directory, cgroup and mount to list
    module, name = {"check_host": check_host, "vstore": vstore}[reads.split(".")[0]], \
        reads.split(".")[1]
    real = getattr(module, name)

    def read_then_act(store):
        out = real(store)
        if meanwhile == "run":
            made.append(run(*args("second")).stdout.strip())
            return out
        run("rm", "-f", made[0])
        return real(store)   # the container went between the two reads

    monkeypatch.setattr(module, name, read_then_act)
    try:
        assert getattr(check_host, look)(Engine(root).store, False) == []
    finally:
        monkeypatch.undo()
        run("rm", "-f", *made, check=False)
    assert _findings(root) == []


@pytest.mark.parametrize("file", ["config", "state"])
def test_a_container_an_rm_renames_away_while_check_reads_it_is_no_finding(
        run, root, monkeypatch, file):
    """An rm renames a container's directory away whole: a check that listed it and then
    found its config.json or state.json missing read a container that went, not a damaged
    one (the busy-root soak, seed 742279062: 'state.json is missing')."""
    from engine import Engine, check
    from engine.runtime import process, records
    cid = run("create", "busybox", "true").stdout.strip()
    d = os.path.join(root, "containers", cid)
    module, name = (records, "read_config") if file == "config" else (process, "state_problem")
    real = getattr(module, name)

    def renamed_away_first(*args):
        if os.path.isdir(d):
            process.discard(d)   # what rm does: renamed away, then deleted
        return real(*args)

    monkeypatch.setattr(module, name, renamed_away_first)
    try:
        assert check.check_containers(Engine(root).store, False) == []
    finally:
        monkeypatch.undo()
    assert _findings(root) == []
