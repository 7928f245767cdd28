"""ClusterIP Services on a berth node, as kube-proxy programs them: a connection to a Service's
cluster IP and port, from this host or from a pod of this node, is DNATed to one of the
Service's ready endpoints (at random) that is a pod of this node.

The rules live in a table of their own (``paths.nft_services_table``, family ``ip``), written
whole in one ``nft -f`` transaction whenever a Service or an Endpoints object changes, and
deleted when the agent stops. Besides the DNATs it holds:

- a reject of anything else for the node's service range (``--service-cidr``, the API server's
  ``--service-cluster-ip-range``; 10.0.0.0/24 is its default): a cluster IP is no address of
  any machine, so a packet for one that no rule matched (a port the Service doesn't have, a
  Service with no endpoint here, one the watch hasn't brought yet) is refused on this host
  rather than sent to the default route. The table and that rule stay while the agent runs,
  and after a kill, until the next agent writes the table again;
- a masquerade of DNATed traffic from the node's pod network back into it, so that a pod that
  reaches a Service served by a pod on the same bridge gets its reply through this host.

Pods on other nodes aren't reachable from here (berth nodes have no pod network between them):
a Service's endpoints elsewhere are left out. NodePorts, session affinity and the Service's
DNS name (there is no cluster DNS) are not programmed.
"""

from __future__ import annotations

import ipaddress
import threading


DEFAULT_CIDR = "10.0.0.0/24"
WATCHED = {"services": "/api/v1/services", "endpoints": "/api/v1/endpoints"}


def render(table: str, services: dict, endpoints: dict, subnet: str, cidr: str,
           log=None) -> str:
    """The nft script that makes ``table`` hold the rules for ``services`` and ``endpoints``
    ("namespace/name" -> the API's object, as cache.WatchCache keeps them), DNATing to
    endpoints within ``subnet`` only."""
    net, span = ipaddress.ip_network(subnet), ipaddress.ip_network(cidr)
    rules: list[str] = []
    chains: list[str] = []
    for key in sorted(services):
        svc = services[key]
        spec = svc.get("spec") or {}
        ip = spec.get("clusterIP") or ""
        if not ip or ip == "None":
            continue   # headless, or ExternalName
        try:
            if ipaddress.ip_address(ip) not in span:
                if log:
                    log(f"service {key}: cluster IP {ip} is outside the service "
                        f"range {cidr} (--service-cidr): not programmed")
                continue
        except ValueError:
            continue
        for port in spec.get("ports") or []:
            proto = (port.get("protocol") or "TCP").lower()
            if proto not in ("tcp", "udp"):
                continue
            targets = _targets(endpoints.get(key), port.get("name") or "", proto, net)
            if not targets:
                continue   # the range's reject answers
            n = len(chains)
            rules.append(f"ip daddr {ip} {proto} dport {int(port['port'])} jump svc{n}")
            if len(targets) == 1:
                chains.append(f"chain svc{n} {{ meta l4proto {proto} dnat to {targets[0]}; }}")
            else:
                for i, target in enumerate(targets):
                    chains.append(f"chain svc{n}_{i} {{ meta l4proto {proto} dnat to {target}; }}")
                vmap = ", ".join(f"{i} : jump svc{n}_{i}" for i in range(len(targets)))
                chains.append(f"chain svc{n} {{ numgen random mod {len(targets)} "
                              f"vmap {{ {vmap} }}; }}")
    lines = [
        f"add table ip {table}",
        f"delete table ip {table}",
        f"table ip {table} {{",
        *(f"  {c}" for c in chains),
        "  chain services {",
        *(f"    {r}" for r in rules),
        "  }",
        "  chain prerouting { type nat hook prerouting priority dstnat; policy accept; "
        "jump services; }",
        "  chain output { type nat hook output priority -100; policy accept; jump services; }",
        "  chain postrouting { type nat hook postrouting priority srcnat; policy accept; "
        f"ct status dnat ip saddr {net} ip daddr {net} masquerade; }}",
        "  chain refuse {",
        f"    ip daddr {span} meta l4proto tcp reject with tcp reset",
        f"    ip daddr {span} reject",
        "  }",
        "  chain local_out { type filter hook output priority filter; policy accept; "
        "jump refuse; }",
        "  chain forward { type filter hook forward priority filter; policy accept; "
        "jump refuse; }",
        "}",
    ]
    return "\n".join(lines) + "\n"


def _targets(ep: dict | None, name: str, proto: str, net) -> list[str]:
    """``address:port`` of each ready endpoint of the Service port named ``name`` that is in
    ``net`` (a pod of this node)."""
    out = []
    for subset in (ep or {}).get("subsets") or []:
        port = next((p["port"] for p in subset.get("ports") or []
                     if (p.get("name") or "") == name
                     and (p.get("protocol") or "TCP").lower() == proto), None)
        if port is None:
            continue
        for a in subset.get("addresses") or []:   # notReadyAddresses are left out
            try:
                if ipaddress.ip_address(a.get("ip", "")) in net:
                    out.append(f"{a['ip']}:{int(port)}")
            except ValueError:
                continue
    return sorted(set(out))


class ServiceProxy:
    """The agent's Services: a WatchCache of Services and Endpoints, and the table kept in step
    with it."""

    def __init__(self, agent, cidr: str = DEFAULT_CIDR):
        from .cache import WatchCache
        self.agent = agent
        self.cidr = str(ipaddress.ip_network(cidr))
        self.table = agent.engine.paths.nft_services_table
        self.cache = WatchCache(agent.client, kinds=WATCHED)
        self.changed = threading.Event()
        self.written = ""
        self.refused: dict[str, str] = {}

    def start(self, stop: threading.Event) -> None:
        """The guard first (the range refused before any pod runs), then the watches."""
        check_range(self.cidr)
        self.apply()
        self.cache.listen(lambda _kind: self.changed.set())
        self.cache.start()
        threading.Thread(target=self._keep, args=(stop,), daemon=True, name="services").start()

    def apply(self) -> None:
        """Write the table if what it should hold changed (always, the first time)."""
        from ..network.nat import run_script
        if self.cache.refused != self.refused:
            self.refused = dict(self.cache.refused)
            for kind, why in self.refused.items():
                self.agent.log(f"watch {kind}: {why}")
        net = self.agent.engine.network(self.agent.network)
        from .cache import key_of
        services, endpoints = ({key_of(o): o for o in self.cache.items(kind)}
                               for kind in WATCHED)
        script = render(self.table, services, endpoints, net.subnet, self.cidr, self.agent.log)
        if script != self.written:
            run_script(script, "programming the node's Services")
            self.written = script

    def close(self) -> None:
        from ..network.nat import run_script
        self.cache.stop()
        run_script(f"add table ip {self.table}\ndelete table ip {self.table}\n",
                   "removing the node's Services")

    def _keep(self, stop: threading.Event) -> None:
        """Write the table after each change, once both kinds were listed (a Service seen
        before its Endpoints would lose its rules for a moment)."""
        while not stop.is_set():
            self.changed.wait(1.0)
            if stop.is_set():
                return
            if not self.changed.is_set() or not set(WATCHED) <= self.cache.loaded:
                continue
            self.changed.clear()
            try:
                self.apply()
            except Exception as e:   # noqa: BLE001 - the next change tries again
                self.agent.log(f"services: {e}")


def check_range(cidr: str, routes: str = "/proc/net/route") -> None:
    """Refuse a service range that this host routes somewhere other than its default route
    (a network of berth's, or any other): its reject would cut that traffic off."""
    from ..errors import InvalidArgument
    span = ipaddress.ip_network(cidr)
    with open(routes) as f:
        next(f, None)
        for line in f:
            fields = line.split()
            if len(fields) < 8 or fields[1] == "00000000" and fields[7] == "00000000":
                continue   # the default route
            dest = ipaddress.ip_address(int.from_bytes(bytes.fromhex(fields[1]), "little"))
            mask = bin(int.from_bytes(bytes.fromhex(fields[7]), "little")).count("1")
            routed = ipaddress.ip_network(f"{dest}/{mask}", strict=False)
            if routed.overlaps(span):
                raise InvalidArgument(
                    f"the service range {cidr} overlaps {routed}, routed to {fields[0]} on this "
                    "host: give the cluster's --service-cidr (its API server's "
                    "--service-cluster-ip-range)")
