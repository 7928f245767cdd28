"""The Kubernetes panes' columns and rows (pods, deployments, events) from the watch cache's
objects, with kubectl's words (engine/kube/views.py) and the dashboard's colours."""

from __future__ import annotations

from rich.text import Text

from engine.public import kube_views as V

from .rows import Column, Row

POD_COLUMNS = (Column("namespace", "NAMESPACE"), Column("name", "NAME"),
               Column("ready", "READY"), Column("status", "STATUS"),
               Column("restarts", "RESTARTS", right=True), Column("age", "AGE", right=True),
               Column("ip", "IP"), Column("node", "NODE"),
               Column("cpu", "CPU", right=True), Column("mem", "MEM", right=True))
DEPLOYMENT_COLUMNS = (Column("namespace", "NAMESPACE"), Column("name", "NAME"),
                      Column("ready", "READY"), Column("up_to_date", "UP-TO-DATE", right=True),
                      Column("available", "AVAILABLE", right=True),
                      Column("age", "AGE", right=True))
EVENT_COLUMNS = (Column("last_seen", "LAST SEEN", right=True), Column("namespace", "NAMESPACE"),
                 Column("type", "TYPE"), Column("reason", "REASON"), Column("object", "OBJECT"),
                 Column("count", "COUNT", right=True), Column("message", "MESSAGE"))
COLUMNS = {"pods": POD_COLUMNS, "deployments": DEPLOYMENT_COLUMNS, "events": EVENT_COLUMNS}

GOOD = {"Running", "Succeeded", "Completed"}
BAD = {"Failed", "Error", "CrashLoopBackOff", "ImagePullBackOff", "ErrImagePull", "OOMKilled",
       "CreateContainerError", "Unknown"}


def _status_style(status: str, style) -> str:
    if status in GOOD:
        return style("$success")
    if status in BAD or status.startswith("Init:Err") or status.startswith("Init:Crash"):
        return style("bold $error")
    if status == "Terminating":
        return "dim"
    return style("$warning")


def _since(rfc3339: str, now: float) -> float:
    try:
        return -V.seconds_since(rfc3339, now)
    except ValueError:
        return 0.0


def pod_row(pod: dict, now: float, style, usage: dict | None = None) -> Row:
    """One pod: kubectl's wide columns, and CPU / memory where its node is berth (``usage``:
    ``{"cpu": cores, "memory": bytes}`` from the node's /stats/summary)."""
    c = V.pod_columns(pod, now)
    key = f"{c['namespace']}/{c['name']}"
    cpu = mem = Text("-", style="dim")
    cpu_v = mem_v = -1.0
    if usage:
        from .rows import binary_size
        mem_v = usage.get("memory", 0)
        mem = Text(binary_size(mem_v))
        if usage.get("cpu") is not None:   # known from the second sample on
            cpu_v = usage["cpu"]
            cpu = Text(f"{cpu_v * 1000:.0f}m")
    created = (pod.get("metadata") or {}).get("creationTimestamp", "")
    cells = (Text(c["namespace"], style="dim"), Text(c["name"], style="bold"), Text(c["ready"]),
             Text(c["status"], style=_status_style(c["status"], style)),
             Text(str(c["restarts"]), style=style("$warning") if c["restarts"] else ""),
             Text(c["age"]), Text(c["ip"] or "-"), Text(c["node"] or "-"), cpu, mem)
    sort = (c["namespace"], c["name"], c["ready"], c["status"], c["restarts"],
            _since(created, now), c["ip"], c["node"], cpu_v, mem_v)
    return Row(key, key, cells, sort, f"{key} {c['status']} {c['node']} {c['ip']}", pod)


def deployment_row(dep: dict, now: float, style) -> Row:
    c = V.deployment_columns(dep, now)
    key = f"{c['namespace']}/{c['name']}"
    ready, want = c["ready"].split("/")
    created = (dep.get("metadata") or {}).get("creationTimestamp", "")
    cells = (Text(c["namespace"], style="dim"), Text(c["name"], style="bold"),
             Text(c["ready"], style=style("$success") if ready == want else style("$warning")),
             Text(str(c["up_to_date"])), Text(str(c["available"])), Text(c["age"]))
    sort = (c["namespace"], c["name"], c["ready"], c["up_to_date"], c["available"],
            _since(created, now))
    return Row(key, key, cells, sort, key, dep)


def event_row(ev: dict, now: float, style) -> Row:
    c = V.event_columns(ev, now)
    meta = ev.get("metadata") or {}
    key = f"{meta.get('namespace', '')}/{meta.get('name', '')}"
    warn = c["type"] == "Warning"
    cells = (Text(c["last_seen"]), Text(c["namespace"], style="dim"),
             Text(c["type"], style=style("bold $warning") if warn else ""),
             Text(c["reason"], style="bold"), Text(c["object"]), Text(str(c["count"])),
             Text(c["message"]))
    sort = (_since(V.event_time(ev), now), c["namespace"], c["type"], c["reason"], c["object"],
            c["count"], c["message"])
    return Row(key, key, cells, sort, f"{c['reason']} {c['object']} {c['message']}", ev)
