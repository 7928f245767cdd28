"""A pod's status as the kubelet reports it, computed from its berth containers: phase,
conditions (with their transition times kept while they hold), containerStatuses and
initContainerStatuses (state, lastState, ready, started, restartCount), podIP and hostIP."""

from __future__ import annotations

from ..clock import now_rfc3339
from ..models import Container
from .podspec import L_ATTEMPT


def attempt(c: Container) -> int:
    return int(c.config.labels.get(L_ATTEMPT, "0"))


def _time(rfc: str) -> str:
    """berth's RFC 3339 (nanoseconds) as the API's Time (whole seconds)."""
    return rfc[:19] + "Z" if rfc else None


def _terminated(c: Container) -> dict:
    s = c.state
    reason = "OOMKilled" if s.oom_killed else ("Completed" if s.exit_code == 0 else "Error")
    return {"terminated": {"exitCode": s.exit_code, "reason": reason,
                           "startedAt": _time(s.started_at), "finishedAt": _time(s.finished_at),
                           "containerID": f"berth://{c.id}"}}


def container_status(spec: dict, runs: list[Container], ready: bool, started: bool,
                     waiting: str = "") -> dict:
    """One entry of containerStatuses from the container's runs, oldest attempt first."""
    latest = runs[-1] if runs else None
    out = {"name": spec["name"], "image": spec["image"], "imageID": "", "ready": False,
           "restartCount": attempt(latest) if latest else 0, "started": False,
           "state": {"waiting": {"reason": waiting or "ContainerCreating"}}, "lastState": {}}
    if latest is None:
        return out
    out["containerID"] = f"berth://{latest.id}"
    out["imageID"] = latest.config.image_id
    if len(runs) > 1:
        out["lastState"] = _terminated(runs[-2])
    if latest.running:
        out["state"] = {"running": {"startedAt": _time(latest.state.started_at)}}
        out["started"] = started
        out["ready"] = ready and started
    elif latest.state.status == "created":
        out["state"] = {"waiting": {"reason": waiting or "ContainerCreating"}}
    elif waiting:
        out["state"] = {"waiting": {"reason": waiting}}
        out["lastState"] = _terminated(latest)
    else:
        out["state"] = _terminated(latest)
    return out


def phase(pod: dict, init_statuses: list[dict], statuses: list[dict]) -> str:
    """Pending, Running, Succeeded or Failed, by the kubelet's rules."""
    policy = pod["spec"].get("restartPolicy", "Always")
    for s in init_statuses:
        term = s["state"].get("terminated")
        if term is None or term["exitCode"] != 0:
            if term is not None and policy == "Never":
                return "Failed"
            return "Pending"
    if not statuses or any("waiting" in s["state"] and not s["lastState"] for s in statuses):
        return "Pending"
    if any("running" in s["state"] for s in statuses) or policy == "Always":
        return "Running"
    codes = [(s["state"].get("terminated") or s["lastState"].get("terminated") or {})
             .get("exitCode", 0) for s in statuses]
    if all(c == 0 for c in codes):
        return "Succeeded"
    return "Failed" if policy == "Never" else "Running"


def conditions(pod: dict, initialized: bool, ready: bool) -> list[dict]:
    """The pod's conditions; a condition's lastTransitionTime kept while its status holds."""
    old = {c["type"]: c for c in (pod.get("status") or {}).get("conditions") or []}
    now = _time(now_rfc3339())
    out = []
    for kind, ok in (("Initialized", initialized), ("Ready", ready),
                     ("ContainersReady", ready), ("PodScheduled", True)):
        status = "True" if ok else "False"
        prev = old.get(kind)
        cond = {"type": kind, "status": status, "lastProbeTime": None,
                "lastTransitionTime": prev["lastTransitionTime"]
                if prev and prev.get("status") == status else now}
        if not ok and kind in ("Ready", "ContainersReady"):
            cond["reason"] = "ContainersNotReady"
        out.append(cond)
    return out


def pod_status(pod: dict, init_statuses: list[dict], statuses: list[dict], pod_ip: str,
               host_ip: str, start_time: str) -> dict:
    init_done = all((s["state"].get("terminated") or {}).get("exitCode", 1) == 0
                    for s in init_statuses)
    ready = bool(statuses) and all(s["ready"] for s in statuses)
    out = {"phase": phase(pod, init_statuses, statuses),
           "conditions": conditions(pod, init_done, ready),
           "hostIP": host_ip, "podIP": pod_ip or None,
           "podIPs": [{"ip": pod_ip}] if pod_ip else None,
           "startTime": start_time, "qosClass": qos_class(pod),
           "containerStatuses": statuses}
    if init_statuses:
        out["initContainerStatuses"] = init_statuses
    return out


def qos_class(pod: dict) -> str:
    """Guaranteed, Burstable or BestEffort, from the containers' requests and limits."""
    specs = pod["spec"].get("containers") or []
    res = [c.get("resources") or {} for c in specs]
    if not any(r.get("requests") or r.get("limits") for r in res):
        return "BestEffort"
    for r in res:
        limits = r.get("limits") or {}
        requests = r.get("requests") or limits   # the API server's default: requests = limits
        if not all(k in limits and str(requests.get(k)) == str(limits[k])
                   for k in ("cpu", "memory")):
            return "Burstable"
    return "Guaranteed"
