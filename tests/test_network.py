"""Networks without containers: -p parsing, address management, hosts files, network verbs."""

from __future__ import annotations

import ipaddress
import os
import subprocess
import sys

import pytest

from engine.errors import Conflict, InvalidArgument, NotFound
from engine.models import Port
from engine.network import ipam
from engine.network.files import hosts_lines, write_in_place
from engine.network.ports import assign_host_ports, parse_publish


# --- -p ------------------------------------------------------------------------------------

@pytest.mark.parametrize("spec,expected", [
    ("80", [Port(80)]),
    ("8080:80", [Port(80, host_port=8080)]),
    ("127.0.0.1:8080:80", [Port(80, host_ip="127.0.0.1", host_port=8080)]),
    ("127.0.0.1::80", [Port(80, host_ip="127.0.0.1")]),
    ("53:53/udp", [Port(53, "udp", host_port=53)]),
    ("80/TCP", [Port(80, "tcp")]),
    ("8000-8002:80-82", [Port(80, host_port=8000), Port(81, host_port=8001), Port(82, host_port=8002)]),
    ("8000-8009:80", [Port(80, host_port=8000, host_port_end=8009)]),
    ("[::1]:8080:80", [Port(80, host_ip="::1", host_port=8080)]),
])
def test_parse_publish(spec, expected):
    assert parse_publish(spec) == expected


@pytest.mark.parametrize("spec,message", [
    ("abc", "invalid containerPort: abc"),
    ("80:abc", "invalid containerPort: abc"),
    ("x:80", "invalid hostPort: x"),
    ("1.2.3:80:80", "invalid IP address: 1.2.3"),
    ("8000-8001:80-82", "invalid ranges specified for container and host Ports: 80-82 and 8000-8001"),
    ("80/icmp", "invalid proto: icmp"),
    ("", "no port specified: <empty>"),
    ("70000", "invalid containerPort: 70000"),
    ("0", "invalid containerPort: 0"),
])
def test_parse_publish_refuses_as_docker(spec, message):
    with pytest.raises(InvalidArgument) as e:
        parse_publish(spec)
    assert str(e.value) == message


def test_host_ports_are_chosen_free_and_explicit_clashes_refused():
    taken: set = set()
    bound = assign_host_ports(parse_publish("80") + parse_publish("81"), taken)
    assert bound[0].host_port != bound[1].host_port
    assert all(p.host_port > 0 for p in bound)
    with pytest.raises(Conflict, match="port is already allocated"):
        assign_host_ports([Port(80, host_port=bound[0].host_port)], taken)
    # a port some host process holds is refused too
    import socket
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    s.listen()
    try:
        with pytest.raises(Conflict, match=f"127.0.0.1:{s.getsockname()[1]} failed"):
            assign_host_ports([Port(80, host_ip="127.0.0.1", host_port=s.getsockname()[1])], set())
    finally:
        s.close()


def test_one_port_on_both_families_is_allowed_a_real_clash_is_not():
    """-p P:80 -p '[::]:P:80' publishes P on IPv4's and IPv6's every address, as Docker allows;
    the same family, address, port and protocol twice is still refused."""
    from registry_server import free_port
    port = free_port()
    bound = assign_host_ports(parse_publish(f"[::]:{port}:80") + parse_publish(f"{port}:80"),
                              set())
    assert [(p.host_ip, p.host_port) for p in bound] == [("::", port), ("", port)]
    for pair in ((f"{port}:80", f"0.0.0.0:{port}:81"), (f"{port}:80", f"127.0.0.1:{port}:80"),
                 (f"[::]:{port}:80", f"[::1]:{port}:80"), (f"[::]:{port}:80", f"[::]:{port}:81")):
        with pytest.raises(Conflict, match="port is already allocated"):
            assign_host_ports(parse_publish(pair[0]) + parse_publish(pair[1]), set())
    # udp beside tcp was never a clash; another container's every-address port still is
    taken = {("", port, "tcp")}
    assign_host_ports(parse_publish(f"{port}:80/udp"), taken)
    with pytest.raises(Conflict, match="port is already allocated"):
        assign_host_ports(parse_publish(f"[::]:{port}:80"), taken)


# --- addresses -----------------------------------------------------------------------------

def _rec(subnet="10.200.0.0/24", ip_range=None):
    return ipam.new_record("t", ipaddress.IPv4Network(subnet), None, ip_range, False, None, "x")


def test_fifty_containers_on_a_slash_24_get_fifty_distinct_addresses():
    rec = _rec()
    ips = [ipam.allocate(rec, f"c{i}") for i in range(50)]
    assert len(set(ips)) == 50
    assert rec.network.gateway not in ips
    assert all(ipaddress.IPv4Address(ip) in rec.net for ip in ips)
    assert "10.200.0.0" not in ips and "10.200.0.255" not in ips


def test_exhausted_network_says_so():
    rec = _rec("10.200.0.0/29")          # 6 hosts, one of them the gateway
    for i in range(5):
        ipam.allocate(rec, f"c{i}")
    with pytest.raises(Conflict, match=r"no free address left in network 't' \(10.200.0.0/29"):
        ipam.allocate(rec, "c5")
    ipam.release(rec, "c2")
    assert ipam.allocate(rec, "c5") == "10.200.0.4"


def test_requested_addresses_are_checked():
    rec = _rec()
    assert ipam.allocate(rec, "a", "10.200.0.77") == "10.200.0.77"
    with pytest.raises(Conflict, match="already in use"):
        ipam.allocate(rec, "b", "10.200.0.77")
    with pytest.raises(InvalidArgument, match="not in network"):
        ipam.allocate(rec, "b", "10.201.0.5")
    with pytest.raises(Conflict, match="gateway"):
        ipam.allocate(rec, "b", "10.200.0.1")


def test_ip_range_limits_allocation():
    rec = _rec("10.200.0.0/24", "10.200.0.128/30")
    assert [ipam.allocate(rec, f"c{i}") for i in range(2)] == ["10.200.0.129", "10.200.0.130"]
    with pytest.raises(Conflict):
        ipam.allocate(rec, "c3")


# --- hosts files ---------------------------------------------------------------------------

def test_hosts_lists_self_peers_and_added_hosts():
    text = hosts_lines("web1", ["10.1.0.2"], [("10.1.0.3", ["db", "database"])],
                       ["gw:host-gateway", "x:1.2.3.4"], gateway="10.1.0.1")
    lines = text.splitlines()
    assert lines[0] == "127.0.0.1\tlocalhost"
    assert "10.1.0.2\tweb1" in lines
    assert "10.1.0.3\tdb database" in lines
    assert "10.1.0.1\tgw" in lines and "1.2.3.4\tx" in lines


def test_write_in_place_keeps_the_inode(tmp_path):
    p = tmp_path / "hosts"
    p.write_text("a much longer first content\n")
    ino = os.stat(p).st_ino
    write_in_place(str(p), b"short\n")
    assert os.stat(p).st_ino == ino
    assert p.read_text() == "short\n"


# --- cheap imports -------------------------------------------------------------------------

def test_importing_the_network_package_loads_nothing_heavy():
    code = ("import sys, engine.network, engine.network.ports; "
            "bad = [m for m in sys.modules if m.startswith(('pyroute2', 'engine.network.netlink'))]; "
            "print(bad)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         cwd=os.path.dirname(os.path.dirname(__file__))).stdout
    assert out.strip() == "[]"


# --- network verbs (bridges are real) -------------------------------------------------------

def _links(suffix: str) -> list[str]:
    out = subprocess.run(["ip", "-o", "link"], capture_output=True, text=True).stdout
    return [ln.split(":")[1].strip().split("@")[0] for ln in out.splitlines()
            if f"berth{suffix}" in ln or f"vb{suffix}" in ln]


def test_create_inspect_rm_network(engine):
    net = engine.create_network("app", subnet="10.201.3.0/24", labels={"tier": "db"})
    assert net.bridge.startswith(f"berth{engine.paths.suffix}")
    addr = subprocess.run(["ip", "-o", "-4", "addr", "show", "dev", net.bridge],
                          capture_output=True, text=True).stdout
    assert "10.201.3.1/24" in addr
    with open(f"/proc/sys/net/ipv4/conf/{net.bridge}/route_localnet") as f:
        assert f.read().strip() == "1"
    doc = engine.network_inspect("app")
    assert doc["IPAM"]["Config"] == [{"Subnet": "10.201.3.0/24", "Gateway": "10.201.3.1"}]
    assert doc["Labels"] == {"tier": "db"} and doc["Id"] == net.id
    assert engine.network(net.id[:10]).name == "app"
    assert [n.name for n in engine.networks()][:3] == ["bridge", "host", "none"]
    rules = subprocess.run(["nft", "list", "table", "ip", engine.paths.nft_table],
                           capture_output=True, text=True).stdout
    assert "10.201.3.0/24" in rules and "masquerade" in rules
    engine.remove_network("app")
    assert _links(engine.paths.suffix) == []
    r = subprocess.run(["nft", "list", "table", "ip", engine.paths.nft_table], capture_output=True)
    assert r.returncode != 0, "the table goes with the last network"
    with pytest.raises(NotFound):
        engine.network("app")


def test_overlapping_subnet_refused_naming_the_conflict(engine):
    engine.create_network("app", subnet="10.201.4.0/24")
    with pytest.raises(Conflict) as e:
        engine.create_network("app2", subnet="10.201.4.128/25")
    assert str(e.value) == ("subnet 10.201.4.128/25 overlaps network 'app' (10.201.4.0/24); "
                            "choose another with --subnet")
    route = subprocess.run(["ip", "-4", "route", "show", "dev", "eth0", "scope", "link"],
                           capture_output=True, text=True).stdout.split()
    if route:
        with pytest.raises(Conflict, match=f"overlaps host route {route[0]} on eth0"):
            engine.create_network("app3", subnet=route[0])
    with pytest.raises(Conflict, match="already exists"):
        engine.create_network("app", subnet="10.201.5.0/24")
    with pytest.raises(Conflict, match="pre-defined"):
        engine.remove_network("bridge")


def test_auto_subnets_do_not_overlap(engine):
    a = engine.create_network("a")
    b = engine.create_network("b")
    assert not ipaddress.ip_network(a.subnet).overlaps(ipaddress.ip_network(b.subnet))
    assert a.bridge != b.bridge
    assert sorted(engine.prune_networks()) == ["a", "b"]
    assert _links(engine.paths.suffix) == []


def test_internal_network_has_no_way_out(engine):
    net = engine.create_network("sealed", subnet="10.201.6.0/24", internal=True)
    rules = subprocess.run(["nft", "list", "table", "ip", engine.paths.nft_table],
                           capture_output=True, text=True).stdout
    assert f'iifname "{net.bridge}" ip daddr != 10.201.6.0/24 drop' in rules
    assert f"ip saddr 10.201.6.0/24 oifname" not in rules   # no masquerade out


def test_resolv_conf_from_flags_and_without_loopback_servers(tmp_path):
    from engine.models import Container, ContainerConfig
    from engine.network.files import resolv_text
    host = tmp_path / "resolv.conf"
    host.write_text("nameserver 127.0.0.53\nnameserver 192.0.2.53\nsearch example.org\n")
    c = Container(id="c" * 64, name="x", created="", config=ContainerConfig(image="i"))
    assert resolv_text(c, str(host)) == "nameserver 192.0.2.53\nsearch example.org\n"
    c.config.dns, c.config.dns_search, c.config.dns_options = ["10.0.0.2"], ["a.test"], ["ndots:2"]
    assert resolv_text(c, str(host)) == "nameserver 10.0.0.2\nsearch a.test\noptions ndots:2\n"


def test_two_roots_choosing_subnets_at_once_never_overlap(engine):
    import threading
    from engine import Engine
    from helpers import claim_root, release_root
    other_root = claim_root("berth-test-")
    try:
        other = Engine(other_root)
        nets = {}

        def make(e, name):
            nets[name] = e.create_network(name)
        threads = [threading.Thread(target=make, args=(e, n))
                   for e, n in ((engine, "a"), (other, "b"), (engine, "c"), (other, "d"))]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        subnets = [ipaddress.ip_network(n.subnet) for n in nets.values()]
        assert len(subnets) == 4
        for i, a in enumerate(subnets):
            for b in subnets[i + 1:]:
                assert not a.overlaps(b)
    finally:
        release_root(other_root)


def test_network_cli(cli, engine):
    nid = cli("network", "create", "--subnet", "10.201.20.0/24", "--label", "env=test",
              "front").stdout.strip()
    assert len(nid) == 64
    lines = cli("network", "ls").stdout.splitlines()
    assert lines[0].split() == ["NETWORK", "ID", "NAME", "DRIVER", "SCOPE"]
    assert [ln.split()[1] for ln in lines[1:]] == ["bridge", "host", "none", "front"]
    assert cli("network", "ls", "-q", "-f", "label=env=test").stdout.split() == [nid[:12]]
    assert cli("network", "ls", "--format", "{{.Name}} {{.Driver}}", "-f", "name=fro").stdout == \
        "front bridge\n"
    assert cli("network", "inspect", "-f", "{{.IPAM.Config}} {{.Labels.env}}", "front").stdout == \
        "[map[Gateway:10.201.20.1 Subnet:10.201.20.0/24]] test\n"
    bad = cli("network", "create", "--subnet", "10.201.20.128/25", "back", check=False)
    assert bad.returncode == 125
    assert bad.stderr == ("berth: subnet 10.201.20.128/25 overlaps network 'front' (10.201.20.0/24); "
                          "choose another with --subnet\n")
    missing = cli("network", "rm", "nosuch", check=False)
    assert missing.returncode == 1 and "network nosuch not found" in missing.stderr
    assert cli("network", "prune", "-f").stdout == "Deleted Networks:\nfront\n"
    assert cli("network", "ls", "-q").stdout.count("\n") == 3


def test_the_monitors_attach_path_imports_no_heavy_modules():
    code = ("import sys, engine.runtime.monitor; before = set(sys.modules); "
            "import engine.network, engine.network.endpoints, engine.store, engine.events; "
            "heavy = {'json', 're', 'typing', 'dataclasses', 'engine.models', "
            "'pyroute2', 'subprocess'}; print(sorted(heavy & (set(sys.modules) - before)))")
    out = subprocess.run([sys.executable, "-S", "-c", code], capture_output=True, text=True,
                         check=True, cwd=os.path.dirname(os.path.dirname(__file__)),
                         env={**os.environ, "PYTHONPATH": os.path.dirname(os.path.dirname(__file__))}).stdout
    assert out.strip() == "[]"
