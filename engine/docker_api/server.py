"""The aiohttp application that speaks the Docker Engine API over a unix socket.

Routes are registered with and without the ``/vX.Y`` prefix (1.41 to 1.45). Engine errors become
Docker's status codes and ``{"message": …}`` bodies in one place (protocol.py's ``STATUS``): a
client's mistake is a 4xx, only a bug is a 500. The engine's local verbs are synchronous:
handlers run them in worker threads (``call``), never on the event loop. The service exits
after ``timeout`` seconds without a request in flight (0 = never).

Bounds (``Limits``): JSON bodies are read whole, so they have a size limit (``--max-body``);
streamed bodies (image load, archive PUT) are not JSON and are not limited. A connection must
send each request head within ``header_timeout`` seconds of opening or of starting it (a client
trickling headers a byte at a time holds a connection no longer), and an idle keep-alive
connection is closed after ``idle_timeout``. A request in progress (logs -f, attach, events,
stats, wait) is never cut off by either.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import grp
import os
import time

from aiohttp import web
from aiohttp.web_protocol import RequestHandler

from ..errors import BerthError
from .protocol import (API_VERSION, MAX_VERSION, MIN_VERSION, error_body, parse_version,  # noqa: F401
                       status_of, version_refusal)

ENGINE_KEY = web.AppKey("engine", object)
STATE_KEY = web.AppKey("state", object)
LIMITS_KEY = web.AppKey("limits", object)


class Limits:
    """How much a client may send and how long it may take.

    ``max_body``, 4 MiB by default: no real client sends a JSON body near it. The largest are
    container creates and execs, whose Cmd and Env must fit the kernel's ARG_MAX for execve
    (2 MiB with the usual 8 MiB stack), plus JSON's quoting; compose and docker-py send a few
    KiB. A 100 MB label, by contrast, grew the service by 230 MiB and every later ``ps`` by
    0.8 s. ``header_timeout`` 10 s: clients on a unix socket send a head at once.
    ``idle_timeout`` 60 s: Go's and urllib3's pools reconnect when an idle connection was
    closed, and a minute covers a CLI's pauses between requests."""

    __slots__ = ("max_body", "header_timeout", "idle_timeout")

    def __init__(self, max_body: int = 4 << 20, header_timeout: float = 10.0,
                 idle_timeout: float = 60.0):
        self.max_body, self.header_timeout, self.idle_timeout = (max_body, header_timeout,
                                                                 idle_timeout)


def limits_of(request: web.Request) -> Limits:
    return request.app[LIMITS_KEY]


def error_response(status: int, message: str) -> web.Response:
    return web.Response(body=error_body(message), status=status, content_type="application/json")


class ServiceState:
    """What the idle timer needs: requests in flight and when the last one ended."""

    def __init__(self):
        self.active = 0
        self.last = time.monotonic()


@web.middleware
async def _middleware(request: web.Request, handler):
    state: ServiceState = request.app[STATE_KEY]
    state.active += 1
    # the head is in: no head deadline while the request is served
    guard = request.protocol if isinstance(request.protocol, GuardedHandler) else None
    if guard is not None:
        guard.request_started()
    try:
        refusal = version_refusal(request.match_info.get("version"))
        if refusal:
            return error_response(400, refusal)
        try:
            response = await handler(request)
        except web.HTTPException as e:
            if e.status < 400:
                raise
            # aiohttp's own refusals (a body over client_max_size …), in Docker's shape
            return error_response(e.status, e.text or e.reason)
        except (BerthError, NotImplementedError) as e:
            return error_response(status_of(e), str(e) or "not implemented")
        except asyncio.CancelledError:
            raise
        except ConnectionError:
            # the client went away mid-stream (docker cp has what it wanted, a piped export
            # was cut short): nothing to answer, nothing to report
            return web.Response(status=499)
        except OSError as e:
            # an OSError no edge of the engine named (a full disk where it wrote): one line
            from ..errors import os_error
            return error_response(500, str(os_error(f"{request.method} {request.path}", e)))
        except Exception as e:  # noqa: BLE001 - a bug must answer 500, not drop the connection
            import traceback
            traceback.print_exc()
            return error_response(500, f"{type(e).__name__}: {e}")
        if isinstance(response, web.StreamResponse) and not response.prepared:
            response.headers.setdefault("Api-Version", API_VERSION)
            response.headers.setdefault("Server", "berth")
        return response
    finally:
        if guard is not None:
            guard.request_ended()
        state.active -= 1
        state.last = time.monotonic()


async def _not_found(request: web.Request) -> web.Response:
    return error_response(404, f"page not found: {request.method} {request.path}")


class Routes:
    """Adds each route twice: bare and under ``/v{version}``."""

    def __init__(self, app: web.Application):
        self.app = app

    def add(self, method: str, path: str, handler) -> None:
        self.app.router.add_route(method, path, handler)
        self.app.router.add_route(method, r"/v{version:\d+\.\d+}" + path, handler)


class GuardedHandler(RequestHandler):
    """aiohttp's connection handler with a deadline on request heads: a connection must send a
    whole head within ``header_timeout`` of opening, or of the first byte of its next request.
    The middleware tells it when a request is being served (no deadline then: bodies, streams
    and hijacked connections take as long as they take)."""

    __slots__ = ("_head_timeout", "_head_timer", "_serving")

    def __init__(self, manager, *, header_timeout: float, **kwargs):
        super().__init__(manager, **kwargs)
        self._head_timeout = header_timeout
        self._head_timer = None
        self._serving = False

    def connection_made(self, transport) -> None:
        super().connection_made(transport)
        self._arm()

    def data_received(self, data: bytes) -> None:
        if data and not self._serving and self._head_timer is None:
            self._arm()
        super().data_received(data)

    def connection_lost(self, exc) -> None:
        self._disarm()
        super().connection_lost(exc)

    def request_started(self) -> None:
        self._serving = True
        self._disarm()

    def request_ended(self) -> None:
        self._serving = False

    def _arm(self) -> None:
        if self._head_timeout > 0:
            self._head_timer = asyncio.get_running_loop().call_later(self._head_timeout,
                                                                     self._late)

    def _disarm(self) -> None:
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None

    def _late(self) -> None:
        self._head_timer = None
        if not self._serving:
            self.force_close()


def make_app(engine, limits: Limits | None = None) -> web.Application:
    from . import build, containers, exec as exec_, images, networks, swarm, system, volumes
    limits = limits or Limits()
    # client_max_size bounds every whole-body read (request.read/text/json); streamed bodies
    # (image load, archive PUT) are read from request.content and are not limited
    app = web.Application(middlewares=[_middleware], client_max_size=limits.max_body)
    app[ENGINE_KEY] = engine
    app[STATE_KEY] = ServiceState()
    app[LIMITS_KEY] = limits
    routes = Routes(app)
    for module in (system, containers, exec_, images, networks, volumes, swarm, build):
        module.register(routes)
    app.router.add_route("*", "/{tail:.*}", _not_found)
    return app


def request_version(request: web.Request) -> tuple[int, int]:
    """The API version a request speaks: its ``/vX.Y`` prefix, or the newest without one."""
    return parse_version(request.match_info.get("version") or "") or MAX_VERSION


def engine_of(request: web.Request):
    return request.app[ENGINE_KEY]


_POOL: concurrent.futures.ThreadPoolExecutor | None = None


async def call(fn, *args, **kwargs):
    """Run a synchronous engine verb in a worker thread (of the service's own pool: waits and
    followers hold threads for long, and a stopped service must not wait for them)."""
    if _POOL is None:
        return await asyncio.to_thread(fn, *args, **kwargs)
    import functools
    return await asyncio.get_running_loop().run_in_executor(
        _POOL, functools.partial(fn, *args, **kwargs))


def default_socket(paths) -> str:
    """``docker.sock`` in the root's run directory (/run/berth/docker.sock for the default root)."""
    return os.path.join(paths.run, "docker.sock")


def _listening(path: str) -> bool:
    import socket
    with socket.socket(socket.AF_UNIX) as s:
        try:
            s.connect(path)
            return True
        except OSError:
            return False


def _secure(path: str) -> None:
    """The socket is a door to root: owner root, group ``berth`` when it exists, mode 0660.
    Without root it is a door to the user's own containers only: the user's, mode 0600."""
    from ..paths import rootless
    if rootless():
        os.chmod(path, 0o600)
        return
    try:
        gid = grp.getgrnam("berth").gr_gid
    except KeyError:
        gid = 0
    os.chown(path, 0, gid)
    os.chmod(path, 0o660)


async def serve(engine, socket_path: str, timeout: float = 0, ready=None,
                limits: Limits | None = None) -> None:
    """Serve until SIGINT/SIGTERM, or until ``timeout`` seconds pass with no request in flight."""
    import signal
    loop = asyncio.get_running_loop()
    limits = limits or Limits()
    # streams (logs -f, waits, attaches) hold worker threads for long: a pool of its own size
    global _POOL
    pool = _POOL = concurrent.futures.ThreadPoolExecutor(max_workers=64, thread_name_prefix="api")
    app = make_app(engine, limits)
    # a stopped service does not wait for streams (logs -f, events, attach) to end
    runner = web.AppRunner(app, handle_signals=False, access_log=None, shutdown_timeout=1.0)
    await runner.setup()
    os.makedirs(os.path.dirname(socket_path) or ".", exist_ok=True)
    if os.path.exists(socket_path):
        if _listening(socket_path):
            from ..errors import Conflict
            raise Conflict(f"a service already listens on {socket_path}: stop it first, or "
                           "give another --socket")
        os.unlink(socket_path)   # left by a service that was killed
    def connection():
        # aiohttp's handler with the head deadline; runner.server tracks it, so the runner's
        # cleanup closes it like any other. No lingering: aiohttp would read and drop for 10 s
        # the rest of a body it refused (413), and on a unix socket the client reads the answer
        # whatever it still had to send.
        return GuardedHandler(runner.server, loop=loop, header_timeout=limits.header_timeout,
                              keepalive_timeout=limits.idle_timeout, lingering_time=0,
                              access_log=None)

    old = os.umask(0o117)  # no moment when the socket is open to everyone
    try:
        server = await loop.create_unix_server(connection, socket_path)
    finally:
        os.umask(old)
    _secure(socket_path)
    stop = asyncio.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    if ready is not None:
        ready()
    state: ServiceState = app[STATE_KEY]
    try:
        while not stop.is_set():
            wait = 1.0
            if timeout > 0:
                idle = time.monotonic() - state.last
                if state.active == 0 and idle >= timeout:
                    break
                wait = max(0.05, min(wait, timeout - idle if state.active == 0 else wait))
            try:
                await asyncio.wait_for(stop.wait(), wait)
            except (asyncio.TimeoutError, TimeoutError):
                pass
    finally:
        server.close()
        try:
            os.unlink(socket_path)
        except FileNotFoundError:
            pass
        await runner.cleanup()
        # a worker blocked in a verb must not keep the process alive after it was told to stop
        pool.shutdown(wait=False, cancel_futures=True)


def run_service(socket_path: str | None = None, timeout: float = 0,
                limits: Limits | None = None) -> int:
    """``berth system service``: serve the Docker API on ``socket_path`` until stopped."""
    import sys
    from .. import Engine
    engine = Engine()
    path = socket_path or default_socket(engine.paths)
    asyncio.run(serve(engine, path, timeout, ready=lambda: print(
        f"berth: serving the Docker API on unix://{path}", file=sys.stderr, flush=True),
        limits=limits))
    sys.stdout.flush()
    sys.stderr.flush()
    # a worker thread still blocked in a verb would hold up the interpreter's exit (the pool's
    # threads are joined at exit); everything the service owned is already closed
    os._exit(0)
