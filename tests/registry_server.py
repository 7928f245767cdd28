"""A real registry for the tests: Debian's docker-registry on 127.0.0.1, on a free port, with its
storage in a temporary directory; anonymous, with htpasswd, with a self-signed TLS certificate,
or with token auth served by a small token server here (the Docker Hub flow, run for real).

Nothing in here trusts berth: images go in with skopeo, certificates come from the openssl CLI,
and the token server signs its JWTs with openssl. ``registry(...)`` stops everything it started
and removes its directory, however the test ends.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
import uuid
import warnings
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Iterator

REGISTRY_BIN = "/usr/bin/docker-registry"
SKOPEO = "/usr/bin/skopeo"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def htpasswd_line(user: str, password: str) -> str:
    """A bcrypt htpasswd line (the only hash docker-registry accepts)."""
    try:
        import bcrypt  # type: ignore
        return f"{user}:{bcrypt.hashpw(password.encode(), bcrypt.gensalt(rounds=5)).decode()}"
    except ImportError:
        pass
    # Debian's libxcrypt speaks bcrypt, so the stdlib crypt module can make the line.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        import crypt
    hashed = crypt.crypt(password, crypt.mksalt(crypt.METHOD_BLOWFISH, rounds=32))
    if not hashed or not hashed.startswith("$2"):
        raise RuntimeError("no bcrypt here: pip install bcrypt")
    return f"{user}:{hashed}"


def make_cert(directory: Path, name: str = "server") -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 and localhost; returns (cert, key)."""
    cert, key = directory / f"{name}.crt", directory / f"{name}.key"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
         "-keyout", str(key), "-out", str(cert), "-subj", f"/CN={name}",
         "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost",
         "-addext", "basicConstraints=critical,CA:TRUE"],
        check=True, capture_output=True)
    return cert, key


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


class TokenServer:
    """The token endpoint of the Docker Hub flow: checks Basic credentials, grants the scopes
    asked for (pull to anyone when ``anonymous_pull``; push only to a known user), signs an RS256
    JWT carrying the signing certificate in x5c, which the registry trusts via rootcertbundle."""

    def __init__(self, directory: Path, users: dict[str, str], anonymous_pull: bool,
                 service: str = "berth-test-registry", issuer: str = "berth-test-issuer",
                 expires_in: int = 300):
        self.cert, self.key = make_cert(directory, "token")
        der = subprocess.run(["openssl", "x509", "-in", str(self.cert), "-outform", "DER"],
                             check=True, capture_output=True).stdout
        self.x5c = base64.b64encode(der).decode()
        self.users, self.anonymous_pull = users, anonymous_pull
        self.service, self.issuer, self.expires_in = service, issuer, expires_in
        self.issued: list[dict] = []   # one entry per token given out: who, scopes
        self.refused = 0
        self.port = free_port()
        self._httpd: ThreadingHTTPServer | None = None

    @property
    def realm(self) -> str:
        return f"http://127.0.0.1:{self.port}/token"

    def sign(self, claims: dict) -> str:
        header = {"typ": "JWT", "alg": "RS256", "x5c": [self.x5c]}
        signing_input = f"{_b64url(json.dumps(header).encode())}." \
                        f"{_b64url(json.dumps(claims).encode())}"
        sig = subprocess.run(["openssl", "dgst", "-sha256", "-sign", str(self.key)],
                             input=signing_input.encode(), check=True,
                             capture_output=True).stdout
        return f"{signing_input}.{_b64url(sig)}"

    def grant(self, user: str | None, scopes: list[str]) -> list[dict]:
        access = []
        for scope in scopes:
            parts = scope.split(":")
            if len(parts) < 3:
                continue
            kind, name, actions = parts[0], ":".join(parts[1:-1]), parts[-1].split(",")
            allowed = [a for a in actions
                       if user is not None or (self.anonymous_pull and a == "pull")]
            if kind == "registry" and user is None:
                allowed = []
            if allowed:
                access.append({"type": kind, "name": name, "actions": allowed})
        return access

    def start(self) -> None:
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):  # quiet
                pass

            def do_GET(self):
                from urllib.parse import parse_qs, urlparse
                q = parse_qs(urlparse(self.path).query)
                user = None
                header = self.headers.get("Authorization", "")
                if header.startswith("Basic "):
                    name, _, pw = base64.b64decode(header[6:]).decode().partition(":")
                    if server.users.get(name) != pw:
                        server.refused += 1
                        return self._reply(401, {"details": "incorrect username or password"})
                    user = name
                elif not server.anonymous_pull:
                    server.refused += 1
                    return self._reply(401, {"details": "authentication required"})
                if q.get("service", [""])[0] != server.service:
                    return self._reply(400, {"details": "wrong service"})
                scopes = [s for v in q.get("scope", []) for s in v.split(" ")]
                now = int(time.time())
                claims = {"iss": server.issuer, "sub": user or "", "aud": server.service,
                          "exp": now + server.expires_in, "nbf": now - 10, "iat": now,
                          "jti": uuid.uuid4().hex, "access": server.grant(user, scopes)}
                server.issued.append({"user": user, "scopes": scopes})
                token = server.sign(claims)
                self._reply(200, {"token": token, "access_token": token,
                                  "expires_in": server.expires_in,
                                  "issued_at": time.strftime("%Y-%m-%dT%H:%M:%SZ",
                                                             time.gmtime(now))})

            def _reply(self, code: int, body: dict) -> None:
                data = json.dumps(body).encode()
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self._httpd = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        threading.Thread(target=self._httpd.serve_forever, daemon=True).start()

    def stop(self) -> None:
        if self._httpd:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None


class RegistryServer:
    """One docker-registry process and its storage. ``host`` is '127.0.0.1:PORT'."""

    def __init__(self, directory: Path, auth: str | None = None, tls: bool = False,
                 users: dict[str, str] | None = None, anonymous_pull: bool = True):
        self.dir = directory
        self.storage = directory / "storage"
        self.storage.mkdir()
        self.auth, self.tls = auth, tls
        self.users = users if users is not None else {"alice": "wonderland"}
        self.port = free_port()
        self.proc: subprocess.Popen | None = None
        self.token: TokenServer | None = None
        self.cert = self.key = None
        config: dict = {
            "version": 0.1,
            "log": {"level": "error", "accesslog": {"disabled": True}},
            "storage": {"filesystem": {"rootdirectory": str(self.storage)},
                        "delete": {"enabled": True}},
            "http": {"addr": f"127.0.0.1:{self.port}"},
        }
        if tls:
            self.cert, self.key = make_cert(directory)
            config["http"]["tls"] = {"certificate": str(self.cert), "key": str(self.key)}
        if auth == "htpasswd":
            path = directory / "htpasswd"
            path.write_text("".join(htpasswd_line(u, p) + "\n" for u, p in self.users.items()))
            config["auth"] = {"htpasswd": {"realm": "berth-test", "path": str(path)}}
        elif auth == "token":
            self.token = TokenServer(directory, self.users, anonymous_pull)
            config["auth"] = {"token": {"realm": self.token.realm, "service": self.token.service,
                                        "issuer": self.token.issuer,
                                        "rootcertbundle": str(self.token.cert)}}
        elif auth is not None:
            raise ValueError(auth)
        # JSON is YAML, so no YAML library is needed.
        self.config = directory / "config.yml"
        self.config.write_text(json.dumps(config, indent=1))
        self.log = directory / "registry.log"

    @property
    def host(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def url(self) -> str:
        return f"{'https' if self.tls else 'http'}://{self.host}"

    def start(self) -> None:
        if self.token and not self.token._httpd:
            self.token.start()
        with open(self.log, "ab") as log:
            self.proc = subprocess.Popen([REGISTRY_BIN, "serve", str(self.config)],
                                         stdout=log, stderr=subprocess.STDOUT,
                                         start_new_session=True)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"docker-registry exited: {self.log.read_text()[-2000:]}")
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", self.port)) == 0:
                    return
            time.sleep(0.05)
        raise RuntimeError("docker-registry did not start listening")

    def kill(self) -> None:
        """Stop the registry at once (SIGKILL), as a crash or a pulled cable would."""
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()
        self.proc = None

    def stop(self) -> None:
        self.kill()
        if self.token:
            self.token.stop()

    # --- content, through skopeo and the storage on disk -----------------------------
    def _tls_args(self, prefix: str) -> list[str]:
        return [f"--{prefix}-tls-verify=false"]

    def _creds(self, prefix: str) -> list[str]:
        if self.auth:
            user, pw = next(iter(self.users.items()))
            return [f"--{prefix}-creds", f"{user}:{pw}"]
        return []

    def skopeo_copy_in(self, source: str, repo_ref: str, *extra: str) -> None:
        """Copy ``source`` (e.g. 'oci-archive:/path.tar') to this registry as ``repo_ref``."""
        run_skopeo(["copy", "--quiet", *self._tls_args("dest"), *self._creds("dest"), *extra,
                    source, f"docker://{self.host}/{repo_ref}"])

    def skopeo_inspect(self, repo_ref: str, raw: bool = False) -> dict:
        creds = self._creds("src")
        creds = ["--creds", creds[1]] if creds else []
        out = run_skopeo(["inspect", *(["--raw"] if raw else []), "--tls-verify=false", *creds,
                          f"docker://{self.host}/{repo_ref}"])
        return json.loads(out)

    def blob_data(self, digest: str) -> Path:
        """Where the registry keeps a blob's bytes (so a test can tamper with them)."""
        hexpart = digest.partition(":")[2]
        return (self.storage / "docker/registry/v2/blobs/sha256" / hexpart[:2] / hexpart / "data")

    def put_manifest(self, repo: str, reference: str, body: bytes, media_type: str) -> str:
        """PUT a hand-made manifest (an index, say) with plain HTTP from the standard library."""
        import http.client
        import ssl
        if self.tls:
            conn = http.client.HTTPSConnection("127.0.0.1", self.port,
                                               context=ssl._create_unverified_context())
        else:
            conn = http.client.HTTPConnection("127.0.0.1", self.port)
        headers = {"Content-Type": media_type}
        if self.auth == "htpasswd":
            user, pw = next(iter(self.users.items()))
            headers["Authorization"] = "Basic " + base64.b64encode(f"{user}:{pw}".encode()).decode()
        elif self.auth == "token":
            user = next(iter(self.users))
            claims = {"iss": self.token.issuer, "sub": user, "aud": self.token.service,
                      "exp": int(time.time()) + 60, "nbf": int(time.time()) - 10,
                      "iat": int(time.time()), "jti": uuid.uuid4().hex,
                      "access": [{"type": "repository", "name": repo,
                                  "actions": ["pull", "push"]}]}
            headers["Authorization"] = f"Bearer {self.token.sign(claims)}"
        conn.request("PUT", f"/v2/{repo}/manifests/{reference}", body=body, headers=headers)
        resp = conn.getresponse()
        data = resp.read()
        conn.close()
        if resp.status != 201:
            raise RuntimeError(f"PUT manifest: {resp.status} {data[:300]!r}")
        return resp.getheader("Docker-Content-Digest") or ""


def run_skopeo(args: list[str]) -> str:
    env = {**os.environ}
    # skopeo must not read or write the host's own credentials or policy
    env["REGISTRY_AUTH_FILE"] = os.environ.get("BERTH_TEST_SKOPEO_AUTH", "/nonexistent/auth.json")
    p = subprocess.run([SKOPEO, "--insecure-policy", *args], capture_output=True, text=True,
                       env=env, timeout=120)
    if p.returncode != 0:
        raise RuntimeError(f"skopeo {' '.join(args)}: {p.stderr.strip()}")
    return p.stdout


def oci_archive_manifest(archive: Path) -> tuple[str, bytes]:
    """(digest, bytes) of the single image manifest in an OCI archive."""
    import tarfile
    with tarfile.open(archive) as tf:
        index = json.load(tf.extractfile("index.json"))
        digest = index["manifests"][0]["digest"]
        body = tf.extractfile(f"blobs/sha256/{digest.partition(':')[2]}").read()
    return digest, body



def config_digest(archive: Path) -> str:
    """The config digest (the image id) of an OCI archive's image."""
    _, body = oci_archive_manifest(archive)
    return json.loads(body)["config"]["digest"]

def push_multiplatform(server: RegistryServer, repo: str, tag: str, amd64: Path,
                       arm64: Path) -> dict:
    """A two-platform OCI index under ``repo:tag``: linux/amd64 -> ``amd64``'s manifest and a
    pretend linux/arm64/v8 -> ``arm64``'s (both really amd64 busybox, so either one runs here
    and the test can tell which was chosen). Returns the digests."""
    out = {}
    entries = []
    for arch, variant, archive in (("amd64", None, amd64), ("arm64", "v8", arm64)):
        digest, body = oci_archive_manifest(archive)
        server.skopeo_copy_in(f"oci-archive:{archive}", f"{repo}@{digest}",
                              "--preserve-digests")
        platform = {"architecture": arch, "os": "linux"}
        if variant:
            platform["variant"] = variant
        entries.append({"mediaType": json.loads(body).get(
            "mediaType", "application/vnd.oci.image.manifest.v1+json"),
            "digest": digest, "size": len(body), "platform": platform})
        out[arch] = digest
    index = json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json",
                        "manifests": entries}).encode()
    out["index"] = "sha256:" + hashlib.sha256(index).hexdigest()
    got = server.put_manifest(repo, tag, index, "application/vnd.oci.image.index.v1+json")
    assert got in ("", out["index"]), (got, out["index"])
    return out


@contextlib.contextmanager
def registry(auth: str | None = None, tls: bool = False, **kw) -> Iterator[RegistryServer]:
    """A started registry; stopped and its directory removed however the block ends."""
    d = Path(tempfile.mkdtemp(prefix="berth-registry-", dir="/var/tmp"))
    server = None
    try:
        server = RegistryServer(d, auth=auth, tls=tls, **kw)
        server.start()
        yield server
    finally:
        if server:
            server.stop()
        shutil.rmtree(d, ignore_errors=True)


class FaultProxy:
    """An HTTP proxy in front of a registry that misbehaves on request, for the faults a real
    registry will not produce on cue: ``fail[n]`` 503s before answering properly, redirects of
    blob downloads to the registry itself (as registries that store blobs elsewhere do), and a
    connection cut after ``cut_after`` bytes of the first blob download. Runs in an event loop
    of its own, in a thread (the registry client is synchronous):
    ``with FaultProxy(server) as proxy: proxy.host``."""

    def __init__(self, upstream: RegistryServer, fail_first: int = 0, redirect_blobs: bool = False,
                 cut_after: int = 0, fail_status: int = 503):
        self.upstream = upstream
        self.fail_first, self.fail_status = fail_first, fail_status
        self.redirect_blobs, self.cut_after = redirect_blobs, cut_after
        self.requests: list[tuple[str, str, str]] = []   # method, path, Range header
        self.port = free_port()
        self._runner = None
        self._loop = None
        self._thread = None

    @property
    def host(self) -> str:
        return f"127.0.0.1:{self.port}"

    def __enter__(self) -> "FaultProxy":
        import asyncio
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self._start(), self._loop).result(30)
        return self

    def __exit__(self, *exc) -> None:
        import asyncio
        try:
            asyncio.run_coroutine_threadsafe(self._runner.cleanup(), self._loop).result(30)
        finally:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(30)
            self._loop.close()

    async def _start(self) -> None:
        from aiohttp import web
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._handle)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", self.port).start()

    async def _handle(self, request):
        import aiohttp
        from aiohttp import web
        self.requests.append((request.method, request.path_qs, request.headers.get("Range", "")))
        is_blob_get = request.method == "GET" and "/blobs/sha256:" in request.path
        if self.fail_first > 0 and request.path != "/v2/":
            self.fail_first -= 1
            return web.Response(status=self.fail_status, headers={"Retry-After": "0"})
        if is_blob_get and self.redirect_blobs and "redirected" not in request.query:
            raise web.HTTPTemporaryRedirect(
                f"{self.upstream.url}{request.path}?redirected=1")
        headers = {k: v for k, v in request.headers.items()
                   if k.lower() not in ("host", "content-length", "transfer-encoding")}
        body = await request.read()
        async with aiohttp.ClientSession(auto_decompress=False) as s:
            async with s.request(request.method, f"{self.upstream.url}{request.path_qs}",
                                 headers=headers, data=body or None,
                                 allow_redirects=False) as up:
                data = await up.read()
                out_headers = {k: v for k, v in up.headers.items()
                               if k.lower() not in ("transfer-encoding", "content-length",
                                                    "connection", "content-encoding")}
                if "Location" in out_headers and out_headers["Location"].startswith(
                        self.upstream.url):
                    out_headers["Location"] = out_headers["Location"].replace(
                        self.upstream.url, f"http://{self.host}")
                if is_blob_get and self.cut_after and len(data) > self.cut_after:
                    cut, self.cut_after = self.cut_after, 0
                    resp = web.StreamResponse(status=up.status, headers=out_headers)
                    resp.content_length = len(data)
                    await resp.prepare(request)
                    await resp.write(data[:cut])
                    request.transport.close()   # the connection drops mid-blob
                    return resp
                return web.Response(status=up.status, body=data, headers=out_headers)


def build_oci_image(layout: Path, tag: str, rootfs_tar: Path | None = None,
                    random_layers: tuple[int, ...] = (), cmd: str = "/bin/sh") -> str:
    """Build an OCI image with umoci (no berth involved): ``rootfs_tar`` as the first layer and
    one layer of ``n`` random bytes per entry of ``random_layers``. Returns 'oci:LAYOUT:TAG'."""
    def umoci(*args: str) -> None:
        p = subprocess.run(["umoci", *args], capture_output=True, text=True)
        if p.returncode != 0:
            raise RuntimeError(f"umoci {' '.join(args)}: {p.stderr.strip()}")

    image = f"{layout}:{tag}"
    bundle = layout.parent / f"bundle-{tag}"
    if not (layout / "index.json").exists():
        umoci("init", "--layout", str(layout))
    umoci("new", "--image", image)
    umoci("unpack", "--image", image, str(bundle))
    try:
        if rootfs_tar:
            subprocess.run(["tar", "-xzf", str(rootfs_tar), "-C", str(bundle / "rootfs")],
                           check=True)
            umoci("repack", "--refresh-bundle", "--image", image, str(bundle))
        for i, n in enumerate(random_layers):
            d = bundle / "rootfs" / "data"
            d.mkdir(exist_ok=True)
            with open(d / f"random{i}", "wb") as f:
                left = n
                while left:
                    chunk = os.urandom(min(left, 1 << 20))
                    f.write(chunk)
                    left -= len(chunk)
            umoci("repack", "--refresh-bundle", "--image", image, str(bundle))
        umoci("config", "--image", image, "--config.cmd", cmd)
    finally:
        shutil.rmtree(bundle, ignore_errors=True)
    return f"oci:{image}"
