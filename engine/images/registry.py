"""The OCI distribution client: pull, push, tags, catalog, against a registry over aiohttp.

``RegistryClient`` speaks the protocol: the ``/v2/`` ping, Basic auth and the bearer-token
challenge (realm, service, scope; anonymous or with saved credentials; a token reused until it
expires), retries of 429 and 5xx with backoff, redirects, blob downloads resumed with Range, and
uploads (monolithic, chunked, cross-repository mount). ``pull_image`` and ``push_image`` drive
it for the engine's ``pull`` and ``push``: every manifest, config and layer is checked against
its digest before it reaches the store, and the store itself checks the diff_ids.

Transport policy: https always, with the system's CAs plus any in
``$BERTH_CERTS_DIR/HOST:PORT/*.crt`` (default ``/etc/berth/certs.d``, as Docker's certs.d).
Plain http only for loopback registries (127.0.0.0/8, localhost, ::1), which are tried with https
first, and for registries named insecure (``--tls-verify=false``), which also skip certificate
checks.

Progress is reported as Docker's JSON messages: ``{"id", "status", "progressDetail":
{"current", "total"}}``, so the CLI and the dashboard can draw it as ``docker pull`` does.
"""

from __future__ import annotations

import asyncio
import fcntl
import hashlib
import json
import os
import platform as _platform
import re
import time
from dataclasses import dataclass
from typing import Any, Callable

from ..errors import AuthError, IntegrityError, InvalidArgument, NotFound, RegistryError

OCI_INDEX = "application/vnd.oci.image.index.v1+json"
DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
SCHEMA1 = ("application/vnd.docker.distribution.manifest.v1+json",
           "application/vnd.docker.distribution.manifest.v1+prettyjws")
INDEX_TYPES = (OCI_INDEX, DOCKER_LIST)
MANIFEST_TYPES = (OCI_MANIFEST, DOCKER_MANIFEST)
ACCEPT = ", ".join((OCI_INDEX, DOCKER_LIST, OCI_MANIFEST, DOCKER_MANIFEST, *SCHEMA1))

DOCKER_HUB = "docker.io"
DOCKER_HUB_API = "registry-1.docker.io"
CERTS_DIR = "/etc/berth/certs.d"

Progress = Callable[[dict], Any]

# How often a request is tried when the registry is busy (429), failing (5xx) or unreachable;
# the waits double from RETRY_BASE seconds. Kept short: a user waiting on a dead registry wants
# to hear so within seconds.
RETRIES = 4
RETRY_BASE = 0.25
RETRY_AFTER_MAX = 10.0
PARALLEL_BLOBS = 4
CHUNK = 1 << 17
PUSH_CHUNK_SIZE = 32 << 20
STREAM_BUFFER = int(os.environ.get("BERTH_PULL_STREAM_BUFFER", 64 << 20))  # how far a download may run ahead of the layer unpacking it


# --- small pure helpers -----------------------------------------------------------------

def is_loopback(host: str) -> bool:
    """Whether ``host`` (with or without a port) names this machine."""
    name = host.rsplit(":", 1)[0] if host.count(":") == 1 else host
    name = name.strip("[]")
    if name.startswith("[") or host.startswith("["):
        name = host[1:].split("]", 1)[0]
    return name in ("localhost", "::1") or name.startswith("127.")


def api_host(registry: str) -> str:
    """The host the distribution API of ``registry`` is served on."""
    return DOCKER_HUB_API if registry == DOCKER_HUB else registry


def sha256_digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def check_digest(digest: str) -> str:
    """``digest`` when it is a sha256 digest berth can verify; InvalidArgument otherwise."""
    algo, _, hexpart = digest.partition(":")
    if algo != "sha256" or not re.fullmatch(r"[0-9a-f]{64}", hexpart):
        raise InvalidArgument(f"unsupported digest {digest!r}: berth verifies sha256 digests only")
    return digest


def parse_challenge(header: str) -> tuple[str, dict[str, str]]:
    """('bearer'|'basic', params) from a WWW-Authenticate header."""
    scheme, _, rest = header.strip().partition(" ")
    params = {k.lower(): v for k, v in re.findall(r'(\w+)="([^"]*)"', rest)}
    return scheme.lower(), params


@dataclass(frozen=True)
class Platform:
    """An image platform, as --platform names it: os/arch[/variant]."""

    os: str
    architecture: str
    variant: str = ""

    def __str__(self) -> str:
        return "/".join(p for p in (self.os, self.architecture, self.variant) if p)


_MACHINE = {"x86_64": ("amd64", ""), "amd64": ("amd64", ""), "aarch64": ("arm64", "v8"),
            "arm64": ("arm64", "v8"), "armv7l": ("arm", "v7"), "armv6l": ("arm", "v6"),
            "i386": ("386", ""), "i686": ("386", ""), "ppc64le": ("ppc64le", ""),
            "s390x": ("s390x", ""), "riscv64": ("riscv64", "")}


def host_platform() -> Platform:
    arch, variant = _MACHINE.get(_platform.machine(), (_platform.machine(), ""))
    return Platform("linux", arch, variant)


def parse_platform(text: str | None) -> Platform:
    """The platform named by ``--platform`` (os/arch[/variant]); the host's when empty."""
    if not text:
        return host_platform()
    parts = text.strip().lower().split("/")
    if len(parts) not in (2, 3) or not all(parts):
        raise InvalidArgument(f"invalid platform {text!r}: use os/arch[/variant], "
                              "e.g. linux/amd64 or linux/arm64/v8")
    os_, arch = parts[0], parts[1]
    arch = {"x86_64": "amd64", "aarch64": "arm64"}.get(arch, arch)
    return Platform(os_, arch, parts[2] if len(parts) == 3 else "")


def _variant(arch: str, variant: str) -> str:
    # arm64 images rarely say v8, and it is the only arm64 variant in use
    return variant or ("v8" if arch == "arm64" else "")


def choose_manifest(index: dict, want: Platform) -> dict:
    """The descriptor in an OCI index / Docker manifest list that suits ``want``."""
    entries = [m for m in index.get("manifests") or [] if isinstance(m, dict)]
    fits = []
    for m in entries:
        p = m.get("platform") or {}
        if p.get("os") != want.os or p.get("architecture") != want.architecture:
            continue
        if want.variant and _variant(want.architecture, p.get("variant", "")) != \
                _variant(want.architecture, want.variant):
            continue
        fits.append(m)
    if not fits:
        offered = sorted({str(Platform((m.get("platform") or {}).get("os", "?"),
                                       (m.get("platform") or {}).get("architecture", "?"),
                                       (m.get("platform") or {}).get("variant", "")))
                          for m in entries})
        raise NotFound(f"no image for platform {want} in this manifest list "
                       f"(it has {', '.join(offered) or 'none'}); choose one with --platform")
    # With no variant asked for, prefer the host's own variant, then the first listed.
    if not want.variant:
        host = host_platform()
        for m in fits:
            if host.architecture == want.architecture and \
                    (m.get("platform") or {}).get("variant", "") == host.variant:
                return m
    return fits[0]


# --- references -------------------------------------------------------------------------

@dataclass(frozen=True)
class RepoRef:
    """A reference split as the distribution API needs it."""

    registry: str        # docker.io, 127.0.0.1:5000
    repository: str      # library/alpine
    tag: str = ""
    digest: str = ""

    @property
    def name(self) -> str:
        return f"{self.registry}/{self.repository}"

    @property
    def reference(self) -> str:
        """What the manifest endpoint is asked for: the digest if there is one, else the tag."""
        return self.digest or self.tag or "latest"

    def __str__(self) -> str:
        if self.digest:
            return f"{self.name}@{self.digest}"
        return f"{self.name}:{self.tag or 'latest'}"


def parse_repo_ref(ref: str, default_tag: bool = True) -> RepoRef:
    """Split ``ref`` with the images area's parser (Docker's normalisation)."""
    from . import reference
    r = reference.parse(ref)
    registry = getattr(r, "registry", None) or getattr(r, "domain")
    repository = getattr(r, "repository", None) or getattr(r, "path")
    tag = getattr(r, "tag", "") or ""
    digest = getattr(r, "digest", "") or ""
    if not tag and not digest and default_tag:
        tag = "latest"
    if digest:
        check_digest(digest)
    return RepoRef(registry, repository, tag, digest)


# --- TLS --------------------------------------------------------------------------------

def certs_dir() -> str:
    return os.environ.get("BERTH_CERTS_DIR") or CERTS_DIR


def ssl_context(host: str, verify: bool = True):
    """The TLS context for ``host``: system CAs plus certs.d's ``*.crt``, and a client
    certificate from ``*.cert``/``*.key`` when there is one, as Docker reads certs.d."""
    import ssl
    if not verify:
        ctx = ssl.create_default_context()
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        return ctx
    ctx = ssl.create_default_context()
    d = os.path.join(certs_dir(), host)
    try:
        names = sorted(os.listdir(d))
    except OSError:
        return ctx
    for n in names:
        path = os.path.join(d, n)
        try:
            if n.endswith(".crt"):
                ctx.load_verify_locations(cafile=path)
            elif n.endswith(".cert"):
                key = path[:-5] + ".key"
                if os.path.exists(key):
                    ctx.load_cert_chain(path, key)
        except (OSError, ssl.SSLError) as e:
            raise RegistryError(f"cannot use certificate {path}: {e}") from e
    return ctx


# --- the client -------------------------------------------------------------------------

def _error_detail(body: bytes) -> tuple[str, str]:
    """(code, message) of a registry's JSON error body, or ('', '') when it has none."""
    try:
        errors = json.loads(body).get("errors") or []
        if errors:
            return str(errors[0].get("code", "")), str(errors[0].get("message", ""))
    except (ValueError, AttributeError):
        pass
    return "", ""


class RegistryClient:
    """One registry, one aiohttp session: ping, auth, manifests, blobs, uploads.

    Use as ``async with RegistryClient(registry, ...) as c``. ``credentials`` is (user, password)
    or None for anonymous access; ``insecure`` allows plain http and skips certificate checks.
    """

    def __init__(self, registry: str, credentials: tuple[str, str] | None = None,
                 insecure: bool = False, progress: Progress | None = None):
        self.registry = registry
        self.host = api_host(registry)
        self.credentials = credentials
        self.insecure = insecure
        self.base = f"https://{self.host}"
        self._session = None
        self._challenge: tuple[str, dict[str, str]] | None = None
        self._tokens: dict[tuple[str, ...], tuple[str, float]] = {}
        self._token_locks: dict[tuple[str, ...], asyncio.Lock] = {}
        self.tokens_fetched = 0

    async def __aenter__(self) -> "RegistryClient":
        await self._open()
        try:
            await self.ping()
        except BaseException:
            await self.close()
            raise
        return self

    async def __aexit__(self, *exc) -> None:
        await self.close()

    async def _open(self, ssl_ctx=None) -> None:
        import aiohttp
        if ssl_ctx is None:
            ssl_ctx = ssl_context(self.host, verify=not self.insecure)
        connector = aiohttp.TCPConnector(ssl=ssl_ctx, limit=16)
        timeout = aiohttp.ClientTimeout(total=None, connect=30, sock_connect=30, sock_read=120)
        self._session = aiohttp.ClientSession(connector=connector, timeout=timeout,
                                              auto_decompress=False,
                                              headers={"User-Agent": "berth/0.1"})

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    # --- connection and auth --------------------------------------------------------
    async def ping(self) -> None:
        """GET /v2/: choose https or http and learn how the registry wants to be asked."""
        import aiohttp
        plain_ok = self.insecure or is_loopback(self.host)
        try:
            # Where http is a fallback, a failed https probe is not worth retrying.
            resp = await self._send("GET", f"{self.base}/v2/", retry=not plain_ok)
        except aiohttp.ClientConnectorCertificateError as e:
            raise RegistryError(
                f"the certificate of {self.host} is not trusted ({e.certificate_error}): put its "
                f"CA in {os.path.join(certs_dir(), self.host, 'ca.crt')} or use "
                "--tls-verify=false") from e
        except (aiohttp.ClientSSLError, aiohttp.ServerDisconnectedError,
                aiohttp.ClientOSError) as e:
            if not plain_ok:
                raise self._unreachable(e) from e
            # A loopback or insecure registry that does not speak TLS: use plain http.
            self.base = f"http://{self.host}"
            try:
                resp = await self._send("GET", f"{self.base}/v2/")
            except (aiohttp.ClientError, asyncio.TimeoutError, OSError) as e2:
                raise self._unreachable(e2) from e2
        except (aiohttp.ClientError, asyncio.TimeoutError, OSError) as e:
            raise self._unreachable(e) from e
        async with resp:
            await resp.read()
            if resp.status == 401:
                header = resp.headers.get("WWW-Authenticate", "")
                self._challenge = parse_challenge(header) if header else ("basic", {})
            elif resp.status >= 400 and resp.status != 404:
                raise RegistryError(f"{self.host} answered /v2/ with HTTP {resp.status}: "
                                    "is it a container registry?")

    def _unreachable(self, e: BaseException) -> RegistryError:
        reason = getattr(e, "os_error", None) or e
        err = getattr(reason, "errno", None)
        text = (os.strerror(err).lower() if isinstance(err, int) and err > 0 else None) or \
            getattr(reason, "strerror", None) or str(reason) or type(e).__name__
        return RegistryError(f"cannot reach registry {self.host}: {text}")

    async def _token(self, scopes: tuple[str, ...], refresh: bool = False) -> str:
        """A bearer token for ``scopes``, fetched once and reused until it expires."""
        lock = self._token_locks.setdefault(scopes, asyncio.Lock())
        async with lock:
            cached = self._tokens.get(scopes)
            if cached and not refresh and cached[1] > time.monotonic():
                return cached[0]
            import aiohttp
            _, params = self._challenge  # type: ignore[misc]
            realm = params.get("realm")
            if not realm:
                raise RegistryError(f"{self.host} asked for a bearer token but named no realm")
            query: list[tuple[str, str]] = []
            if params.get("service"):
                query.append(("service", params["service"]))
            query += [("scope", s) for s in scopes]
            headers = {}
            if self.credentials:
                query.append(("account", self.credentials[0]))
                headers["Authorization"] = self._basic()
            try:
                resp = await self._send("GET", realm, params=query, headers=headers)
                async with resp:
                    body = await resp.read()
            except (aiohttp.ClientError, asyncio.TimeoutError, OSError) as e:
                raise RegistryError(f"cannot reach the token server of {self.host} "
                                    f"({realm}): {e}") from e
            if resp.status in (401, 403):
                raise self._auth_failed()
            if resp.status != 200:
                raise RegistryError(f"the token server of {self.host} answered HTTP "
                                    f"{resp.status}")
            try:
                data = json.loads(body)
                token = data.get("token") or data.get("access_token")
                expires_in = float(data.get("expires_in") or 60)
            except (ValueError, AttributeError, TypeError):
                token = None
            if not token:
                raise RegistryError(f"the token server of {self.host} gave no token")
            self.tokens_fetched += 1
            # Renew a little early so a token never expires between check and use.
            self._tokens[scopes] = (token, time.monotonic() + max(expires_in - 10, 1))
            return token

    def _auth_failed(self) -> AuthError:
        if self.credentials:
            return AuthError(f"wrong username or password for {self.registry}: run "
                             f"berth login {self.registry} again")
        return AuthError(f"{self.registry} requires a login: run berth login {self.registry}")

    def _basic(self) -> str:
        import base64
        user, password = self.credentials  # type: ignore[misc]
        return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()

    async def _auth_header(self, scopes: tuple[str, ...], refresh: bool = False) -> dict:
        if not self._challenge:
            return {}
        scheme, _ = self._challenge
        if scheme == "bearer":
            return {"Authorization": f"Bearer {await self._token(scopes, refresh)}"}
        if scheme == "basic" and self.credentials:
            return {"Authorization": self._basic()}
        return {}

    # --- requests -------------------------------------------------------------------
    async def _send(self, method: str, url, *, data_factory=None, retry: bool = True,
                    **kw):
        """One request, tried again on 429, 5xx and connection failures with backoff.
        ``data_factory`` makes a fresh body for each attempt."""
        import aiohttp
        attempts = RETRIES if retry else 1
        for attempt in range(attempts):
            if data_factory is not None:
                kw["data"] = data_factory()
            try:
                resp = await self._session.request(method, url, **kw)  # type: ignore[union-attr]
            except (aiohttp.ClientConnectorCertificateError, aiohttp.ClientSSLError):
                raise
            except (aiohttp.ClientConnectionError, asyncio.TimeoutError):
                if attempt == attempts - 1:
                    raise
                await asyncio.sleep(RETRY_BASE * 2 ** attempt)
                continue
            if (resp.status == 429 or resp.status >= 500) and attempt < attempts - 1:
                wait = RETRY_BASE * 2 ** attempt
                try:
                    wait = min(max(wait, float(resp.headers.get("Retry-After", 0))),
                               RETRY_AFTER_MAX)
                except ValueError:
                    pass
                resp.release()
                await asyncio.sleep(wait)
                continue
            return resp
        raise AssertionError("unreachable")  # pragma: no cover

    async def request(self, method: str, url, scopes: tuple[str, ...], *, headers=None,
                      **kw):
        """An authorised request: the token for ``scopes`` is added, and fetched anew once if
        the registry refuses it. The caller reads and releases the response."""
        import aiohttp
        if isinstance(url, str) and url.startswith("/"):
            url = self.base + url
        for refresh in (False, True):
            h = {**(headers or {}), **await self._auth_header(scopes, refresh)}
            try:
                resp = await self._send(method, url, headers=h, **kw)
            except (aiohttp.ClientError, asyncio.TimeoutError, OSError) as e:
                raise self._unreachable(e) from e
            if resp.status == 401 and not refresh and self._challenge and \
                    self._challenge[0] == "bearer":
                resp.release()
                continue
            return resp
        return resp

    async def _fail(self, resp, what: str, repo: str = ""):
        """Turn an error response into a berth error naming ``what`` was asked for."""
        body = await resp.read()
        resp.release()
        code, message = _error_detail(body)
        if resp.status == 401 and self._challenge and self._challenge[0] == "basic":
            raise self._auth_failed()
        if resp.status in (401, 403):
            if self.credentials:
                raise AuthError(f"access to {what} denied: the repository does not exist or "
                                f"{self.credentials[0]} may not use it")
            raise AuthError(f"access to {what} denied: the repository does not exist or needs "
                            f"berth login {self.registry}")
        if resp.status == 404 or code in ("NAME_UNKNOWN", "MANIFEST_UNKNOWN", "BLOB_UNKNOWN"):
            if code == "NAME_UNKNOWN":
                raise NotFound(f"repository {repo or what} not found on {self.registry}")
            if code == "MANIFEST_UNKNOWN":
                raise NotFound(f"{what} not found: no such tag or digest in {self.registry}/"
                               f"{repo}")
            raise NotFound(f"{what} not found on {self.registry}")
        detail = f": {message}" if message else ""
        raise RegistryError(f"{self.registry} refused {what}: HTTP {resp.status}"
                            f"{' ' + code if code else ''}{detail}")

    # --- manifests ------------------------------------------------------------------
    async def get_manifest(self, repo: str, reference: str,
                           expect_digest: str | None = None) -> tuple[bytes, str, str]:
        """(bytes, media type, digest) of a manifest, its bytes verified against its digest:
        the one asked for, or the one the registry names in Docker-Content-Digest."""
        what = f"{self.registry}/{repo}{'@' if reference.startswith('sha256:') else ':'}" \
               f"{reference}"
        resp = await self.request("GET", f"/v2/{repo}/manifests/{reference}",
                                  (f"repository:{repo}:pull",), headers={"Accept": ACCEPT})
        if resp.status == 404:
            resp.release()
            # Registries answer MANIFEST_UNKNOWN for a missing repository too; the tag list
            # tells the two apart.
            probe = await self.request("GET", f"/v2/{repo}/tags/list?n=1",
                                       (f"repository:{repo}:pull",))
            probe.release()
            if probe.status == 200:
                kind = "digest" if reference.startswith("sha256:") else "tag"
                raise NotFound(f"{kind} {reference} not found in {self.registry}/{repo}")
            raise NotFound(f"repository {repo} not found on {self.registry}")
        if resp.status != 200:
            await self._fail(resp, what, repo)
        try:
            body = await resp.read()
        except Exception as e:
            raise self._unreachable(e) from e
        finally:
            resp.release()
        digest = sha256_digest(body)
        expected = expect_digest or (reference if reference.startswith("sha256:") else None)
        header = resp.headers.get("Docker-Content-Digest", "")
        if expected and digest != expected:
            raise IntegrityError(f"manifest of {what} does not match its digest {expected} "
                                 f"(got {digest}): refused")
        if not expected and header.startswith("sha256:") and header != digest:
            raise IntegrityError(f"manifest of {what} does not match the digest the registry "
                                 f"gave ({header}, got {digest}): refused")
        media_type = resp.headers.get("Content-Type", "").split(";")[0].strip()
        try:
            doc = json.loads(body)
        except ValueError as e:
            raise RegistryError(f"manifest of {what} is not JSON") from e
        media_type = (doc.get("mediaType") if isinstance(doc, dict) else None) or media_type
        if isinstance(doc, dict) and doc.get("schemaVersion") == 1 or media_type in SCHEMA1:
            raise RegistryError(f"{what} is a Docker schema 1 image, which berth does not "
                                "pull: push it again with a current Docker or skopeo")
        if media_type not in (*INDEX_TYPES, *MANIFEST_TYPES):
            if isinstance(doc, dict) and "manifests" in doc:
                media_type = OCI_INDEX
            elif isinstance(doc, dict) and "layers" in doc and "config" in doc:
                media_type = OCI_MANIFEST
            else:
                raise RegistryError(f"{what} has an unsupported manifest type {media_type!r}")
        return body, media_type, digest

    async def put_manifest(self, repo: str, reference: str, body: bytes,
                           media_type: str) -> str:
        what = f"manifest {self.registry}/{repo}:{reference}"
        resp = await self.request("PUT", f"/v2/{repo}/manifests/{reference}",
                                  (f"repository:{repo}:pull,push",),
                                  headers={"Content-Type": media_type}, data=body)
        if resp.status not in (200, 201, 202):
            await self._fail(resp, what, repo)
        resp.release()
        return resp.headers.get("Docker-Content-Digest") or sha256_digest(body)

    async def tags(self, repo: str) -> list[str]:
        """Every tag of ``repo``, following the registry's pagination."""
        out: list[str] = []
        url: Any = f"/v2/{repo}/tags/list?n=1000"
        while url:
            resp = await self.request("GET", url, (f"repository:{repo}:pull",))
            if resp.status != 200:
                await self._fail(resp, f"the tags of {self.registry}/{repo}", repo)
            data = json.loads(await resp.read())
            resp.release()
            out += data.get("tags") or []
            url = self._next_link(resp)
        return out

    async def catalog(self, limit: int = 1000) -> list[str]:
        out: list[str] = []
        url: Any = f"/v2/_catalog?n={min(max(limit, 1), 1000)}"
        while url:
            resp = await self.request("GET", url, ("registry:catalog:*",))
            if resp.status in (401, 403, 404, 405):
                resp.release()
                raise RegistryError(f"{self.registry} does not offer its catalog for search")
            if resp.status != 200:
                await self._fail(resp, f"the catalog of {self.registry}")
            data = json.loads(await resp.read())
            resp.release()
            out += data.get("repositories") or []
            url = self._next_link(resp)
        return out

    def _next_link(self, resp):
        link = resp.headers.get("Link", "")
        m = re.search(r"<([^>]+)>\s*;\s*rel=\"?next\"?", link)
        if not m:
            return None
        from yarl import URL
        return resp.url.join(URL(m.group(1)))

    # --- blobs ----------------------------------------------------------------------
    async def fetch_blob(self, repo: str, digest: str, size: int, partial: str,
                         progress: Callable[[int, int], None] | None = None,
                         tee: Callable[[bytes | None], bool] | None = None) -> str:
        """Download blob ``digest`` into the file ``partial``, resuming what an earlier,
        interrupted download left there with a Range request; returns the path once the
        bytes match the digest. A mismatch removes the file and raises IntegrityError.

        ``tee`` sees the blob's bytes in order as they arrive, from the first (so a layer can
        be unpacked while it downloads); it is told ``None`` when that order breaks (a
        download that resumes an earlier one, or a server that ignores Range), and stops
        being called when it returns False."""
        resumed = os.path.exists(partial) and os.path.getsize(partial) > 0
        if resumed and tee:
            tee(None)
            tee = None
        try:
            return await self._fetch_blob(repo, digest, size, partial, progress, tee)
        except IntegrityError:
            if not resumed:
                raise
            # What an earlier download left was not a prefix of this blob (the mismatch
            # removed it): start afresh once.
            return await self._fetch_blob(repo, digest, size, partial, progress, None)

    async def _fetch_blob(self, repo: str, digest: str, size: int, partial: str,
                          progress: Callable[[int, int], None] | None,
                          tee: Callable[[bytes | None], bool] | None = None) -> str:
        import aiohttp
        hexpart = check_digest(digest).partition(":")[2]
        h = hashlib.sha256()
        offset = 0
        if os.path.exists(partial):
            with open(partial, "rb") as f:
                while chunk := f.read(1 << 20):
                    h.update(chunk)
                    offset += len(chunk)
            if size and offset > size:
                os.truncate(partial, 0)
                h, offset = hashlib.sha256(), 0
        failures = 0
        while not (size and offset == size):
            headers = {"Range": f"bytes={offset}-"} if offset else {}
            resp = await self.request("GET", f"/v2/{repo}/blobs/{digest}",
                                      (f"repository:{repo}:pull",), headers=headers)
            if resp.status == 416 and offset:
                # The server has no bytes past ours: what we hold is the whole blob or junk.
                resp.release()
                break
            if resp.status not in (200, 206):
                await self._fail(resp, f"blob {digest} of {self.registry}/{repo}", repo)
            if resp.status == 206:
                start = re.match(r"bytes (\d+)-", resp.headers.get("Content-Range", ""))
                if not start or int(start.group(1)) != offset:
                    resp.release()
                    raise RegistryError(f"{self.registry} answered a resumed download of "
                                        f"{digest} with the wrong range")
            elif offset:
                # The server ignored Range: start again from the first byte.
                h, offset = hashlib.sha256(), 0
                os.truncate(partial, 0)
                if tee:
                    tee(None)
                    tee = None
            try:
                with open(partial, "ab") as f:
                    async for chunk in resp.content.iter_chunked(CHUNK):
                        f.write(chunk)
                        h.update(chunk)
                        offset += len(chunk)
                        if tee and not tee(chunk):
                            tee = None
                        if size and offset > size:
                            break
                        if progress:
                            progress(offset, size)
                if not size:
                    break
                if offset < size:
                    raise aiohttp.ClientPayloadError("the connection closed early")
            except (aiohttp.ClientPayloadError, aiohttp.ClientConnectionError,
                    asyncio.TimeoutError) as e:
                failures += 1
                if failures >= RETRIES:
                    raise RegistryError(
                        f"download of {digest[:19]} from {self.registry} broke off at "
                        f"{offset} of {size} bytes ({e or type(e).__name__}): pull again to "
                        "resume it") from e
                await asyncio.sleep(RETRY_BASE * 2 ** (failures - 1))
                continue
            finally:
                resp.release()
            if size and offset > size:
                break
        if h.hexdigest() != hexpart or (size and offset != size):
            try:
                os.unlink(partial)
            except FileNotFoundError:
                pass
            raise IntegrityError(f"blob {digest} from {self.registry}/{repo} does not match its "
                                 f"digest (got sha256:{h.hexdigest()}, {offset} bytes): refused")
        return partial

    async def blob_exists(self, repo: str, digest: str) -> bool:
        resp = await self.request("HEAD", f"/v2/{repo}/blobs/{digest}",
                                  (f"repository:{repo}:pull,push",))
        resp.release()
        if resp.status in (200, 307):
            return True
        if resp.status == 404:
            return False
        if resp.status in (401, 403):
            raise self._push_denied(repo)
        raise RegistryError(f"{self.registry} answered HEAD of blob {digest} with HTTP "
                            f"{resp.status}")

    def _push_denied(self, repo: str) -> AuthError:
        if self.credentials:
            return AuthError(f"{self.credentials[0]} may not push to {self.registry}/{repo}")
        return AuthError(f"pushing to {self.registry}/{repo} needs a login: run berth login "
                         f"{self.registry}")

    async def mount_blob(self, repo: str, digest: str, source_repo: str) -> bool:
        """Ask the registry to link a blob it holds for ``source_repo`` into ``repo``."""
        resp = await self.request(
            "POST", f"/v2/{repo}/blobs/uploads/",
            (f"repository:{repo}:pull,push", f"repository:{source_repo}:pull"),
            params={"mount": digest, "from": source_repo})
        resp.release()
        if resp.status == 201:
            return True
        if resp.status == 202:
            # The registry opened an upload instead; cancel it, a fresh one follows.
            loc = resp.headers.get("Location")
            if loc:
                r = await self.request("DELETE", self._join(loc),
                                       (f"repository:{repo}:pull,push",))
                r.release()
        return False

    def _join(self, location: str):
        from yarl import URL
        return URL(self.base).join(URL(location))

    async def upload_blob(self, repo: str, digest: str, path: str, size: int,
                          chunk_size: int = PUSH_CHUNK_SIZE,
                          progress: Callable[[int, int], None] | None = None) -> None:
        """Upload the file ``path`` as blob ``digest``: in one PUT when it fits in
        ``chunk_size``, otherwise in PATCHed chunks closed by a PUT."""
        scopes = (f"repository:{repo}:pull,push",)
        resp = await self.request("POST", f"/v2/{repo}/blobs/uploads/", scopes)
        if resp.status != 202:
            if resp.status in (401, 403):
                resp.release()
                raise self._push_denied(repo)
            await self._fail(resp, f"an upload to {self.registry}/{repo}", repo)
        resp.release()
        location = self._join(resp.headers["Location"])
        sent = 0

        def reader(start: int, length: int):
            def make():
                async def gen():
                    with open(path, "rb") as f:
                        f.seek(start)
                        left = length
                        done = start
                        while left > 0:
                            data = f.read(min(CHUNK * 8, left))
                            if not data:
                                break
                            left -= len(data)
                            done += len(data)
                            yield data
                            if progress:
                                progress(done, size)
                return gen()
            return make

        if size <= chunk_size:
            resp = await self.request(
                "PUT", location.update_query({"digest": digest}), scopes,
                headers={"Content-Type": "application/octet-stream",
                         "Content-Length": str(size)},
                data_factory=reader(0, size))
        else:
            while sent < size:
                n = min(chunk_size, size - sent)
                resp = await self.request(
                    "PATCH", location, scopes,
                    headers={"Content-Type": "application/octet-stream",
                             "Content-Range": f"{sent}-{sent + n - 1}",
                             "Content-Length": str(n)},
                    data_factory=reader(sent, n), retry=False)
                if resp.status != 202:
                    await self._fail(resp, f"a chunk of {digest} to {self.registry}/{repo}",
                                     repo)
                resp.release()
                location = self._join(resp.headers["Location"])
                sent += n
            resp = await self.request("PUT", location.update_query({"digest": digest}),
                                      scopes, headers={"Content-Length": "0"}, data=b"")
        if resp.status not in (201, 204):
            await self._fail(resp, f"the upload of {digest} to {self.registry}/{repo}", repo)
        resp.release()


# --- the edge: lower libraries' errors become berth's ------------------------------------

def at_the_edge(fn):
    """Wrap a coroutine function so aiohttp's, ssl's and the OS's errors that slipped past the
    client's own handling still reach the user as one RegistryError line."""
    import functools

    @functools.wraps(fn)
    async def wrapper(*args, **kw):
        import aiohttp
        try:
            return await fn(*args, **kw)
        except (aiohttp.ClientError, asyncio.TimeoutError) as e:
            raise RegistryError(f"registry connection failed: {e or type(e).__name__}") from e
        except OSError as e:
            if isinstance(e, (FileNotFoundError, PermissionError)) and e.filename:
                from ..errors import host_error
                raise host_error(f"cannot use {e.filename}", e) from e
            raise RegistryError(f"registry connection failed: {e.strerror or e}") from e
    return wrapper


# --- pull ---------------------------------------------------------------------------------

def _short(digest: str) -> str:
    return digest.partition(":")[2][:12]


class _Reporter:
    """Sends Docker-style JSON progress messages to ``progress``, never letting a broken
    callback break a pull, and thinning the byte counts out to a readable rate."""

    def __init__(self, progress: Progress | None):
        self.progress = progress
        self._last: dict[str, float] = {}

    def __call__(self, status: str, id: str = "", current: int | None = None,
                 total: int | None = None) -> None:
        if not self.progress:
            return
        msg: dict[str, Any] = {"status": status}
        if id:
            msg["id"] = id
        if current is not None:
            msg["progressDetail"] = {"current": current, "total": total or 0}
        self.progress(msg)

    def bytes(self, status: str, id: str, current: int, total: int) -> None:
        if not self.progress:
            return
        now = time.monotonic()
        if current < total and now - self._last.get(id, 0) < 0.05:
            return
        self._last[id] = now
        self(status, id, current, total)


def _blob_lock(path: str) -> int:
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    fcntl.flock(fd, fcntl.LOCK_EX)
    return fd


async def _download(client: RegistryClient, images, repo: str, desc: dict, tmp: str,
                    report: _Reporter, sem: asyncio.Semaphore, show: bool,
                    tee: Callable[[bytes | None], bool] | None = None) -> None:
    """Fetch one blob into the content store, unless it is there already."""
    digest = check_digest(desc["digest"])
    size = int(desc.get("size") or 0)
    sid = _short(digest)
    async with sem:
        partial = os.path.join(tmp, f"pull-{digest.partition(':')[2]}")
        # Another berth pulling the same blob holds this lock; wait, then reuse its work.
        lock_fd = await asyncio.to_thread(_blob_lock, partial + ".lock")
        try:
            if images.has_blob(digest):
                return
            path = await client.fetch_blob(
                repo, digest, size, partial + ".partial",
                (lambda cur, tot: report.bytes("Downloading", sid, cur, tot)) if show else None,
                tee)
            if show:
                report("Verifying Checksum", sid)
            await asyncio.to_thread(images.ingest_blob, path, digest, desc.get("mediaType"))
            if show:
                report("Download complete", sid)
        finally:
            os.close(lock_fd)
            try:
                os.unlink(partial + ".lock")
            except FileNotFoundError:
                pass


@at_the_edge
async def pull_image(store, ref: str, platform: str | None = None,
                     progress: Progress | None = None, all_tags: bool = False,
                     insecure: bool = False):
    """Pull ``ref`` into ``store`` and return the Image (for --all-tags, the one tagged
    'latest' if there is one, else the last pulled)."""
    from .auth import get_credentials
    from .store import ImageStore

    r = parse_repo_ref(ref, default_tag=not all_tags)
    want = parse_platform(platform)
    images = ImageStore(store)
    report = _Reporter(progress)
    async with RegistryClient(r.registry, get_credentials(r.registry), insecure) as client:
        if not all_tags:
            return await _pull_one(client, images, store, r, want, bool(platform), report)
        if r.tag or r.digest:
            raise InvalidArgument("--all-tags takes a repository name without a tag or digest")
        tags = await client.tags(r.repository)
        if not tags:
            raise NotFound(f"repository {r.name} has no tags")
        result = None
        for tag in tags:
            image = await _pull_one(client, images, store,
                                    RepoRef(r.registry, r.repository, tag), want,
                                    bool(platform), report)
            if tag == "latest" or result is None or result[0] != "latest":
                result = (tag, image)
        return result[1]  # type: ignore[index]


async def _pull_one(client: RegistryClient, images, store, r: RepoRef, want: Platform,
                    explicit_platform: bool, report: _Reporter):
    body, media_type, top_digest = await client.get_manifest(r.repository, r.reference)
    # After the manifest, as Docker does: a name that does not resolve prints only the error.
    report(f"Pulling from {r.repository}", r.tag or r.digest)
    digest = top_digest
    from_index = media_type in INDEX_TYPES
    if from_index:
        desc = choose_manifest(json.loads(body), want)
        body, media_type, digest = await client.get_manifest(
            r.repository, check_digest(desc["digest"]), expect_digest=desc["digest"])
        if media_type in INDEX_TYPES:
            raise RegistryError(f"{r} is an index of indexes, which berth does not pull")
    manifest = json.loads(body)
    try:
        config = manifest["config"]
        layers = list(manifest.get("layers") or [])
        check_digest(config["digest"])
        for layer in layers:
            check_digest(layer["digest"])
    except (KeyError, TypeError) as e:
        raise RegistryError(f"manifest of {r} is malformed: {e}") from e

    for layer in layers:
        sid = _short(layer["digest"])
        report("Already exists" if images.has_blob(layer["digest"]) else "Pulling fs layer", sid)

    tmp = store.path("tmp")
    sem = asyncio.Semaphore(PARALLEL_BLOBS)
    # The config first (it is small): its diff_ids let each layer be unpacked the moment its
    # blob is verified, while the others still download.
    await _download(client, images, r.repository, config, tmp, report, sem, False)
    with open(images.blob_path(config["digest"]), "rb") as f:
        config_bytes = f.read()
    if explicit_platform and not from_index:
        # A single-platform image must be what --platform asked for; an index entry is taken
        # at its word, as Docker does.
        cfg = json.loads(config_bytes)
        got = Platform(cfg.get("os", ""), cfg.get("architecture", ""), cfg.get("variant", ""))
        if (got.os, got.architecture) != (want.os, want.architecture):
            raise NotFound(f"{r} is for {got}, not the platform {want} asked for")
    plan = _unpack_plan(images, config_bytes, layers)
    made: list[str] = []
    fetched = {layer["digest"] for layer in layers if not images.has_blob(layer["digest"])}
    completed: set[str] = set()

    async def layer_task(i: int, layer: dict) -> None:
        digest = layer["digest"]
        streamed = False
        if not images.has_blob(digest):
            feed = None
            if plan and STREAM_BUFFER and not images.has_layer(plan[i][0]):
                feed = _Feed(int(layer.get("size") or 0))
                # A thread of its own: an unpacker waiting for bytes must not hold one of the
                # default executor's, which the downloads need for their locks and ingests.
                unpacking = asyncio.get_running_loop().run_in_executor(
                    _unpack_pool(), _unpack_layer, images, *plan[i], digest, made, feed)
            try:
                await _download(client, images, r.repository, layer, tmp, report, sem, True,
                                feed.push if feed else None)
            except BaseException:
                if feed:
                    feed.abort()
                    await asyncio.gather(unpacking, return_exceptions=True)
                raise
            if feed:
                feed.finish()
                streamed = await unpacking
        if plan and not streamed:
            chain, diff_id, parent = plan[i]
            if not images.has_layer(chain):
                report("Extracting", _short(digest))
                await asyncio.to_thread(_unpack_layer, images, chain, diff_id, parent,
                                        digest, made)
            if layer["digest"] in fetched:
                completed.add(layer["digest"])
                report("Pull complete", _short(layer["digest"]))

    tasks = [asyncio.ensure_future(layer_task(i, layer)) for i, layer in enumerate(layers)]
    try:
        try:
            await asyncio.gather(*tasks)
        except BaseException:
            for t in tasks:
                t.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            raise
    except BaseException:
        # Verified blobs stay for the next pull; layers unpacked for no image go.
        if made:
            images.discard_unused([], made)
        raise

    name = r.name
    existing = _existing_image(images, config["digest"])
    tags = [f"{name}:{r.tag}"] if r.tag and not r.digest else []
    try:
        image = await asyncio.to_thread(images.add_image, body, config_bytes, tags,
                                        f"{name}@{top_digest}")
    except BaseException:
        if made:
            images.discard_unused([], made)
        raise
    for layer in layers:
        if layer["digest"] in fetched and layer["digest"] not in completed:
            completed.add(layer["digest"])
            report("Pull complete", _short(layer["digest"]))
    report(f"Digest: {top_digest}")
    shown = f"{name}:{r.tag}" if r.tag and not r.digest else f"{name}@{r.digest}"
    if existing and (not tags or tags[0] in existing.repo_tags):
        report(f"Status: Image is up to date for {shown}")
    else:
        report(f"Status: Downloaded newer image for {shown}")
    return image


def _unpack_plan(images, config_bytes: bytes, layers: list[dict]):
    """(chain id, diff_id, parent chain id) per layer, or None when the config's diff_ids do
    not fit the manifest (add_image then refuses the image with the reason)."""
    from .blobs import chain_ids
    try:
        diff_ids = list(json.loads(config_bytes)["rootfs"]["diff_ids"])
    except (ValueError, KeyError, TypeError):
        return None
    if len(diff_ids) != len(layers) or not hasattr(images, "_unpack_into_place"):
        return None
    chains = chain_ids(diff_ids)
    return [(c, d, chains[i - 1] if i else "") for i, (c, d) in enumerate(zip(chains, diff_ids))]


def _unpack_layer(images, chain: str, diff_id: str, parent: str, digest: str,
                  made: list[str], feed: "_Feed | None" = None) -> bool:
    """Unpack one layer into place, checked against its diff_id, ahead of add_image (which
    then finds it there): from the verified blob, or from ``feed`` while it downloads.
    False when the feed gave up (the blob is then unpacked once it is in the store)."""
    try:
        _, new = images._unpack_into_place(chain, diff_id, parent,
                                           feed if feed is not None else digest)
    except _FeedAborted:
        return False
    except IntegrityError as e:
        raise IntegrityError(f"layer {digest[7:19]}: {e}") from None
    finally:
        if feed is not None:
            feed.close()
    if new:
        made.append(chain)
    return True


def _unpack_pool():
    """Threads for unpacking layers as they stream in (one per layer at most)."""
    global _POOL
    if _POOL is None:
        from concurrent.futures import ThreadPoolExecutor
        _POOL = ThreadPoolExecutor(max_workers=PARALLEL_BLOBS, thread_name_prefix="unpack")
    return _POOL


_POOL = None


class _FeedAborted(BaseException):
    """Raised in the unpacking thread when the download stops feeding it. A BaseException so
    the unpacker's own error handling (which maps Exceptions to IntegrityError) lets it
    through, while its cleanup still runs."""


class _Feed:
    """The bytes of a downloading layer, handed from the event loop to an unpacking thread.
    The download never waits for the unpacker: when the unpacker falls more than
    STREAM_BUFFER bytes behind, the feed gives up and the layer is unpacked from the stored
    blob instead, so memory stays bounded."""

    def __init__(self, size: int):
        import queue
        import threading
        self.q: "queue.SimpleQueue" = queue.SimpleQueue()
        self.lock = threading.Lock()
        self.size, self.fed, self.queued = size, 0, 0
        self.dead = False
        self.eof = False
        self.buf = b""

    # the event loop's side
    def push(self, chunk: bytes | None) -> bool:
        if self.dead:
            return False
        if chunk is None:
            self.abort()
            return False
        with self.lock:
            if self.queued + len(chunk) > STREAM_BUFFER:
                self.dead = True
        if self.dead:
            self.q.put(_FeedAborted)
            return False
        with self.lock:
            self.queued += len(chunk)
        self.fed += len(chunk)
        self.q.put(chunk)
        return True

    def finish(self) -> None:
        """The download is verified and complete: end the stream, or abort it if the feed
        did not see every byte from the first."""
        if not self.dead and self.size and self.fed == self.size:
            self.q.put(b"")
        else:
            self.abort()

    def abort(self) -> None:
        self.dead = True
        self.q.put(_FeedAborted)

    # the unpacking thread's side
    def close(self) -> None:
        """The unpacker is done with the feed (it may not have read it at all)."""
        self.dead = True

    def _fill(self) -> None:
        if self.buf or self.eof:
            return
        item = self.q.get()
        if item is _FeedAborted:
            self.q.put(_FeedAborted)   # every later read fails the same way
            raise _FeedAborted()
        with self.lock:
            self.queued -= len(item)
        self.buf = item
        self.eof = not item

    def peek(self, n: int = 0) -> bytes:
        self._fill()
        return self.buf

    def read(self, n: int = -1) -> bytes:
        self._fill()
        if n < 0 or n >= len(self.buf):
            out, self.buf = self.buf, b""
        else:
            out, self.buf = self.buf[:n], self.buf[n:]
        return out


def _existing_image(images, image_id: str):
    try:
        return images.resolve(image_id)
    except Exception:  # not there (NotFound), or a store that cannot say: treat as new
        return None


# --- push ---------------------------------------------------------------------------------

def _image_manifest(images, image) -> tuple[bytes, str]:
    """The manifest to push for a local image: the one it came with when the store has it,
    else an OCI manifest made from its config and layers."""
    if image.manifest_digest and images.has_blob(image.manifest_digest):
        with open(images.blob_path(image.manifest_digest), "rb") as f:
            body = f.read()
        try:
            doc = json.loads(body)
            if doc.get("config", {}).get("digest") == image.id:
                return body, doc.get("mediaType") or OCI_MANIFEST
        except (ValueError, AttributeError):
            pass
    config_size = os.path.getsize(images.blob_path(image.id))
    layers = []
    for i, d in enumerate(image.layers):
        mt = (image.layer_media_types[i] if i < len(image.layer_media_types)
              else "application/vnd.oci.image.layer.v1.tar+gzip")
        layers.append({"mediaType": mt, "digest": d, "size": os.path.getsize(images.blob_path(d))})
    doc = {"schemaVersion": 2, "mediaType": OCI_MANIFEST,
           "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                      "digest": image.id, "size": config_size},
           "layers": layers}
    return json.dumps(doc, separators=(",", ":")).encode(), OCI_MANIFEST


def _mount_sources(image, r: RepoRef) -> list[str]:
    """Other repositories of the same registry this image came from or went to."""
    out = []
    for name in [*image.repo_digests, *image.repo_tags]:
        base = name.split("@", 1)[0]
        if ":" in base.rsplit("/", 1)[-1]:
            base = base.rsplit(":", 1)[0]
        registry, _, repo = base.partition("/")
        if registry == r.registry and repo and repo != r.repository and repo not in out:
            out.append(repo)
    return out


@at_the_edge
async def push_image(store, ref: str, progress: Progress | None = None, insecure: bool = False,
                     chunk_size: int | None = None) -> str:
    """Push the local image ``ref`` to its registry; returns the manifest digest."""
    from .auth import get_credentials
    from .store import ImageStore

    r = parse_repo_ref(ref)
    if r.digest:
        raise InvalidArgument(f"cannot push to a digest ({ref}): push a tag")
    images = ImageStore(store)
    image = images.resolve(ref)
    body, media_type = _image_manifest(images, image)
    manifest = json.loads(body)
    blobs = [*manifest.get("layers", []), manifest["config"]]
    if chunk_size is None:
        chunk_size = int(os.environ.get("BERTH_PUSH_CHUNK_SIZE") or PUSH_CHUNK_SIZE)
    report = _Reporter(progress)
    sources = _mount_sources(image, r)
    report(f"The push refers to repository [{r.name}]")
    async with RegistryClient(r.registry, get_credentials(r.registry), insecure) as client:
        sem = asyncio.Semaphore(PARALLEL_BLOBS)

        async def one(desc: dict) -> None:
            digest = desc["digest"]
            sid = _short(digest)
            is_layer = desc is not manifest["config"]
            path = images.blob_path(digest)
            if not os.path.exists(path):
                raise NotFound(f"blob {digest} of {ref} is missing from the store")
            size = os.path.getsize(path)
            async with sem:
                if is_layer:
                    report("Preparing", sid)
                if await client.blob_exists(r.repository, digest):
                    if is_layer:
                        report("Layer already exists", sid)
                    return
                for source in sources:
                    if await client.mount_blob(r.repository, digest, source):
                        if is_layer:
                            report(f"Mounted from {source}", sid)
                        return
                await client.upload_blob(
                    r.repository, digest, path, size, chunk_size,
                    (lambda cur, tot: report.bytes("Pushing", sid, cur, tot)) if is_layer
                    else None)
                if is_layer:
                    report("Pushed", sid)

        tasks = [asyncio.ensure_future(one(d)) for d in blobs]
        try:
            await asyncio.gather(*tasks)
        except BaseException:
            for t in tasks:
                t.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            raise
        digest = await client.put_manifest(r.repository, r.tag or "latest", body, media_type)
    if digest == sha256_digest(body):
        # Record where the image now lives, as Docker adds a RepoDigest after a push.
        with open(images.blob_path(image.id), "rb") as f:
            config_bytes = f.read()
        await asyncio.to_thread(images.add_image, body, config_bytes, [], f"{r.name}@{digest}")
    report(f"{r.tag or 'latest'}: digest: {digest} size: {len(body)}")
    return digest


# --- search -------------------------------------------------------------------------------

@at_the_edge
async def search(term: str, registry: str | None = None, limit: int = 25,
                 insecure: bool = False) -> list[dict]:
    """Repositories of ``registry`` whose name contains ``term``, from its /v2/_catalog;
    the registry may also be given as a prefix of the term (``127.0.0.1:5000/busy``)."""
    from .auth import get_credentials
    first, _, rest = term.partition("/")
    if registry is None and rest and ("." in first or ":" in first or first == "localhost"):
        registry, term = first, rest
    if registry is None:
        registry = DOCKER_HUB
    if limit < 1:
        raise InvalidArgument("--limit must be at least 1")
    if registry == DOCKER_HUB:
        return await _hub_search(term, limit)
    async with RegistryClient(registry, get_credentials(registry), insecure) as client:
        names = await client.catalog()
    hits = [n for n in names if term.lower() in n.lower()]
    return [{"name": f"{registry}/{n}", "description": "", "star_count": 0,
             "is_official": False, "is_automated": False} for n in hits[:limit]]


async def _hub_search(term: str, limit: int) -> list[dict]:
    """Docker Hub has no catalog; it has the v1 search endpoint that ``docker search`` uses."""
    import aiohttp
    try:
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30)) as s:
            async with s.get("https://index.docker.io/v1/search",
                             params={"q": term, "n": str(limit)}) as resp:
                if resp.status != 200:
                    raise RegistryError(f"Docker Hub search answered HTTP {resp.status}")
                data = await resp.json(content_type=None)
    except (aiohttp.ClientError, asyncio.TimeoutError, OSError) as e:
        raise RegistryError(f"cannot reach Docker Hub's search: {e}") from e
    return [{"name": x.get("name", ""), "description": x.get("description", ""),
             "star_count": x.get("star_count", 0), "is_official": x.get("is_official", False),
             "is_automated": x.get("is_automated", False)}
            for x in (data.get("results") or [])[:limit]]


@at_the_edge
async def check_login(registry: str, username: str, password: str,
                      insecure: bool = False) -> None:
    """Prove ``username``/``password`` against ``registry`` (AuthError when refused)."""
    async with RegistryClient(registry, (username, password), insecure) as client:
        if not client._challenge:
            return
        scheme, _ = client._challenge
        if scheme == "bearer":
            # Docker Hub's flow: any token request with Basic credentials checks them.
            await client._token(())
            return
        resp = await client.request("GET", "/v2/", ())
        resp.release()
        if resp.status == 401:
            raise client._auth_failed()
