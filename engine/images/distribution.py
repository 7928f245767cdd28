"""The OCI distribution client's connection to one registry: the session, TLS, auth, retries,
authorised requests and the mapping of error answers to berth's errors.

``DistributionClient`` speaks the protocol's transport: the ``/v2/`` ping, Basic auth and the
bearer-token challenge (realm, service, scope; anonymous or with saved credentials; a token
reused until it expires), retries of 429 and 5xx with backoff, and redirects.
``RegistryClient`` (registry_client.py) adds the endpoints: manifests, tags, catalog, blobs.

Transport policy: https always, with the system's CAs plus any in
``$BERTH_CERTS_DIR/HOST:PORT/*.crt`` (default ``/etc/berth/certs.d``, as Docker's certs.d).
Plain http only for loopback registries (127.0.0.0/8, localhost, ::1), which are tried with https
first, and for registries named insecure (``--tls-verify=false``), which also skip certificate
checks.
"""

from __future__ import annotations

import json
import os
import re
import threading
import time
from collections import namedtuple

from ..errors import AuthError, NotFound, RegistryError
from .manifests import check_digest
from .transfer import Progress

DOCKER_HUB = "docker.io"
DOCKER_HUB_API = "registry-1.docker.io"
CERTS_DIR = "/etc/berth/certs.d"

# How often a request is tried when the registry is busy (429), failing (5xx) or unreachable;
# the waits double from RETRY_BASE seconds. Kept short: a user waiting on a dead registry wants
# to hear so within seconds.
RETRIES = 4
RETRY_BASE = 0.25
RETRY_AFTER_MAX = 10.0


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



def parse_challenge(header: str) -> tuple[str, dict[str, str]]:
    """('bearer'|'basic', params) from a WWW-Authenticate header."""
    scheme, _, rest = header.strip().partition(" ")
    params = {k.lower(): v for k, v in re.findall(r'(\w+)="([^"]*)"', rest)}
    return scheme.lower(), params



# --- references -------------------------------------------------------------------------

class RepoRef(namedtuple("RepoRef", "registry repository tag digest", defaults=("", ""))):
    """A reference split as the distribution API needs it: registry (docker.io,
    127.0.0.1:5000), repository (library/alpine), tag, digest. A named tuple, as Platform."""

    __slots__ = ()

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
    """The TLS setting for ``host``'s connector: system CAs plus certs.d's ``*.crt``, and a
    client certificate from ``*.cert``/``*.key`` when there is one, as Docker reads certs.d.
    Without a certs.d directory it is True or False, the HTTP client's own verifying or
    non-verifying context (httpclient.py), made once and only when https is tried: reading the
    system's CA bundle costs 15-25 ms."""
    d = os.path.join(certs_dir(), host)
    try:
        names = sorted(os.listdir(d))
    except OSError:
        return verify
    import ssl
    ctx = ssl.create_default_context()
    if not verify:
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
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


# --- the connection ---------------------------------------------------------------------

def _error_detail(body: bytes) -> tuple[str, str]:
    """(code, message) of a registry's JSON error body, or ('', '') when it has none."""
    try:
        errors = json.loads(body).get("errors") or []
        if errors:
            return str(errors[0].get("code", "")), str(errors[0].get("message", ""))
    except (ValueError, AttributeError):
        pass
    return "", ""


class DistributionClient:
    """One registry, one HTTP session (httpclient.py): ping, auth, retried and authorised
    requests.

    ``RegistryClient`` (registry_client.py) is this plus the endpoints; use it as
    ``with RegistryClient(registry, ...) as c``. ``credentials`` is (user, password) or
    None for anonymous access; ``insecure`` allows plain http and skips certificate checks.
    """

    def __init__(self, registry: str, credentials: tuple[str, str] | None = None,
                 insecure: bool = False, progress: Progress | None = None):
        self.registry = registry
        self.host = api_host(registry)
        self.credentials = credentials
        self.insecure = insecure
        self.base = f"https://{self.host}"
        self._session = None
        self._aborted = False
        self._challenge: tuple[str, dict[str, str]] | None = None
        self._tokens: dict[tuple[str, ...], tuple[str, float]] = {}
        self._token_locks: dict[tuple[str, ...], threading.Lock] = {}
        self._locks_lock = threading.Lock()
        self.tokens_fetched = 0

    def __enter__(self) -> "DistributionClient":
        self._open()
        try:
            self.ping()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def abort(self) -> None:
        """End every request in flight (from any thread): httpclient.Aborted in each, and in
        any made after."""
        self._aborted = True
        if self._session is not None:
            self._session.abort()

    def _open(self, ssl_ctx=None) -> None:
        from . import httpclient
        if ssl_ctx is None:
            ssl_ctx = ssl_context(self.host, verify=not self.insecure)
        self._session = httpclient.Session(ssl=ssl_ctx, headers={"User-Agent": "berth/0.1"})
        if self._aborted:
            self._session.abort()

    def close(self) -> None:
        if self._session is not None:
            self._session.close()
            self._session = None

    # --- connection and auth --------------------------------------------------------
    def ping(self) -> None:
        """GET /v2/: choose https or http and learn how the registry wants to be asked."""
        from . import httpclient as http
        plain_ok = self.insecure or is_loopback(self.host)
        if plain_ok and self._session.ssl is True:
            # a handshake alone says whether https is spoken here; a plain-http registry
            # then costs no reading of the CA bundle
            from urllib.parse import urlsplit
            where = urlsplit(f"https://{self.host}")
            if not self._session.speaks_tls(where.hostname or self.host, where.port or 443):
                self.base = f"http://{self.host}"
        try:
            # Where http is a fallback, a failed https probe is not worth retrying.
            resp = self._send("GET", f"{self.base}/v2/", retry=not plain_ok)
        except http.ClientConnectorCertificateError as e:
            raise RegistryError(
                f"the certificate of {self.host} is not trusted ({e.certificate_error}): put its "
                f"CA in {os.path.join(certs_dir(), self.host, 'ca.crt')} or use "
                "--tls-verify=false") from e
        except (http.ClientSSLError, http.ServerDisconnectedError,
                http.ClientConnectorError) as e:
            if not plain_ok:
                raise self._unreachable(e) from e
            # A loopback or insecure registry that does not speak TLS: use plain http.
            self.base = f"http://{self.host}"
            try:
                resp = self._send("GET", f"{self.base}/v2/")
            except (http.ClientError, TimeoutError, OSError) as e2:
                raise self._unreachable(e2) from e2
        except (http.ClientError, TimeoutError, OSError) as e:
            raise self._unreachable(e) from e
        with resp:
            resp.read()
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

    def _token(self, scopes: tuple[str, ...], refresh: bool = False) -> str:
        """A bearer token for ``scopes``, fetched once and reused until it expires."""
        with self._locks_lock:
            lock = self._token_locks.setdefault(scopes, threading.Lock())
        with lock:
            cached = self._tokens.get(scopes)
            if cached and not refresh and cached[1] > time.monotonic():
                return cached[0]
            from . import httpclient as http
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
                resp = self._send("GET", realm, params=query, headers=headers)
                with resp:
                    body = resp.read()
            except (http.ClientError, TimeoutError, OSError) as e:
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

    def _auth_header(self, scopes: tuple[str, ...], refresh: bool = False) -> dict:
        if not self._challenge:
            return {}
        scheme, _ = self._challenge
        if scheme == "bearer":
            return {"Authorization": f"Bearer {self._token(scopes, refresh)}"}
        if scheme == "basic" and self.credentials:
            return {"Authorization": self._basic()}
        return {}

    # --- requests -------------------------------------------------------------------
    def _send(self, method: str, url, *, data_factory=None, retry: bool = True,
              **kw):
        """One request, tried again on 429, 5xx and connection failures with backoff.
        ``data_factory`` makes a fresh body for each attempt."""
        from . import httpclient as http
        attempts = RETRIES if retry else 1
        for attempt in range(attempts):
            if data_factory is not None:
                kw["data"] = data_factory()
            try:
                resp = self._session.request(method, url, **kw)  # type: ignore[union-attr]
            except (http.ClientConnectorCertificateError, http.ClientSSLError):
                raise
            except (http.ClientConnectionError, TimeoutError):
                if attempt == attempts - 1:
                    raise
                time.sleep(RETRY_BASE * 2 ** attempt)
                continue
            if (resp.status == 429 or resp.status >= 500) and attempt < attempts - 1:
                wait = RETRY_BASE * 2 ** attempt
                try:
                    wait = min(max(wait, float(resp.headers.get("Retry-After", 0))),
                               RETRY_AFTER_MAX)
                except ValueError:
                    pass
                resp.release()
                time.sleep(wait)
                continue
            return resp
        raise AssertionError("unreachable")  # pragma: no cover

    def request(self, method: str, url, scopes: tuple[str, ...], *, headers=None,
                **kw):
        """An authorised request: the token for ``scopes`` is added, and fetched anew once if
        the registry refuses it. The caller reads and releases the response."""
        from . import httpclient as http
        if isinstance(url, str) and url.startswith("/"):
            url = self.base + url
        for refresh in (False, True):
            h = {**(headers or {}), **self._auth_header(scopes, refresh)}
            try:
                resp = self._send(method, url, headers=h, **kw)
            except (http.ClientError, TimeoutError, OSError) as e:
                raise self._unreachable(e) from e
            if resp.status == 401 and not refresh and self._challenge and \
                    self._challenge[0] == "bearer":
                resp.release()
                continue
            return resp
        return resp

    def _fail(self, resp, what: str, repo: str = ""):
        """Turn an error response into a berth error naming ``what`` was asked for."""
        body = resp.read()
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

    def _join(self, location: str) -> str:
        from urllib.parse import urljoin
        return urljoin(self.base + "/", location)

# --- the edge: lower libraries' errors become berth's ------------------------------------

def at_the_edge(fn):
    """Wrap a function so the HTTP client's, ssl's and the OS's errors that slipped
    past the client's own handling still reach the user as one RegistryError line."""
    import functools

    @functools.wraps(fn)
    def wrapper(*args, **kw):
        from . import httpclient as http
        try:
            return fn(*args, **kw)
        except (http.ClientError, TimeoutError) as e:
            raise RegistryError(f"registry connection failed: {e or type(e).__name__}") from e
        except OSError as e:
            from ..errors import DISK_ERRNOS, host_error
            if e.errno in DISK_ERRNOS:   # the disk, not the registry
                raise host_error("storing what the registry sent", e) from e
            if isinstance(e, (FileNotFoundError, PermissionError)) and e.filename:
                raise host_error(f"cannot use {e.filename}", e) from e
            raise RegistryError(f"registry connection failed: {e.strerror or e}") from e
    return wrapper


@at_the_edge
def check_login(registry: str, username: str, password: str,
                insecure: bool = False) -> None:
    """Prove ``username``/``password`` against ``registry`` (AuthError when refused)."""
    with DistributionClient(registry, (username, password), insecure) as client:
        if not client._challenge:
            return
        scheme, _ = client._challenge
        if scheme == "bearer":
            # Docker Hub's flow: any token request with Basic credentials checks them.
            client._token(())
            return
        resp = client.request("GET", "/v2/", ())
        resp.release()
        if resp.status == 401:
            raise client._auth_failed()
