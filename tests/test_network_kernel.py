"""attach and detach against the real kernel, before and besides the runtime: each "container" is a
busybox httpd in its own net and mount namespaces (``unshare``), with the hosts file berth keeps
for it bind-mounted on /etc/hosts, as the runtime does."""

from __future__ import annotations

import ipaddress
import json
import os
import secrets
import signal
import socket
import subprocess
import time

import pytest

from engine.errors import Conflict
from engine.models import Container, ContainerConfig
from engine.network import attach, detach, network_settings
from engine.network.ports import parse_publish
from engine.runtime import process, records

from helpers import cleanup_root


def _free_port() -> int:
    s = socket.socket()
    s.bind(("0.0.0.0", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def _get(url: str, netns_pid: int | None = None) -> subprocess.CompletedProcess:
    """Fetch ``url`` with busybox wget, from the host or inside a container's namespaces."""
    cmd = ["timeout", "10", "busybox", "wget", "-q", "-O", "-", url]
    if netns_pid:
        cmd = ["nsenter", "-t", str(netns_pid), "-n", "-m", *cmd]
    return subprocess.run(cmd, capture_output=True, text=True)


def _ns(pid: int, *cmd: str) -> str:
    return subprocess.run(["nsenter", "-t", str(pid), "-n", *cmd], capture_output=True,
                          text=True, check=True).stdout


def _resolve(pid: int, name: str) -> str:
    """What ``name`` resolves to inside the container (its /etc/hosts), '' when nothing."""
    code = f"import socket\ntry: print(socket.gethostbyname({name!r}))\nexcept OSError: print('')"
    return subprocess.run(["nsenter", "-t", str(pid), "-n", "-m", "python3", "-c", code],
                          capture_output=True, text=True, check=True).stdout.strip()


def _links(suffix: str) -> list[str]:
    out = subprocess.run(["ip", "-o", "link"], capture_output=True, text=True).stdout
    return [ln.split(":")[1].strip().split("@")[0] for ln in out.splitlines()
            if f"berth{suffix}" in ln or f"vb{suffix}" in ln]


def _table(engine) -> str:
    return subprocess.run(["nft", "list", "table", "ip", engine.paths.nft_table],
                          capture_output=True, text=True).stdout


@pytest.fixture
def ctr(engine, tmp_path):
    """make(name, **config) -> a running fake container (Container with state filled in)."""
    www = tmp_path / "www"
    www.mkdir()
    (www / "index.html").write_text("hello from berth\n")
    procs: list[subprocess.Popen] = []

    def make(name: str, **cfg) -> Container:
        cid = secrets.token_hex(32)
        d = engine.paths.container_dir(cid)
        os.makedirs(d)
        hosts = os.path.join(d, "hosts")
        open(hosts, "w").close()
        script = f"mount --bind {hosts} /etc/hosts && exec busybox httpd -f -p 80 -h {www}"
        p = subprocess.Popen(["unshare", "-n", "-m", "--propagation", "private", "sh", "-c", script])
        procs.append(p)
        own = os.stat("/proc/self/ns/net").st_ino
        for _ in range(500):  # until httpd has replaced the shell in its new namespace
            try:
                if (os.readlink(f"/proc/{p.pid}/exe").endswith("busybox")
                        and os.stat(f"/proc/{p.pid}/ns/net").st_ino != own):
                    break
            except OSError:
                pass
            time.sleep(0.01)
        c = Container(id=cid, name=name, created="", config=ContainerConfig(image="busybox", **cfg))
        records.write_config(engine.store, c, [])
        c.state.networks = attach(engine.store, c, p.pid)
        # the fake's process stands in for its monitor too, so the records say "running"
        c.state.status, c.state.pid = "running", p.pid
        c.state.monitor_pid, c.state.monitor_start = p.pid, process.start_time(p.pid)
        process.write_json(os.path.join(d, process.STATE), c.state.to_dict())
        c._proc = p
        return c

    yield make
    for p in procs:
        p.kill()
        p.wait()


def test_container_gets_address_route_and_is_reachable_from_the_host(engine, ctr):
    web = ctr("web", mac_address="02:aa:bb:cc:dd:ee")
    ns = network_settings(web)
    ip, gw = ns["IPAddress"], ns["Gateway"]
    net = ipaddress.ip_network(engine.network("bridge").subnet)
    assert ipaddress.ip_address(ip) in net and ns["IPPrefixLen"] == net.prefixlen
    assert ns["Networks"]["bridge"]["NetworkID"] == engine.network("bridge").id
    assert ns["MacAddress"] == "02:aa:bb:cc:dd:ee"
    addr = json.loads(_ns(web.state.pid, "ip", "-j", "addr", "show", "eth0"))[0]
    assert addr["mtu"] == 1500 and addr["address"] == "02:aa:bb:cc:dd:ee"
    assert {"local": ip, "prefixlen": net.prefixlen} in [
        {"local": a["local"], "prefixlen": a["prefixlen"]} for a in addr["addr_info"]]
    assert f"default via {gw} dev eth0" in _ns(web.state.pid, "ip", "route")
    assert "UP" in _ns(web.state.pid, "ip", "-br", "link", "show", "lo")
    assert _get(f"http://{ip}/").stdout == "hello from berth\n"
    # the host end is on the root's bridge, named for the root
    master = subprocess.run(["ip", "-br", "link", "show", "master", engine.network("bridge").bridge],
                            capture_output=True, text=True).stdout
    assert engine.paths.veth_name(web.id, 0) in master


def test_published_ports_reachable_from_loopback_and_removed_with_the_container(engine, ctr):
    port = _free_port()
    web = ctr("web", ports=parse_publish(f"{port}:80") + parse_publish("127.0.0.1::80"))
    bound = web.state.ports
    assert [p.host_port for p in bound][0] == port and bound[1].host_port > 0
    assert _get(f"http://127.0.0.1:{port}/").stdout == "hello from berth\n"
    assert _get(f"http://127.0.0.1:{bound[1].host_port}/").stdout == "hello from berth\n"
    assert network_settings(web)["Ports"]["80/tcp"] == [
        {"HostIp": "0.0.0.0", "HostPort": str(port)},
        {"HostIp": "127.0.0.1", "HostPort": str(bound[1].host_port)}]
    assert [p.host_port for p in engine.port("web")] == [port, bound[1].host_port]
    # route_localnet only on berth's bridge, never host-wide
    with open("/proc/sys/net/ipv4/conf/all/route_localnet") as f:
        assert f.read().strip() == "0"
    # a second container can't take the same host port
    with pytest.raises(Conflict, match=f"0.0.0.0:{port} failed: port is already allocated"):
        ctr("web2", ports=parse_publish(f"{port}:80"))
    assert f"{port} :" in _table(engine)
    detach(engine.store, web)
    assert f"{port} :" not in _table(engine)
    assert _get(f"http://127.0.0.1:{port}/").returncode != 0


def test_publish_all_exposed_ports(engine, ctr):
    web = ctr("web", exposed_ports=["80/tcp"], publish_all=True)
    (p,) = web.state.ports
    assert p.container_port == 80 and p.host_port > 0
    assert _get(f"http://127.0.0.1:{p.host_port}/").stdout == "hello from berth\n"


def test_names_resolve_and_follow_containers_coming_and_going(engine, ctr):
    engine.create_network("app", subnet="10.201.7.0/24")
    a = ctr("alpha", network_mode="app")
    b = ctr("beta", network_mode="app", aliases=["database"])
    b_ip = b.state.networks["app"]["IPAddress"]
    assert _resolve(a.state.pid, "beta") == b_ip
    assert _resolve(a.state.pid, "database") == b_ip
    assert _resolve(a.state.pid, b.id[:12]) == b_ip
    assert _get("http://beta/", a.state.pid).stdout == "hello from berth\n"
    # a container that comes later is seen through the bind mount of the earlier one's hosts
    c = ctr("gamma", network_mode="app")
    assert _resolve(a.state.pid, "gamma") == c.state.networks["app"]["IPAddress"]
    assert _resolve(c.state.pid, "alpha") == a.state.networks["app"]["IPAddress"]
    detach(engine.store, c)
    assert _resolve(a.state.pid, "gamma") == ""
    # a container on the default network is not a peer
    d = ctr("delta")
    assert _resolve(a.state.pid, "delta") == ""
    # and networks are isolated from each other
    assert _get(f"http://{d.state.networks['bridge']['IPAddress']}/", a.state.pid).returncode != 0


def test_connect_and_disconnect_a_running_container(engine, ctr):
    engine.create_network("front", subnet="10.201.8.0/24")
    engine.create_network("back", subnet="10.201.9.0/24")
    a = ctr("a", network_mode="front")
    b = ctr("b", network_mode="back")
    assert _resolve(a.state.pid, "b") == ""
    engine.connect("back", "a", ip="10.201.9.50", aliases=["api"])
    assert "10.201.9.50/24" in _ns(a.state.pid, "ip", "-br", "addr", "show", "eth1")
    assert _resolve(b.state.pid, "api") == "10.201.9.50"
    assert _resolve(a.state.pid, "b") == b.state.networks["back"]["IPAddress"]
    with pytest.raises(Conflict, match="already connected"):
        engine.connect("back", "a")
    engine.disconnect("back", "a")
    assert _resolve(b.state.pid, "api") == ""
    assert _resolve(a.state.pid, "b") == ""
    assert "eth1" not in _ns(a.state.pid, "ip", "-br", "link")
    with pytest.raises(Conflict, match="is not connected"):
        engine.disconnect("back", "a")


def test_rm_of_a_network_in_use_names_the_containers(engine, ctr):
    engine.create_network("app", subnet="10.201.10.0/24")
    ctr("one", network_mode="app")
    ctr("two", network_mode="app")
    with pytest.raises(Conflict) as e:
        engine.remove_network("app")
    assert "one, two" in str(e.value)


def test_killed_container_still_releases_address_veth_and_rules(engine, ctr):
    port = _free_port()
    web = ctr("web", ports=parse_publish(f"{port}:80"))
    veth = engine.paths.veth_name(web.id, 0)
    # SIGKILL, as when the monitor and the container die together: nobody detaches
    os.kill(web.state.pid, signal.SIGKILL)
    web._proc.wait()
    rec_before = engine.network("bridge").allocations
    assert web.id in rec_before.values()
    detach(engine.store, web)
    detach(engine.store, web)          # idempotent
    assert web.id not in engine.network("bridge").allocations.values()
    for _ in range(200):   # the veth is deleted by a thread of detach's, or with the netns
        if veth not in _links(engine.paths.suffix):
            break
        time.sleep(0.05)
    assert veth not in _links(engine.paths.suffix)
    assert f"{port} :" not in _table(engine)


def test_requested_ip_and_conflicts(engine, ctr):
    engine.create_network("app", subnet="10.201.11.0/24")
    a = ctr("a", network_mode="app", ip_address="10.201.11.42")
    assert a.state.networks["app"]["IPAddress"] == "10.201.11.42"
    assert a.state.networks["app"]["IPAMConfig"] == {"IPv4Address": "10.201.11.42"}
    with pytest.raises(Conflict, match="10.201.11.42 is already in use"):
        ctr("b", network_mode="app", ip_address="10.201.11.42")
    # the failed attach left nothing behind
    assert len(engine.network("app").allocations) == 1


def test_a_small_network_fills_up_with_distinct_addresses_then_refuses(engine, ctr):
    engine.create_network("tiny", subnet="10.201.12.0/29")     # 5 addresses for containers
    cs = [ctr(f"c{i}", network_mode="tiny") for i in range(5)]
    ips = {c.state.networks["tiny"]["IPAddress"] for c in cs}
    assert len(ips) == 5
    for c in cs:
        assert _get(f"http://{c.state.networks['tiny']['IPAddress']}/").stdout == "hello from berth\n"
    with pytest.raises(Conflict, match="no free address left in network 'tiny'"):
        ctr("c5", network_mode="tiny")


def test_everything_goes_when_the_containers_and_networks_do(engine, ctr, root):
    engine.create_network("app", subnet="10.201.13.0/24")
    a = ctr("a", network_mode="app", ports=parse_publish(f"{_free_port()}:80"))
    b = ctr("b")
    assert _links(engine.paths.suffix)
    for c in (a, b):
        detach(engine.store, c)
    engine.remove_network("app")
    # the default network's bridge goes a moment after its last container (lifecycle.linger)
    def table() -> bool:
        return engine.paths.nft_table in subprocess.run(["nft", "list", "tables"],
                                                        capture_output=True, text=True).stdout
    for _ in range(300):
        if not _links(engine.paths.suffix) and not table():
            break
        time.sleep(0.05)
    assert _links(engine.paths.suffix) == []
    assert not table()
    assert [f for f in cleanup_root(root) if not f.startswith("process")] == []


def test_default_network_avoids_a_subnet_a_host_route_covers(engine, ctr):
    # Another interface (named for this root, so cleanup removes it) holds a subnet of the pool.
    dummy = engine.paths.bridge_name(9)
    taken = None
    with engine.store.lock():
        from engine.network import ipam
        with ipam.host_lock():
            taken = ipam.pick_subnet(engine.store)
            subprocess.run(["ip", "link", "add", dummy, "type", "bridge"], check=True)
            subprocess.run(["ip", "addr", "add", f"{taken.network_address + 1}/16", "dev", dummy],
                           check=True)
            subprocess.run(["ip", "link", "set", dummy, "up"], check=True)
    try:
        web = ctr("web")
        subnet = ipaddress.ip_network(engine.network("bridge").subnet)
        assert not subnet.overlaps(taken)
        assert _get(f"http://{web.state.networks['bridge']['IPAddress']}/").stdout == "hello from berth\n"
    finally:
        subprocess.run(["ip", "link", "del", dummy], capture_output=True)


def test_port_ranges_and_udp(engine, ctr):
    base = _free_port()
    while not all(_port_free(base + i) for i in range(4)):
        base = _free_port()
    with pytest.raises(Conflict, match="no free host port"):
        # every port of the range is taken by the first flag's "every address" bindings
        ctr("clash", ports=parse_publish(f"{base}-{base + 1}:80-81")
            + parse_publish(f"127.0.0.1:{base}-{base + 1}:80"))
    web = ctr("web", ports=parse_publish(f"{base}-{base + 1}:80-81")
              + parse_publish(f"127.0.0.1:{base + 2}-{base + 3}:80")
              + parse_publish("5353:53/udp"))
    got = [(p.host_ip, p.host_port, p.container_port, p.proto) for p in web.state.ports]
    assert got[:2] == [("", base, 80, "tcp"), ("", base + 1, 81, "tcp")]
    assert got[2][0] == "127.0.0.1" and got[2][1] in (base + 2, base + 3)   # one of the range
    assert got[3] == ("", 5353, 53, "udp")
    rules = _table(engine)
    ip = web.state.networks["bridge"]["IPAddress"]
    assert f"{base} : {ip} . 80" in rules and f"{base + 1} : {ip} . 81" in rules
    assert f"5353 : {ip} . 53" in rules.split("map udp_any {")[1].split("}")[0]
    assert _get(f"http://127.0.0.1:{base}/").stdout == "hello from berth\n"


def _port_free(port: int) -> bool:
    s = socket.socket()
    try:
        s.bind(("0.0.0.0", port))
        return True
    except OSError:
        return False
    finally:
        s.close()


def test_joining_another_containers_network_namespace(engine, ctr):
    from engine.network import netns_pid
    web = ctr("web")
    assert netns_pid(engine.store, "web") == web.state.pid
    os.kill(web.state.pid, signal.SIGKILL)
    web._proc.wait()
    with pytest.raises(Conflict, match="not running"):
        netns_pid(engine.store, "web")


def test_attach_again_after_an_unreleased_life(engine, ctr):
    """A restart by the monitor (or a start after a monitor killed before detach) attaches a
    container whose previous endpoints were never released: it gets its network back."""
    port = _free_port()
    web = ctr("web", ports=parse_publish(f"{port}:80"))
    ip = web.state.networks["bridge"]["IPAddress"]
    os.kill(web.state.pid, signal.SIGKILL)
    web._proc.wait()
    p = subprocess.Popen(["unshare", "-n", "sleep", "600"])
    try:
        for _ in range(500):
            if os.readlink(f"/proc/{p.pid}/exe").endswith("sleep"):
                break
            time.sleep(0.01)
        eps = attach(engine.store, web, p.pid)
        assert eps["bridge"]["IPAddress"] == ip
        assert list(engine.network("bridge").allocations.values()).count(web.id) == 1
        assert [q.host_port for q in web.state.ports] == [port]
    finally:
        p.kill()
        p.wait()


def test_internal_network_containers_have_no_route_out(engine, ctr):
    engine.create_network("sealed", subnet="10.201.14.0/24", internal=True)
    a = ctr("a", network_mode="sealed", ports=parse_publish(f"{_free_port()}:80"))
    b = ctr("b", network_mode="sealed")
    assert "default" not in _ns(a.state.pid, "ip", "route")
    assert a.state.ports == []          # nothing is published from an internal network
    assert _get("http://a/", b.state.pid).stdout == "hello from berth\n"


def test_a_container_reaches_another_through_the_hosts_published_port(engine, ctr):
    port = _free_port()
    ctr("web", ports=parse_publish(f"{port}:80"))
    client = ctr("client")
    gw = client.state.networks["bridge"]["Gateway"]
    assert _get(f"http://{gw}:{port}/", client.state.pid).stdout == "hello from berth\n"
