"""Exec endpoints: create, start (hijacked), inspect, resize.

Each exec runs in a helper process (``exec_helper``): the engine's exec forks, and this server
has threads. Without a tty the command's stdout and stderr are pipes the server multiplexes onto
the hijacked connection; with a tty the helper hands the terminal's master back and the server
serves it (and resizes it).
"""

from __future__ import annotations

import asyncio
import fcntl
import json
import os
import socket
import struct
import termios

from aiohttp import web

from ..config_check import validate_exec
from ..errors import Conflict, InvalidArgument, NotFound
from . import streams
from .bodies import EXEC_CONFIG, EXEC_START, read_json
from .server import call, engine_of

EXECS = web.AppKey("execs", dict)


class ExecInstance:
    """One exec: what was asked, and its process once started."""

    def __init__(self, eid: str, cid: str, body: dict):
        self.id, self.cid, self.body = eid, cid, body
        self.running = False
        self.started = False
        self.exit_code: int | None = None
        self.pid = 0
        self.master: int | None = None
        self.done = asyncio.Event()

    def inspect(self) -> dict:
        b = self.body
        cmd = list(b.get("Cmd") or [])
        return {"ID": self.id, "Running": self.running, "ExitCode": self.exit_code,
                "ProcessConfig": {"tty": bool(b.get("Tty")), "entrypoint": cmd[0] if cmd else "",
                                  "arguments": cmd[1:], "privileged": bool(b.get("Privileged")),
                                  **({"user": b["User"]} if b.get("User") else {})},
                "OpenStdin": bool(b.get("AttachStdin")), "OpenStderr": bool(b.get("AttachStderr")),
                "OpenStdout": bool(b.get("AttachStdout")), "CanRemove": False,
                "ContainerID": self.cid, "DetachKeys": b.get("DetachKeys") or "", "Pid": self.pid}


def register(routes) -> None:
    routes.add("POST", "/containers/{id}/exec", create)
    routes.add("POST", "/exec/{id}/start", start)
    routes.add("POST", "/exec/{id}/resize", resize)
    routes.add("GET", "/exec/{id}/json", inspect)
    routes.app[EXECS] = {}


def running_execs(request: web.Request, cid: str) -> list[str]:
    """The ids of the container's execs that run now (its inspect's ExecIDs)."""
    return [e.id for e in request.app[EXECS].values() if e.cid == cid and e.running]


def _instance(request: web.Request) -> ExecInstance:
    ex = request.app[EXECS].get(request.match_info["id"])
    if ex is None:
        raise NotFound(f"No such exec instance: {request.match_info['id']}")
    return ex


async def create(request: web.Request) -> web.Response:
    engine = engine_of(request)
    ref = request.match_info["id"]
    try:
        c = await call(engine.container, ref)
    except NotFound:
        raise NotFound(f"No such container: {ref}") from None
    if c.state.status == "paused":
        raise Conflict(f"Container {c.id} is paused, unpause the container before exec")
    if not c.running:
        raise Conflict(f"Container {c.id} is not running")
    body = await read_json(request, EXEC_CONFIG)
    validate_exec(body)
    if not body.get("Cmd"):
        raise InvalidArgument("No exec command specified")
    if body.get("DetachKeys"):
        try:
            streams.detach_keys(body["DetachKeys"])
        except InvalidArgument:
            raise InvalidArgument(f"Invalid escape keys ({body['DetachKeys']}) provided") \
                from None
    eid = os.urandom(32).hex()
    request.app[EXECS][eid] = ExecInstance(eid, c.id, body)
    return web.json_response({"Id": eid}, status=201)


async def inspect(request: web.Request) -> web.Response:
    from ..shapes import EXEC, complete
    return web.json_response(complete(_instance(request).inspect(), EXEC))


def _set_size(fd: int, rows: int, cols: int) -> None:
    fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))


async def resize(request: web.Request) -> web.Response:
    ex = _instance(request)
    from .translate import query_tty_size
    rows, cols = query_tty_size(request.query)
    if ex.master is not None:
        _set_size(ex.master, rows, cols)
    return web.Response(status=201)


async def _spawn(engine, ex: ExecInstance, tty: bool, size):
    """Start the helper; (process, control socket). Its first control line tells whether the
    command runs."""
    b = ex.body
    job = {"ref": ex.cid, "cmd": list(b["Cmd"]), "env": list(b.get("Env") or []),
           "workdir": b.get("WorkingDir") or "", "user": b.get("User") or "", "tty": tty,
           "privileged": bool(b.get("Privileged")), "console_size": size}
    mine, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
    job["control_fd"] = theirs.fileno()
    from ..runtime.sealed import environment, python_command
    env = environment(BERTH_ROOT=engine.paths.root, BERTH_RUN=engine.paths.run)
    pipe = asyncio.subprocess.PIPE
    stdin = pipe if b.get("AttachStdin") and not tty else asyncio.subprocess.DEVNULL
    out = pipe if not tty else asyncio.subprocess.DEVNULL
    proc = await asyncio.create_subprocess_exec(
        *python_command("engine.docker_api.exec_helper", json.dumps(job)), stdin=stdin,
        stdout=out, stderr=out, cwd="/", env=env, pass_fds=(theirs.fileno(),))
    theirs.close()
    mine.setblocking(False)
    return proc, mine


async def _control(mine: socket.socket) -> tuple[dict, int | None]:
    loop = asyncio.get_running_loop()
    fut = loop.create_future()

    def ready() -> None:
        try:
            msg, fds, _, _ = socket.recv_fds(mine, 65536, 1)
        except BlockingIOError:
            return
        except OSError as e:
            msg, fds = b"", []
            if not fut.done():
                fut.set_exception(e)
                return
        if not fut.done():
            fut.set_result((msg, fds))

    loop.add_reader(mine.fileno(), ready)
    try:
        msg, fds = await fut
    finally:
        loop.remove_reader(mine.fileno())
    info = json.loads(msg.decode().splitlines()[0]) if msg.strip() else \
        {"error": "the exec helper failed", "code": 126}
    return info, fds[0] if fds else None


async def start(request: web.Request) -> web.StreamResponse:
    engine = engine_of(request)
    ex = _instance(request)
    if ex.started:
        raise Conflict(f"Exec {ex.id} has already been started")
    body = await read_json(request, EXEC_START)
    # the command's terminal is exec create's Tty; the start's Tty only says, as in moby,
    # whether the stream is raw (a client that asks for a tty) or multiplexed
    tty = bool(ex.body.get("Tty"))
    framed = not body.get("Tty")
    size = body.get("ConsoleSize") or ex.body.get("ConsoleSize")
    ex.started = ex.running = True
    conn = token = None
    if not body.get("Detach"):
        # the 101 goes out before the command can write anything: a client reads the head
        # through a buffer, and bytes that arrive with it would be lost to the raw socket
        conn, token = await streams.hijack(request, streams.MULTIPLEXED if framed
                                           else streams.RAW)
    master = None
    proc = None
    detached = False
    try:
        proc, control = await _spawn(engine, ex, tty, size)
        info, master = await _control(control)
        control.close()
        ex.pid = info.get("pid", 0)
        ex.master = master
        if "error" in info:
            ex.running, ex.exit_code = False, int(info.get("code") or 126)
            await proc.wait()
            ex.done.set()
            if conn is None:
                raise Conflict(info["error"])
            message = (info["error"] + "\r\n").encode()
            await conn.write(streams.frame(streams.STDOUT, message) if framed else message)
        elif conn is None:
            asyncio.ensure_future(_reap(ex, proc))
            return web.Response(status=200)
        elif tty:
            keys = streams.detach_keys(ex.body.get("DetachKeys") or None)
            detached = await _serve_tty(conn, master, framed,
                                        streams.DetachScanner(keys)
                                        if ex.body.get("AttachStdin") else None)
        else:
            await _serve_pipes(conn, proc, framed)
    finally:
        if conn is not None:
            if detached:
                # the client typed the detach keys: the command runs on, its terminal
                # drained (and closed) once it ends
                asyncio.ensure_future(_drain(ex, proc, master))
            else:
                if master is not None:
                    os.close(master)
                    ex.master = None
                if ex.running and proc is not None:
                    await _reap(ex, proc)
    return streams.release(request, token)


async def _reap(ex: ExecInstance, proc) -> None:
    code = await proc.wait()
    ex.running, ex.exit_code = False, code
    ex.done.set()


async def _drain(ex: ExecInstance, proc, master: int) -> None:
    """Read what a detached command writes to its terminal (nobody listens) until it ends."""
    loop = asyncio.get_running_loop()

    def readable() -> None:
        try:
            if os.read(master, 65536):
                return
        except BlockingIOError:
            return
        except OSError:   # EIO: the command's side of the terminal is closed
            pass
        loop.remove_reader(master)

    loop.add_reader(master, readable)
    try:
        await _reap(ex, proc)
    finally:
        loop.remove_reader(master)
        os.close(master)
        ex.master = None


async def _serve_pipes(conn: streams.Hijacked, proc, framed: bool = True) -> None:
    async def pump(reader, stream: int) -> None:
        while True:
            data = await reader.read(65536)
            if not data or not await conn.write(streams.frame(stream, data) if framed
                                                else data):
                return

    async def feed() -> None:
        while proc.stdin is not None:
            data = await conn.incoming.get()
            if not data:   # b"": the client's stdin ended; None: the client left
                proc.stdin.close()
                return
            proc.stdin.write(data)
            await proc.stdin.drain()

    inp = asyncio.ensure_future(feed())
    try:
        await asyncio.gather(pump(proc.stdout, streams.STDOUT), pump(proc.stderr, streams.STDERR))
    finally:
        inp.cancel()


async def _serve_tty(conn: streams.Hijacked, master: int, framed: bool = False,
                     scanner: streams.DetachScanner | None = None) -> bool:
    """Serve the command's terminal to the client; True when the client detached with the
    detach keys (moby's escape proxy, on a terminal's input only)."""
    loop = asyncio.get_running_loop()
    detached = asyncio.Event()
    os.set_blocking(master, False)
    output: asyncio.Queue = asyncio.Queue()

    def readable() -> None:
        try:
            data = os.read(master, 65536)
        except BlockingIOError:
            return
        except OSError:   # EIO: every copy of the terminal's other side is closed
            data = b""
        if not data:
            loop.remove_reader(master)
        output.put_nowait(data)

    async def feed() -> None:
        while True:
            data = await conn.incoming.get()
            if not data:
                return
            if scanner is not None:
                data, gone = scanner.feed(data)
                if gone:
                    detached.set()
                    output.put_nowait(None)
                    return
            while data:
                try:
                    n = os.write(master, data)
                    data = data[n:]
                except BlockingIOError:
                    await asyncio.sleep(0.01)
                except OSError:
                    return

    loop.add_reader(master, readable)
    inp = asyncio.ensure_future(feed())
    try:
        while True:
            data = await output.get()
            if not data or not await conn.write(
                    streams.frame(streams.STDOUT, data) if framed else data):
                return detached.is_set()
    finally:
        loop.remove_reader(master)
        inp.cancel()
