"""What the dashboard shows of a cluster, kept current by watches: each kind (namespaces, pods,
deployments, events; or the kinds a caller names, as a node's Services and Endpoints,
services.py) is listed once, then followed with a watch from the list's resourceVersion, in a
thread of its own. A cluster that drops is listed again when it answers
(with a backoff meanwhile) and ``connected`` says which it is; listeners hear of every change.
"""

from __future__ import annotations

import threading
import time

from .client import Expired, KubeClient, KubeError
from .views import event_time

KINDS = {
    "namespaces": "/api/v1/namespaces",
    "pods": "/api/v1/pods",
    "deployments": "/apis/apps/v1/deployments",
    "events": "/api/v1/events",
}
MAX_EVENTS = 1000   # the newest kept; a busy cluster's events would grow without end
BACKOFF_MAX = 5.0
REFUSED_AGAIN = 30.0   # seconds before a kind the server refused us is asked for again


def key_of(obj: dict) -> str:
    """``namespace/name`` (or ``name`` for a cluster-wide object such as a namespace)."""
    meta = obj.get("metadata") or {}
    ns = meta.get("namespace")
    return f"{ns}/{meta.get('name', '')}" if ns else meta.get("name", "")


class WatchCache:
    """Every object of ``kinds`` (name -> API path; KINDS unless given) in memory, by kind then
    key; ``listen(fn)`` calls ``fn(kind)`` (in a watch thread) after each change."""

    def __init__(self, api: KubeClient, namespace: str = "", kinds: dict[str, str] = KINDS):
        self.api = api
        self.kinds = kinds
        self.namespace = namespace      # followed alone when every namespace is refused
        self.refused: dict[str, str] = {}   # kind -> why the server won't list it for us
        self.objects: dict[str, dict[str, dict]] = {kind: {} for kind in kinds}
        self.loaded: set[str] = set()
        self.error = ""                 # why the cluster can't be reached, "" while it can
        self._down: set[str] = set()    # the kinds whose watch can't reach the server now
        self._listeners: list = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []

    @property
    def connected(self) -> bool:
        return not self._down

    def listen(self, fn) -> None:
        self._listeners.append(fn)

    def unlisten(self, fn) -> None:
        if fn in self._listeners:
            self._listeners.remove(fn)

    def start(self) -> None:
        if self._threads:
            return
        for kind in self.kinds:
            t = threading.Thread(target=self._follow, args=(kind,), daemon=True,
                                 name=f"berth-kube-{kind}")
            self._threads.append(t)
            t.start()

    def stop(self) -> None:
        self._stop.set()

    def items(self, kind: str) -> list[dict]:
        with self._lock:
            return list(self.objects[kind].values())

    def get(self, kind: str, key: str) -> dict | None:
        with self._lock:
            return self.objects[kind].get(key)

    # --- the watch of one kind ----------------------------------------------------------------

    def _reached(self, kind: str, error) -> None:
        was = self.connected
        if error is None:
            self._down.discard(kind)
            if not self._down:
                self.error = ""
        else:
            self._down.add(kind)
            self.error = str(error) or type(error).__name__
        if was != self.connected:
            self._tell(kind)

    def _follow(self, kind: str) -> None:
        path = self.kinds[kind]
        backoff = 0.2
        listed_once = False
        while not self._stop.is_set():
            try:
                listed = self.api.get(path)
            except KubeError as e:
                # an API server that was away refuses everything until its RBAC has synced:
                # only a first refusal is the user's rights
                if e.status == 403 and not listed_once and path == self.kinds[kind] \
                        and kind != "namespaces" and self.namespace:
                    # a user of one namespace (as k9s does): follow that one
                    group, _, plural = path.rpartition("/")
                    path = f"{group}/namespaces/{self.namespace}/{plural}"
                    continue
                if e.status in (401, 403, 404) and not listed_once:
                    # refused, not away: shown as such, and asked again now and then
                    self.refused[kind] = str(e)
                    self._replace(kind, [])
                    self._reached(kind, None)
                    self._stop.wait(backoff)
                    backoff = min(backoff * 2, REFUSED_AGAIN)
                    continue
                self._reached(kind, e)
                self._stop.wait(backoff)
                backoff = min(backoff * 2, BACKOFF_MAX)
                continue
            listed_once = True
            self.refused.pop(kind, None)
            backoff = 0.2
            self._replace(kind, listed.get("items") or [])
            self._reached(kind, None)
            try:
                for change, obj in self.api.watch(path, listed["metadata"]["resourceVersion"],
                                                  self._stop,
                                                  reached=lambda e: self._reached(kind, e)):
                    self._apply(kind, change, obj)
            except Expired:
                continue   # too old: list again
            except KubeError as e:
                self._reached(kind, e)
                self._stop.wait(backoff)

    def _replace(self, kind: str, items: list[dict]) -> None:
        with self._lock:
            self.objects[kind] = {key_of(o): o for o in items}
            self._trim(kind)
            self.loaded.add(kind)
        self._tell(kind)

    def _apply(self, kind: str, change: str, obj: dict) -> None:
        with self._lock:
            objects = self.objects[kind]
            if change == "DELETED":
                objects.pop(key_of(obj), None)
            else:
                objects[key_of(obj)] = obj
                self._trim(kind)
        self._tell(kind)

    def _trim(self, kind: str) -> None:
        objects = self.objects[kind]
        if kind == "events" and len(objects) > MAX_EVENTS:
            newest = sorted(objects.items(), key=lambda kv: event_time(kv[1]))[-MAX_EVENTS:]
            self.objects[kind] = dict(newest)

    def _tell(self, kind: str) -> None:
        for fn in list(self._listeners):
            try:
                fn(kind)
            except Exception:   # a listener's failure must not end the watch
                pass

    def wait_loaded(self, kinds=None, timeout: float = 10.0) -> bool:
        """Every kind of ``kinds`` (all this cache follows) listed once (False after
        ``timeout``)."""
        deadline = time.monotonic() + timeout
        while not set(kinds or self.kinds) <= self.loaded:
            if time.monotonic() > deadline or self._stop.wait(0.02):
                return False
        return True
