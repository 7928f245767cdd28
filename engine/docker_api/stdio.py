"""``berth system dial-stdio``: the Docker API on stdin/stdout, for one client at the other end
of an ssh connection (``ssh host berth system dial-stdio``, as docker's ssh helper runs
``docker system dial-stdio``). No socket listens and nothing outlives the connection: berth
stays daemonless on both ends.

The first requests are answered by the front (front.py) without aiohttp, so the first list
over ssh does not wait for its import. From the first request the front leaves to it, the
API's server (server.py) serves one connected socket; two threads copy between it and
stdin/stdout (the front's unanswered bytes first), passing a half-close on (the client's end
of input reaches the server as EOF, as a hijacked exec's stdin needs), and the service ends
when the client is gone.
"""

from __future__ import annotations

import os
import sys

TYPE_CHECKING = False
if TYPE_CHECKING:   # the front needs neither: loaded when the service takes over
    import socket
    import threading


def _copy_in(src: int, dst: socket.socket, first: bytes = b"") -> None:
    try:
        dst.sendall(first)
        while True:
            data = os.read(src, 65536)
            if not data:
                break
            dst.sendall(data)
    except OSError:
        pass
    import socket
    try:
        dst.shutdown(socket.SHUT_WR)
    except OSError:
        pass


def _copy_out(src: socket.socket, dst: int, done: threading.Event) -> None:
    try:
        while True:
            data = src.recv(65536)
            if not data:
                break
            view = memoryview(data)
            while view:
                view = view[os.write(dst, view):]
    except OSError:
        pass
    done.set()


async def _serve(engine, sock: socket.socket, done: threading.Event, limits) -> None:
    import asyncio
    from aiohttp import web
    from . import server
    server._POOL = None
    app = server.make_app(engine, limits)
    runner = web.AppRunner(app, handle_signals=False, access_log=None, shutdown_timeout=1.0)
    await runner.setup()
    loop = asyncio.get_running_loop()

    def connection():
        # the idle limit of a served socket would end an ssh session the user keeps open
        return server.GuardedHandler(runner.server, loop=loop, header_timeout=0,
                                     keepalive_timeout=3600 * 24, lingering_time=0,
                                     access_log=None)

    await loop.connect_accepted_socket(connection, sock)
    try:
        while not done.is_set():
            await asyncio.sleep(0.1)
    finally:
        await runner.cleanup()


def dial_stdio(limits=None) -> int:
    """Serve the Docker API on stdin/stdout until the client closes its end."""
    from .. import Engine
    from .front import Front
    engine = Engine()
    stdin, stdout = sys.stdin.fileno(), sys.stdout.fileno()
    try:
        rest = Front(engine, stdin, stdout).serve()
        if rest is not None:
            _service(engine, stdin, stdout, rest, limits)
    except KeyboardInterrupt:
        pass
    sys.stderr.flush()
    # a worker still blocked in a verb (a follow, a wait) must not hold the exit up
    os._exit(0)


def _service(engine, stdin: int, stdout: int, first: bytes, limits) -> None:
    """The aiohttp service from the request ``first`` starts with on."""
    import asyncio
    import socket
    import threading
    from .server import Limits
    ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
    done = threading.Event()
    threading.Thread(target=_copy_in, args=(stdin, theirs, first), daemon=True).start()
    threading.Thread(target=_copy_out, args=(theirs, stdout, done), daemon=True).start()
    asyncio.run(_serve(engine, ours, done, limits or Limits()))
