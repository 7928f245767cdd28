"""Networks end to end, through the real runtime and the berth command line: the issue's "done
when" as a new user would try it, and its faults.

The containers run a rootfs made of the host's static busybox (``bbroot``); they are created
through the Engine with that rootfs as their only layer, then driven with the CLI (start,
inspect, port, network …, rm), which needs nothing of the image any more.
"""

from __future__ import annotations

import ipaddress
import os
import shutil
import signal
import socket
import subprocess
import time

import pytest

from engine.models import ContainerConfig, Image
from engine.network.ports import parse_publish



@pytest.fixture
def bbroot(tmp_path):
    """A busybox root filesystem with a web page in /www."""
    r = tmp_path / "bbroot"
    (r / "bin").mkdir(parents=True)
    (r / "www").mkdir()
    (r / "etc").mkdir()
    shutil.copy("/usr/bin/busybox", r / "bin" / "busybox")
    for applet in ("sh", "httpd", "wget", "true", "cat", "sleep", "ip", "hostname"):
        os.symlink("busybox", r / "bin" / applet)
    (r / "www" / "index.html").write_text("hello from berth\n")
    return str(r)


@pytest.fixture
def make(engine, bbroot):
    """make(name, *cmd, **config) -> container id, created (not started) from the busybox rootfs."""
    engine.image = lambda ref: Image(id="sha256:" + "b" * 64, repo_tags=["bb:latest"],
                                     config={"Cmd": ["sh"], "Env": ["PATH=/bin"]})
    engine.image_layer_dirs = lambda img: [bbroot]

    def create(name: str, *cmd: str, **cfg) -> str:
        command = list(cmd) or ["httpd", "-f", "-p", "80", "-h", "/www"]
        return engine.create(ContainerConfig(image="bb", cmd=command, **cfg), name=name).id
    return create


def _free_port() -> int:
    s = socket.socket()
    s.bind(("0.0.0.0", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def _wget(url: str) -> str:
    p = subprocess.run(["timeout", "10", "busybox", "wget", "-q", "-O", "-", url],
                       capture_output=True, text=True)
    return p.stdout if p.returncode == 0 else f"<wget failed {p.returncode}: {p.stderr.strip()}>"


def _in(engine, name: str, *cmd: str) -> subprocess.CompletedProcess:
    """Run ``cmd`` in container ``name``'s network and mount namespaces (its /etc/hosts)."""
    pid = engine.container(name).state.pid
    return subprocess.run(["timeout", "10", "nsenter", "-t", str(pid), "-n", "-m", *cmd],
                          capture_output=True, text=True)


def _ours(engine) -> tuple[list[str], str]:
    """Links and the nftables table of this root still on the host."""
    sfx = engine.paths.suffix
    out = subprocess.run(["ip", "-o", "link"], capture_output=True, text=True).stdout
    links = [ln.split(":")[1].strip().split("@")[0] for ln in out.splitlines()
             if f"berth{sfx}" in ln or f"vb{sfx}" in ln]
    tables = subprocess.run(["nft", "list", "tables"], capture_output=True, text=True).stdout
    return links, (engine.paths.nft_table if f" {engine.paths.nft_table}\n" in tables + "\n" else "")


def _wait_clean(engine) -> tuple[list[str], str]:
    # The default network's bridge goes a moment after its last container (lifecycle.linger).
    for _ in range(300):
        left = _ours(engine)
        if left == ([], ""):
            break
        time.sleep(0.05)
    return left


def test_done_when_web_on_the_default_bridge(engine, make, cli):
    port = _free_port()
    make("web", ports=parse_publish(f"{port}:80"))
    cli("start", "web")
    ip = cli("inspect", "-f", "{{.NetworkSettings.IPAddress}}", "web").stdout.strip()
    assert ipaddress.ip_address(ip) in ipaddress.ip_network(engine.network("bridge").subnet)
    assert _wget(f"http://{ip}/") == "hello from berth\n"
    assert _wget(f"http://127.0.0.1:{port}/") == "hello from berth\n"
    assert cli("inspect", "-f", "{{.NetworkSettings.Gateway}}", "web").stdout.strip() == \
        engine.network("bridge").gateway
    assert engine.port("web")[0].host_port == port
    cli("rm", "-f", "web")
    assert _wget(f"http://127.0.0.1:{port}/").startswith("<wget failed")
    assert _wait_clean(engine) == ([], "")


def test_done_when_two_containers_reach_each_other_by_name(engine, make, cli):
    cli("network", "create", "app")
    make("web", network_mode="app", networks=["app"], aliases=["www"])
    make("client", "sleep", "600", network_mode="app", networks=["app"])
    cli("start", "web")
    cli("start", "client")
    assert _in(engine, "client", "/bin/wget", "-q", "-O", "-", "http://web/").stdout == "hello from berth\n"
    assert _in(engine, "client", "/bin/wget", "-q", "-O", "-", "http://www/").stdout == "hello from berth\n"
    # a container that starts later is known to the earlier ones at once
    make("late", network_mode="app", networks=["app"])
    cli("start", "late")
    assert _in(engine, "client", "/bin/wget", "-q", "-O", "-", "http://late/").stdout == "hello from berth\n"
    cli("rm", "-f", "late")
    assert _in(engine, "client", "/bin/wget", "-q", "-O", "-", "http://late/").returncode != 0
    busy = cli("network", "rm", "app", check=False)
    assert busy.returncode != 0 and "client, web" in busy.stderr
    cli("rm", "-f", "web", "client")
    assert cli("network", "rm", "app").stdout.strip() == "app"
    assert _wait_clean(engine) == ([], "")


def test_killed_monitor_rm_still_releases_everything(engine, make, cli):
    port = _free_port()
    cid = make("web", ports=parse_publish(f"{port}:80"))
    cli("start", "web")
    c = engine.container("web")
    os.kill(c.state.monitor_pid, signal.SIGKILL)
    assert cid in engine.network("bridge").allocations.values()
    cli("rm", "-f", "web")
    assert cid not in engine.network("bridge").allocations.values()
    assert f"{port} :" not in subprocess.run(["nft", "list", "ruleset"], capture_output=True,
                                             text=True).stdout
    assert _wait_clean(engine) == ([], "")


def test_a_full_network_refuses_the_next_container_clearly(engine, make, cli):
    cli("network", "create", "--subnet", "10.202.1.0/29", "tiny")
    for i in range(5):
        make(f"c{i}", "sleep", "600", network_mode="tiny", networks=["tiny"])
        cli("start", f"c{i}")
    ips = {engine.container(f"c{i}").state.networks["tiny"]["IPAddress"] for i in range(5)}
    assert len(ips) == 5
    make("c5", "sleep", "600", network_mode="tiny", networks=["tiny"])
    r = cli("start", "c5", check=False)
    assert r.returncode != 0 and "no free address left in network 'tiny'" in r.stderr
    cli("rm", "-f", *[f"c{i}" for i in range(6)])
    cli("network", "rm", "tiny")
    assert _wait_clean(engine) == ([], "")


def test_connect_disconnect_and_network_inspect(engine, make, cli):
    cli("network", "create", "--subnet", "10.202.2.0/24", "back")
    make("db", network_mode="back", networks=["back"])
    make("api", "sleep", "600")
    cli("start", "db")
    cli("start", "api")
    assert _in(engine, "api", "/bin/wget", "-q", "-O", "-", "http://db/").returncode != 0
    cli("network", "connect", "--ip", "10.202.2.99", "--alias", "apisrv", "back", "api")
    assert _in(engine, "api", "/bin/wget", "-q", "-O", "-", "http://db/").stdout == "hello from berth\n"
    nets = engine.container_inspect("api")["NetworkSettings"]["Networks"]
    assert nets["back"]["IPAddress"] == "10.202.2.99" and nets["back"]["Aliases"] == ["apisrv"]
    doc = engine.network_inspect("back")
    assert {v["Name"] for v in doc["Containers"].values()} == {"db", "api"}
    cli("network", "disconnect", "back", "api")
    assert "back" not in engine.container_inspect("api")["NetworkSettings"]["Networks"]
    assert _in(engine, "api", "/bin/wget", "-q", "-O", "-", "http://db/").returncode != 0
    cli("rm", "-f", "db", "api")
    cli("network", "rm", "back")


def test_bad_network_flags_refused_at_create(engine):
    from engine.errors import InvalidArgument, NotFound
    from engine.network import validate
    engine.create_network("app", subnet="10.202.3.0/24")
    cases = [
        (dict(network_mode="nosuch"), NotFound, "network nosuch not found"),
        (dict(ip_address="10.88.0.50"), InvalidArgument, "user defined networks only"),
        (dict(aliases=["a"]), InvalidArgument, "user defined networks"),
        (dict(network_mode="container:web", ports=parse_publish("80")), InvalidArgument,
         "port publishing"),
        (dict(network_mode="container:web", dns=["1.1.1.1"]), InvalidArgument, "dns"),
        (dict(network_mode="app", ip_address="10.9.9.9"), InvalidArgument, "not in network 'app'"),
        (dict(extra_hosts=["nocolon"]), InvalidArgument, "bad format for add-host"),
    ]
    for cfg, err, msg in cases:
        with pytest.raises(err, match=msg):
            validate(engine.store, ContainerConfig(image="bb", **cfg))
    validate(engine.store, ContainerConfig(image="bb", network_mode="app", ip_address="10.202.3.9",
                                           aliases=["x"], extra_hosts=["h:1.2.3.4"]))


def test_connect_while_stopped_joins_at_start(engine, make, cli):
    cli("network", "create", "--subnet", "10.202.4.0/24", "side")
    make("web")
    cli("network", "connect", "--alias", "w", "side", "web")
    cli("start", "web")
    nets = engine.container_inspect("web")["NetworkSettings"]["Networks"]
    assert set(nets) == {"bridge", "side"}
    assert nets["side"]["Aliases"] == ["w"]
    assert ipaddress.ip_address(nets["side"]["IPAddress"]) in ipaddress.ip_network("10.202.4.0/24")
    assert _wget(f"http://{nets['side']['IPAddress']}/") == "hello from berth\n"
    ls = cli("network", "ls").stdout
    assert "side" in ls and "bridge" in ls
    cli("rm", "-f", "web")
    assert engine.network("side").allocations == {}
    cli("network", "rm", "side")


def test_disconnect_from_the_network_a_container_was_created_on_lasts(engine, make, cli):
    """As compose 1.29 does to every container it creates: off the network --network named, then
    on it again with other aliases, before the first start. And a disconnect is for good: the
    next start does not join that network again."""
    cli("network", "create", "--subnet", "10.202.6.0/24", "proj")
    make("db", network_mode="proj")
    cli("network", "disconnect", "proj", "db")
    bad = cli("network", "disconnect", "proj", "db", check=False)
    assert bad.returncode != 0 and "is not connected to network proj" in bad.stderr
    cli("network", "connect", "--alias", "database", "proj", "db")
    cli("start", "db")
    nets = engine.container_inspect("db")["NetworkSettings"]["Networks"]
    assert set(nets) == {"proj"} and nets["proj"]["Aliases"] == ["database"]
    assert ipaddress.ip_address(nets["proj"]["IPAddress"]) in \
        ipaddress.ip_network("10.202.6.0/24")
    cli("network", "disconnect", "proj", "db")
    cli("restart", "-t", "0", "db")
    assert engine.container_inspect("db")["NetworkSettings"]["Networks"] == {}
    assert "eth0" not in _in(engine, "db", "ip", "-o", "link").stdout
    cli("rm", "-f", "db")
    cli("network", "rm", "proj")


# --- the issue's own words, with the busybox image as published -------------------------------

@pytest.fixture
def busybox_ref(engine):
    from helpers import BUSYBOX_MUSL
    (image,) = engine.load(str(BUSYBOX_MUSL))
    return image.repo_tags[0] if image.repo_tags else image.id


def test_issue_done_when_with_berth_run(engine, cli, busybox_ref):
    port = _free_port()
    cli("run", "-d", "--name", "web", busybox_ref, "httpd", "-f", "-p", "80")
    ip = cli("inspect", "-f", "{{.NetworkSettings.IPAddress}}", "web").stdout.strip()
    # busybox httpd serves its working directory (/): a 404 page is an answer from it
    r = subprocess.run(["timeout", "10", "busybox", "wget", "-S", "-O", "/dev/null",
                        f"http://{ip}/"], capture_output=True, text=True)
    assert "HTTP/1.1" in r.stderr or "HTTP/1.0" in r.stderr, r.stderr
    cli("run", "-d", "--name", "pub", "-p", f"{port}:80", busybox_ref, "httpd", "-f", "-p", "80")
    r = subprocess.run(["timeout", "10", "busybox", "wget", "-S", "-O", "/dev/null",
                        f"http://127.0.0.1:{port}/"], capture_output=True, text=True)
    assert "HTTP/1." in r.stderr, r.stderr
    cli("network", "create", "app")
    cli("run", "-d", "--name", "srv", "--network", "app", busybox_ref, "httpd", "-f", "-p", "80")
    cli("run", "-d", "--name", "cli", "--network", "app", busybox_ref, "sleep", "600")
    r = _in(engine, "cli", "wget", "-S", "-O", "/dev/null", "http://srv/")
    assert "HTTP/1." in r.stderr, r.stderr
    cli("rm", "-f", "web", "pub", "srv", "cli")
    cli("network", "rm", "app")
    assert _wait_clean(engine) == ([], "")


def test_run_flags_publish_all_names_and_addresses(engine, cli, busybox_ref):
    cli("network", "create", "--subnet", "10.202.5.0/24", "flags")
    cli("run", "-d", "--name", "box", "--network", "flags", "--ip", "10.202.5.77",
        "--mac-address", "02:00:00:00:05:77", "--network-alias", "boxy", "--expose", "80", "-P",
        "--add-host", "db.example:10.202.5.200", "--dns", "10.202.5.53", "--dns-search",
        "corp.example", busybox_ref, "httpd", "-f", "-p", "80")
    ns = engine.container_inspect("box")["NetworkSettings"]
    net = ns["Networks"]["flags"]
    assert net["IPAddress"] == "10.202.5.77" and net["MacAddress"] == "02:00:00:00:05:77"
    assert net["Aliases"] == ["boxy"] and ns["IPAddress"] == ""   # top level: default bridge only
    (binding,) = ns["Ports"]["80/tcp"]
    assert [p.host_port for p in engine.port("box")] == [int(binding["HostPort"])]
    r = subprocess.run(["timeout", "10", "busybox", "wget", "-S", "-O", "/dev/null",
                        f"http://127.0.0.1:{binding['HostPort']}/"], capture_output=True, text=True)
    assert "HTTP/1." in r.stderr, r.stderr
    hosts = _in(engine, "box", "cat", "/etc/hosts").stdout
    assert "10.202.5.200\tdb.example" in hosts and "10.202.5.77\t" in hosts
    resolv = _in(engine, "box", "cat", "/etc/resolv.conf").stdout
    assert resolv == "nameserver 10.202.5.53\nsearch corp.example\n"
    assert "02:00:00:00:05:77" in _in(engine, "box", "ip", "link", "show", "eth0").stdout
    cli("rm", "-f", "box")
    cli("network", "rm", "flags")


def test_port_lists_published_ports_as_docker_port(engine, cli, busybox_ref):
    cli("run", "-d", "--name", "ported", "-p", "127.0.0.1::80", "-p", "53/udp", busybox_ref,
        "sleep", "600")
    bound = {(p.container_port, p.proto): p.host_port for p in engine.port("ported")}
    http, dns = bound[(80, "tcp")], bound[(53, "udp")]
    assert http and dns
    assert cli("port", "ported").stdout == \
        f"53/udp -> 0.0.0.0:{dns}\n80/tcp -> 127.0.0.1:{http}\n"
    # `container port` is the same verb, as `docker container port`
    assert cli("container", "port", "ported", "80").stdout == f"127.0.0.1:{http}\n"
    assert cli("port", "ported", "53/udp").stdout == f"0.0.0.0:{dns}\n"
    p = cli("port", "ported", "81", check=False)
    assert (p.returncode, p.stderr) == \
        (1, "berth: no public port '81/tcp' published for ported\n")
    p = cli("port", "ported", "http", check=False)
    assert p.returncode == 125 and "give PORT or PORT/PROTO" in p.stderr
    assert cli("container", "exec", "ported", "echo", "via container exec").stdout == \
        "via container exec\n"
    cli("rm", "-f", "ported")
    assert _wait_clean(engine) == ([], "")
