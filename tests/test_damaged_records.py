"""Damaged records, as a power cut or a slip of the hand leaves them: every listing shows what
it can and names the rest in one WARNING line; inspect and rm -f work on a damaged container;
nothing with a live process is deleted as garbage or started twice; nothing is left behind."""

from __future__ import annotations

import json
import os
import urllib.request

import pytest

from crash_support import (alive, cdir, cgroup_pids, cid_of, free_port, left_on_host,
                           monitor_of, monitors_settle)
from runtime_support import wait_for

DAMAGE = {
    "torn": lambda data: data[: len(data) // 2],
    "garbled": lambda data: b"\x00\xffnot json at all" + data[5:],
    "empty": lambda data: b"",
    "wrong shape": lambda data: b'["a", "list"]\n',
}


def _damage(path: str, how: str) -> None:
    with open(path, "rb") as f:
        data = f.read()
    with open(path, "wb") as f:
        f.write(DAMAGE[how](data))


def _serving(port: int) -> bool:
    try:
        urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=3)
        return True
    except urllib.error.HTTPError:
        return True   # an answer: the port leads to the container
    except OSError:
        return False


@pytest.mark.parametrize("how", sorted(DAMAGE))
def test_damaged_config_of_a_running_container(run, root, how):
    port = free_port()
    run("run", "-d", "--name", "victim", "-p", f"{port}:80", "-v", "data:/data", "busybox",
        "httpd", "-f", "-p", "80")
    run("run", "-d", "--name", "other", "busybox", "sleep", "600")
    cid = cid_of(root, "victim")
    monitor = monitor_of(root, cid)
    _damage(os.path.join(cdir(root, cid), "config.json"), how)

    ps = run("ps", "-a", "--format", "{{.Names}}")
    assert ps.stdout.split() == ["other"]
    assert ps.stderr.startswith("WARNING: ") and cid[:12] in ps.stderr
    assert "config.json" in ps.stderr and "system check --repair" in ps.stderr
    # what hides behind the damaged record is alive and untouched by the next create
    run("create", "--name", "third", "busybox", "true")
    taken = run("create", "--name", "victim", "busybox", "true", check=False)
    assert taken.returncode == 125 and "already in use" in taken.stderr
    assert os.path.isdir(cdir(root, cid)) and alive(monitor) and _serving(port)
    start = run("start", cid[:12], check=False)
    assert start.returncode == 125 and "damaged record" in start.stderr

    info = json.loads(run("inspect", cid[:12]).stdout)[0]
    assert info["Id"] == cid and info["State"]["Running"] is True
    assert "damaged record" in info["State"]["Error"]
    run("rm", "-f", cid[:12])
    assert not alive(monitor) and not os.path.exists(cdir(root, cid))
    assert not _serving(port)
    run("rm", "-f", "other", "third")
    run("volume", "rm", "data")
    assert left_on_host(root) == []


@pytest.mark.parametrize("how", ["deleted", "torn", "garbled"])
def test_lost_state_of_a_running_container(run, root, how):
    run("run", "-d", "--name", "victim", "busybox", "sleep", "600")
    cid = cid_of(root, "victim")
    monitor = monitor_of(root, cid)
    procs = sorted(cgroup_pids(root, cid))
    state = os.path.join(cdir(root, cid), "state.json")
    if how == "deleted":
        os.unlink(state)
    else:
        _damage(state, how)

    ps = run("ps", "--format", "{{.Names}} {{.State}}")
    assert ps.stdout.split() == ["victim", "running"]
    assert "state.json" in ps.stderr and cid[:12] in ps.stderr
    # start must not launch a second copy into the same cgroup
    run("start", "victim")
    assert monitors_settle(root, {monitor}) == {monitor}
    assert sorted(cgroup_pids(root, cid)) == procs
    info = json.loads(run("inspect", "victim").stdout)[0]
    assert info["State"]["Running"] is True and info["State"]["Pid"] == procs[0]
    run("stop", "-t", "1", "victim")
    assert run("ps", "-a", "--format", "{{.State}}").stdout.split() == ["exited"]
    wait_for(lambda: not alive(monitor), what="its monitor to finish")
    run("rm", "-f", "victim")
    assert left_on_host(root) == []


@pytest.mark.parametrize("record", ["spec.json", "mounts.json"])
def test_damaged_start_records_of_a_running_container(run, root, record):
    """spec.json and mounts.json: what its last start decided (the host config, as Docker
    keeps it beside the container's config)."""
    run("run", "-d", "--name", "victim", "-v", "/anon", "-v", "named:/named", "busybox",
        "sleep", "600")
    cid = cid_of(root, "victim")
    volumes = run("volume", "ls", "-q").stdout.split()
    assert len(volumes) == 2
    _damage(os.path.join(cdir(root, cid), record), "garbled")
    assert run("ps", "--format", "{{.Names}}").stdout.split() == ["victim"]
    run("inspect", "victim")
    check = run("system", "check", check=False)
    assert check.returncode == 1 and record in check.stdout
    # started again, it keeps its anonymous volume (the name is in the other record)
    run("stop", "-t", "0", "victim")
    run("start", "victim")
    assert run("volume", "ls", "-q").stdout.split() == volumes
    monitor = monitor_of(root, cid)
    run("rm", "-f", "-v", "victim")
    assert not alive(monitor)
    assert run("volume", "ls", "-q").stdout.split() == ["named"]
    run("volume", "rm", "named")
    assert left_on_host(root) == []


def test_deleted_attach_socket(run, root):
    run("run", "-d", "--name", "victim", "busybox", "sleep", "600")
    cid = cid_of(root, "victim")
    from engine.paths import Paths
    os.unlink(os.path.join(Paths.from_env(root).container_run_dir(cid), "attach.sock"))
    assert run("ps", "--format", "{{.Names}}").stdout.split() == ["victim"]
    attach = run("attach", "victim", check=False, timeout=10)
    assert attach.returncode != 0 and "monitor does not answer" in attach.stderr
    check = run("system", "check", check=False)
    assert check.returncode == 1 and "attach socket is missing" in check.stdout
    run("rm", "-f", "victim")
    assert left_on_host(root) == []


@pytest.mark.parametrize("how", ["torn", "garbled", "wrong shape"])
def test_damaged_network_record(run, root, how):
    run("network", "create", "good")
    run("network", "create", "bad")
    run("run", "-d", "--name", "on-good", "--network", "good", "busybox", "sleep", "600")
    _damage(os.path.join(root, "networks", "bad.json"), how)

    ls = run("network", "ls", "--format", "{{.Name}}")
    assert sorted(ls.stdout.split()) == ["bridge", "good", "host", "none"]
    assert "network bad" in ls.stderr and ls.stderr.startswith("WARNING: ")
    run("run", "--rm", "busybox", "true")                        # the default network
    run("run", "--rm", "--network", "good", "busybox", "true")   # another one
    df = run("system", "df")
    assert "Containers" in df.stdout
    refused = run("run", "--rm", "--network", "bad", "busybox", "true", check=False)
    assert refused.returncode == 125 and "damaged record" in refused.stderr
    run("network", "rm", "bad")
    assert "bad" not in run("network", "ls", "--format", "{{.Name}}").stdout.split()
    run("rm", "-f", "on-good")
    run("network", "rm", "good")
    assert left_on_host(root) == []


@pytest.mark.parametrize("how", ["torn", "garbled", "wrong shape", "empty"])
def test_damaged_volume_record(run, root, how):
    run("volume", "create", "good")
    run("volume", "create", "bad")
    with open(os.path.join(root, "volumes", "bad", "_data", "keep"), "w") as f:
        f.write("precious")
    _damage(os.path.join(root, "volumes", "bad", "meta.json"), how)

    ls = run("volume", "ls", "-q")
    assert ls.stdout.split() == ["good"] and "volume bad" in ls.stderr
    assert run("volume", "ls", "-q", "--filter", "dangling=true").stdout.split() == ["good"]
    df = run("system", "df", "-v")
    assert "good" in df.stdout
    info = json.loads(run("volume", "inspect", "bad").stdout)[0]
    assert info["Name"] == "bad" and info["Mountpoint"].endswith("/volumes/bad/_data")
    refused = run("volume", "create", "bad", check=False)
    assert refused.returncode == 125 and "damaged record" in refused.stderr
    assert os.path.exists(os.path.join(root, "volumes", "bad", "_data", "keep"))
    run("volume", "rm", "bad")
    assert run("volume", "ls", "-q").stdout.split() == ["good"]
    assert not os.path.exists(os.path.join(root, "volumes", "bad"))
