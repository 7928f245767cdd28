"""IPv6 networks (``network create --ipv6``): containers get an address of the network's unique
local subnet, reach each other over IPv6, and a port published on [::1] answers from the host.
Only ::1 and the test's own subnet are used."""

from __future__ import annotations

import json
import os
import subprocess
import time
import urllib.request

import pytest

from test_api_support import service  # noqa: F401

docker = pytest.importorskip("docker")

pytestmark = pytest.mark.skipif(not os.path.exists("/proc/net/if_inet6"),
                                reason="this host has no IPv6")


def _subnet() -> str:
    # a unique local /64 of the test's own (the host's eth0 has fd00::/64)
    # written as ip(8) prints it (no leading zeros in a group), so tests can look for it
    import ipaddress
    text = f"fd{os.urandom(1).hex()}:{os.urandom(2).hex()}:{os.urandom(2).hex()}::/64"
    return str(ipaddress.ip_network(text))


def _free_port() -> int:
    import socket
    with socket.socket(socket.AF_INET6) as s:
        s.bind(("::1", 0))
        return s.getsockname()[1]


def _get(url: str) -> str:
    deadline = time.monotonic() + 20
    while True:
        try:
            return urllib.request.urlopen(url, timeout=5).read().decode()
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


def test_containers_on_an_ipv6_network_talk_and_publish_on_ipv6_loopback(run, root, tmp_path):
    subnet = _subnet()
    run("network", "create", "--ipv6", "--subnet", subnet, "six")
    info = json.loads(run("network", "inspect", "six").stdout)[0]
    assert info["EnableIPv6"] is True
    assert [c["Subnet"] for c in info["IPAM"]["Config"]][1] == subnet
    run("run", "-d", "--name", "peer", "--network", "six", "busybox", "sleep", "600")
    ep = json.loads(run("inspect", "-f", "{{json .NetworkSettings.Networks}}", "peer").stdout)["six"]
    prefix = subnet.split("::")[0]
    assert ep["GlobalIPv6Address"].startswith(prefix + "::") and ep["GlobalIPv6PrefixLen"] == 64
    # by name (its hosts entry has the IPv6 address too) and by address
    out = run("run", "--rm", "--network", "six", "busybox", "sh", "-c",
              f"ping -6 -c 1 -W 5 peer && ping -c 1 -W 5 {ep['GlobalIPv6Address']}").stdout
    assert out.count("1 packets received") == 2, out
    www = tmp_path / "www"
    www.mkdir()
    (www / "index.html").write_text("over six\n")
    port = _free_port()
    run("run", "-d", "--name", "web", "--network", "six", "-p", f"[::1]:{port}:80",
        "-v", f"{www}:/www", "busybox", "httpd", "-f", "-p", "80", "-h", "/www")
    assert _get(f"http://[::1]:{port}/") == "over six\n"
    assert run("port", "web").stdout == f"80/tcp -> [::1]:{port}\n"
    # a port published on every address of an IPv6 container answers on both loopbacks
    both = _free_port()
    run("run", "-d", "--name", "web2", "--network", "six", "-p", f"{both}:80",
        "-v", f"{www}:/www", "busybox", "httpd", "-f", "-p", "80", "-h", "/www")
    assert _get(f"http://[::1]:{both}/") == _get(f"http://127.0.0.1:{both}/") == "over six\n"
    # the same port on each family's every address, as Docker allows: [::] takes IPv6's side
    pair = _free_port()
    run("run", "-d", "--name", "web3", "--network", "six", "-p", f"[::]:{pair}:80",
        "-p", f"{pair}:80", "-v", f"{www}:/www", "busybox", "httpd", "-f", "-p", "80", "-h", "/www")
    assert _get(f"http://[::1]:{pair}/") == _get(f"http://127.0.0.1:{pair}/") == "over six\n"
    # the default network has no IPv6: publishing there on ::1 is refused, as nftables can't
    # take IPv6 to an IPv4 address
    bad = run("run", "--rm", "-p", f"[::1]:{port}:80", "busybox", "true", check=False)
    assert bad.returncode == 125 and "has no IPv6" in bad.stderr
    bad = run("network", "create", "--ipv6", "--subnet", "2001:db8::/64", "public", check=False)
    assert bad.returncode == 125 and "unique local range (fd00::/8)" in bad.stderr
    run("rm", "-f", "peer", "web", "web2", "web3")
    run("network", "rm", "six")
    from engine.paths import Paths
    table = Paths.from_env(root).nft_table
    assert subprocess.run(["nft", "list", "table", "ip6", table], capture_output=True).returncode != 0
    # the loopback proxies went with their containers
    assert subprocess.run(["pgrep", "-f", f"engine.network.proxy6 {port} "],
                          capture_output=True).returncode == 1


def test_an_ipv6_network_through_the_api(service, busybox):
    client = docker.DockerClient(base_url=service.url, timeout=60)
    try:
        subnet = _subnet()
        ipam = docker.types.IPAMConfig(pool_configs=[docker.types.IPAMPool(subnet=subnet)])
        net = client.networks.create("api6", enable_ipv6=True, ipam=ipam,
                                     options={"com.docker.network.driver.mtu": "1400"})
        assert net.attrs["EnableIPv6"] is True
        assert net.attrs["Options"] == {"com.docker.network.driver.mtu": "1400"}
        out = client.containers.run(busybox, ["sh", "-c", "ip -6 addr show eth0; ip link show eth0"],
                                    network="api6", remove=True).decode()
        assert subnet.split("::")[0] + "::" in out and "mtu 1400" in out
        net.remove()
    finally:
        client.close()
