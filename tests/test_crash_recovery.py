"""What a crash leaves behind is noticed and released: a SIGKILLed monitor's container, a
removal killed half-way, a root deleted under its network reaper; ``system check --repair``
brings a damaged root back and ``system reset`` leaves nothing on the host."""

from __future__ import annotations

import ipaddress
import json
import os
import shutil
import signal
import subprocess
import sys
import time

from crash_support import (alive, cdir, cid_of, free_port, has_cgroup, leases, left_on_host,
                           monitor_of, monitors, monitors_settle, read_state, root_processes)
from helpers import REPO, cleanup_root
from runtime_support import wait_for


def _nft(root: str) -> str:
    from engine.paths import Paths
    return subprocess.run(["nft", "list", "table", "ip", Paths.from_env(root).nft_table],
                          capture_output=True, text=True).stdout


def test_killed_monitor_frees_its_port_for_the_next_container_at_once(run, root):
    port = free_port()
    run("run", "-d", "--name", "first", "-p", f"{port}:80", "busybox", "sleep", "600")
    cid = cid_of(root, "first")
    os.kill(monitor_of(root, cid), signal.SIGKILL)
    # no ps in between: the next container's start finds the dead one's endpoint
    run("run", "-d", "--name", "second", "-p", f"{port}:80", "busybox", "sleep", "600")
    second = cid_of(root, "second")
    ip = json.loads(run("inspect", "second").stdout)[0]["NetworkSettings"]["IPAddress"]
    assert f"{port} : {ip} . 80" in _nft(root)
    assert cid not in leases(root).values()
    run("rm", "-f", "first", "second")
    assert second not in leases(root).values()
    assert left_on_host(root) == []


def test_the_default_network_a_dead_container_held_last_is_reaped(run, root):
    """A container starting on another network drops a dead one's endpoint from the default
    network; emptied so, the default network gets its reaper (its bridge and rules went up
    for nothing otherwise: the fault-injection soak found them left after rm of everything)."""
    from engine.paths import Paths
    run("network", "create", "--subnet", "10.203.7.0/24", "side")
    run("run", "-d", "--name", "old", "busybox", "sleep", "600")
    bridge = f"/sys/class/net/{Paths.from_env(root).bridge_name(0)}"
    assert os.path.exists(bridge)
    cid = cid_of(root, "old")
    pid1 = read_state(root, cid)["pid"]
    os.kill(monitor_of(root, cid), signal.SIGKILL)
    os.kill(pid1, signal.SIGKILL)
    wait_for(lambda: not monitors(root), what="the monitor to die")
    # no ps in between: this start is what finds the dead container's endpoint
    run("run", "-d", "--name", "new", "--network", "side", "busybox", "sleep", "600",
        env={"BERTH_NETWORK_LINGER": "0.2"})
    wait_for(lambda: not os.path.exists(bridge), timeout=15,
             what="the idle default network's bridge to be reaped")
    run("rm", "-f", "old", "new")
    run("network", "rm", "side")
    assert left_on_host(root) == []


def test_next_ps_marks_a_killed_monitors_container_exited_and_releases_it(run, root):
    port = free_port()
    run("run", "-d", "--name", "web", "-p", f"{port}:80", "-v", "data:/data", "busybox",
        "sleep", "600")
    cid = cid_of(root, "web")
    os.kill(monitor_of(root, cid), signal.SIGKILL)
    wait_for(lambda: not monitors(root), what="the monitor to die")
    rows = run("ps", "-a", "--format", "{{.Names}} {{.Status}}").stdout
    assert rows.startswith("web Exited (137)")
    # released as Docker does at stop: no cgroup, address, published port or veth
    assert not has_cgroup(root, cid)
    assert cid not in leases(root).values() and f"{port} :" not in _nft(root)
    from engine.paths import Paths
    assert not os.path.exists(f"/sys/class/net/{Paths.from_env(root).veth_name(cid)}")
    info = json.loads(run("inspect", "web").stdout)[0]["State"]
    assert info["Status"] == "exited" and info["ExitCode"] == 137
    assert "monitor" in info["Error"] and "died" in info["Error"]
    # it starts again as any exited container does
    run("start", "web")
    assert run("ps", "--format", "{{.Names}}").stdout.split() == ["web"]
    run("rm", "-f", "web")
    run("volume", "rm", "data")
    assert left_on_host(root) == []


def test_a_killed_rm_leaves_removal_in_progress_which_start_refuses(run, root):
    run("run", "-d", "--name", "doomed", "busybox", "sleep", "600")
    cid = cid_of(root, "doomed")
    monitor = monitor_of(root, cid)
    # what rm has done when it is killed after its first step: the monitor killed and the
    # container marked, nothing released yet
    os.kill(monitor, signal.SIGKILL)
    wait_for(lambda: not alive(monitor), what="the monitor to die")
    path = os.path.join(cdir(root, cid), "state.json")
    state = read_state(root, cid)
    state["status"] = "removing"
    with open(path, "w") as f:
        json.dump(state, f)
    assert run("ps", "-a", "--format", "{{.Status}}").stdout.strip() == "Removal In Progress"
    p = run("start", "doomed", check=False)
    assert p.returncode == 125
    assert "container is marked for removal and cannot be started" in p.stderr
    assert monitors_settle(root, set()) == set()
    run("rm", "-f", "doomed")
    assert run("ps", "-aq").stdout == ""
    assert left_on_host(root) == []


def test_the_network_reaper_never_makes_a_deleted_root_again(run, root):
    from engine.paths import Paths
    paths = Paths.from_env(root)
    # the reaper started for a root that is gone by the time it runs
    gone = root + "-gone"
    env = {"PATH": os.environ["PATH"], "PYTHONPATH": str(REPO), "BERTH_ROOT": gone,
           "BERTH_NETWORK_LINGER": "0"}
    subprocess.run([sys.executable, "-S", "-m", "engine.network.reaper"], env=env, cwd="/",
                   timeout=30)
    assert not os.path.exists(gone)
    # and one that was waiting when its root was deleted
    env = {"BERTH_NETWORK_LINGER": "3"}
    run("run", "--rm", "busybox", "true", env=env)
    reapers = [p for p, m in root_processes(root).items() if m == "reaper"]
    assert reapers
    # run --rm tells its exit code once the container is renamed away and its monitor
    # deletes the bytes after: the root goes once that is done, the reaper still waiting
    assert monitors_settle(root, set()) == set()
    shutil.rmtree(root)
    wait_for(lambda: not any(alive(p) for p in reapers), timeout=30, what="the reaper to end")
    assert not os.path.exists(root)
    assert os.path.exists(f"/sys/class/net/{paths.default_bridge}")   # what reset is for
    cleanup_root(root)


def _orphans(root: str) -> dict:
    """Leftovers of crashes made by hand, as they would be found: a cgroup, a veth, a
    published port, a run directory, an address lease, a container directory under a
    temporary name, and a temporary file of a killed write."""
    from engine.paths import Paths
    from engine.runtime import cgroups
    paths = Paths.from_env(root)
    ghost = "f" * 64
    with open("/proc/sys/kernel/pid_max") as f:
        dead = int(f.read()) + 1   # a pid no process can have: its writer is surely gone
    cgroups.detect(paths).create(ghost)
    veth = paths.veth_name("e" * 64)
    subprocess.run(["ip", "link", "add", veth, "type", "veth", "peer", "name", "x" + veth[1:]],
                   check=True)
    with open(os.path.join(root, "networks", "bridge.json")) as f:
        rec = json.load(f)
    net = ipaddress.IPv4Network(rec["subnet"])   # 10.88.0.0/16 unless another root has it
    from engine.network import nat
    nat.publish(paths, [("tcp", "", 18999, str(net[250]), 80)])
    os.makedirs(os.path.join(paths.run, "c", ghost))
    rec["allocations"][str(net[251])] = ghost
    with open(os.path.join(root, "networks", "bridge.json"), "w") as f:
        json.dump(rec, f)
    os.makedirs(os.path.join(root, "containers", f"{ghost}.tmp.{dead}.1", "upper"))
    with open(os.path.join(root, "images", f"refs.json.tmp.{dead}.1"), "w") as f:
        f.write("{")
    point = os.path.join(root, "tmp", "stray-mount")
    os.makedirs(point)
    subprocess.run(["mount", "-t", "tmpfs", "tmpfs", point], check=True)
    return {"cgroup": ghost[:12], "veth": veth, "nft": ":18999->", "record": ghost,
            "lease": str(net[251]), "container": f"{ghost}.tmp.{dead}.1",
            "tempfile": f"refs.json.tmp.{dead}.1", "mount": point}


def test_system_check_repair_brings_a_damaged_root_back(run, root):
    port = free_port()
    run("network", "create", "app")
    run("run", "-d", "--name", "torn", "-p", f"{port}:80", "busybox", "sleep", "600")
    run("run", "-d", "--name", "stateless", "busybox", "sleep", "600")
    run("run", "-d", "--name", "orphaned", "--network", "app", "-v", "/anon", "busybox",
        "sleep", "600")
    run("run", "-d", "--name", "dead", "busybox", "sleep", "600")
    run("run", "-d", "--name", "lost", "busybox", "sleep", "600")
    run("volume", "create", "vol")
    ids = {n: cid_of(root, n) for n in ("torn", "stateless", "orphaned", "dead")}
    # a container directory gone from under its running monitor
    lost = cid_of(root, "lost")
    lost_monitor = monitor_of(root, lost)
    os.rename(cdir(root, lost), os.path.join(root, "tmp", "moved-away"))
    with open(os.path.join(cdir(root, ids["torn"]), "config.json"), "r+b") as f:
        f.truncate(40)
    os.unlink(os.path.join(cdir(root, ids["stateless"]), "state.json"))
    with open(os.path.join(cdir(root, ids["orphaned"]), "mounts.json"), "w") as f:
        f.write('{"mounts": [')
    with open(os.path.join(root, "networks", "app.json"), "r+b") as f:
        f.truncate(200)
    with open(os.path.join(root, "volumes", "vol", "meta.json"), "w") as f:
        f.write("]")
    dead_monitor = monitor_of(root, ids["dead"])
    os.kill(dead_monitor, signal.SIGKILL)
    wait_for(lambda: not alive(dead_monitor), what="the monitor to die")
    planted = _orphans(root)
    planted["process"] = str(lost_monitor)
    # system check leaves a monitor younger than 5 s alone (it may not have its lock yet)
    from crash_support import age
    time.sleep(max(0.0, 5.2 - age(lost_monitor)))

    found = run("system", "check", check=False)
    assert found.returncode == 1, found.stdout
    for cid in ids.values():
        assert cid[:12] in found.stdout
    for kind, what in planted.items():
        assert any(line.startswith(kind) and what in line for line in found.stdout.splitlines()), \
            (kind, what, found.stdout.splitlines())
    for what in ("config.json", "state.json is missing", "mounts.json", "networks/app.json",
                 "meta.json", "monitor died"):
        assert what in found.stdout, what
    # checking alone changed nothing
    assert alive(monitor_of(root, ids["torn"])) and has_cgroup(root, ids["dead"])
    assert alive(lost_monitor)

    fixed = run("system", "check", "--repair", check=False)
    assert fixed.returncode == 1
    rows = [line for line in fixed.stdout.splitlines()[1:] if line.strip()]
    assert rows and all(line.rstrip().endswith("yes") for line in rows
                        if "(nothing can be done)" not in line), fixed.stdout
    again = run("system", "check")
    assert again.returncode == 0 and "no problems found" in again.stdout
    assert not alive(lost_monitor) and not has_cgroup(root, lost)

    # every command works again, without a warning
    ps = run("ps", "-a", "--format", "{{.Names}} {{.State}}")
    assert sorted(ps.stdout.splitlines()) == ["dead exited", "orphaned running",
                                              "stateless running"]
    assert ps.stderr == ""
    for args in (("network", "ls"), ("volume", "ls"), ("system", "df"), ("images",)):
        assert run(*args).stderr == "", args
    assert json.loads(run("network", "inspect", "app").stdout)[0]["Containers"]
    run("run", "--rm", "--network", "app", "busybox", "true")
    run("run", "--rm", "-p", f"{port}:80", "busybox", "true")
    run("start", "dead")
    run("rm", "-f", "-v", "dead", "stateless", "orphaned")
    run("network", "rm", "app")
    run("volume", "rm", "vol")
    assert run("volume", "ls", "-q").stdout == ""
    assert left_on_host(root) == []


def test_system_reset_removes_the_root_and_everything_it_made(run, root):
    port = free_port()
    run("network", "create", "app")
    run("run", "-d", "--name", "ca", "-p", f"{port}:80", "-v", "data:/data", "busybox", "sleep",
        "600")
    run("run", "-d", "--name", "cb", "--network", "app", "busybox", "sleep", "600")
    run("create", "--name", "cc", "busybox", "true")
    run("run", "-d", "--name", "paused", "busybox", "sleep", "600")
    run("pause", "paused")
    run("volume", "create", "--opt", "type=tmpfs", "--opt", "device=tmpfs", "dev")
    run("run", "-d", "--name", "cd", "-v", "dev:/dev-vol", "busybox", "sleep", "600")
    run("run", "--rm", "--name", "gone", "busybox", "true", env={"BERTH_NETWORK_LINGER": "30"})
    run("commit", "cc", "snap:1")   # the image store's own lock files are berth's too
    # the Services table a node agent of this root writes, as a killed agent leaves it
    from engine.paths import Paths
    subprocess.run(["nft", "add", "table", "ip", Paths.from_env(root).nft_services_table],
                   check=True)

    no = run("system", "reset", input="n\n")
    assert "WARNING!" in no.stdout and os.path.isdir(os.path.join(root, "containers"))
    assert len(run("ps", "-aq").stdout.split()) == 5
    out = run("system", "reset", "-f")
    assert "removed" in out.stdout
    assert not os.path.exists(root)
    assert cleanup_root(root) == []
    os.makedirs(root)   # for the fixture's own cleanup
