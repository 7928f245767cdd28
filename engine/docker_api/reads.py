"""The answers a client's first look needs (ping, version, the container list, a container's
inspect) as plain data, without aiohttp or asyncio: the service's handlers (system.py,
containers.py) and dial-stdio's front (front.py), which answers them before aiohttp is
imported, both give these."""

from __future__ import annotations

import platform

from .. import __version__ as VERSION
from ..errors import NotFound
from ..shapes import VERSION as VERSION_SHAPE, complete
from . import translate
from .protocol import API_VERSION, MAX_VERSION, MIN_VERSION


def ping_headers() -> dict:
    return {"Api-Version": API_VERSION, "Builder-Version": "1", "Docker-Experimental": "false",
            "Ostype": "linux", "Cache-Control": "no-cache, no-store, must-revalidate",
            "Pragma": "no-cache"}


def kernel() -> str:
    return platform.release()


def arch() -> str:
    return {"x86_64": "amd64", "aarch64": "arm64"}.get(platform.machine(), platform.machine())


def version() -> dict:
    min_api = "%d.%d" % MIN_VERSION
    body = {"Platform": {"Name": "berth"},
            "Components": [{"Name": "Engine", "Version": VERSION,
                            "Details": {"ApiVersion": API_VERSION, "MinAPIVersion": min_api,
                                        "Os": "linux", "Arch": "amd64",
                                        "KernelVersion": kernel()}}],
            "Version": VERSION, "ApiVersion": API_VERSION, "MinAPIVersion": min_api,
            "GitCommit": "", "GoVersion": f"python{platform.python_version()}", "Os": "linux",
            "Arch": arch(), "KernelVersion": kernel(), "BuildTime": ""}
    return complete(body, VERSION_SHAPE)


def container_list(engine, query) -> list[dict]:
    """GET /containers/json for ``query`` (the request's query: all, filters, limit, size)."""
    filters = translate.parse_filters(query.get("filters"))
    from ..runtime.filters import check_health
    check_health(filters.get("health", ()))
    everything = translate.boolean(query.get("all"))
    limit = translate.query_int(query, "limit", -1)
    found = engine.containers(everything, filters or None)
    if limit > 0:
        found = found[:limit]
    sized = translate.boolean(query.get("size"))
    return [{**translate.container_summary(c), **(sizes(engine, c) if sized else {})}
            for c in found]


def container_json(engine, ref: str, query, version: tuple[int, int] = MAX_VERSION) -> dict:
    """GET /containers/{ref}/json, less ExecIDs (the execs a service runs are its own)."""
    try:
        data = engine.container_inspect(ref)
        c = engine.container(data["Id"])
    except NotFound:
        raise NotFound(f"No such container: {ref}") from None
    from ..network.endpoints import wanted_networks
    network_entries(data, c, wanted_networks(engine.store, c), version)
    if translate.boolean(query.get("size")):
        data.update(sizes(engine, c))
    return data


def sizes(engine, c) -> dict:
    """SizeRw and SizeRootFs, which dockerd adds to an inspect or a listing asked for with
    size=1."""
    rw, rootfs = engine.container_size(c.id)
    return {"SizeRw": rw, "SizeRootFs": rootfs}


def network_entries(data: dict, c, wanted, version: tuple[int, int] = MAX_VERSION) -> None:
    """Docker lists a container's networks from its creation on (``wanted``: what
    endpoints.wanted_networks says it joins, with each network's aliases). On a user-defined
    network, DNSNames holds the names it answers to, and before API 1.45 the aliases also
    carry its short id and hostname (moby's router/container/inspect.go)."""
    nets = data.setdefault("NetworkSettings", {}).setdefault("Networks", {}) or {}
    data["NetworkSettings"]["Networks"] = nets
    for name, aliases, _ in wanted:
        if name not in nets:
            nets[name] = {"IPAMConfig": None, "Links": None, "Aliases": None, "NetworkID": "",
                          "EndpointID": "", "Gateway": "", "IPAddress": "", "IPPrefixLen": 0,
                          "IPv6Gateway": "", "GlobalIPv6Address": "", "GlobalIPv6PrefixLen": 0,
                          "MacAddress": "", "DriverOpts": None, "DNSNames": None}
        if name != "bridge":
            shown = list(nets[name].get("Aliases") or [])
            legacy = (c.id[:12], data["Config"]["Hostname"]) if version < (1, 45) else ()
            for alias in (*aliases, *legacy):
                if alias not in shown:
                    shown.append(alias)
            nets[name]["Aliases"] = shown or None
            nets[name]["DNSNames"] = list(dict.fromkeys(
                [c.name, *aliases, c.id[:12], data["Config"]["Hostname"]]))
