"""docker-py in the style of its own integration tests (containers, exec, networks with
``leave_swarm`` in the teardown, images) and the docker CLI's common commands, against
``berth system service``: what issue 19 found breaking them."""

from __future__ import annotations

import json
import os
import time

import pytest

from test_api_support import DOCKER, service  # noqa: F401

docker = pytest.importorskip("docker")


@pytest.fixture
def api(service, busybox):
    """docker-py's low-level client, as its integration tests use it (busybox also as
    ``busybox``); whatever the test leaves is removed, and the swarm left, as their
    tearDown does."""
    c = docker.APIClient(base_url=service.url, version="auto", timeout=20)
    c.tag(busybox, "busybox")
    try:
        yield c
    finally:
        c.leave_swarm(force=True)   # docker-py's network tests do this in every tearDown
        for ctr in c.containers(all=True):
            c.remove_container(ctr["Id"], force=True)
        c.close()


def test_swarm_endpoints_answer_as_a_node_outside_a_swarm(api):
    assert api.leave_swarm(force=True) is True
    with pytest.raises(docker.errors.APIError) as e:
        api.leave_swarm()
    assert e.value.status_code == 503 and "This node is not part of a swarm" in str(e.value)
    for call in (api.inspect_swarm, api.nodes, api.services, api.tasks, api.secrets,
                 api.configs):
        with pytest.raises(docker.errors.APIError) as e:
            call()
        assert e.value.status_code == 503
        assert 'This node is not a swarm manager. Use "docker swarm init"' in str(e.value)


def test_containers_in_docker_pys_style(api, root):
    # env as given (a bare name unsets it), tmpfs options kept, log driver none keeps nothing
    ctr = api.create_container(
        "busybox", ["sh", "-c", "echo out; echo ${FOO-unset} ${A}; sleep 60"],
        environment=["FOO", "A=1"], ports=[80], volumes=["/data"],
        host_config=api.create_host_config(
            port_bindings={80: ("127.0.0.1", None)}, tmpfs={"/run": "size=1m"},
            binds={"pyvol": {"bind": "/data", "mode": "rw"}}))
    api.start(ctr)
    info = api.inspect_container(ctr)
    assert "FOO" in info["Config"]["Env"] and "A=1" in info["Config"]["Env"]
    assert info["HostConfig"]["Tmpfs"] == {"/run": "size=1m"}
    assert info["HostConfig"]["Runtime"] == "runc" and info["HostConfig"]["CgroupnsMode"]
    port = api.port(ctr, 80)[0]
    assert port["HostIp"] == "127.0.0.1" and int(port["HostPort"]) > 0
    deadline = time.monotonic() + 10
    while b"unset" not in api.logs(ctr) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert api.logs(ctr) == b"out\nunset 1\n"
    # attach with logs and no stream: the output so far, and the response ends
    assert api.attach(ctr, logs=True, stream=False) == b"out\nunset 1\n"
    # top: ps -ef's columns by default, the asked ones with ps arguments
    top = api.top(ctr)
    assert top["Titles"] == ["UID", "PID", "PPID", "C", "STIME", "TTY", "TIME", "CMD"]
    assert [p[-1] for p in top["Processes"]] == ["sleep 60"]   # sh -c execs its last command
    top = api.top(ctr, ps_args="-eo pid,comm")
    assert top["Titles"] == ["PID", "COMMAND"] and [p[1] for p in top["Processes"]] == ["sleep"]
    assert api.stats(ctr, stream=False)["pids_stats"]["current"] == 1
    api.kill(ctr)
    assert api.wait(ctr)["StatusCode"] == 137
    api.remove_container(ctr, v=True)

    quiet = api.create_container("busybox", ["echo", "nothing kept"], host_config=(
        api.create_host_config(log_config=docker.types.LogConfig(type="none"))))
    api.start(quiet)
    assert api.wait(quiet)["StatusCode"] == 0
    assert api.inspect_container(quiet)["HostConfig"]["LogConfig"]["Type"] == "none"
    with pytest.raises(docker.errors.APIError) as e:
        api.logs(quiet)
    assert e.value.status_code == 501
    assert "configured logging driver does not support reading" in str(e.value)
    log = os.path.join(root, "containers", quiet["Id"], "ctr.log")
    assert not os.path.exists(log) or os.path.getsize(log) == 0


def test_exec_tty_is_exec_creates_and_running_execs_are_listed(api):
    ctr = api.create_container("busybox", ["sleep", "60"])
    api.start(ctr)
    # the terminal is the create's: docker-py's exec_start (tty=False) gets it multiplexed
    eid = api.exec_create(ctr, ["tty"], tty=True)["Id"]
    assert api.exec_start(eid).strip() == b"/dev/pts/0"
    eid = api.exec_create(ctr, ["tty"])["Id"]
    assert api.exec_start(eid, tty=True) == b"not a tty\n"
    eid = api.exec_create(ctr, ["sleep", "30"], user="nobody")["Id"]
    api.exec_start(eid, detach=True)
    assert api.inspect_container(ctr)["ExecIDs"] == [eid]
    assert api.exec_inspect(eid)["ProcessConfig"]["user"] == "nobody"
    # the detach keys end the attach, not the command (the server's escape proxy)
    eid = api.exec_create(ctr, ["sh"], stdin=True, tty=True, detach_keys="ctrl-x,x")["Id"]
    sock = api.exec_start(eid, socket=True, tty=True)._sock
    sock.settimeout(10)
    sock.sendall(b"echo a\n\x18x")
    while sock.recv(4096):
        pass   # until the server closes it
    sock.close()
    assert api.exec_inspect(eid)["Running"] is True
    with pytest.raises(docker.errors.APIError) as e:
        api.exec_create(ctr, ["true"], detach_keys="ctrl-รก")
    assert e.value.status_code == 400 and "Invalid escape keys" in str(e.value)


def test_networks_in_docker_pys_style(api, service):
    """docker-py's TestNetworks: create, inspect, connect, disconnect, remove, and
    leave_swarm(force=True) in the teardown (the api fixture's)."""
    net = api.create_network("pynet", labels={"t": "1"})
    data = api.inspect_network(net["Id"])
    assert data["Name"] == "pynet" and data["Labels"] == {"t": "1"}
    assert data["EnableIPv4"] is True and data["ConfigFrom"] == {"Network": ""}
    ctr = api.create_container("busybox", ["sleep", "60"])
    api.start(ctr)
    api.connect_container_to_network(ctr, "pynet", aliases=["web"])
    ep = api.inspect_container(ctr)["NetworkSettings"]["Networks"]["pynet"]
    # at API 1.45 the aliases are the user's only; before it also the short id and hostname
    assert ep["Aliases"] == ["web"] and ep["DNSNames"][1:3] == ["web", ctr["Id"][:12]]
    old = docker.APIClient(base_url=service.url, version="1.44", timeout=20)
    legacy = old.inspect_container(ctr)["NetworkSettings"]["Networks"]["pynet"]["Aliases"]
    old.close()
    assert legacy == ["web", ctr["Id"][:12]]   # the hostname is the short id here
    api.disconnect_container_from_network(ctr, "pynet")
    api.remove_network("pynet")


def test_images_in_docker_pys_style(api, service, busybox, tmp_path):
    client = docker.DockerClient(base_url=service.url, version="auto", timeout=60)
    try:
        img = client.images.get("busybox")
        assert img.attrs["Metadata"]["LastTagTime"] > "2000"   # tagged by the fixture
        assert img.tag("mine/app", "v1")
        # the image's other names are not listed
        assert [i["RepoTags"] for i in client.api.images("mine/app")] == [["mine/app:v1"]]
        assert img.history()[0]["Id"] == img.id
        ctr = client.containers.run("busybox", ["sh", "-c", "echo hi > /f"], detach=True)
        ctr.wait()
        child = ctr.commit("snap", "1")
        assert child.attrs["Parent"] == img.id
        ctr.remove()
        # an archive without names: loaded by id, named by nothing
        data = b"".join(client.api.get_image(img.id))
        client.images.remove(child.id)
        client.images.remove("mine/app:v1")
        out = list(client.api.load_image(data))
        assert [line["stream"] for line in out] == [f"Loaded image ID: {img.id}\n"]
        with pytest.raises(docker.errors.ImageLoadError):
            client.images.load(b"this is no archive")
        assert client.images.prune(filters={"dangling": True})["SpaceReclaimed"] >= 0
    finally:
        client.close()


def test_distribution_answers_from_the_registry(api, busybox):
    from helpers import BUSYBOX_MUSL
    from registry_server import registry
    with registry() as reg:
        reg.skopeo_copy_in(f"oci-archive:{BUSYBOX_MUSL}", "library/bb:1")
        data = api.inspect_distribution(f"{reg.host}/library/bb:1")
        assert data["Descriptor"]["digest"] == reg.skopeo_inspect("library/bb:1")["Digest"]
        assert data["Platforms"] == [{"architecture": "amd64", "os": "linux"}]
        with pytest.raises(docker.errors.NotFound):
            api.inspect_distribution(f"{reg.host}/library/bb:nosuch")


def test_docker_cli_common_commands(service, busybox, tmp_path):
    service.docker("tag", busybox, "busybox")
    # run -t without -i prints; a non-root process writes its /dev/stdout
    assert service.docker("run", "--rm", "-t", "busybox", "tty").stdout.strip() == "/dev/pts/0"
    assert service.docker("run", "--rm", "-u", "1000", "busybox", "sh", "-c",
                          "echo x > /dev/stdout").stdout == "x\n"
    inspect = json.loads(service.docker("image", "inspect", "busybox").stdout)
    assert inspect[0]["Metadata"]["LastTagTime"] > "2000"
    service.docker("tag", "busybox", "other:1")
    assert sorted(service.docker("images", "busybox", "--format",
                                 "{{.Repository}}:{{.Tag}}").stdout.split()) == \
        ["busybox:1.38.0-musl", "busybox:latest"]   # not other:1, the same image's
    service.docker("run", "-d", "--name", "ctr", "busybox", "sleep", "60")
    top = service.docker("top", "ctr", "aux").stdout.splitlines()
    assert top[0].split()[:3] == ["USER", "PID", "%CPU"] and top[1].endswith("sleep 60")
    service.docker("exec", "ctr", "sh", "-c", "head -c 5000 /dev/zero > /big")
    rw, rootfs = service.docker("inspect", "-s", "-f", "{{.SizeRw}} {{.SizeRootFs}}",
                                "ctr").stdout.split()
    assert int(rw) >= 5000 and int(rootfs) > int(rw)
    # import FILE NAME:TAG names it NAME:TAG
    service.docker("export", "-o", str(tmp_path / "fs.tar"), "ctr")
    service.docker("import", str(tmp_path / "fs.tar"), "flat:2")
    assert service.docker("images", "-q", "flat:2").stdout.strip()
    # exec -it, and ctrl-p ctrl-q leaves the shell running
    import pexpect
    child = pexpect.spawn(DOCKER, ["exec", "-it", "ctr", "sh"], env=service.env(), timeout=20)
    try:
        child.expect(r"[#$] ")
        child.sendline("echo $((6*7))")
        child.expect("42")
        child.send("\x10\x11")   # ctrl-p ctrl-q
        child.expect(pexpect.EOF)
        assert b"read escape sequence" in child.before   # the docker CLI's own words
        # the shell runs on, detached
        ps = service.docker("exec", "ctr", "ps", "-o", "comm").stdout.split()
        assert "sh" in ps
    finally:
        child.close(force=True)
