"""Volume endpoints: list, inspect, create, remove, prune."""

from __future__ import annotations

from aiohttp import web

from ..errors import InvalidArgument, NotFound
from . import translate
from .bodies import VOLUME_CREATE, read_json
from ..shapes import VOLUME, complete
from .server import call, engine_of


def register(routes) -> None:
    add = routes.add
    add("GET", "/volumes", list_volumes)
    add("POST", "/volumes/create", create)
    add("POST", "/volumes/prune", prune)
    add("GET", "/volumes/{name}", inspect)
    add("DELETE", "/volumes/{name}", remove)


async def list_volumes(request: web.Request) -> web.Response:
    engine = engine_of(request)
    filters = translate.parse_filters(request.query.get("filters"))

    def build() -> list[dict]:
        return [complete(engine.volume_inspect(v.name), VOLUME)
                for v in engine.volumes(filters or None)]
    return web.json_response({"Volumes": await call(build), "Warnings": None})


async def inspect(request: web.Request) -> web.Response:
    engine = engine_of(request)
    name = request.match_info["name"]
    try:
        return web.json_response(complete(await call(engine.volume_inspect, name), VOLUME))
    except NotFound:
        raise NotFound(f"get {name}: no such volume") from None


async def create(request: web.Request) -> web.Response:
    engine = engine_of(request)
    body = await read_json(request, VOLUME_CREATE)
    driver = body.get("Driver") or "local"
    if driver != "local":
        raise InvalidArgument(f"volume driver {driver!r} is not supported by berth: use local")
    vol = await call(engine.create_volume, body.get("Name") or None,
                     dict(body.get("Labels") or {}), dict(body.get("DriverOpts") or {}))
    return web.json_response(await call(engine.volume_inspect, vol.name), status=201)


async def remove(request: web.Request) -> web.Response:
    engine = engine_of(request)
    name = request.match_info["name"]
    try:
        await call(engine.remove_volume, name, translate.boolean(request.query.get("force")))
    except NotFound:
        raise NotFound(f"get {name}: no such volume") from None
    return web.Response(status=204)


async def prune(request: web.Request) -> web.Response:
    engine = engine_of(request)
    filters = translate.parse_filters(request.query.get("filters"))
    removed, size = await call(engine.prune_volumes, False, filters or None)
    return web.json_response({"VolumesDeleted": removed or None, "SpaceReclaimed": size})
