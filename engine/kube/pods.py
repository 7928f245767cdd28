"""One pod on this node, kept as its spec says: the infra container, the init containers in
order, the app containers with their restart policy, probes and backoff, the pod's termination
(grace period, then everything removed and the deletion finalized) and its status.

``PodRunner.sync`` is called by the agent's one reconcile thread, with the pod as the API last
showed it (None once it is gone) and the berth containers labelled with its uid; everything it
knows besides (probers, backoff, kill deadlines) can be lost: an agent started again finds the
containers by their labels and carries on."""

from __future__ import annotations

import time

from ..clock import now_rfc3339
from ..errors import BerthError, NotFound
from ..models import Container
from .client import KubeClient, KubeError
from .podspec import INFRA, L_CONTAINER, L_KIND, container_config, container_name, infra_config
from .probes import Prober
from .status import attempt, container_status, pod_status
from .volumes import VolumeNotReady, materialize, remove as remove_volumes

REFRESH = 10.0          # seconds between rewrites of configMap/secret/downwardAPI volumes
BACKOFF_MAX = 300.0


class PodRunner:
    """What the agent remembers about one pod between syncs."""

    def __init__(self, agent, uid: str):
        self.agent = agent
        self.uid = uid
        self.engine = agent.engine
        self.client: KubeClient = agent.client
        self.probers: dict[str, Prober] = {}      # container id -> its probes
        self.killing: dict[str, float] = {}       # container id -> when SIGKILL is due
        self.backoff: dict[str, float] = {}       # container id -> no restart before (time())
        self.waiting: dict[str, str] = {}         # container name -> waiting reason
        self.volumes: dict[str, str] | None = None
        self.volumes_at = 0.0
        self.sent: dict | None = None
        self.terminate_at: float | None = None
        self.changed = False                      # this pass started or removed a container
        self.done = False

    # --- the sync --------------------------------------------------------------------------------

    def sync(self, pod: dict | None, containers: list[Container]) -> None:
        if pod is None or pod["metadata"].get("deletionTimestamp"):
            self._terminate(pod, containers)
            return
        runs = _by_name(containers)
        infra = (runs.get(INFRA) or [None])[-1]
        if (pod.get("status") or {}).get("phase") in ("Succeeded", "Failed"):
            # done for good: its network goes, as the kubelet stops a finished pod's sandbox;
            # the containers stay (for their logs) until the pod is deleted
            if infra is not None and infra.running:
                self._kill(infra.id, "SIGKILL")
            return
        if infra is None or not infra.running:
            if infra is not None:   # the sandbox died: start the pod over, as the kubelet does
                self._remove_all(containers)
            infra = self._start_infra(pod)
            if infra is None:
                self._report(pod, {}, "")
                return
        pod_ip = self._pod_ip(infra)
        try:
            if self.volumes is None or time.monotonic() - self.volumes_at > REFRESH:
                self.volumes = materialize(self.client, pod, self.agent.root, self.agent.name,
                                           pod_ip, self.agent.address)
                self.volumes_at = time.monotonic()
        except (VolumeNotReady, KubeError, BerthError, OSError) as e:
            self.agent.log(f"pod {_key(pod)}: volumes: {e}")
            self._report(pod, runs, pod_ip)
            return
        self.changed = False
        if self._run_inits(pod, runs, infra, pod_ip):
            self._run_apps(pod, runs, infra, pod_ip)
        if self.changed:   # read again what this pass started or removed
            runs = _by_name(self.agent.containers_of(self.uid))
        self._report(pod, runs, pod_ip)

    def _run_inits(self, pod, runs, infra, pod_ip) -> bool:
        """Start or wait for the init containers in order; True once all succeeded."""
        policy = pod["spec"].get("restartPolicy", "Always")
        for spec in pod["spec"].get("initContainers") or []:
            mine, n = self._unstarted(runs.get(spec["name"]) or [])
            latest = mine[-1] if mine else None
            if latest is None:
                self._start(pod, spec, "init", n, infra, pod_ip)
                return False
            if latest.running:
                return False
            if latest.state.exit_code == 0:
                continue
            if policy != "Never":
                self._restart(pod, spec, "init", mine, infra, pod_ip)
            return False
        return True

    def _run_apps(self, pod, runs, infra, pod_ip) -> None:
        policy = pod["spec"].get("restartPolicy", "Always")
        for spec in pod["spec"].get("containers") or []:
            mine, n = self._unstarted(runs.get(spec["name"]) or [])
            latest = mine[-1] if mine else None
            if latest is None:
                self._start(pod, spec, "app", n, infra, pod_ip)
            elif latest.running:
                self._watch_liveness(pod, spec, latest, pod_ip)
            elif latest.state.status in ("exited", "dead"):
                self._close_prober(latest.id)
                self.killing.pop(latest.id, None)
                failed = latest.state.exit_code != 0
                if policy == "Always" or (policy == "OnFailure" and failed):
                    self._restart(pod, spec, "app", mine, infra, pod_ip)

    def _unstarted(self, mine: list[Container]) -> tuple[list[Container], int]:
        """(the runs, the attempt number of a first one): a run whose start failed (left
        "created": this thread starts what it creates at once) is removed, to be made again
        under its attempt number."""
        if mine and mine[-1].state.status == "created":
            self._remove(mine[-1].id)
            return mine[:-1], attempt(mine[-1])
        return mine, 0

    def _watch_liveness(self, pod, spec, c: Container, pod_ip: str) -> None:
        prober = self.probers.get(c.id)
        if prober is None:
            prober = self.probers[c.id] = Prober(self.agent.root, c.id, pod_ip, spec)
        health = c.state.health
        unhealthy = health is not None and health.status == "unhealthy"
        if c.id in self.killing:
            if time.monotonic() > self.killing[c.id]:
                self._kill(c.id, "SIGKILL")
        elif not prober.live or unhealthy:
            self.agent.log(f"pod {_key(pod)}: container {spec['name']} failed its liveness "
                           "probe, restarting it")
            self.agent.event(pod, "Warning", "Unhealthy",
                             f"Liveness probe failed: container {spec['name']} will be restarted")
            self._stop(c, self._grace(pod))

    # --- containers -----------------------------------------------------------------------------

    def _start_infra(self, pod) -> Container | None:
        try:
            self.agent.ensure_pause_image()
            config = infra_config(pod, self.agent.name, self.agent.network)
            # a sandbox made again gets a name of its own: the dead one may still be removed
            name = f"{container_name(pod, INFRA, 0)}_{int(time.time())}"
            c = self.engine.create(config, name=name)
            return self.engine.start(c.id)
        except BerthError as e:
            self.agent.log(f"pod {_key(pod)}: sandbox: {e}")
            self.waiting["*"] = "ContainerCreating"
            return None

    def _restart(self, pod, spec, kind, mine: list[Container], infra, pod_ip) -> None:
        latest = mine[-1]
        n = attempt(latest)
        delay = 0.0 if n == 0 else min(10.0 * 2 ** (n - 1), BACKOFF_MAX)
        # from when the run ended (its record says, so an agent started again keeps the
        # backoff rather than counting it anew from its own start), on the wall clock
        due = self.backoff.setdefault(latest.id, _ended(latest) + delay)
        if time.time() < due:
            self.waiting[spec["name"]] = "CrashLoopBackOff"
            return
        for old in mine[:-1]:   # the last run stays, for lastState and logs --previous
            self._remove(old.id)
        self.backoff.pop(latest.id, None)
        self._start(pod, spec, kind, n + 1, infra, pod_ip)

    def _start(self, pod, spec, kind: str, n: int, infra: Container, pod_ip: str) -> None:
        name = spec["name"]
        try:
            self._pull(spec)
            config, entrypoint_set = container_config(
                pod, spec, kind, n, infra.id, self.volumes or {}, self.agent.name, pod_ip,
                self.agent.address, self._lookup(pod))
            self.changed = True
            c = self.engine.create(config, name=container_name(pod, name, n),
                                   entrypoint_set=entrypoint_set)
            self.engine.start(c.id)
            self.waiting.pop(name, None)
            self.agent.event(pod, "Normal", "Started", f"Started container {name}")
        except _PullError as e:
            self.waiting[name] = e.reason
            self.agent.log(f"pod {_key(pod)}: container {name}: {e}")
        except (BerthError, KubeError, OSError, ValueError) as e:
            self.waiting[name] = "CreateContainerError"
            self.agent.log(f"pod {_key(pod)}: container {name}: {e}")

    def _pull(self, spec) -> None:
        image = spec["image"]
        policy = spec.get("imagePullPolicy") or (
            "Always" if ":" not in image.rsplit("/", 1)[-1] or image.endswith(":latest")
            else "IfNotPresent")
        try:
            self.engine.image(image)
            present = True
        except NotFound:
            present = False
        if policy == "Never" and not present:
            raise _PullError("ErrImageNeverPull",
                             f"image {image} is not present with pull policy Never")
        if policy == "Always" or (policy == "IfNotPresent" and not present):
            try:
                self.engine.pull_sync(image)
            except BerthError as e:
                if not present or policy != "Always":
                    raise _PullError("ErrImagePull", str(e)) from None

    def _lookup(self, pod):
        ns = pod["metadata"]["namespace"]

        def get(kind: str, name: str):
            plural = "configmaps" if kind.startswith("configMap") else "secrets"
            try:
                return self.client.get(f"/api/v1/namespaces/{ns}/{plural}/{name}")
            except KubeError as e:
                if e.status == 404:
                    return None
                raise
        return get

    def _stop(self, c: Container, grace: float) -> None:
        self.killing[c.id] = time.monotonic() + grace
        self._kill(c.id, c.config.stop_signal or "SIGTERM")

    def _kill(self, cid: str, signal: str) -> None:
        try:
            self.engine.kill(cid, signal)
        except BerthError:
            pass   # it exited meanwhile

    def _remove(self, cid: str) -> None:
        self.changed = True
        self._close_prober(cid)
        self.killing.pop(cid, None)
        try:
            self.engine.remove(cid, force=True, volumes=True)
        except NotFound:
            pass

    def _remove_all(self, containers: list[Container]) -> None:
        # the infra container last: the others are in its network namespace
        for c in sorted(containers, key=lambda c: c.config.labels.get(L_KIND) == "infra"):
            self._remove(c.id)

    def _close_prober(self, cid: str) -> None:
        p = self.probers.pop(cid, None)
        if p is not None:
            p.close()

    # --- termination ---------------------------------------------------------------------------

    def _grace(self, pod: dict | None) -> float:
        if pod is None:
            return 2.0
        meta = pod["metadata"]
        if meta.get("deletionGracePeriodSeconds") is not None:
            return float(meta["deletionGracePeriodSeconds"])
        return float(pod["spec"].get("terminationGracePeriodSeconds", 30))

    def _terminate(self, pod: dict | None, containers: list[Container]) -> None:
        workers = [c for c in containers if c.config.labels.get(L_KIND) != "infra" and c.running]
        if self.terminate_at is None:
            self.terminate_at = time.monotonic() + self._grace(pod)
            if pod is not None and workers:
                self.agent.event(pod, "Normal", "Killing", "Stopping the pod's containers")
            for c in workers:
                self._stop(c, self._grace(pod))
        if workers and time.monotonic() < self.terminate_at:
            return
        self._remove_all(containers)
        remove_volumes(self.agent.root, self.uid)
        if pod is not None:
            try:
                self.client.delete(
                    f"/api/v1/namespaces/{pod['metadata']['namespace']}/pods/"
                    f"{pod['metadata']['name']}",
                    {"kind": "DeleteOptions", "apiVersion": "v1", "gracePeriodSeconds": 0,
                     "preconditions": {"uid": self.uid}})
            except KubeError as e:
                if e.status not in (404, 409):
                    self.agent.log(f"pod {_key(pod)}: finalizing the deletion: {e}")
                    return
        self.done = True

    def close(self) -> None:
        for cid in list(self.probers):
            self._close_prober(cid)

    # --- status -----------------------------------------------------------------------------------

    def _pod_ip(self, infra: Container) -> str:
        ep = infra.state.networks.get(self.agent.network) or {}
        return ep.get("IPAddress", "")

    def _report(self, pod: dict, runs: dict[str, list[Container]], pod_ip: str) -> None:
        def statuses(kind: str):
            out = []
            for spec in pod["spec"].get(kind) or []:
                mine = runs.get(spec["name"]) or []
                p = self.probers.get(mine[-1].id) if mine else None
                # no prober yet (started this pass): not ready before its first probe says so
                ready = p.ready if p else kind == "containers" and "readinessProbe" not in spec
                started = p.started if p else "startupProbe" not in spec
                health = mine[-1].state.health if mine else None
                if health is not None and health.status == "unhealthy":
                    ready = False
                out.append(container_status(spec, mine, ready, started,
                                            self.waiting.get(spec["name"], "")))
            return out
        start = (pod.get("status") or {}).get("startTime") or now_rfc3339()[:19] + "Z"
        status = pod_status(pod, statuses("initContainers"), statuses("containers"), pod_ip,
                            self.agent.address, start)
        if status == self.sent:
            return
        try:
            self.client.patch(f"/api/v1/namespaces/{pod['metadata']['namespace']}/pods/"
                              f"{pod['metadata']['name']}/status", {"status": status})
            self.sent = status
        except KubeError as e:
            self.agent.log(f"pod {_key(pod)}: status: {e}")


class _PullError(Exception):
    def __init__(self, reason: str, message: str):
        super().__init__(message)
        self.reason = reason


def _by_name(containers: list[Container]) -> dict[str, list[Container]]:
    out: dict[str, list[Container]] = {}
    for c in sorted(containers, key=attempt):
        out.setdefault(c.config.labels.get(L_CONTAINER, ""), []).append(c)
    return out


def _key(pod: dict) -> str:
    return f"{pod['metadata']['namespace']}/{pod['metadata']['name']}"


def _ended(c: Container) -> float:
    """When the run ``c`` ended (time()), or now if its record doesn't say."""
    from ..runtime.filters import rfc3339_seconds
    ended = c.state.finished_at
    try:
        return rfc3339_seconds(ended) if ended and not ended.startswith("0001-") \
            else time.time()
    except ValueError:
        return time.time()
