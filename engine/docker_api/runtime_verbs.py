"""Container endpoints served by the interactive runtime's verbs: top, changes, archive (cp),
export, commit, update, resize. The filesystem verbs run in ``fs_helper`` processes (the engine
forks for a stopped container; this server has threads). A verb the engine lacks answers
Docker's 501 with a sentence rather than pretending."""

from __future__ import annotations

import asyncio
import base64
import json
import os

from aiohttp import web

from ..errors import InvalidArgument
from .server import call, engine_of


def _verb(engine, name: str, what: str):
    return getattr(engine, name)


async def top(request: web.Request) -> web.Response:
    engine = engine_of(request)
    fn = _verb(engine, "top", "docker top")
    # dockerd's default is ps -ef (its titles are what clients expect)
    args = request.query.get("ps_args") or "-ef"
    titles, rows = await call(fn, request.match_info["id"], tuple(args.split()))
    return web.json_response({"Titles": titles, "Processes": rows})


async def diff(request: web.Request) -> web.Response:
    engine = engine_of(request)
    fn = _verb(engine, "diff", "docker diff")
    kinds = {"C": 0, "A": 1, "D": 2}
    changes = await call(fn, request.match_info["id"])
    return web.json_response([{"Path": path, "Kind": kinds[kind]} for kind, path in changes]
                             or None)


# --- the filesystem verbs, through fs_helper ----------------------------------------------------

async def _helper(engine, verb: str, job: dict, stdin: bool = False):
    """Start fs_helper for ``verb``; the process (stdout a pipe, stdin one when asked)."""
    from ..runtime.sealed import environment, python_command
    pipe = asyncio.subprocess.PIPE
    return await asyncio.create_subprocess_exec(
        *python_command("engine.docker_api.fs_helper", verb, json.dumps(job)),
        stdin=pipe if stdin else asyncio.subprocess.DEVNULL, stdout=pipe, stderr=pipe, cwd="/",
        env=environment(BERTH_ROOT=engine.paths.root, BERTH_RUN=engine.paths.run))


async def _failed(proc) -> None:
    """Raise the engine error the helper reported (its exit status is not 0)."""
    from .. import errors
    raw = await proc.stderr.read()
    try:
        info = json.loads(raw or b"{}")
        kind = getattr(errors, info.get("kind", ""), errors.BerthError)
        message = info.get("error") or "the filesystem helper failed"
    except ValueError:
        kind, message = errors.BerthError, raw.decode(errors="replace").strip()[-500:]
    if not (isinstance(kind, type) and issubclass(kind, errors.BerthError)):
        kind = errors.BerthError
    raise kind(message)


async def _run(engine, verb: str, job: dict) -> bytes:
    proc = await _helper(engine, verb, job)
    out = await proc.stdout.read()
    if await proc.wait() != 0:
        await _failed(proc)
    return out


async def _container_id(engine, ref: str) -> str:
    from ..errors import NotFound
    try:
        return (await call(engine.container, ref)).id
    except NotFound:
        raise NotFound(f"No such container: {ref}") from None


async def _stat_header(engine, cid: str, path: str) -> str:
    stat = await _run(engine, "stat", {"ref": cid, "path": path})
    return base64.b64encode(stat).decode()


async def archive(request: web.Request) -> web.StreamResponse:
    engine = engine_of(request)
    _verb(engine, "copy_from" if request.method != "PUT" else "copy_to", "docker cp")
    cid = await _container_id(engine, request.match_info["id"])
    path = request.query.get("path")
    if not path:
        raise InvalidArgument("path is required")
    if request.method == "PUT":
        return await _extract(request, engine, cid, path)
    header = {"X-Docker-Container-Path-Stat": await _stat_header(engine, cid, path)}
    if request.method == "HEAD":
        return web.Response(status=200, headers=header)
    return await _stream_out(request, engine, "archive", {"ref": cid, "path": path},
                             {**header, "Content-Type": "application/x-tar"})


async def _stream_out(request, engine, verb: str, job: dict, headers: dict):
    """Send what the helper writes; an error before the first byte is a proper error reply."""
    proc = await _helper(engine, verb, job)
    first = await proc.stdout.read(65536)
    if not first and await proc.wait() != 0:
        await _failed(proc)
    response = web.StreamResponse(headers=headers)
    await response.prepare(request)
    try:
        chunk = first
        while chunk:
            await response.write(chunk)
            chunk = await proc.stdout.read(1 << 20)
        await proc.wait()
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    await response.write_eof()
    return response


async def _extract(request, engine, cid: str, path: str) -> web.Response:
    proc = await _helper(engine, "extract", {"ref": cid, "path": path}, stdin=True)
    try:
        async for chunk in request.content.iter_chunked(1 << 20):
            proc.stdin.write(chunk)
            await proc.stdin.drain()
    except (BrokenPipeError, ConnectionResetError):
        pass   # the helper stopped reading: its error says why
    finally:
        try:
            proc.stdin.close()
        except (BrokenPipeError, ConnectionResetError):
            pass
    await proc.stdout.read()
    if await proc.wait() != 0:
        await _failed(proc)
    return web.Response(status=200)


async def export(request: web.Request) -> web.StreamResponse:
    engine = engine_of(request)
    _verb(engine, "export", "docker export")
    cid = await _container_id(engine, request.match_info["id"])
    return await _stream_out(request, engine, "export", {"ref": cid},
                             {"Content-Type": "application/octet-stream"})


async def commit(request: web.Request) -> web.Response:
    engine = engine_of(request)
    _verb(engine, "commit", "docker commit")
    q = request.query
    ref = q.get("container")
    if not ref:
        raise InvalidArgument("commit needs a container")
    cid = await _container_id(engine, ref)
    repository = None
    if q.get("repo"):
        repository = q["repo"] + (f":{q['tag']}" if q.get("tag") else "")
    changes = [c for c in q.getall("changes", []) if c]
    from .translate import boolean
    out = await _run(engine, "commit", {
        "ref": cid, "repository": repository, "message": q.get("comment") or "",
        "author": q.get("author") or "", "changes": changes,
        "pause": boolean(q.get("pause"), True)})
    return web.json_response({"Id": out.decode().strip()}, status=201)


# Docker's update fields -> berth's Resources fields
_UPDATE_FIELDS = {"Memory": "memory", "MemorySwap": "memory_swap",
                  "MemoryReservation": "memory_reservation", "NanoCpus": "nano_cpus",
                  "CpuShares": "cpu_shares", "CpuPeriod": "cpu_period", "CpuQuota": "cpu_quota",
                  "CpusetCpus": "cpuset_cpus", "CpusetMems": "cpuset_mems",
                  "PidsLimit": "pids_limit", "BlkioWeight": "blkio_weight"}


async def update(request: web.Request) -> web.Response:
    from .bodies import CONTAINER_UPDATE, read_json
    engine = engine_of(request)
    fn = _verb(engine, "update", "docker update")
    body = await read_json(request, CONTAINER_UPDATE)
    # the docker CLI sends every field, zero for "not given": only the others change
    changes = {ours: body[theirs] for theirs, ours in _UPDATE_FIELDS.items() if body.get(theirs)}
    restart = body.get("RestartPolicy") or {}
    policy = None
    if restart.get("Name"):
        policy = restart["Name"] + (f":{restart['MaximumRetryCount']}"
                                    if restart.get("MaximumRetryCount") else "")
    await call(fn, request.match_info["id"], changes, policy)
    return web.json_response({"Warnings": []})


def _resize_tty(engine, ref: str, rows: int, cols: int) -> None:
    """Send RESIZE to the container's monitor through its attach socket, then detach."""
    from ..runtime import frames
    c = engine.container(ref)
    if not c.config.tty or not c.running:
        return
    fd = engine.attach(c.id)
    try:
        os.write(fd, frames.encode(frames.RESIZE, f"{rows} {cols}".encode())
                 + frames.encode(frames.DETACH))
    finally:
        os.close(fd)


async def resize(request: web.Request) -> web.Response:
    engine = engine_of(request)
    from .translate import query_tty_size
    rows, cols = query_tty_size(request.query)
    await call(_resize_tty, engine, request.match_info["id"], rows, cols)
    return web.Response(status=200)
