"""The nftables rules a berth node writes for a cluster's Services (engine/kube/services.py),
checked by nft itself (``nft -c``: parsed and validated against the kernel, nothing applied).
The rules at work, on a real control plane: tests/test_kube_node.py."""

from __future__ import annotations

import subprocess

import pytest

from engine.errors import InvalidArgument
from engine.kube.services import check_range, render

SERVICES = {
    "default/web": {"spec": {"clusterIP": "10.0.0.57", "ports": [
        {"name": "http", "port": 80, "protocol": "TCP"},
        {"name": "dns", "port": 53, "protocol": "UDP"},
        {"name": "sctp", "port": 9, "protocol": "SCTP"}]}},
    "default/one": {"spec": {"clusterIP": "10.0.0.58", "ports": [{"port": 81}]}},
    "default/idle": {"spec": {"clusterIP": "10.0.0.59", "ports": [{"port": 82}]}},
    "default/headless": {"spec": {"clusterIP": "None", "ports": [{"port": 81}]}},
    "default/far": {"spec": {"clusterIP": "10.9.0.5", "ports": [{"port": 81}]}},
}
ENDPOINTS = {
    "default/web": {"subsets": [{
        "addresses": [{"ip": "10.88.0.5"}, {"ip": "10.88.0.6"}, {"ip": "192.168.1.1"}],
        "notReadyAddresses": [{"ip": "10.88.0.7"}],
        "ports": [{"name": "http", "port": 8080}, {"name": "dns", "port": 5353,
                                                  "protocol": "UDP"}]}]},
    "default/one": {"subsets": [{"addresses": [{"ip": "10.88.0.9"}],
                                      "ports": [{"port": 8081}]}]},
}


def test_the_rules_dnat_to_ready_local_endpoints_and_refuse_the_rest_of_the_range():
    logged = []
    script = render("berth_test_svc", SERVICES, ENDPOINTS, "10.88.0.0/16", "10.0.0.0/24",
                    logged.append)
    p = subprocess.run(["nft", "-c", "-f", "-"], input=script, capture_output=True, text=True)
    assert p.returncode == 0, p.stderr + script
    assert "ip daddr 10.0.0.57 tcp dport 80 jump" in script
    assert "ip daddr 10.0.0.57 udp dport 53 jump" in script
    assert "ip daddr 10.0.0.58 tcp dport 81 jump" in script
    assert "dnat to 10.88.0.5:8080" in script and "dnat to 10.88.0.6:8080" in script
    assert "numgen random mod 2" in script
    assert "dnat to 10.88.0.5:5353" in script and "dnat to 10.88.0.9:8081" in script
    # not ready, or a pod of another node (unreachable from here): left out
    assert "10.88.0.7" not in script and "192.168.1.1" not in script
    # no endpoint here, headless, SCTP: no DNAT; the range's reject answers instead
    assert "10.0.0.59" not in script and "dport 9 " not in script
    assert "ip daddr 10.0.0.0/24 meta l4proto tcp reject with tcp reset" in script
    assert "type filter hook forward" in script and "type filter hook output" in script
    # a cluster IP outside the range this node refuses is never DNATed (nor left unguarded)
    assert "10.9.0.5" not in script
    assert logged == ["service default/far: cluster IP 10.9.0.5 is outside the service range "
                      "10.0.0.0/24 (--service-cidr): not programmed"]
    assert "ct status dnat ip saddr 10.88.0.0/16 ip daddr 10.88.0.0/16 masquerade" in script


def test_no_service_still_guards_the_range():
    script = render("berth_test_svc", {}, {}, "10.88.0.0/16", "10.0.0.0/24")
    assert subprocess.run(["nft", "-c", "-f", "-"], input=script, capture_output=True,
                          text=True).returncode == 0
    assert "ip daddr 10.0.0.0/24 reject" in script


def test_a_range_the_host_routes_elsewhere_is_refused(tmp_path):
    routes = tmp_path / "route"
    head = "Iface\tDestination\tGateway\tFlags\tRefCnt\tUse\tMetric\tMask\tMTU\tWindow\tIRTT\n"
    # the default route and 10.88.0.0/16 on a bridge (little-endian hex, as the kernel writes)
    routes.write_text(head + "eth0\t00000000\t0102000A\t0003\t0\t0\t0\t00000000\t0\t0\t0\n"
                      "br0\t0000580A\t00000000\t0001\t0\t0\t0\t0000FFFF\t0\t0\t0\n")
    check_range("10.0.0.0/24", str(routes))
    with pytest.raises(InvalidArgument, match=r"service range 10\.88\.4\.0/24 overlaps "
                                              r"10\.88\.0\.0/16, routed to br0"):
        check_range("10.88.4.0/24", str(routes))
