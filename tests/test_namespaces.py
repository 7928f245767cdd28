"""Namespaces shared as Docker shares them (--pid, --ipc, --uts, --network container:X), legacy
links, /.dockerenv, --cgroup-parent and volume subpaths, through the CLI and the API."""

from __future__ import annotations

import json
import os
import socket

import pytest

from test_api_support import service  # noqa: F401

docker = pytest.importorskip("docker")


def _names(run, *args: str) -> str:
    return run("run", "--rm", *args).stdout


def test_pid_ipc_and_uts_shared_with_a_container_and_the_host(run):
    run("run", "-d", "--name", "donor", "--ipc", "shareable", "--hostname", "donorhost",
        "busybox", "sh", "-c", "echo shared > /dev/shm/note; exec sleep 600")
    # --pid container:X: X's processes (its sleep) are seen, and X is pid 1 there
    ps = _names(run, "--pid", "container:donor", "busybox", "ps", "-o", "pid,args")
    assert any(line.split()[:2] == ["1", "sleep"] for line in ps.splitlines()), ps
    # --ipc container:X: X's IPC namespace and its /dev/shm
    assert _names(run, "--ipc", "container:donor", "busybox", "cat", "/dev/shm/note") == "shared\n"
    donor_ipc = os.readlink(f"/proc/{run('inspect', '-f', '{{.State.Pid}}', 'donor').stdout.strip()}/ns/ipc")
    assert _names(run, "--ipc", "container:donor", "busybox", "readlink", "/proc/self/ns/ipc") \
        == donor_ipc + "\n"
    # --network container:X: X's hostname (and its hosts file), as Docker does
    assert _names(run, "--network", "container:donor", "busybox", "hostname") == "donorhost\n"
    # --uts host: the host's hostname, left as it is; --pid host: the host's processes
    assert _names(run, "--uts", "host", "busybox", "hostname") == socket.gethostname() + "\n"
    assert int(_names(run, "--pid", "host", "busybox", "sh", "-c", "ps -o pid | wc -l")) > 20
    assert _names(run, "--ipc", "host", "busybox", "readlink", "/proc/self/ns/ipc") == \
        os.readlink("/proc/self/ns/ipc") + "\n"
    assert run("run", "--rm", "--ipc", "none", "busybox", "test", "-e", "/dev/shm",
               check=False).returncode == 1
    # Docker's refusals: a private donor, a mode it doesn't know, a hostname with --uts host
    run("run", "-d", "--name", "private", "busybox", "sleep", "600")
    bad = run("run", "--rm", "--ipc", "container:private", "busybox", "true", check=False)
    assert bad.returncode == 125 and "non-shareable IPC (hint: use IpcMode:shareable for the " \
        "donor container)" in bad.stderr
    for args, msg in ((("--pid", "sideways"), "invalid PID mode: sideways"),
                      (("--uts", "container:donor"), "invalid UTS mode: container:donor"),
                      (("--uts", "host", "-h", "x"), "conflicting options: hostname and the UTS mode")):
        bad = run("run", "--rm", *args, "busybox", "true", check=False)
        assert (bad.returncode, bad.stderr) == (125, f"berth: {msg}\n")
    info = json.loads(run("inspect", "donor").stdout)[0]["HostConfig"]
    assert (info["IpcMode"], info["PidMode"], info["UTSMode"]) == ("shareable", "", "")
    run("rm", "-f", "donor", "private")


def test_legacy_links_give_hosts_entries_and_docker_s_environment(run):
    run("run", "-d", "--name", "db", "--expose", "5432", "-e", "SECRET_LEVEL=7", "busybox",
        "sleep", "600")
    ip = json.loads(run("inspect", "-f", "{{json .NetworkSettings.Networks}}", "db").stdout)[
        "bridge"]["IPAddress"]
    out = _names(run, "--name", "app", "--link", "db:store", "busybox", "sh", "-c",
                 "grep -w store /etc/hosts; env | grep ^STORE_ | sort")
    lines = out.splitlines()
    assert lines[0].split() == [ip, "store", run("inspect", "-f", "{{.Config.Hostname}}",
                                                  "db").stdout.strip(), "db"]
    assert lines[1:] == sorted([
        "STORE_ENV_SECRET_LEVEL=7", "STORE_NAME=/app/store",
        f"STORE_PORT=tcp://{ip}:5432", f"STORE_PORT_5432_TCP=tcp://{ip}:5432",
        f"STORE_PORT_5432_TCP_ADDR={ip}", "STORE_PORT_5432_TCP_PORT=5432",
        "STORE_PORT_5432_TCP_PROTO=tcp"])
    run("stop", "-t", "1", "db")
    bad = run("run", "--rm", "--name", "late", "--link", "db:store", "busybox", "true", check=False)
    assert bad.returncode == 125 and \
        "Cannot link to a non running container: /db AS /late/store" in bad.stderr
    bad = run("create", "--link", "nosuch:x", "busybox", "true", check=False)
    assert bad.stderr == "berth: could not get container for nosuch\n"
    run("rm", "-f", "db")


def test_every_container_has_dockerenv_outside_its_changes(run):
    cid = run("run", "-d", "busybox", "sh", "-c", "touch /made; sleep 600").stdout.strip()
    assert run("exec", cid, "stat", "-c", "%s %a %U", "/.dockerenv").stdout == "0 755 root\n"
    diff = run("diff", cid).stdout.split("\n")
    assert "A /made" in diff and not any(".dockerenv" in line for line in diff)
    run("rm", "-f", cid)


def test_cgroup_parent_nests_under_berths_own(run, root):
    from engine.paths import Paths
    mine = Paths.from_env(root).cgroup_parent
    cid = run("run", "-d", "--cgroup-parent", "tier/web", "-m", "32m", "busybox",
              "sleep", "600").stdout.strip()
    pid = run("inspect", "-f", "{{.State.Pid}}", cid).stdout.strip()
    with open(f"/proc/{pid}/cgroup") as f:
        memory = next(line for line in f if ":memory:" in line)
    assert memory.strip().endswith(f":memory:/{mine}/tier/web/{cid}")
    limit = f"/sys/fs/cgroup/memory/{mine}/tier/web/{cid}/memory.limit_in_bytes"
    assert open(limit).read().strip() == str(32 << 20)
    # the verbs that know only the id find it there: stats, update, top
    run("update", "-m", "48m", cid)
    assert open(limit).read().strip() == str(48 << 20)
    assert "sleep 600" in run("top", cid).stdout
    assert run("inspect", "-f", "{{.HostConfig.CgroupParent}}", cid).stdout == "tier/web\n"
    run("rm", "-f", cid)
    assert not os.path.exists(f"/sys/fs/cgroup/memory/{mine}/tier")
    # an absolute path inside berth's hierarchy is taken; anything outside it is refused
    run("run", "--rm", "--cgroup-parent", f"/{mine}/abs", "busybox", "true")
    for wanted in ("/system.slice", "../escape", "a/../../b"):
        bad = run("run", "--rm", "--cgroup-parent", wanted, "busybox", "true", check=False)
        assert bad.returncode == 125 and "cgroup" in bad.stderr and wanted in bad.stderr


def test_namespace_modes_links_cgroup_parent_and_subpaths_through_the_api(service, busybox):
    client = docker.DockerClient(base_url=service.url, timeout=60)
    try:
        donor = client.containers.run(busybox, ["sleep", "600"], detach=True, name="pydonor",
                                      ipc_mode="shareable", hostname="pyhost")
        out = client.containers.run(busybox, ["sh", "-c", "ps -o pid,args; hostname"],
                                    pid_mode="container:pydonor", uts_mode="host",
                                    cgroup_parent="api", links={"pydonor": "peer"},
                                    remove=True).decode()
        assert any(line.split()[:2] == ["1", "sleep"] for line in out.splitlines())
        assert out.splitlines()[-1] == socket.gethostname()
        env = client.containers.run(busybox, ["sh", "-c", "env | grep ^PEER_NAME"],
                                    links={"pydonor": "peer"}, name="linker", remove=True)
        assert env == b"PEER_NAME=/linker/peer\n"
        client.volumes.create("pysub")
        client.containers.run(busybox, ["sh", "-c", "mkdir -p /v/inner && echo deep > /v/inner/f"],
                              volumes=["pysub:/v"], remove=True)
        sub = docker.types.Mount("/only", "pysub", type="volume", subpath="inner")
        assert client.containers.run(busybox, ["cat", "/only/f"], mounts=[sub],
                                     remove=True) == b"deep\n"
        assert client.containers.run(busybox, ["true"], volume_driver="local",
                                     remove=True) == b""
        with pytest.raises(docker.errors.APIError) as e:
            client.containers.create(busybox, ["true"], ipc_mode="container:nosuch")
        assert e.value.status_code in (400, 404)
        c = client.containers.create(busybox, ["true"], pid_mode="host", ipc_mode="host")
        assert (c.attrs["HostConfig"]["PidMode"], c.attrs["HostConfig"]["IpcMode"]) == \
            ("host", "host")
        c.remove()
        donor.remove(force=True)
    finally:
        client.close()
