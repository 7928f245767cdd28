"""The default network is ``bridge`` as Docker names it (the CLI, docker-py, testcontainers), an
older root's ``berth`` network is renamed on first use, and compose's second ``up -d`` (and
``--force-recreate``, ``run``, ``--no-deps``, ``down -v``) work against berth's API."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import time

import pytest

from helpers import root_links
from test_api_support import service  # noqa: F401

docker = pytest.importorskip("docker")
COMPOSE = shutil.which("docker-compose")


def test_the_default_network_is_bridge_on_the_command_line(run, root):
    ls = run("network", "ls", "--format", "{{.Name}}").stdout.split()
    assert ls[:3] == ["bridge", "host", "none"]
    cid = run("run", "-d", "busybox", "sleep", "60").stdout.strip()
    nets = json.loads(run("inspect", "-f", "{{json .NetworkSettings.Networks}}", cid).stdout)
    assert list(nets) == ["bridge"] and nets["bridge"]["IPAddress"]
    info = json.loads(run("network", "inspect", "bridge").stdout)[0]
    assert info["Name"] == "bridge" and cid in info["Containers"]
    # dockerd's own options for its default network, with berth's bridge device
    assert info["Options"]["com.docker.network.bridge.default_bridge"] == "true"
    from engine.paths import Paths
    assert info["Options"]["com.docker.network.bridge.name"] == Paths.from_env(root).default_bridge
    # --network default and bridge name it too
    for mode in ("default", "bridge"):
        out = run("run", "--rm", "--network", mode, "busybox", "ip", "-4", "-o", "addr", "show",
                  "eth0").stdout
        assert info["IPAM"]["Config"][0]["Subnet"].rsplit(".", 2)[0] in out
    run("rm", "-f", cid)


def test_docker_py_and_testcontainers_find_the_bridge_network(service, busybox, monkeypatch):
    client = docker.DockerClient(base_url=service.url, timeout=60)
    try:
        c = client.containers.run(busybox, ["sleep", "60"], detach=True)
        c.reload()
        ep = c.attrs["NetworkSettings"]["Networks"]["bridge"]
        assert ep["IPAddress"] and ep["Gateway"] and c.attrs["HostConfig"]["NetworkMode"] == "bridge"
        assert c.attrs["NetworkSettings"]["IPAddress"] == ep["IPAddress"]
        net = client.networks.get("bridge")
        assert net.name == "bridge" and c.id in net.attrs["Containers"]
        c.remove(force=True)
    finally:
        client.close()

    monkeypatch.setenv("DOCKER_HOST", service.url)
    monkeypatch.setenv("TESTCONTAINERS_RYUK_DISABLED", "true")   # its image is not here
    from testcontainers.core.container import DockerContainer
    from testcontainers.core.config import testcontainers_config
    monkeypatch.setattr(testcontainers_config, "ryuk_disabled", True)
    with DockerContainer(str(busybox)).with_command(
            ["sh", "-c", "while true; do echo -e 'HTTP/1.0 200 OK\\r\\n\\r\\nhi' | nc -l -p 80; done"]
    ).with_exposed_ports(80) as tc:
        cid = tc.get_wrapped_container().id
        tc.get_container_host_ip()                 # whichever mode it picks on this host
        port = int(tc.get_exposed_port(80))
        dc = tc.get_docker_client()
        assert dc.network_name(cid) == "bridge"
        assert dc.bridge_ip(cid).count(".") == 3 and dc.gateway_ip(cid).count(".") == 3
        deadline = time.monotonic() + 20
        while True:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
                    s.sendall(b"GET / HTTP/1.0\r\n\r\n")
                    if b"hi" in s.recv(100):
                        break
            except OSError:
                pass
            assert time.monotonic() < deadline, "the published port never answered"
            time.sleep(0.2)


def test_an_old_roots_berth_network_is_renamed_on_first_use(run, root):
    """A root an older berth made: its default network record is networks/berth.json, and the
    containers' states name it 'berth'. The next command renames it, keeping the network."""
    cid = run("run", "-d", "--name", "old", "busybox", "sleep", "60").stdout.strip()
    nets = os.path.join(root, "networks")
    with open(os.path.join(nets, "bridge.json")) as f:
        record = json.load(f)
    ip = record["endpoints"][cid]["ip"]
    # as the older berth wrote it
    record["name"] = "berth"
    with open(os.path.join(nets, "berth.json"), "w") as f:
        json.dump(record, f)
    os.unlink(os.path.join(nets, "bridge.json"))
    state_path = os.path.join(root, "containers", cid, "state.json")
    with open(state_path) as f:
        state = json.load(f)
    state["networks"] = {"berth": state["networks"]["bridge"]}
    with open(state_path, "w") as f:
        json.dump(state, f)
    created = run("create", "--network", "berth", "busybox", "true").stdout.strip()
    config_path = os.path.join(root, "containers", created, "config.json")
    with open(config_path) as f:
        config = json.load(f)
    config["network_mode"], config["networks"] = "berth", ["berth"]
    with open(config_path, "w") as f:
        json.dump(config, f)

    assert run("network", "ls", "--format", "{{.Name}}").stdout.split()[:3] == ["bridge", "host", "none"]
    assert sorted(os.listdir(nets)) == ["bridge.json"]
    info = json.loads(run("network", "inspect", "bridge").stdout)[0]
    assert (info["Id"], info["IPAM"]["Config"][0]["Subnet"]) == (record["id"], record["subnet"])
    assert info["Options"]["com.docker.network.bridge.name"] == record["bridge"]
    assert info["Containers"][cid]["IPv4Address"].startswith(ip + "/")
    nets_of = json.loads(run("inspect", "-f", "{{json .NetworkSettings.Networks}}", "old").stdout)
    assert list(nets_of) == ["bridge"] and nets_of["bridge"]["IPAddress"] == ip
    # a container made with --network berth starts on it; 'berth' still names the network
    assert run("inspect", "-f", "{{.HostConfig.NetworkMode}}", created).stdout.strip() == "bridge"
    run("start", "-a", created)
    assert json.loads(run("network", "inspect", "berth").stdout)[0]["Id"] == record["id"]
    run("rm", "-f", "old", created)
    assert json.loads(run("network", "inspect", "bridge").stdout)[0]["Containers"] == {}


COMPOSE_FILE = """\
version: "3.8"
services:
  web:
    image: busybox:latest
    command: ["httpd", "-f", "-p", "80"]
    ports: ["127.0.0.1::80"]
    volumes: ["data:/data"]
    depends_on: [db]
  db:
    image: busybox:latest
    command: ["sleep", "600"]
    volumes: ["data:/data"]
volumes:
  data: {}
"""


@pytest.mark.skipif(COMPOSE is None, reason="docker-compose is not installed")
def test_compose_up_twice_is_a_no_op_and_the_other_verbs_work(service, busybox, tmp_path):
    service.docker("tag", busybox, "busybox:latest")
    (tmp_path / "docker-compose.yml").write_text(COMPOSE_FILE)

    def compose(*args: str) -> str:
        p = subprocess.run([COMPOSE, "-p", "twice", *args], cwd=tmp_path, env=service.env(),
                           capture_output=True, text=True, timeout=180)
        assert p.returncode == 0, p.stdout + p.stderr
        return p.stdout + p.stderr

    def ids() -> dict[str, str]:
        out = service.docker("ps", "-a", "--no-trunc", "--format", "{{.Names}} {{.ID}}").stdout
        return dict(line.split() for line in out.splitlines())

    compose("up", "-d")
    first = ids()
    assert sorted(first) == ["twice_db_1", "twice_web_1"]
    out = compose("up", "-d")
    assert ids() == first, out                      # nothing recreated
    assert "is up-to-date" in out
    compose("up", "-d", "--force-recreate")
    again = ids()
    assert sorted(again) == sorted(first) and set(again.values()).isdisjoint(first.values())
    compose("up", "-d", "--no-deps", "web")
    assert ids() == again
    assert compose("run", "--rm", "db", "sh", "-c", "echo ran-$((6*7))").count("ran-42") == 1
    assert ids() == again
    compose("down", "-v", "-t", "1")
    assert service.docker("ps", "-aq").stdout == ""
    assert service.docker("volume", "ls", "-q").stdout == ""
    assert service.docker("network", "ls", "--format", "{{.Name}}").stdout.split() == \
        ["bridge", "host", "none"]
    # nothing of the project left on the host either, once the default network's bridge goes
    deadline = time.monotonic() + 20
    while root_links(service.root) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert root_links(service.root) == set()
