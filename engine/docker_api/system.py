"""System endpoints: _ping, version, info, events, system/df, auth."""

from __future__ import annotations

import json
import os
import platform
import time

from aiohttp import web

from . import reads, translate
from .. import __version__ as VERSION
from ..shapes import INFO, SYSTEM_DF, complete
from .server import call, engine_of, request_version


def register(routes) -> None:
    routes.add("GET", "/_ping", ping)
    routes.add("HEAD", "/_ping", ping)
    routes.add("GET", "/version", version)
    routes.add("GET", "/info", info)
    routes.add("GET", "/events", events)
    routes.add("GET", "/system/df", df)
    routes.add("POST", "/auth", auth)


async def ping(request: web.Request) -> web.Response:
    if request.method == "HEAD":
        return web.Response(headers={**reads.ping_headers(),
                                     "Content-Type": "text/plain; charset=utf-8"})
    return web.Response(text="OK", headers=reads.ping_headers())


async def version(request: web.Request) -> web.Response:
    return web.json_response(reads.version())


def _info(engine) -> dict:
    containers = engine.containers(all=True)
    states = [c.state.status for c in containers]
    mem = 0
    try:
        with open("/proc/meminfo") as f:
            mem = int(f.readline().split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    from ..runtime import cgroups
    backend = cgroups.detect(engine.paths)
    version = "2" if "2" in type(backend).__name__ else "1"
    out = {
        "ID": engine.paths.suffix or "berth", "Containers": len(containers),
        "ContainersRunning": states.count("running"), "ContainersPaused": states.count("paused"),
        "ContainersStopped": len(states) - states.count("running") - states.count("paused"),
        "Images": len(engine.images()), "Driver": "overlay2",
        "DriverStatus": [["Backing Filesystem", "berth"]], "DockerRootDir": engine.paths.root,
        "Plugins": {"Volume": ["local"], "Network": ["bridge", "host", "null"],
                    "Authorization": None, "Log": ["json-file"]},
        "MemoryLimit": True, "SwapLimit": True, "CpuCfsPeriod": True, "CpuCfsQuota": True,
        "CPUShares": True, "CPUSet": True, "PidsLimit": True, "IPv4Forwarding": True,
        "Debug": False, "NFd": len(os.listdir("/proc/self/fd")), "OomKillDisable": True,
        "NGoroutines": 0, "SystemTime": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "LoggingDriver": "json-file", "CgroupDriver": "cgroupfs", "CgroupVersion": version,
        "NEventsListener": 0, "KernelVersion": reads.kernel(), "OperatingSystem": "berth",
        "OSVersion": "", "OSType": "linux", "Architecture": platform.machine(),
        "NCPU": os.cpu_count() or 1, "MemTotal": mem, "IndexServerAddress":
        "https://index.docker.io/v1/", "RegistryConfig": {"IndexConfigs": {},
                                                           "InsecureRegistryCIDRs": ["127.0.0.0/8"],
                                                           "Mirrors": []},
        "GenericResources": None, "HttpProxy": "", "HttpsProxy": "", "NoProxy": "",
        "Name": platform.node(), "Labels": [], "ExperimentalBuild": False,
        # berth's own runtime, under the name clients send and expect for the default one
        "ServerVersion": VERSION, "Runtimes": {"runc": {"path": "berth", "status": {}}},
        "DefaultRuntime": "runc", "Swarm": {"LocalNodeState": "inactive", "NodeID": "",
                                             "NodeAddr": "", "ControlAvailable": False,
                                             "Error": "", "RemoteManagers": None},
        "LiveRestoreEnabled": True, "Isolation": "", "InitBinary": "",
        "SecurityOptions": ["name=seccomp,profile=builtin"], "Warnings": None,
    }
    from ..paths import rootless
    if rootless():
        _rootless_info(out, backend.version != 0)
    return out


def _rootless_info(out: dict, limits: bool) -> None:
    """What dockerd's rootless mode says of itself: the security option, and no cgroup
    driver (nor the limits it backs) where nothing is delegated."""
    out["SecurityOptions"] = [*out["SecurityOptions"], "name=rootless"]
    if not limits:
        out.update(CgroupDriver="none", MemoryLimit=False, SwapLimit=False, CpuCfsPeriod=False,
                   CpuCfsQuota=False, CPUShares=False, CPUSet=False, PidsLimit=False,
                   OomKillDisable=False)


async def info(request: web.Request) -> web.Response:
    return web.json_response(complete(await call(_info, engine_of(request)), INFO))


def _event_json(ev) -> dict:
    attrs = dict(ev.attributes)
    seconds = int(ev.time)
    out = {"Type": ev.type, "Action": ev.action, "Actor": {"ID": ev.id, "Attributes": attrs},
           "scope": "local", "time": seconds, "timeNano": int(ev.time * 1e9)}
    if ev.type == "container":   # the fields of API < 1.22 that clients still read
        out.update({"status": ev.action, "id": ev.id, "from": attrs.get("image", "")})
    return out


async def events(request: web.Request) -> web.StreamResponse:
    engine = engine_of(request)
    q = request.query
    filters = translate.parse_filters(q.get("filters"))
    since, until = q.get("since") or None, q.get("until") or None
    for value in (since, until):
        translate.query_time(value)   # a bad time is a 400, before the stream's 200
    response = web.StreamResponse(headers={"Content-Type": "application/json"})
    await response.prepare(request)
    stream = engine.follow_events(since=since, filters=filters or None, until=until)
    try:
        async for ev in stream:
            await response.write(json.dumps(_event_json(ev)).encode() + b"\n")
    finally:
        await stream.aclose()
    await response.write_eof()
    return response


async def df(request: web.Request) -> web.Response:
    data = await call(engine_of(request).system_df)
    if request_version(request) >= (1, 44):
        for img in data.get("Images") or []:
            img.pop("VirtualSize", None)
    return web.json_response(complete(data, SYSTEM_DF))


async def auth(request: web.Request) -> web.Response:
    from .bodies import AUTH_CONFIG, read_json
    engine = engine_of(request)
    body = await read_json(request, AUTH_CONFIG)
    server = body.get("serveraddress") or "docker.io"
    for scheme in ("https://", "http://"):
        server = server[len(scheme):] if server.startswith(scheme) else server
    from .images import _insecure
    await call(engine.login, server.rstrip("/"), body.get("username") or "",
               body.get("password") or "", not _insecure(server + "/x"))
    return web.json_response({"Status": "Login Succeeded", "IdentityToken": ""})
