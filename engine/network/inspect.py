"""Docker's JSON shapes for networks: a container's NetworkSettings and ``network inspect``."""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

_BLANK_IP = {"IPAddress": "", "IPPrefixLen": 0, "Gateway": "", "MacAddress": "",
             "EndpointID": "", "IPv6Gateway": "", "GlobalIPv6Address": "", "GlobalIPv6PrefixLen": 0}


def network_settings(container) -> dict[str, Any]:
    """NetworkSettings for ``container``'s inspect, from its state: the addresses while it runs,
    the networks it belongs to (without addresses) when it does not."""
    state = container.state
    running = state.status in ("running", "paused", "restarting") and state.pid
    networks: dict[str, Any] = {}
    for name, ep in (state.networks or {}).items():
        ep = dict(ep)
        if not running:
            ep.update(_BLANK_IP)
        networks[name] = ep
    mode = container.config.network_mode or "bridge"
    if not networks and mode in ("host", "none"):
        networks[mode] = {"IPAMConfig": None, "Links": None, "Aliases": None, "NetworkID": "",
                          "DriverOpts": None, "DNSNames": None, **_BLANK_IP}
    from .ports import port_key
    ports: dict[str, Any] = {}
    if running:
        for spec in container.config.exposed_ports:
            key = spec if "/" in spec else f"{spec}/tcp"
            ports.setdefault(key, None)
        for p in state.ports:
            ports.setdefault(port_key(p), None)
            if ports[port_key(p)] is None:
                ports[port_key(p)] = []
            ports[port_key(p)].append({"HostIp": p.host_ip or "0.0.0.0", "HostPort": str(p.host_port)})
    # Docker fills the top-level fields from the default bridge network only.
    from .ipam import DEFAULT_NETWORK
    top = networks.get(DEFAULT_NETWORK) or {}
    return {
        "Bridge": "",
        "SandboxID": container.id if running else "",
        "SandboxKey": f"/proc/{state.pid}/ns/net" if running else "",
        "HairpinMode": False,
        "LinkLocalIPv6Address": "",
        "LinkLocalIPv6PrefixLen": 0,
        "Ports": ports,
        "SecondaryIPAddresses": None,
        "SecondaryIPv6Addresses": None,
        "EndpointID": top.get("EndpointID", ""),
        "Gateway": top.get("Gateway", ""),
        "GlobalIPv6Address": "",
        "GlobalIPv6PrefixLen": 0,
        "IPAddress": top.get("IPAddress", ""),
        "IPPrefixLen": top.get("IPPrefixLen", 0),
        "IPv6Gateway": "",
        "MacAddress": top.get("MacAddress", ""),
        "Networks": networks,
    }


def default_options(n) -> dict[str, str]:
    """The driver options dockerd shows for its default bridge network (berth's bridge device
    in place of docker0). A user network shows only the options it was created with: compose
    compares them with its file and recreates a network whose options differ."""
    return {"com.docker.network.bridge.default_bridge": "true",
            "com.docker.network.bridge.enable_icc": "true",
            "com.docker.network.bridge.enable_ip_masquerade": "true",
            "com.docker.network.bridge.host_binding_ipv4": "0.0.0.0",
            "com.docker.network.bridge.name": n.bridge,
            "com.docker.network.driver.mtu": str(n.mtu)}


def network_inspect(rec) -> dict[str, Any]:
    """``docker network inspect``'s object for one network record."""
    from .ipam import DEFAULT_NETWORK
    n = rec.network
    if n.driver != "bridge":
        return {"Name": n.name, "Id": n.id, "Created": n.created, "Scope": "local",
                "Driver": n.driver, "EnableIPv6": False,
                "IPAM": {"Driver": "default", "Options": None, "Config": []},
                "Internal": False, "Attachable": False, "Ingress": False,
                "ConfigFrom": {"Network": ""}, "ConfigOnly": False, "Containers": {},
                "Options": {}, "Labels": {}}
    config = {"Subnet": n.subnet, "Gateway": n.gateway}
    if n.ip_range:
        config["IPRange"] = n.ip_range
    prefix = rec.net.prefixlen if n.subnet else 0
    configs = [config] if n.subnet else []
    prefix6 = n.subnet6.partition("/")[2] if n.ipv6 else ""
    if n.ipv6:
        configs.append({"Subnet": n.subnet6, "Gateway": n.gateway6})
    containers = {cid: {"Name": ep.get("name", ""), "EndpointID": ep.get("endpoint_id", ""),
                        "MacAddress": ep.get("mac", ""), "IPv4Address": f"{ep['ip']}/{prefix}",
                        "IPv6Address": f"{ep['ip6']}/{prefix6}" if ep.get("ip6") else ""}
                  for cid, ep in rec.endpoints.items()}
    default = n.name == DEFAULT_NETWORK
    return {
        "Name": n.name,
        "Id": n.id,
        "Created": n.created,
        "Scope": "local",
        "Driver": "bridge",
        "EnableIPv6": bool(n.ipv6),
        "IPAM": {"Driver": "default", "Options": None if default else {}, "Config": configs},
        "Internal": n.internal,
        "Attachable": False,
        "Ingress": False,
        "ConfigFrom": {"Network": ""},
        "ConfigOnly": False,
        "Containers": containers,
        "Options": default_options(n) if default else dict(n.options or {}),
        "Labels": dict(n.labels),
    }


def docker_endpoint(rec, ep: dict[str, Any], requested_ip: str = "",
                    cid: str = "") -> dict[str, Any]:
    """One entry of NetworkSettings.Networks, as Docker shows it."""
    from .hosts import dns_names
    return {
        "IPAMConfig": {"IPv4Address": requested_ip} if requested_ip else None,
        "Links": None,
        "Aliases": list(ep.get("aliases") or []) or None,
        "MacAddress": ep["mac"],
        "DriverOpts": None,
        "NetworkID": rec.network.id,
        "EndpointID": ep.get("endpoint_id", ""),
        "Gateway": rec.network.gateway if not rec.network.internal or ep.get("default_route") else "",
        "IPAddress": ep["ip"],
        "IPPrefixLen": rec.net.prefixlen,
        "IPv6Gateway": rec.network.gateway6 if ep.get("ip6") and ep.get("default_route") else "",
        "GlobalIPv6Address": ep.get("ip6", ""),
        "GlobalIPv6PrefixLen": int(rec.network.subnet6.partition("/")[2]) if ep.get("ip6") else 0,
        "DNSNames": dns_names(cid, ep) if cid else [n for n in [ep.get("name"), *(ep.get("aliases") or [])] if n],
    }
