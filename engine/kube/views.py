"""The columns kubectl prints for pods, deployments and events, as plain values from the
objects (the CLI and the dashboard both draw them): STATUS as ``kubectl get pods`` words it
(a waiting or terminated reason over the phase, Terminating once deleted), READY, RESTARTS,
AGE, and so on."""

from __future__ import annotations

import time


def seconds_since(rfc3339: str, now: float | None = None) -> float:
    if not rfc3339:
        return 0.0
    from datetime import datetime
    t = datetime.fromisoformat(rfc3339.replace("Z", "+00:00")).timestamp()
    return max(0.0, (now if now is not None else time.time()) - t)


def age(rfc3339: str, now: float | None = None) -> str:
    """kubectl's short ages: 42s, 5m, 3h, 2d."""
    if not rfc3339:
        return "<unknown>"
    s = int(seconds_since(rfc3339, now))
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if s >= size * (2 if unit != "m" else 1):
            return f"{s // size}{unit}"
    return f"{s}s"


def pod_status(pod: dict) -> str:
    """The STATUS kubectl shows: Terminating, a container's waiting or terminated reason
    (ContainerCreating, CrashLoopBackOff, Completed, Error…), Init:…, or the phase."""
    meta, status = pod.get("metadata") or {}, pod.get("status") or {}
    if meta.get("deletionTimestamp"):
        return "Terminating"
    reason = status.get("reason") or status.get("phase") or "Unknown"
    inits = status.get("initContainerStatuses") or []
    for i, cs in enumerate(inits):
        state = cs.get("state") or {}
        if (state.get("terminated") or {}).get("exitCode") == 0:
            continue
        waiting = (state.get("waiting") or {}).get("reason")
        if waiting and waiting != "PodInitializing":
            return f"Init:{waiting}"
        return f"Init:{i}/{len(inits)}"
    for cs in status.get("containerStatuses") or []:
        state = cs.get("state") or {}
        if (state.get("waiting") or {}).get("reason"):
            reason = state["waiting"]["reason"]
        elif (state.get("terminated") or {}).get("reason"):
            reason = state["terminated"]["reason"]
    return reason


def pod_ready(pod: dict) -> str:
    statuses = (pod.get("status") or {}).get("containerStatuses") or []
    total = len((pod.get("spec") or {}).get("containers") or []) or len(statuses)
    return f"{sum(1 for cs in statuses if cs.get('ready'))}/{total}"


def pod_restarts(pod: dict) -> int:
    return sum(cs.get("restartCount") or 0
               for cs in (pod.get("status") or {}).get("containerStatuses") or [])


def pod_columns(pod: dict, now: float | None = None) -> dict:
    """NAMESPACE, NAME, READY, STATUS, RESTARTS, AGE, IP, NODE of one pod."""
    meta, status = pod.get("metadata") or {}, pod.get("status") or {}
    return {"namespace": meta.get("namespace", ""), "name": meta.get("name", ""),
            "ready": pod_ready(pod), "status": pod_status(pod), "restarts": pod_restarts(pod),
            "age": age(meta.get("creationTimestamp", ""), now), "ip": status.get("podIP") or "",
            "node": (pod.get("spec") or {}).get("nodeName") or ""}


def deployment_columns(dep: dict, now: float | None = None) -> dict:
    """NAMESPACE, NAME, READY, UP-TO-DATE, AVAILABLE, AGE of one deployment."""
    meta, spec, status = dep.get("metadata") or {}, dep.get("spec") or {}, dep.get("status") or {}
    return {"namespace": meta.get("namespace", ""), "name": meta.get("name", ""),
            "ready": f"{status.get('readyReplicas') or 0}/{spec.get('replicas', 0)}",
            "up_to_date": status.get("updatedReplicas") or 0,
            "available": status.get("availableReplicas") or 0,
            "age": age(meta.get("creationTimestamp", ""), now)}


def event_columns(ev: dict, now: float | None = None) -> dict:
    """NAMESPACE, LAST SEEN, TYPE, REASON, OBJECT, MESSAGE of one event."""
    obj = ev.get("involvedObject") or {}
    return {"namespace": (ev.get("metadata") or {}).get("namespace", ""),
            "last_seen": age(event_time(ev), now), "type": ev.get("type", ""),
            "reason": ev.get("reason", ""),
            "object": f"{(obj.get('kind') or '').lower()}/{obj.get('name', '')}",
            "message": " ".join(str(ev.get("message", "")).split()),
            "count": ev.get("count") or 1}


def event_time(ev: dict) -> str:
    """When an event last happened, RFC 3339 (the newer API's fields when the old are empty)."""
    return (ev.get("lastTimestamp") or ev.get("eventTime") or
            (ev.get("metadata") or {}).get("creationTimestamp") or "")
