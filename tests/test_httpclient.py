"""engine/images/httpclient.py, the registry client's own HTTP/1.1 client, on what the registry
tests don't reach: chunked bodies, credentials across redirects, a kept-alive connection the
server closed meanwhile, a TLS server told from a plain one without ssl; and the pull path's
import budget (no aiohttp: 150-250 ms; no asyncio: 45-100 ms; no argparse, dataclasses,
tempfile, ssl for a plain-http registry)."""

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


# the client is synchronous and the server answers on the test's event loop: each test's
# requests run in a thread


async def test_chunked_body_and_keep_alive(server):
    from engine.images.httpclient import Session
    base, _, _ = server

    def go():
        with Session() as s:
            resp = s.request("GET", base + "/chunked")
            body = resp.read()
            resp.release()
            assert resp.status == 200
            assert body == b"".join(f"part{i};".encode() * 1000 for i in range(5))
            # the same connection serves the next request
            with s.request("GET", base + "/x") as resp:
                assert resp.read() == b"ok /x"
            assert sum(len(v) for v in s._idle.values()) == 1
    await asyncio.to_thread(go)


async def test_authorization_goes_only_to_the_origin_that_asked(server):
    from engine.images.httpclient import Session
    base, other, seen = server

    def go():
        with Session() as s:
            for path in ("/same", "/other"):
                with s.request("GET", base + path, headers={"Authorization": "Bearer t"}) as r:
                    assert r.read() == b"ok /final"
    await asyncio.to_thread(go)
    assert seen == [("/same", "Bearer t"), ("/final", "Bearer t"),
                    ("/other", "Bearer t"), ("/final", None)]


async def test_a_connection_the_server_closed_is_replaced(server):
    from engine.images.httpclient import Session
    base, _, _ = server

    def go():
        import time
        with Session() as s:
            with s.request("GET", base + "/close") as resp:
                assert resp.read() == b"bye"
            time.sleep(0.05)   # the close reaches this side
            with s.request("GET", base + "/after") as resp:
                assert resp.read() == b"ok /after"
    await asyncio.to_thread(go)


def test_a_tls_server_is_told_from_a_plain_one_without_ssl(tmp_path):
    """Session.speaks_tls sends a ClientHello by hand: true for a TLS registry, false for a plain-http
    one (which must not hang waiting for a request line), and ssl is not imported."""
    import sys

    from registry_server import registry
    code = ("import sys\nfrom engine.images.httpclient import Session\n"
            "host, port = sys.argv[1].rsplit(':', 1)\n"
            "print(Session(connect_timeout=10).speaks_tls(host, int(port)), "
            "'ssl' in sys.modules)\n")
    for tls in (True, False):
        with registry(tls=tls) as r:
            out = subprocess.run([sys.executable, "-c", code, r.host], capture_output=True,
                                 text=True, cwd=REPO, timeout=30)
            assert out.stdout.split() == [str(tls), "False"], out.stderr


def test_the_pull_path_keeps_to_its_import_budget(root):
    """`berth pull` of a plain-http registry (here one that isn't there: the command gets as far
    as the manifest request) loads none of what it doesn't use. Each costs a rootless busybox
    pull, about 60 % imports, several ms to 100 ms (issue 21): aiohttp, asyncio (and through it
    concurrent.futures, logging, inspect), argparse (tui/commands/fastparse.py reads pull),
    dataclasses, tempfile (shutil, bz2, lzma, random), ssl (speaks_tls probes by hand), idna,
    typing, platform."""
    code = ("import sys, io, contextlib\nfrom tui import cli\n"
            "with contextlib.redirect_stderr(io.StringIO()) as err:\n"
            f"    code = cli.main(['pull', '-q', '127.0.0.1:{free_port()}/no/such:1'])\n"
            "print(code, 'cannot reach registry' in err.getvalue())\n"
            "print(' '.join(sorted(sys.modules)))\n")
    env = {**os.environ, "BERTH_ROOT": root}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         cwd=REPO, env=env, timeout=60)
    lines = out.stdout.splitlines()
    assert lines[0] == "125 True", out.stderr
    loaded = set(lines[1].split())
    banned = {"aiohttp", "asyncio", "concurrent.futures", "logging", "inspect", "argparse",
              "dataclasses", "tempfile", "shutil", "bz2", "lzma", "random", "ssl",
              "encodings.idna", "typing", "platform"}
    assert loaded & banned == set()
