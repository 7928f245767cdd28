"""The node agent behind ``berth node run``: registers this host as a Node, renews its Lease,
watches the pods bound to it and keeps each running as berth containers (pods.py), until told
to stop. The containers have their own monitors and outlive the agent; an agent started again
adopts them by their labels.

Threads: one watches the pods (list, then watch from its resourceVersion, list again when that
is too old); one renews the Lease and posts the node's status; the main one reconciles, alone
calling the engine's verbs that change anything (one pass a second, or at once on a change)."""

from __future__ import annotations

import io
import ipaddress
import os
import subprocess
import sys
import tarfile
import threading
import time

from ..clock import now_rfc3339
from ..errors import Conflict, NotFound
from ..models import Container
from .client import Expired, KubeClient, KubeError
from .node import NodeRegistration
from .podspec import L_NODE, L_UID, PAUSE_BINARY, PAUSE_IMAGE
from .pods import PodRunner
from .serving_cert import request, signed
from .services import DEFAULT_CIDR, ServiceProxy

LEASE_EVERY = 10.0
STATUS_EVERY = 60.0
RESYNC = 1.0
NETWORK = "kube"


def run_node(kubeconfig: str, name: str, context: str | None = None,
             address: str = "127.0.0.1", port: int = 10250, labels: list[str] = (),
             taints: list[str] = (), stop: threading.Event | None = None,
             tls: tuple[str, str] = ("", ""), service_cidr: str = "") -> None:
    """``berth node run``: the agent for this root (BERTH_ROOT), from the command line's words,
    until ``stop`` is set."""
    from .. import Engine
    from ..errors import InvalidArgument
    from .kubeconfig import load
    from .node import parse_label, parse_taint
    if not kubeconfig:
        raise InvalidArgument("node run needs the cluster: give --kubeconfig FILE "
                              "(or set KUBECONFIG)")
    if bool(tls[0]) != bool(tls[1]):
        raise InvalidArgument("give --tls-cert-file and --tls-private-key-file together")
    label_map = dict(parse_label(x) for x in labels)
    taint_list = [parse_taint(x) for x in taints]
    client = KubeClient(load(kubeconfig, context))
    agent = Agent(Engine(), client, name, address, label_map, taint_list, port)
    agent.tls = tls
    if service_cidr:
        try:
            agent.service_cidr = str(ipaddress.ip_network(service_cidr))
        except ValueError:
            raise InvalidArgument(f"invalid --service-cidr {service_cidr!r}: give the "
                                  "cluster's service range as ADDRESS/BITS") from None
    try:
        agent.run(stop or threading.Event())
    except KubeError as e:
        raise InvalidArgument(f"the cluster at {client.config.server} refused the node: {e}") \
            from None


class Agent:
    """One node: ``run(stop)`` until ``stop`` is set."""

    def __init__(self, engine, client: KubeClient, name: str, address: str = "127.0.0.1",
                 labels: dict[str, str] | None = None, taints: list[dict] | None = None,
                 port: int = 10250, out=None):
        self.engine, self.client, self.name, self.address = engine, client, name, address
        self.root = engine.paths.root
        self.network = NETWORK
        self.port = port
        self.tls = ("", "")    # the kubelet API's certificate and key ("": its own)
        self.service_cidr = DEFAULT_CIDR   # the cluster's Services (services.py)
        self.services: ServiceProxy | None = None
        self.node = NodeRegistration(client, name, address, labels or {}, taints or [], port)
        self.out = out or sys.stderr
        self.pods: dict[str, dict] = {}
        self.listed = threading.Event()
        self.wake = threading.Event()
        self.runners: dict[str, PodRunner] = {}
        self._pods_lock = threading.Lock()

    def log(self, message: str) -> None:
        print(f"{now_rfc3339()[:23]}Z {message}", file=self.out, flush=True)

    # --- the run ---------------------------------------------------------------------------------

    def run(self, stop: threading.Event) -> None:
        from .kubelet_api import KubeletAPI
        lock = self._lock()
        try:
            self.ensure_network()
            self.ensure_pause_image()
            self.services = ServiceProxy(self, self.service_cidr)
            self.services.start(stop)   # the service range is refused before any pod runs
            api = KubeletAPI(self, self.address, self.port)
            self.node.port = api.port
            api.start()
            self.api = api
            try:
                self._run(stop)
            finally:
                api.close()
        finally:
            if self.services is not None:
                stop.set()
                self.services.close()
            os.close(lock)

    def _lock(self) -> int:
        """One agent per root: two would start every pod twice."""
        import fcntl
        d = os.path.join(self.root, "kube")
        os.makedirs(d, mode=0o700, exist_ok=True)
        fd = os.open(os.path.join(d, "agent.lock"), os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            owner = os.read(fd, 32).decode().strip()
            os.close(fd)
            raise Conflict(f"a node agent already runs on the root {self.root} (pid {owner}): "
                           "stop it first") from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        return fd

    def _run(self, stop: threading.Event) -> None:
        self.node.register()
        self.node.renew_lease()
        self.log(f"node {self.name} registered at {self.client.config.server}, kubelet API on "
                 f"{self.address}:{self.node.port}")
        threads = [threading.Thread(target=self._heartbeat, args=(stop,), daemon=True,
                                    name="lease"),
                   threading.Thread(target=self._watch, args=(stop,), daemon=True, name="watch")]
        if not self.tls[0] and signed(self.root) is None:
            threads.append(threading.Thread(
                target=self._serving_cert, args=(stop,), daemon=True, name="csr"))
        for t in threads:
            t.start()
        while not stop.is_set():
            self.wake.wait(RESYNC)
            self.wake.clear()
            if stop.is_set() or not self.listed.is_set():
                continue
            try:
                self.reconcile()
            except Exception as e:   # noqa: BLE001 - one bad pass must not end the node
                self.log(f"reconcile: {type(e).__name__}: {e}")
        for runner in self.runners.values():
            runner.close()

    def reconcile(self) -> None:
        """One pass over every pod bound here and every pod container berth runs for us."""
        with self._pods_lock:
            pods = dict(self.pods)
        by_uid: dict[str, list[Container]] = {}
        for c in self.engine.containers(all=True, filters={"label": [f"{L_NODE}={self.name}"]}):
            by_uid.setdefault(c.config.labels.get(L_UID, ""), []).append(c)
        for uid in set(pods) | set(by_uid):
            runner = self.runners.get(uid)
            if runner is None:
                runner = self.runners[uid] = PodRunner(self, uid)
                if by_uid.get(uid):
                    meta = (pods.get(uid) or {}).get("metadata") or {}
                    self.log(f"pod {meta.get('namespace')}/{meta.get('name')} ({uid}): adopted "
                             f"{len(by_uid[uid])} containers")
            runner.sync(pods.get(uid), by_uid.get(uid, []))
            if runner.done:
                runner.close()
                del self.runners[uid]

    def containers_of(self, uid: str) -> list[Container]:
        return self.engine.containers(all=True, filters={"label": [f"{L_UID}={uid}"]})

    # --- threads ---------------------------------------------------------------------------------

    def _serving_cert(self, stop: threading.Event) -> None:
        try:
            request(self.client, self.root, self.name, self.address, stop, self.api.install,
                    self.log)
        except (KubeError, OSError, subprocess.CalledProcessError) as e:
            self.log(f"serving certificate: {e}")

    def _heartbeat(self, stop: threading.Event) -> None:
        last_status = time.monotonic()
        while not stop.wait(LEASE_EVERY):
            try:
                self.node.renew_lease()
                if time.monotonic() - last_status >= STATUS_EVERY:
                    self.node.update_status()
                    last_status = time.monotonic()
            except KubeError as e:
                self.log(f"lease: {e}")

    def _watch(self, stop: threading.Event) -> None:
        selector = f"spec.nodeName={self.name}"
        while not stop.is_set():
            try:
                listing = self.client.get("/api/v1/pods", fieldSelector=selector)
                with self._pods_lock:
                    self.pods = {p["metadata"]["uid"]: p for p in listing.get("items") or []}
                self.listed.set()
                self.wake.set()
                rv = listing["metadata"]["resourceVersion"]
                for kind, pod in self.client.watch("/api/v1/pods", rv, stop,
                                                   fieldSelector=selector):
                    uid = pod["metadata"]["uid"]
                    with self._pods_lock:
                        if kind == "DELETED":
                            self.pods.pop(uid, None)
                        else:
                            self.pods[uid] = pod
                    self.wake.set()
            except Expired:
                continue
            except KubeError as e:
                self.log(f"watch: {e}")
                stop.wait(2)

    # --- what the pods need ----------------------------------------------------------------------

    def ensure_network(self) -> None:
        try:
            self.engine.network(self.network)
        except NotFound:
            self.engine.create_network(self.network, labels={L_NODE: self.name})

    def ensure_pause_image(self) -> None:
        """The infra containers' image: the host's static busybox alone, imported once."""
        try:
            self.engine.image(PAUSE_IMAGE)
            return
        except NotFound:
            pass
        buf = io.BytesIO()
        with tarfile.open(fileobj=buf, mode="w") as tar:
            tar.add(os.path.realpath(PAUSE_BINARY), arcname="busybox")
        tmp = os.path.join(self.root, f"kube-pause.{os.getpid()}.tar")
        with open(tmp, "wb") as f:
            f.write(buf.getvalue())
        try:
            self.engine.import_image(tmp, PAUSE_IMAGE)
        finally:
            os.unlink(tmp)

    def event(self, pod: dict, kind: str, reason: str, message: str) -> None:
        """An Event about the pod, as `kubectl describe` shows the kubelet's; best effort."""
        meta = pod["metadata"]
        now = now_rfc3339()[:19] + "Z"
        try:
            self.client.post(f"/api/v1/namespaces/{meta['namespace']}/events", {
                "apiVersion": "v1", "kind": "Event",
                "metadata": {"generateName": f"{meta['name']}.", "namespace": meta["namespace"]},
                "involvedObject": {"kind": "Pod", "apiVersion": "v1", "name": meta["name"],
                                   "namespace": meta["namespace"], "uid": meta["uid"]},
                "reason": reason, "message": message, "type": kind, "count": 1,
                "source": {"component": "berth-node", "host": self.name},
                "firstTimestamp": now, "lastTimestamp": now})
        except KubeError:
            pass
