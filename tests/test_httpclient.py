"""engine/images/httpclient.py, the registry client's own HTTP/1.1 client, on what the registry
tests don't reach: chunked bodies, credentials across redirects, a kept-alive connection the
server closed meanwhile; and that a pull no longer loads aiohttp (150-250 ms of import)."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys

import pytest

from helpers import REPO
from registry_server import free_port


@pytest.fixture
async def server():
    """A small aiohttp.web server on loopback (two ports: two origins); yields (base, other,
    seen) where ``seen`` collects (path, Authorization) of each request."""
    from aiohttp import web
    seen: list[tuple[str, str | None]] = []

    async def handle(request):
        seen.append((request.path, request.headers.get("Authorization")))
        if request.path == "/chunked":
            resp = web.StreamResponse()
            resp.enable_chunked_encoding()
            await resp.prepare(request)
            for i in range(5):
                await resp.write(f"part{i};".encode() * 1000)
            await resp.write_eof()
            return resp
        if request.path == "/same":
            raise web.HTTPTemporaryRedirect("/final")
        if request.path == "/other":
            raise web.HTTPTemporaryRedirect(f"http://127.0.0.1:{ports[1]}/final")
        if request.path == "/close":
            # answers, then closes the kept-alive connection once the answer is out
            resp = web.Response(body=b"bye")
            await resp.prepare(request)
            await resp.write_eof()
            request.transport.close()
            return resp
        return web.Response(body=b"ok " + request.path.encode())

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", handle)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    ports = [free_port(), free_port()]
    for p in ports:
        await web.TCPSite(runner, "127.0.0.1", p).start()
    try:
        yield f"http://127.0.0.1:{ports[0]}", f"http://127.0.0.1:{ports[1]}", seen
    finally:
        await runner.cleanup()


async def test_chunked_body_and_keep_alive(server):
    from engine.images.httpclient import Session
    base, _, _ = server
    async with Session() as s:
        resp = await s.request("GET", base + "/chunked")
        body = await resp.read()
        resp.release()
        assert resp.status == 200
        assert body == b"".join(f"part{i};".encode() * 1000 for i in range(5))
        # the same connection serves the next request
        resp = await s.request("GET", base + "/x")
        async with resp:
            assert await resp.read() == b"ok /x"
        assert sum(len(v) for v in s._idle.values()) == 1


async def test_authorization_goes_only_to_the_origin_that_asked(server):
    from engine.images.httpclient import Session
    base, other, seen = server
    async with Session() as s:
        for path in ("/same", "/other"):
            resp = await s.request("GET", base + path, headers={"Authorization": "Bearer t"})
            async with resp:
                assert await resp.read() == b"ok /final"
    assert seen == [("/same", "Bearer t"), ("/final", "Bearer t"),
                    ("/other", "Bearer t"), ("/final", None)]


async def test_a_connection_the_server_closed_is_replaced(server):
    from engine.images.httpclient import Session
    base, _, _ = server
    async with Session() as s:
        resp = await s.request("GET", base + "/close")
        async with resp:
            assert await resp.read() == b"bye"
        await asyncio.sleep(0.05)   # the close reaches this side
        resp = await s.request("GET", base + "/after")
        async with resp:
            assert await resp.read() == b"ok /after"


def test_a_pull_does_not_load_aiohttp(root):
    """The registry client speaks HTTP itself: a pull (here: its manifest request against a
    registry that isn't there) imports no aiohttp."""
    code = ("import asyncio, sys\n"
            "from engine import Engine\n"
            "try:\n"
            f"    asyncio.run(Engine().pull('127.0.0.1:{free_port()}/no/such:1'))\n"
            "except Exception as e:\n"
            "    print(type(e).__name__)\n"
            "print('aiohttp' in sys.modules)\n")
    env = {**os.environ, "BERTH_ROOT": root}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         cwd=REPO, env=env, timeout=60)
    assert out.stdout.split() == ["RegistryError", "False"], out.stderr
