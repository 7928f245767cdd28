"""Container endpoints: list, create, the lifecycle verbs, wait, inspect, logs, attach, rename,
prune. Stats are in ``stats``; top, changes, archive, export, commit, update and resize in
``runtime_verbs``."""

from __future__ import annotations

import asyncio
import json
import socket
import time

from aiohttp import web

from ..errors import Conflict, InvalidArgument, NotFound, NotSupported
from . import reads, runtime_verbs, stats, streams, translate
from .bodies import CONTAINER_CREATE, read_json
from .server import call, engine_of, request_version

PENDING = web.AppKey("pending_attach", dict)   # container id -> sockets waiting for its start


def register(routes) -> None:
    add = routes.add
    add("GET", "/containers/json", list_containers)
    add("POST", "/containers/create", create)
    add("POST", "/containers/prune", prune)
    add("GET", "/containers/{id}/json", inspect)
    add("POST", "/containers/{id}/start", start)
    add("POST", "/containers/{id}/stop", stop)
    add("POST", "/containers/{id}/restart", restart)
    add("POST", "/containers/{id}/kill", kill)
    add("POST", "/containers/{id}/pause", pause)
    add("POST", "/containers/{id}/unpause", unpause)
    add("POST", "/containers/{id}/wait", wait)
    add("DELETE", "/containers/{id}", remove)
    add("POST", "/containers/{id}/rename", rename)
    add("GET", "/containers/{id}/logs", logs)
    add("POST", "/containers/{id}/attach", attach)
    add("GET", "/containers/{id}/stats", stats.stats)
    for method, path, verb in (
            ("GET", "/containers/{id}/top", "top"), ("GET", "/containers/{id}/changes", "diff"),
            ("GET", "/containers/{id}/export", "export"),
            ("POST", "/containers/{id}/update", "update"),
            ("POST", "/containers/{id}/resize", "resize"),
            ("GET", "/containers/{id}/archive", "archive"),
            ("HEAD", "/containers/{id}/archive", "archive"),
            ("PUT", "/containers/{id}/archive", "archive"), ("POST", "/commit", "commit")):
        add(method, path, getattr(runtime_verbs, verb))
    routes.app[PENDING] = {}


# --- listing and inspecting (reads.py, which dial-stdio's front answers with too) -------------

async def list_containers(request: web.Request) -> web.Response:
    return web.json_response(await call(reads.container_list, engine_of(request), request.query))


async def inspect(request: web.Request) -> web.Response:
    data = await call(reads.container_json, engine_of(request), request.match_info["id"],
                      request.query, request_version(request))
    from .exec import running_execs
    data["ExecIDs"] = running_execs(request, data["Id"]) or None
    return web.json_response(data)


# --- create and the lifecycle -------------------------------------------------------------------

async def create(request: web.Request) -> web.Response:
    engine = engine_of(request)
    body = await read_json(request, CONTAINER_CREATE)
    config, entrypoint_set = translate.container_config(body)
    name = request.query.get("name") or None
    try:
        c = await call(engine.create, config, name, entrypoint_set)
    except NotFound as e:
        if "image" in str(e).lower():
            raise NotFound(f"No such image: {config.image}") from None
        raise
    return web.json_response({"Id": c.id, "Warnings": []}, status=201)


async def _container_id(engine, ref: str) -> str:
    try:
        return (await call(engine.container, ref)).id
    except NotFound:
        raise NotFound(f"No such container: {ref}") from None


async def start(request: web.Request) -> web.Response:
    engine = engine_of(request)
    cid = await _container_id(engine, request.match_info["id"])
    c = await call(engine.container, cid)
    if c.running:
        return web.Response(status=304)
    pending = request.app[PENDING].pop(cid, [])
    # an attach made before the start (docker run) gets the output from the first byte
    fd = pending[0].fileno() if pending else None
    try:
        await call(engine.start, cid, fd)
    finally:
        for s in pending:
            s.close()
    return web.Response(status=204)


def _timeout(request: web.Request) -> int | None:
    q = request.query
    return translate.query_int(q, "t" if q.get("t") else "timeout", None)


async def stop(request: web.Request) -> web.Response:
    engine = engine_of(request)
    timeout = _timeout(request)
    cid = await _container_id(engine, request.match_info["id"])
    if not (await call(engine.container, cid)).running:
        return web.Response(status=304)
    await call(engine.stop, cid, timeout)
    return web.Response(status=204)


async def restart(request: web.Request) -> web.Response:
    engine = engine_of(request)
    timeout = _timeout(request)
    cid = await _container_id(engine, request.match_info["id"])
    await call(engine.restart, cid, timeout)
    return web.Response(status=204)


async def kill(request: web.Request) -> web.Response:
    from ..options import signal_number
    engine = engine_of(request)
    sig = request.query.get("signal") or "SIGKILL"
    signal_number(sig)   # a bad signal is the request's mistake whatever the container
    cid = await _container_id(engine, request.match_info["id"])
    await call(engine.kill, cid, sig)
    return web.Response(status=204)


async def pause(request: web.Request) -> web.Response:
    engine = engine_of(request)
    await call(engine.pause, await _container_id(engine, request.match_info["id"]))
    return web.Response(status=204)


async def unpause(request: web.Request) -> web.Response:
    engine = engine_of(request)
    await call(engine.unpause, await _container_id(engine, request.match_info["id"]))
    return web.Response(status=204)


async def remove(request: web.Request) -> web.Response:
    engine = engine_of(request)
    ref = request.match_info["id"]
    cid = await _container_id(engine, ref)
    q = request.query
    if translate.boolean(q.get("link")):
        raise InvalidArgument("links are not supported by berth")
    c = await call(engine.container, cid)
    if c.running and not translate.boolean(q.get("force")):
        raise Conflict(f"cannot remove container \"/{c.name}\": container is running: stop the "
                       "container before removing or force remove")
    await call(engine.remove, cid, translate.boolean(q.get("force")),
               translate.boolean(q.get("v")))
    return web.Response(status=204)


async def rename(request: web.Request) -> web.Response:
    engine = engine_of(request)
    cid = await _container_id(engine, request.match_info["id"])
    name = request.query.get("name")
    if not name:
        raise InvalidArgument("rename needs a name")
    await call(engine.rename, cid, name)
    return web.Response(status=204)


async def prune(request: web.Request) -> web.Response:
    engine = engine_of(request)
    filters = translate.parse_filters(request.query.get("filters"))
    if filters:
        raise InvalidArgument("container prune filters are not supported by berth")
    removed, size = await call(engine.prune_containers)
    return web.json_response({"ContainersDeleted": removed or None, "SpaceReclaimed": size})


# --- wait ---------------------------------------------------------------------------------------

async def wait(request: web.Request) -> web.StreamResponse:
    """Docker's wait: the headers go out as soon as the wait is registered (``docker run``
    starts the container only then), the exit code when the condition is met. The condition is
    watched through the event log, so a container that starts and exits between two looks at
    its state is never missed."""
    engine = engine_of(request)
    condition = request.query.get("condition") or "not-running"
    if condition not in ("not-running", "next-exit", "removed"):
        raise InvalidArgument(f"invalid condition: {condition!r}; use not-running, next-exit "
                              "or removed")
    cid = await _container_id(engine, request.match_info["id"])
    since = time.time()
    c = await call(engine.container, cid)
    events = engine.follow_events(since=since, filters={"container": [cid]})
    response = web.StreamResponse(headers={"Content-Type": "application/json"})
    await response.prepare(request)
    code = c.state.exit_code
    try:
        if not (condition == "not-running" and not c.running):
            async for ev in events:
                if ev.action == "die":
                    code = int(ev.attributes.get("exitCode", "0") or 0)
                    if condition != "removed":
                        break
                elif ev.action == "destroy":
                    break
    finally:
        await events.aclose()
    await response.write(json.dumps({"StatusCode": code, "Error": None}).encode() + b"\n")
    await response.write_eof()
    return response


# --- logs ---------------------------------------------------------------------------------------

def _seconds(value: str | None) -> float | None:
    return translate.query_time(value)


async def logs(request: web.Request) -> web.StreamResponse:
    engine = engine_of(request)
    cid = await _container_id(engine, request.match_info["id"])
    c = await call(engine.container, cid)
    q = request.query
    want_out, want_err = translate.boolean(q.get("stdout")), translate.boolean(q.get("stderr"))
    if not want_out and not want_err:
        raise InvalidArgument("Bad parameters: you must choose at least one stream")
    follow, stamps = translate.boolean(q.get("follow")), translate.boolean(q.get("timestamps"))
    tail_n = None if (q.get("tail") or "all") == "all" else translate.query_int(q, "tail", -1)
    tail_n = None if tail_n is not None and tail_n < 0 else tail_n
    since, until = _seconds(q.get("since")), _seconds(q.get("until"))
    if c.config.log_driver == "none":   # before the stream's 200, as dockerd
        raise NotSupported("configured logging driver does not support reading")
    tty = c.config.tty
    response = web.StreamResponse(headers={
        "Content-Type": streams.RAW if tty else streams.MULTIPLEXED})
    await response.prepare(request)
    import threading
    stop = threading.Event()
    lines = streams.iterate_in_thread(
        lambda: engine.logs(cid, follow=follow, tail=tail_n, since=since, until=until,
                            stop=stop), stop)
    try:
        async for line in lines:
            if (line.stream == "stderr" and not want_err) or \
                    (line.stream != "stderr" and not want_out):
                continue
            data = line.text.encode()
            if stamps:
                data = line.time.encode() + b" " + data
            await response.write(data if tty else streams.frame(
                streams.stream_number(line.stream), data))
    except (ConnectionResetError, asyncio.CancelledError):
        await lines.aclose()
        raise
    await response.write_eof()
    return response


# --- attach -------------------------------------------------------------------------------------

async def _attach_logs(request: web.Request, engine, c, with_logs: bool) -> web.StreamResponse:
    q = request.query
    want = {"stdout": translate.boolean(q.get("stdout")),
            "stderr": translate.boolean(q.get("stderr"))}
    tty = c.config.tty
    if with_logs and c.config.log_driver == "none":
        raise NotSupported("configured logging driver does not support reading")
    proto, token = await streams.hijack(request, streams.RAW if tty else streams.MULTIPLEXED)
    if with_logs:
        lines = await call(lambda: list(engine.logs(c.id)))
        # docker-py reads the 101 head through http.client's buffered reader, then reads the
        # raw socket: bytes that reach it together with the head are buffered and lost to it.
        # dockerd's log reader is slow enough that they never do; give the client that moment.
        await asyncio.sleep(0.02)
        for line in lines:
            if want.get(line.stream if line.stream == "stderr" else "stdout"):
                data = line.text.encode()
                if not await proto.write(data if tty else streams.frame(
                        streams.stream_number(line.stream), data)):
                    break
    return streams.release(request, token)


async def attach(request: web.Request) -> web.StreamResponse:
    """Hijack the connection and stream the container's output (multiplexed without a tty).
    An attach before the start (what ``docker run`` does) is handed to ``start`` and gets every
    byte; a running container is attached through the runtime's attach when it has one."""
    from ..runtime import frames
    engine = engine_of(request)
    cid = await _container_id(engine, request.match_info["id"])
    c = await call(engine.container, cid)
    q = request.query
    if not translate.boolean(q.get("stream")):
        # the logs so far (or nothing), on the hijacked connection, which then closes: a
        # client reads an attach to its end
        return await _attach_logs(request, engine, c, translate.boolean(q.get("logs")))
    live = engine.attach
    theirs = None
    if c.running:
        sock = socket.socket(fileno=await call(live, cid))
    else:
        sock, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        request.app[PENDING].setdefault(cid, []).append(theirs)
    tty = c.config.tty
    scanner = streams.DetachScanner(streams.detach_keys(q.get("detachKeys")
                                                        or c.config.detach_keys or None))
    proto, token = await streams.hijack(
        request, streams.RAW if tty else streams.MULTIPLEXED)
    loop = asyncio.get_running_loop()
    sock.setblocking(False)
    want = {frames.STDOUT: translate.boolean(q.get("stdout"), True),
            frames.STDERR: translate.boolean(q.get("stderr"), True)}

    async def pump_out() -> None:
        dec = frames.Decoder()
        while True:
            data = await loop.sock_recv(sock, 65536)
            if not data:
                return
            for kind, payload in dec.feed(data):
                if kind == frames.EXIT:
                    return
                if kind in want and want[kind]:
                    ok = await proto.write(payload if tty else streams.frame(kind, payload))
                    if not ok:
                        return

    stdin = translate.boolean(q.get("stdin"))

    async def pump_in() -> None:
        while True:
            data = await proto.incoming.get()
            if data is None:
                return
            if not stdin:
                # not attached to the container's input: what the client sends (its
                # half-close as it starts, docker run -t without -i) means nothing
                continue
            try:
                if data == b"":
                    if tty:
                        # a terminal has no end of input: the client is gone (the docker CLI
                        # detaches on ctrl-p ctrl-q by closing): leave, the container runs on
                        await loop.sock_sendall(sock, frames.encode(frames.DETACH))
                        return
                    await loop.sock_sendall(sock, frames.encode(frames.STDIN_EOF))
                    continue
                data, detached = scanner.feed(data)
                if data:
                    await loop.sock_sendall(sock, frames.encode(frames.STDIN, data))
                if detached:   # the container keeps running; this client leaves
                    await loop.sock_sendall(sock, frames.encode(frames.DETACH))
                    return
            except OSError:
                return

    out = asyncio.ensure_future(pump_out())
    inp = asyncio.ensure_future(pump_in())
    gone = asyncio.ensure_future(proto.closed.wait())
    try:
        await asyncio.wait([out, inp, gone], return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in (out, inp, gone):
            task.cancel()
        pending = request.app[PENDING].get(cid, [])
        if theirs is not None and theirs in pending:
            # the client left before the start: that start must not write to nobody
            pending.remove(theirs)
            theirs.close()
        sock.close()
    return streams.release(request, token)
