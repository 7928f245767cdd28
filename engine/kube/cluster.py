"""A Kubernetes cluster as a berth connection (``kube://CONTEXT``): the kubeconfig context it
names, the watch cache the dashboard draws from, and what one does to a cluster's objects from
the dashboard or the CLI: delete, scale, follow logs, describe, exec (exec_client.py)."""

from __future__ import annotations

import os
import threading
import urllib.parse

from ..errors import Conflict, InvalidArgument, NotFound, NotSupported, Unreachable
from .client import KubeClient, KubeError

SCHEME = "kube://"


def kubeconfig_files() -> list[str]:
    """Where kubectl looks: each file of $KUBECONFIG (colon-separated), else ~/.kube/config."""
    env = os.environ.get("KUBECONFIG", "")
    if env:
        return [p for p in env.split(os.pathsep) if p]
    return [os.path.join(os.path.expanduser("~"), ".kube", "config")]


def context_of(url: str) -> str:
    """The context ``kube://CONTEXT`` names ("" for the kubeconfig's current-context)."""
    return urllib.parse.unquote(url[len(SCHEME):].strip("/"))


def find_kubeconfig(context: str, kubeconfig: str = "") -> str:
    """The kubeconfig file to read ``context`` from: the one given, else the first of
    kubectl's files that names it (or, for no context, the first that exists)."""
    if kubeconfig:
        return kubeconfig
    import yaml
    files = kubeconfig_files()
    for path in files:
        try:
            with open(path) as f:
                doc = yaml.safe_load(f) or {}
        except (OSError, yaml.YAMLError):
            continue
        names = [c.get("name") for c in doc.get("contexts") or [] if isinstance(c, dict)] \
            if isinstance(doc, dict) else []
        if (context and context in names) or (not context and os.path.exists(path)):
            return path
    where = " or ".join(files)
    raise InvalidArgument(f"no kubeconfig in {where} has "
                          f"{'a context named ' + repr(context) if context else 'a context'}: "
                          "give --kubeconfig FILE")


class NotOnCluster(NotSupported, AttributeError):
    """A container engine's verb asked of a cluster: one line saying where its verbs are (an
    AttributeError too, so ``getattr(engine, "verb", None)`` still finds nothing)."""


class Cluster:
    """One kubeconfig context: the API client, the watch cache (started by ``watch()``) and
    the verbs. ``kube`` tells callers this is a cluster, not a container engine."""

    kube = True
    remote = False

    def __init__(self, name: str, context: str = "", kubeconfig: str = "", named: bool = True):
        from .kubeconfig import load
        self.name = name
        self.named = named   # a connection of that name, not a -H kube://CONTEXT
        self.context = context
        self.kubeconfig = find_kubeconfig(context, kubeconfig)
        self.config = load(self.kubeconfig, context or None)
        self.api = KubeClient(self.config)
        self.api.user_agent = "berth-dashboard"
        self._cache = None
        self._usage = None
        self._lock = threading.Lock()
        self._version = ""

    def __getattr__(self, name: str):
        if name.startswith("_"):
            raise AttributeError(name)
        raise NotOnCluster(f"{self.name} is a Kubernetes cluster, not a container engine: its "
                           "verbs are berth kube pods|deployments|events|logs|exec|scale|"
                           "delete (and ps, logs), or the dashboard")

    @property
    def address(self) -> str:
        return self.config.server

    def label(self) -> str:
        """"web · Kubernetes v1.20.2 (context local)" for headers and lists."""
        ctx = self.context or "current context"
        version = f" {self._version}" if self._version else ""
        return f"{self.name} · Kubernetes{version} ({ctx}, {self.config.server})"

    def version(self) -> str:
        """The server's gitVersion (asked once; raises KubeError when it can't be reached)."""
        if not self._version:
            self._version = self._call(lambda: self.api.get("/version")).get("gitVersion", "?")
        return self._version

    def take_warnings(self) -> list[str]:
        """Nothing to warn of after a command (as an engine's skipped records)."""
        return []

    def client_environment(self) -> dict[str, str]:
        """What a berth process started for this cluster (a console's exec) needs to reach it."""
        env = ({"BERTH_HOST": "", "BERTH_CONNECTION": self.name} if self.named else
               {"BERTH_HOST": SCHEME + urllib.parse.quote(self.context), "BERTH_CONNECTION": ""})
        for var in ("HOME", "USER", "XDG_CONFIG_HOME", "KUBECONFIG"):
            if os.environ.get(var):
                env[var] = os.environ[var]
        return env

    # --- what the dashboard draws ---------------------------------------------------------------

    def watch(self):
        """The watch cache, started on first use."""
        with self._lock:
            if self._cache is None:
                from .cache import WatchCache
                self._cache = WatchCache(self.api, self.config.namespace)
                self._cache.start()
            return self._cache

    def close(self) -> None:
        if self._cache is not None:
            self._cache.stop()

    @property
    def connected(self) -> bool:
        return self._cache is None or self._cache.connected

    # --- what the graphs and the CPU / memory columns show ---------------------------------------

    def pod_usage(self) -> dict[str, dict]:
        """CPU (cores) and memory (bytes) of each pod on a berth node (engine/kube/usage.py)."""
        with self._lock:
            if self._usage is None:
                from .usage import PodUsage
                self._usage = PodUsage(self.api)
        return self._call(self._usage.sample)

    async def stats(self, ids: list[str] | None = None, interval: float = 1.0, all: bool = False):
        """As Engine.stats: a list of StatsSample (the pod's uid, named ``NAMESPACE/POD``;
        ``ids`` are either) every ``interval``
        (2 s at least: each is a request to every berth node), for the graphs; a cluster
        away meanwhile gives empty lists until it is back."""
        import asyncio
        from ..errors import BerthError
        from ..models import StatsSample
        while True:
            try:
                usage = await asyncio.to_thread(self.pod_usage)
            except BerthError:
                usage = {}
            yield [StatsSample(id=u["uid"], name=k, time=u["time"], cpu_total_ns=u["cpu_ns"],
                               cpu_percent=(u["cpu"] or 0.0) * 100, memory_usage=u["memory"])
                   for k, u in usage.items() if ids is None or k in ids or u["uid"] in ids]
            await asyncio.sleep(max(interval, 2.0))

    def engine_info(self):
        """What the graphs' header asks of an engine: where it is."""
        from types import SimpleNamespace
        return SimpleNamespace(address=self.label(), host=self.name,
                               label=lambda: f"Kubernetes {self._version}".strip())

    def host_totals(self) -> dict:
        from ..errors import NotSupported
        raise NotSupported("a cluster has no host totals: its nodes' are on each node")

    # --- verbs ----------------------------------------------------------------------------------

    def list(self, kind: str, namespace: str = "") -> list[dict]:
        """One listing of ``kind`` (pods, deployments, events, namespaces), all namespaces
        unless one is named."""
        from .cache import KINDS
        path = KINDS[kind]
        if namespace and kind != "namespaces":
            group, _, plural = path.rpartition("/")
            path = f"{group}/namespaces/{namespace}/{plural}"
        return self._call(lambda: self.api.get(path)).get("items") or []

    def delete_pod(self, namespace: str, name: str, grace: int | None = None) -> None:
        """Delete a pod (``grace`` 0: at once, as ``kubectl delete --now``/k9s's kill)."""
        body = None if grace is None else {"gracePeriodSeconds": grace}
        self._call(lambda: self.api.delete(f"/api/v1/namespaces/{namespace}/pods/{name}",
                                           body), f"pod {namespace}/{name}")

    def delete_deployment(self, namespace: str, name: str) -> None:
        self._call(lambda: self.api.delete(
            f"/apis/apps/v1/namespaces/{namespace}/deployments/{name}",
            {"propagationPolicy": "Background"}), f"deployment {namespace}/{name}")

    def scale(self, namespace: str, name: str, replicas: int) -> None:
        """Set a deployment's replicas through its scale subresource (as kubectl scale)."""
        if replicas < 0:
            raise InvalidArgument(f"replicas must be 0 or more, not {replicas}")
        self._call(lambda: self.api.patch(
            f"/apis/apps/v1/namespaces/{namespace}/deployments/{name}/scale",
            {"spec": {"replicas": replicas}}), f"deployment {namespace}/{name}")

    def describe(self, kind: str, namespace: str, name: str) -> dict:
        """The object as the server has it (managedFields left out) with the events about it,
        for the inspect tree."""
        from .views import event_time
        plural = {"pods": "/api/v1", "deployments": "/apis/apps/v1"}[kind]
        obj = self._call(lambda: self.api.get(
            f"{plural}/namespaces/{namespace}/{kind}/{name}"), f"{kind[:-1]} {namespace}/{name}")
        (obj.get("metadata") or {}).pop("managedFields", None)
        events = self._call(lambda: self.api.get(
            f"/api/v1/namespaces/{namespace}/events",
            fieldSelector=f"involvedObject.name={name}")).get("items") or []
        obj["events"] = [f"{event_time(e)}  {e.get('type', '')}  {e.get('reason', '')}: "
                         f"{' '.join(str(e.get('message', '')).split())}"
                         for e in sorted(events, key=event_time)]
        return obj

    def logs(self, ref: str, follow: bool = False, tail: int | None = None,
             since: float | None = None, stop: threading.Event | None = None,
             container: str = "", until: float | None = None):
        """A pod's log lines (``ref`` is NAMESPACE/POD[/CONTAINER], or POD in the context's
        namespace, as kubectl logs takes it) from the API server, as Engine.logs yields a
        container's: LogLine(time, stream, text). ``until`` is not something the API offers."""
        from .podlogs import follow_log
        if until is not None:
            raise InvalidArgument("--until: the Kubernetes API has no end time for logs")
        if "/" not in ref:
            ref = f"{self.config.namespace}/{ref}"
        namespace, _, rest = ref.partition("/")
        pod, _, c = rest.partition("/")
        yield from follow_log(self, namespace, pod, c or container, follow, tail, since, stop)

    def _call(self, fn, what: str = ""):
        """An API call, its refusal raised as berth's error."""
        try:
            return fn()
        except KubeError as e:
            raise self.refusal(e, what) from None

    def refusal(self, e: KubeError, what: str = ""):
        """A KubeError as berth's error: NotFound, Conflict, Unreachable, or one line."""
        if e.status == 404:
            return NotFound(f"no {what or 'such object'} in the cluster")
        if e.status == 0:
            return Unreachable(f"the cluster {self.name} can't be reached: {e}")
        if e.status == 409:
            return Conflict(f"the cluster refused: {e}")
        return InvalidArgument(f"the cluster refused: {e}")
