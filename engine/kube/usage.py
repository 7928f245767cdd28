"""CPU and memory of the pods that run on berth nodes, from each such node's kubelet
``/stats/summary`` (engine/kube/summary.py serves it) read through the API server's node proxy.
Other kubelets serve the same document, but only berth's nodes are asked: a node that isn't
berth's is someone else's to measure. The summary can't be watched, so this is sampled; the CPU
is the change of each pod's cumulative CPU time between two samples."""

from __future__ import annotations

import threading
import time

from .client import KubeError


def berth_nodes(api) -> list[str]:
    """The names of the cluster's nodes whose runtime is berth."""
    nodes = api.get("/api/v1/nodes").get("items") or []
    return [n["metadata"]["name"] for n in nodes
            if ((n.get("status") or {}).get("nodeInfo") or {}).get(
                "containerRuntimeVersion", "").startswith("berth://")]


class PodUsage:
    """``sample()``: ``{"NAMESPACE/POD": {"cpu": cores, "cpu_ns": cumulative, "memory":
    bytes}}`` of every pod on a berth node (cores are None until a second sample). The table's
    sampler and the graphs' may share one: each sample's CPU is since the one before it."""

    def __init__(self, api):
        self.api = api
        self._last: dict[str, tuple[float, int]] = {}   # pod -> (when, cumulative cpu ns)
        self._lock = threading.Lock()

    def sample(self) -> dict[str, dict]:
        with self._lock:
            return self._sample()

    def _sample(self) -> dict[str, dict]:
        out: dict[str, dict] = {}
        now = time.monotonic()
        last, self._last = self._last, {}
        for node in berth_nodes(self.api):
            try:
                summary = self.api.get(f"/api/v1/nodes/{node}/proxy/stats/summary")
            except KubeError:
                continue   # a node that can't be reached now: its pods show no figures
            for pod in summary.get("pods") or []:
                ref = pod.get("podRef") or {}
                key = f"{ref.get('namespace', '')}/{ref.get('name', '')}"
                cpu_ns = int((pod.get("cpu") or {}).get("usageCoreNanoSeconds") or 0)
                self._last[key] = (now, cpu_ns)
                before = last.get(key)
                cores = None
                if before and now > before[0] and cpu_ns >= before[1]:
                    cores = (cpu_ns - before[1]) / 1e9 / (now - before[0])
                out[key] = {"cpu": cores, "cpu_ns": cpu_ns, "time": now,
                            "uid": ref.get("uid") or key.replace("/", "_"),
                            "memory": int((pod.get("memory") or {}).get("workingSetBytes") or 0)}
        return out
