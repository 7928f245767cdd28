"""Network endpoints: list, inspect, create, remove, prune, connect, disconnect."""

from __future__ import annotations

from aiohttp import web

from ..errors import InvalidArgument, NotFound
from . import translate
from .bodies import NETWORK_CONNECT, NETWORK_CREATE, NETWORK_DISCONNECT, read_json
from ..shapes import NETWORK, complete
from .server import call, engine_of


def register(routes) -> None:
    add = routes.add
    add("GET", "/networks", list_networks)
    add("POST", "/networks/create", create)
    add("POST", "/networks/prune", prune)
    add("GET", "/networks/{id}", inspect)
    add("DELETE", "/networks/{id}", remove)
    add("POST", "/networks/{id}/connect", connect)
    add("POST", "/networks/{id}/disconnect", disconnect)


ZERO_TIME = "0001-01-01T00:00:00Z"


def _shaped(data: dict) -> dict:
    # host and none have no creation time; clients parse the field, so give Go's zero time
    if not data.get("Created"):
        data["Created"] = ZERO_TIME
    return complete(data, NETWORK)


def _matches(data: dict, filters: dict[str, list[str]]) -> bool:
    for key, values in filters.items():
        if key == "name" and not any(v in data["Name"] for v in values):
            return False
        if key == "id" and not any(data["Id"].startswith(v) for v in values):
            return False
        if key == "driver" and data["Driver"] not in values:
            return False
        if key == "label":
            labels = data.get("Labels") or {}
            for w in values:
                k, eq, v = w.partition("=")
                if k not in labels or (eq and labels[k] != v):
                    return False
        if key == "type":
            custom = data["Name"] not in ("bridge", "host", "none")
            if not any((v == "custom") == custom for v in values):
                return False
    return True


async def list_networks(request: web.Request) -> web.Response:
    engine = engine_of(request)
    filters = translate.parse_filters(request.query.get("filters"))

    def build() -> list[dict]:
        out = []
        for net in engine.networks():
            data = _shaped(engine.network_inspect(net.name))
            if _matches(data, filters):
                out.append(data)
        return out
    return web.json_response(await call(build))


async def inspect(request: web.Request) -> web.Response:
    engine = engine_of(request)
    ref = request.match_info["id"]
    try:
        return web.json_response(_shaped(await call(engine.network_inspect, ref)))
    except NotFound:
        raise NotFound(f"network {ref} not found") from None


async def create(request: web.Request) -> web.Response:
    engine = engine_of(request)
    body = await read_json(request, NETWORK_CREATE)
    name = body.get("Name")
    if not name:
        raise InvalidArgument("network name is required")
    driver = body.get("Driver") or "bridge"
    if driver != "bridge":
        raise InvalidArgument(f"network driver {driver!r} is not supported by berth: use bridge")
    configs = (body.get("IPAM") or {}).get("Config") or []
    v4 = [c for c in configs if ":" not in (c.get("Subnet") or "")]
    v6 = [c for c in configs if ":" in (c.get("Subnet") or "")]
    if len(v4) > 1 or len(v6) > 1:
        raise InvalidArgument("berth networks have one IPv4 subnet and, with EnableIPv6, one "
                              "IPv6 subnet")
    cfg, cfg6 = (v4[0] if v4 else {}), (v6[0] if v6 else {})
    net = await call(engine.create_network, name, cfg.get("Subnet") or None,
                     cfg.get("Gateway") or None, cfg.get("IPRange") or None,
                     bool(body.get("Internal")), dict(body.get("Labels") or {}),
                     dict(body.get("Options") or {}), bool(body.get("EnableIPv6")),
                     cfg6.get("Subnet") or None, cfg6.get("Gateway") or None)
    return web.json_response({"Id": net.id, "Warning": ""}, status=201)


async def remove(request: web.Request) -> web.Response:
    engine = engine_of(request)
    ref = request.match_info["id"]
    try:
        await call(engine.remove_network, ref)
    except NotFound:
        raise NotFound(f"network {ref} not found") from None
    return web.Response(status=204)


async def prune(request: web.Request) -> web.Response:
    removed = await call(engine_of(request).prune_networks)
    return web.json_response({"NetworksDeleted": list(removed) or None})


async def connect(request: web.Request) -> web.Response:
    engine = engine_of(request)
    body = await read_json(request, NETWORK_CONNECT)
    ep = body.get("EndpointConfig") or {}
    ip = (ep.get("IPAMConfig") or {}).get("IPv4Address") or None
    await call(engine.connect, request.match_info["id"], body.get("Container") or "", ip,
               tuple(ep.get("Aliases") or ()))
    return web.Response(status=200)


async def disconnect(request: web.Request) -> web.Response:
    engine = engine_of(request)
    body = await read_json(request, NETWORK_DISCONNECT)
    await call(engine.disconnect, request.match_info["id"], body.get("Container") or "",
               bool(body.get("Force")))
    return web.Response(status=200)
