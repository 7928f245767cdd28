"""The kubelet's ``/stats/summary`` from berth's cgroup stats: the node's CPU and memory, and
each pod's and container's CPU (cumulative and current, in cores) and memory (usage, working
set), as ``kubectl get --raw /api/v1/nodes/NODE/proxy/stats/summary`` and metrics-server read
them."""

from __future__ import annotations

from ..clock import now_rfc3339
from .podspec import L_CONTAINER, L_KIND, L_NODE, L_NS, L_POD, L_UID


def summary(agent) -> dict:
    engine = agent.engine
    now = now_rfc3339()[:19] + "Z"
    running = [c for c in engine.containers(filters={"label": [f"{L_NODE}={agent.name}"]})
               if c.config.labels.get(L_KIND) != "infra"]
    samples = {s.id: s for s in engine.stats_once([c.id for c in running])} if running else {}
    pods: dict[str, dict] = {}
    for c in running:
        s = samples.get(c.id)
        if s is None:
            continue
        labels = c.config.labels
        pod = pods.setdefault(labels[L_UID], {
            "podRef": {"name": labels[L_POD], "namespace": labels[L_NS], "uid": labels[L_UID]},
            "startTime": c.state.started_at[:19] + "Z", "containers": [],
            "cpu": {"time": now, "usageNanoCores": 0, "usageCoreNanoSeconds": 0},
            "memory": {"time": now, "usageBytes": 0, "workingSetBytes": 0}})
        cpu = {"time": now, "usageNanoCores": int(s.cpu_percent / 100 * 1e9),
               "usageCoreNanoSeconds": s.cpu_total_ns}
        mem = {"time": now, "usageBytes": s.memory_usage, "workingSetBytes": s.memory_usage}
        pod["containers"].append({"name": labels[L_CONTAINER],
                                  "startTime": c.state.started_at[:19] + "Z",
                                  "cpu": cpu, "memory": mem})
        for key in ("usageNanoCores", "usageCoreNanoSeconds"):
            pod["cpu"][key] += cpu[key]
        for key in ("usageBytes", "workingSetBytes"):
            pod["memory"][key] += mem[key]
    host = engine.host_totals()
    node = {"nodeName": agent.name, "startTime": now,
            "cpu": {"time": now,
                    "usageNanoCores": int(host["cpu_percent"] / 100 * host["cpus"] * 1e9)},
            "memory": {"time": now, "availableBytes": host["memory_total"] - host["memory_used"],
                       "usageBytes": host["memory_used"], "workingSetBytes": host["memory_used"]}}
    return {"node": node, "pods": list(pods.values())}
