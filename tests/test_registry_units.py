"""The registry client's pure parts: platforms, challenges, the credentials file, and the
progress lines `berth pull` draws; plus a schema 1 manifest, which no registry here serves."""

from __future__ import annotations

import base64
import io
import json
import os
import stat

import pytest

from engine.errors import InvalidArgument, NotFound, RegistryError
from engine.images import auth
from engine.images.distribution import is_loopback, parse_challenge
from engine.images.manifests import Platform, choose_manifest, parse_platform
from engine.images.registry_client import RegistryClient
from tui.commands.registry import ProgressView, human_size, progress_line


def test_parse_platform():
    assert parse_platform("linux/arm64/v8") == Platform("linux", "arm64", "v8")
    assert parse_platform("linux/x86_64") == Platform("linux", "amd64")
    assert parse_platform(None).os == "linux"
    for bad in ("amd64", "linux/", "a/b/c/d"):
        with pytest.raises(InvalidArgument, match="os/arch"):
            parse_platform(bad)


def test_choose_manifest_variants():
    index = {"manifests": [
        {"digest": "sha256:a", "platform": {"os": "linux", "architecture": "arm", "variant": "v6"}},
        {"digest": "sha256:b", "platform": {"os": "linux", "architecture": "arm", "variant": "v7"}},
        {"digest": "sha256:c", "platform": {"os": "linux", "architecture": "arm64"}},
        {"digest": "sha256:d", "platform": {"os": "unknown", "architecture": "unknown"}},
    ]}
    assert choose_manifest(index, Platform("linux", "arm", "v7"))["digest"] == "sha256:b"
    assert choose_manifest(index, Platform("linux", "arm64", "v8"))["digest"] == "sha256:c"
    with pytest.raises(NotFound, match="linux/amd64.*linux/arm/v6, linux/arm/v7, linux/arm64"):
        choose_manifest(index, Platform("linux", "amd64"))


def test_parse_challenge_and_loopback():
    scheme, params = parse_challenge(
        'Bearer realm="https://auth.example/token",service="registry.example",'
        'scope="repository:a/b:pull"')
    assert scheme == "bearer"
    assert params == {"realm": "https://auth.example/token", "service": "registry.example",
                      "scope": "repository:a/b:pull"}
    assert parse_challenge('Basic realm="x"') == ("basic", {"realm": "x"})
    assert is_loopback("127.0.0.1:5000") and is_loopback("localhost:1") and is_loopback("[::1]:5")
    assert not is_loopback("registry.example:5000") and not is_loopback("10.0.0.1")


def test_credentials_file(tmp_path, monkeypatch):
    path = tmp_path / "sub" / "auth.json"
    monkeypatch.setenv("BERTH_AUTH_FILE", str(path))
    assert auth.get_credentials("127.0.0.1:5000") is None
    auth.save_credentials("https://127.0.0.1:5000/v2/", "bob", "p:ss")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    data = json.loads(path.read_text())
    assert base64.b64decode(data["auths"]["127.0.0.1:5000"]["auth"]) == b"bob:p:ss"
    assert auth.get_credentials("127.0.0.1:5000") == ("bob", "p:ss")
    # Docker's own key for Docker Hub is read as docker.io
    data["auths"]["https://index.docker.io/v1/"] = {"auth": base64.b64encode(b"h:q").decode()}
    path.write_text(json.dumps(data))
    os.chmod(path, 0o644)
    assert auth.get_credentials("docker.io") == ("h", "q")
    assert auth.remove_credentials("127.0.0.1:5000")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert not auth.remove_credentials("127.0.0.1:5000")
    assert auth.remove_credentials("index.docker.io")
    assert json.loads(path.read_text())["auths"] == {}


def test_progress_lines_as_docker_draws_them():
    assert human_size(1234567) == "1.235MB"
    line = progress_line({"id": "abc", "status": "Downloading",
                          "progressDetail": {"current": 1_200_000, "total": 3_400_000}})
    assert line == "abc: Downloading [" + "=" * 17 + ">" + " " * 33 + "]    1.2MB/3.4MB"
    done = progress_line({"id": "abc", "status": "Downloading",
                          "progressDetail": {"current": 10, "total": 10}})
    assert "[" + "=" * 50 + ">]" in done
    assert progress_line({"status": "Digest: sha256:x"}) == "Digest: sha256:x"


def test_progress_view_on_a_terminal_rewrites_lines():
    out = io.StringIO()
    view = ProgressView(out, tty=True)
    view({"id": "3.20", "status": "Pulling from library/alpine"})
    view({"id": "aaa", "status": "Pulling fs layer"})
    view({"id": "bbb", "status": "Pulling fs layer"})
    view({"id": "aaa", "status": "Downloading", "progressDetail": {"current": 1, "total": 2}})
    text = out.getvalue()
    assert text.startswith("3.20: Pulling from library/alpine\naaa: Pulling fs layer\n"
                           "bbb: Pulling fs layer\n")
    assert text.endswith("\x1b[2A\r\x1b[2Kaaa: Downloading [" + "=" * 25 + ">" + " " * 25 +
                         "]       1B/2B\x1b[2B\r")
    plain = io.StringIO()
    view = ProgressView(plain, tty=False)
    for s in ("Pulling fs layer", "Downloading", "Downloading", "Download complete"):
        view({"id": "aaa", "status": s, **({"progressDetail": {"current": 1, "total": 2}}
                                            if s == "Downloading" else {})})
    assert plain.getvalue() == "aaa: Pulling fs layer\naaa: Download complete\n"


async def test_schema1_is_refused_with_a_clear_message():
    from aiohttp import web

    from registry_server import free_port

    async def v2(request):
        return web.json_response({})

    async def manifest(request):
        body = json.dumps({"schemaVersion": 1, "name": "old/image", "tag": "1",
                           "fsLayers": [], "history": []}).encode()
        return web.Response(body=body, headers={
            "Content-Type": "application/vnd.docker.distribution.manifest.v1+prettyjws"})

    app = web.Application()
    app.router.add_get("/v2/", v2)
    app.router.add_get("/v2/old/image/manifests/1", manifest)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    def ask():   # in a thread: the server answers on this loop
        with RegistryClient(f"127.0.0.1:{port}") as c:
            with pytest.raises(RegistryError, match="schema 1 image, which berth does not pull"):
                c.get_manifest("old/image", "1")
    try:
        import asyncio
        await asyncio.to_thread(ask)
    finally:
        await runner.cleanup()


def test_registry_modules_load_aiohttp_only_when_used():
    import subprocess
    import sys

    from helpers import REPO
    code = ("import sys, engine.images.distribution, engine.images.manifests, "
            "engine.images.registry_client, engine.images.transfer, engine.images.pull, "
            "engine.images.push, engine.images.search, engine.images.auth, engine.registry_api, "
            "tui.commands.registry; print('aiohttp' in sys.modules, 'rich' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         cwd=REPO, check=True).stdout.split()
    assert out == ["False", "False"]
