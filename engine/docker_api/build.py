"""Build endpoints, as a dockerd whose builder is the classic one answers them: ``POST /build``
(the context a tar in the body, any compression, or ``remote``; Docker's JSON stream of
``stream`` lines, ``aux: {ID}`` and ``errorDetail``), ``POST /build/prune`` and ``/session``
(BuildKit's; refused as a classic builder refuses it, so clients fall back).

The build runs in a worker thread (``Engine.build``); its events are written as they come. An
error before anything was written is the response's status (a bad Dockerfile is a 400), as
moby answers; after, it ends the stream as ``errorDetail`` with the failed RUN's exit code, which
the docker CLI exits with. A client that goes away cancels the build.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import tempfile
import threading

from aiohttp import web

from ..errors import BerthError, BuildError, Cancelled, InvalidArgument
from . import translate
from .server import call, engine_of


def register(routes) -> None:
    routes.add("POST", "/build", build)
    routes.add("POST", "/build/prune", prune)
    routes.add("POST", "/build/cancel", cancel_session_build)
    routes.add("*", "/session", session)
    routes.add("*", "/grpc", session)


def _json_query(request: web.Request, name: str, what: str, kind: type):
    raw = request.query.get(name)
    if not raw:
        return kind()
    try:
        value = json.loads(raw)
    except ValueError as e:
        raise InvalidArgument(f"error reading {what}: {e}") from None
    if value is None:
        return kind()
    if not isinstance(value, kind):
        raise InvalidArgument(f"error reading {what}: not a JSON {kind.__name__}")
    return value


def options_from_query(request: web.Request):
    """The BuildOptions a ``POST /build`` query asks for (400 with Docker's words if bad)."""
    from ..build.options import BuildOptions
    q = request.query
    if q.get("version") == "2":
        raise InvalidArgument("buildkit not supported by daemon: berth's builder is the classic "
                              "one (use DOCKER_BUILDKIT=0 or leave version out)")
    if translate.boolean(q.get("squash")):
        raise InvalidArgument("squash is only supported with experimental mode")
    build_args = {str(k): str(v) for k, v in
                  _json_query(request, "buildargs", "build args", dict).items()
                  if v is not None}   # a null value: an ARG the client had no value for
    labels = {str(k): str(v) for k, v in
              _json_query(request, "labels", "labels", dict).items()}
    cache_from = [str(v) for v in _json_query(request, "cachefrom", "cache from", list)]
    hosts = [h for value in q.getall("extrahosts", []) for h in value.split(",") if h]
    force_rm = translate.boolean(q.get("forcerm"))
    return BuildOptions(
        tags=[t for t in q.getall("t", []) if t],
        dockerfile=q.get("dockerfile") or "Dockerfile",
        build_args=build_args, target=q.get("target", ""),
        no_cache=translate.boolean(q.get("nocache")), pull=translate.boolean(q.get("pull")),
        labels=labels, network=q.get("networkmode") or "default",
        quiet=translate.boolean(q.get("q")), platform=q.get("platform", ""),
        cache_from=cache_from, extra_hosts=hosts,
        rm=force_rm or translate.boolean(q.get("rm"), default=True), force_rm=force_rm)


class _BodyReader:
    """The request body as a blocking file for a worker thread (the context is unpacked as it
    arrives, never held whole)."""

    def __init__(self, request: web.Request, loop: asyncio.AbstractEventLoop):
        self.content, self.loop = request.content, loop

    def read(self, n: int = -1) -> bytes:
        if n is None or n < 0:
            chunks = []
            while True:
                chunk = self.read(1 << 20)
                if not chunk:
                    return b"".join(chunks)
                chunks.append(chunk)
        return asyncio.run_coroutine_threadsafe(self.content.read(n), self.loop).result()


def _tmp_dir(engine) -> str:
    d = os.path.join(engine.paths.root, "tmp")
    os.makedirs(d, exist_ok=True)
    return d


def _prepare_context(engine, request: web.Request, loop, dest: str, dockerfile: str):
    """(context directory, Dockerfile text) from the body or ``remote`` (worker thread)."""
    from ..build.context import from_source, from_tar, read_dockerfile
    remote = request.query.get("remote", "")
    if remote:
        context, text = from_source(remote, dest)
    else:
        body = _BodyReader(request, loop)
        context, text = from_tar(body, dest), None
        # what follows the archive's end (a writer's padding): read, so the connection is
        # left clean (aiohttp drops one with a body unread, and a client over ssh (dial-stdio)
        # whose last bytes were never read saw its connection reset)
        while body.read(1 << 16):
            pass
    if text is None:
        text = read_dockerfile(context, dockerfile)
    return context, text


class _Stream:
    """Docker's JSON lines for a build, written as the engine's events come from its thread."""

    def __init__(self, request: web.Request, quiet: bool):
        self.request, self.quiet = request, quiet
        self.response = web.StreamResponse(headers={"Content-Type": "application/json"})
        self.queue: asyncio.Queue = asyncio.Queue()
        self.held: list[str] = []
        """With ``q``: the output not shown, written only if the build fails (as moby does)."""

    async def write(self, message: dict) -> None:
        if not self.response.prepared:
            await self.response.prepare(self.request)
        await self.response.write(json.dumps(message).encode() + b"\r\n")

    async def event(self, ev) -> None:
        from ..build.events import render
        if ev.kind == "done":
            await self.write({"aux": {"ID": ev.image_id}})
            if self.quiet:
                await self.write({"stream": ev.image_id + "\n"})
                return
            for line in render(ev).splitlines(keepends=True):   # a message per line, as moby
                await self.write({"stream": line})
            return
        if self.quiet:
            self.held.append(render(ev))
            del self.held[:-10000]
        else:
            await self.write({"stream": render(ev)})

    def gone(self) -> bool:
        transport = self.request.transport
        return transport is None or transport.is_closing()


async def build(request: web.Request) -> web.StreamResponse:
    engine = engine_of(request)
    options = options_from_query(request)   # a bad query is a 400 before the body is read
    loop = asyncio.get_running_loop()
    stream = _Stream(request, options.quiet)
    cancel = threading.Event()
    dest = tempfile.mkdtemp(prefix="berth-api-build-", dir=_tmp_dir(engine))

    def progress(ev) -> None:
        loop.call_soon_threadsafe(stream.queue.put_nowait, ev)

    def job():
        context, text = _prepare_context(engine, request, loop, dest, options.dockerfile)
        if cancel.is_set():
            raise Cancelled("the build was cancelled")
        return engine.build(context, options, dockerfile_text=text, progress=progress,
                            cancel=cancel)

    task = asyncio.ensure_future(call(job))
    try:
        while True:
            getter = asyncio.ensure_future(stream.queue.get())
            done, _ = await asyncio.wait([task, getter], timeout=0.5,
                                         return_when=asyncio.FIRST_COMPLETED)
            if getter in done:
                try:
                    await stream.event(getter.result())
                except ConnectionError:
                    cancel.set()
                continue
            getter.cancel()
            if stream.gone():
                cancel.set()   # the client went away: the build stops and leaves nothing
            if task in done:
                break
        while not stream.queue.empty():
            await stream.event(stream.queue.get_nowait())
        try:
            task.result()
        except Exception as e:  # noqa: BLE001 - once the stream has begun it carries the error
            for text in stream.held:   # -q: what the build said, now that it failed
                await stream.write({"stream": text})
            if not stream.response.prepared:
                raise
            if isinstance(e, OSError):
                from ..errors import os_error
                e = os_error("building", e)
            elif not isinstance(e, BerthError):
                import traceback
                traceback.print_exc()   # a bug: on the service's stderr, as the middleware does
                e = BerthError(f"{type(e).__name__}: {e}")
            detail = {"message": str(e)}
            if isinstance(e, BuildError):
                detail["code"] = e.exit_code
            await stream.write({"errorDetail": detail, "error": str(e)})
        if not stream.response.prepared:
            await stream.response.prepare(request)
        await stream.response.write_eof()
        return stream.response
    except (asyncio.CancelledError, ConnectionError):
        cancel.set()
        raise
    finally:
        if not task.done():
            cancel.set()
            try:
                await asyncio.shield(task)
            except BaseException:  # noqa: BLE001 - the build's own error was answered or moot
                pass
        await call(shutil.rmtree, dest, True)


async def prune(request: web.Request) -> web.Response:
    engine = engine_of(request)
    filters = translate.parse_filters(request.query.get("filters"))
    removed, reclaimed = await call(engine.prune_build_cache,
                                    translate.boolean(request.query.get("all")), filters or None)
    return web.json_response({"CachesDeleted": removed or None, "SpaceReclaimed": reclaimed})


async def session(request: web.Request) -> web.Response:
    """BuildKit's session and gRPC endpoints: berth's builder is the classic one, which has
    neither; the docker CLI's legacy builder never calls them, BuildKit clients learn from
    this (and from ``Builder-Version: 1`` in ``/_ping``) to use ``DOCKER_BUILDKIT=0``."""
    raise InvalidArgument("BuildKit is not supported by this daemon: berth's builder is the "
                          "classic one; build with DOCKER_BUILDKIT=0")


async def cancel_session_build(request: web.Request) -> web.Response:
    raise InvalidArgument("BuildKit is not supported by this daemon: there is no BuildKit "
                          "build to cancel")
