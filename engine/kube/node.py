"""This host as a Node object: its capacity (CPUs, memory, pods), addresses, labels, taints,
conditions and nodeInfo; registered once, its status kept fresh, and its Lease in
kube-node-lease renewed, which is the heartbeat the node lifecycle controller watches."""

from __future__ import annotations

import os
import platform
import time

from .. import __version__
from ..errors import InvalidArgument
from .client import KubeClient, KubeError

LEASE_SECONDS = 40
KUBELET_VERSION = "v1.20.2-berth"
MAX_PODS = 110


def parse_taint(text: str) -> dict:
    """KEY[=VALUE]:EFFECT as kubectl taint writes it."""
    kv, _, effect = text.rpartition(":")
    key, _, value = kv.partition("=")
    if not key or effect not in ("NoSchedule", "PreferNoSchedule", "NoExecute"):
        raise InvalidArgument(f"taint {text!r}: give KEY[=VALUE]:EFFECT, EFFECT one of "
                              "NoSchedule, PreferNoSchedule, NoExecute")
    taint = {"key": key, "effect": effect}
    if value:
        taint["value"] = value
    return taint


def parse_label(text: str) -> tuple[str, str]:
    key, eq, value = text.partition("=")
    if not key or not eq:
        raise InvalidArgument(f"label {text!r}: give KEY=VALUE")
    return key, value


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def _micro_now() -> str:
    t = time.time()
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(t)) + f".{int(t % 1 * 1e6):06d}Z"


def _read(path: str) -> str:
    try:
        with open(path) as f:
            return f.read().strip()
    except OSError:
        return ""


def capacity() -> dict[str, str]:
    mem_kib = 0
    for line in _read("/proc/meminfo").splitlines():
        if line.startswith("MemTotal:"):
            mem_kib = int(line.split()[1])
    st = os.statvfs("/")
    return {"cpu": str(os.cpu_count() or 1), "memory": f"{mem_kib}Ki", "pods": str(MAX_PODS),
            "ephemeral-storage": f"{st.f_blocks * st.f_frsize // 1024}Ki"}


def conditions(ready: bool = True) -> list[dict]:
    now = _now()
    out = []
    for kind, reason, message in (
            ("MemoryPressure", "KubeletHasSufficientMemory", "berth has sufficient memory"),
            ("DiskPressure", "KubeletHasNoDiskPressure", "berth has no disk pressure"),
            ("PIDPressure", "KubeletHasSufficientPID", "berth has sufficient PID available")):
        out.append({"type": kind, "status": "False", "reason": reason, "message": message,
                    "lastHeartbeatTime": now, "lastTransitionTime": now})
    out.append({"type": "Ready", "status": "True" if ready else "False",
                "reason": "KubeletReady" if ready else "KubeletNotReady",
                "message": "berth node agent is posting ready status", "lastHeartbeatTime": now,
                "lastTransitionTime": now})
    return out


def node_status(address: str, name: str, port: int) -> dict:
    cap = capacity()
    uname = platform.uname()
    return {
        "capacity": cap, "allocatable": cap, "conditions": conditions(),
        "addresses": [{"type": "InternalIP", "address": address},
                      {"type": "Hostname", "address": name}],
        "daemonEndpoints": {"kubeletEndpoint": {"Port": port}},
        "nodeInfo": {"machineID": _read("/etc/machine-id"), "systemUUID": _read("/etc/machine-id"),
                     "bootID": _read("/proc/sys/kernel/random/boot_id"),
                     "kernelVersion": uname.release, "osImage": _os_image(),
                     "containerRuntimeVersion": f"berth://{__version__}",
                     "kubeletVersion": KUBELET_VERSION, "kubeProxyVersion": KUBELET_VERSION,
                     "operatingSystem": "linux", "architecture": _arch(uname.machine)},
    }


def _arch(machine: str) -> str:
    return {"x86_64": "amd64", "aarch64": "arm64"}.get(machine, machine)


def _os_image() -> str:
    for line in _read("/etc/os-release").splitlines():
        if line.startswith("PRETTY_NAME="):
            return line.partition("=")[2].strip('"')
    return "Linux"


class NodeRegistration:
    """The Node and its Lease for one agent."""

    def __init__(self, client: KubeClient, name: str, address: str, labels: dict[str, str],
                 taints: list[dict], port: int):
        self.client, self.name, self.address = client, name, address
        self.labels, self.taints, self.port = labels, taints, port
        self.uid = ""

    def register(self) -> dict:
        """Create the Node, or take over the one of this name (labels and taints as given now)."""
        uname = platform.uname()
        labels = {"kubernetes.io/hostname": self.name, "kubernetes.io/os": "linux",
                  "kubernetes.io/arch": _arch(uname.machine), "beta.kubernetes.io/os": "linux",
                  "beta.kubernetes.io/arch": _arch(uname.machine), "node.berth.io/engine": "berth",
                  **self.labels}
        body = {"apiVersion": "v1", "kind": "Node",
                "metadata": {"name": self.name, "labels": labels},
                "spec": {"taints": self.taints} if self.taints else {},
                "status": node_status(self.address, self.name, self.port)}
        try:
            node = self.client.post("/api/v1/nodes", body)
        except KubeError as e:
            if e.status != 409:
                raise
            node = self.client.patch(f"/api/v1/nodes/{self.name}",
                                     {"metadata": {"labels": labels},
                                      "spec": {"taints": self.taints or None}})
        self.uid = node["metadata"]["uid"]
        self.update_status()
        return node

    def update_status(self) -> None:
        """Report the node's status; a Node deleted meanwhile is registered again, as a
        kubelet does."""
        try:
            self.client.patch(f"/api/v1/nodes/{self.name}/status",
                              {"status": node_status(self.address, self.name, self.port)})
        except KubeError as e:
            if e.status != 404:
                raise
            self.register()

    def renew_lease(self) -> None:
        path = f"/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases/{self.name}"
        spec = {"holderIdentity": self.name, "leaseDurationSeconds": LEASE_SECONDS,
                "renewTime": _micro_now()}
        try:
            self.client.patch(path, {"spec": spec})
        except KubeError as e:
            if e.status != 404:
                raise
            # the Lease goes with its Node (owner reference): is the Node gone too?
            try:
                self.client.get(f"/api/v1/nodes/{self.name}")
            except KubeError as gone:
                if gone.status != 404:
                    raise
                self.register()
            self.client.post(
                "/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases",
                {"apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
                 "metadata": {"name": self.name, "namespace": "kube-node-lease",
                              "ownerReferences": [{"apiVersion": "v1", "kind": "Node",
                                                   "name": self.name, "uid": self.uid}]},
                 "spec": spec})
