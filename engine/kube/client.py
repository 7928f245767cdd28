"""A small, thread-safe Kubernetes API client over http.client: JSON requests (GET, POST, PUT,
PATCH, DELETE) and watches that resume from the last resourceVersion when the stream drops.

Each thread has its own connection (http.client's are not shared); a watch holds one of its own
for as long as it streams. PyPI's ``kubernetes`` client would bring 30 MB and 300 ms of imports
for the dozen calls a node makes."""

from __future__ import annotations

import http.client
import json
import threading
import time
import urllib.parse

from .kubeconfig import KubeConfig

WATCH_SECONDS = 30      # the server ends each watch after this, so a stop is noticed


class KubeError(Exception):
    """An API call the server refused (``status`` is its HTTP status, 0 when unreachable)."""

    def __init__(self, status: int, reason: str, message: str):
        super().__init__(f"{status} {reason}: {message}" if status else message)
        self.status = status
        self.reason = reason


class Expired(KubeError):
    """A watch's resourceVersion is too old (410 Gone): list again."""


class KubeClient:
    """Requests against one API server with one identity (a kubeconfig context)."""

    user_agent = "berth-node"

    def __init__(self, config: KubeConfig, timeout: float = 30.0):
        self.config = config
        self.timeout = timeout
        url = urllib.parse.urlsplit(config.server)
        self.https = url.scheme == "https"
        self.host = url.hostname or "127.0.0.1"
        self.port = url.port or (443 if self.https else 80)
        self.prefix = url.path.rstrip("/")
        self._ssl = config.ssl_context() if self.https else None
        self._local = threading.local()

    # --- plumbing ------------------------------------------------------------------------------

    def _connect(self, timeout: float) -> http.client.HTTPConnection:
        if self.https:
            return http.client.HTTPSConnection(self.host, self.port, timeout=timeout,
                                               context=self._ssl)
        return http.client.HTTPConnection(self.host, self.port, timeout=timeout)

    def _headers(self, body: bytes | None, content_type: str) -> dict:
        h = {"Accept": "application/json", "User-Agent": self.user_agent}
        if self.config.token:
            h["Authorization"] = f"Bearer {self.config.token}"
        if body is not None:
            h["Content-Type"] = content_type
        return h

    def url(self, path: str, query: dict | None = None) -> str:
        q = {k: v for k, v in (query or {}).items() if v is not None}
        return self.prefix + path + ("?" + urllib.parse.urlencode(q) if q else "")

    def request(self, method: str, path: str, body=None, query: dict | None = None,
                content_type: str = "application/json"):
        """One call; the decoded JSON answer. Retries once on a connection the server closed."""
        data = None if body is None else json.dumps(body).encode()
        target = self.url(path, query)
        for attempt in (0, 1):
            conn = getattr(self._local, "conn", None)
            if conn is None:
                conn = self._local.conn = self._connect(self.timeout)
            try:
                conn.request(method, target, body=data, headers=self._headers(data, content_type))
                resp = conn.getresponse()
                raw = resp.read()
            except (OSError, http.client.HTTPException) as e:
                conn.close()
                self._local.conn = None
                if attempt:
                    raise KubeError(0, "Unreachable", f"{self.config.server}: {e}") from None
                continue
            if resp.status >= 400:
                raise _error(resp.status, resp.reason, raw)
            return json.loads(raw) if raw else {}

    def get(self, path: str, **query):
        return self.request("GET", path, query=query)

    def post(self, path: str, body):
        return self.request("POST", path, body)

    def put(self, path: str, body):
        return self.request("PUT", path, body)

    def patch(self, path: str, body, kind: str = "merge"):
        """A merge (default), strategic or json patch."""
        types = {"merge": "application/merge-patch+json", "json": "application/json-patch+json",
                 "strategic": "application/strategic-merge-patch+json"}
        return self.request("PATCH", path, body, content_type=types[kind])

    def delete(self, path: str, body=None):
        return self.request("DELETE", path, body)

    # --- watches -------------------------------------------------------------------------------

    def watch(self, path: str, resource_version: str, stop: threading.Event | None = None,
              reached=None, **query):
        """(type, object) for each change after ``resource_version`` until ``stop`` is set; the
        stream is reopened from the last version seen whenever it ends or drops (with a backoff
        while the server is unreachable). Raises Expired when that version is gone.
        ``reached(error)`` is told each stream that opens (None) or fails (the OSError), so a
        dashboard can say the cluster dropped while the watch keeps trying."""
        stop = stop or threading.Event()
        rv = resource_version
        backoff = 0.2
        while not stop.is_set():
            q = {**query, "watch": "1", "resourceVersion": rv, "allowWatchBookmarks": "true",
                 "timeoutSeconds": str(WATCH_SECONDS)}
            conn = self._connect(WATCH_SECONDS + 15)
            try:
                conn.request("GET", self.url(path, q), headers=self._headers(None, ""))
                resp = conn.getresponse()
                if resp.status >= 400:
                    raise _error(resp.status, resp.reason, resp.read())
                backoff = 0.2
                if reached:
                    reached(None)
                while not stop.is_set():
                    line = resp.readline()
                    if not line:
                        break
                    event = json.loads(line)
                    kind, obj = event.get("type"), event.get("object") or {}
                    if kind == "ERROR":
                        if obj.get("code") == 410:
                            raise Expired(410, "Gone", obj.get("message", "too old"))
                        raise KubeError(obj.get("code", 500), obj.get("reason", ""),
                                        obj.get("message", ""))
                    rv = obj.get("metadata", {}).get("resourceVersion") or rv
                    if kind != "BOOKMARK":
                        yield kind, obj
            except (OSError, http.client.HTTPException, ValueError) as e:
                if reached:
                    reached(e)
                stop.wait(backoff)
                backoff = min(backoff * 2, 5.0)
            finally:
                conn.close()


def _error(status: int, reason: str, raw: bytes) -> KubeError:
    try:
        message = json.loads(raw).get("message", "")
    except ValueError:
        message = raw.decode(errors="replace")[:200]
    cls = Expired if status == 410 else KubeError
    return cls(status, reason, message)


def retry(call, attempts: int = 5, delay: float = 0.5):
    """``call()``, again after a pause while the server is unreachable (status 0) or conflicts."""
    for i in range(attempts):
        try:
            return call()
        except KubeError as e:
            if e.status not in (0, 409, 429, 500, 503) or i == attempts - 1:
                raise
            time.sleep(delay * (i + 1))
