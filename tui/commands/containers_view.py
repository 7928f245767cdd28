"""How container listings look: Docker's ps columns and status words, ``--format`` templates."""

from __future__ import annotations

import json
import re
import time

from .common import ago, go_template, human_duration, parse_time, print_table

PS_HEADERS = ("CONTAINER ID", "IMAGE", "COMMAND", "CREATED", "STATUS", "PORTS", "NAMES")


def status_text(c) -> str:
    """'Up 5 seconds', 'Up 2 minutes (Paused)', 'Up 1 second (healthy)', 'Exited (0) 3 seconds
    ago', 'Created'."""
    s = c.state
    if s.status in ("running", "paused"):
        text = "Up " + human_duration(time.time() - parse_time(s.started_at))
        if s.status == "paused":
            return text + " (Paused)"
        return f"{text} ({s.health.label()})" if s.health else text
    if s.status == "restarting":
        return f"Restarting ({s.exit_code}) {ago(s.finished_at)}" if s.finished_at else "Restarting"
    if s.status == "exited":
        return f"Exited ({s.exit_code}) {ago(s.finished_at)}" if s.finished_at else \
            f"Exited ({s.exit_code})"
    if s.status == "removing":
        return "Removal In Progress"
    if s.status == "dead":
        return "Dead"
    return "Created"


def ports_text(c) -> str:
    ports = c.state.ports if c.running and c.state.ports else []
    out = []
    for p in ports:
        host = p.host_ip or "0.0.0.0"
        out.append(f"{host}:{p.host_port}->{p.container_port}/{p.proto}")
    if not out:
        out = [p for p in c.config.exposed_ports] if c.running else []
    return ", ".join(out)


def command_text(c, no_trunc: bool = False) -> str:
    cmd = " ".join([*c.config.entrypoint, *c.config.cmd])
    if not no_trunc and len(cmd) > 20:
        cmd = cmd[:19] + "…"
    return f'"{cmd}"'


def ps_rows(containers, no_trunc: bool = False) -> list[dict]:
    rows = []
    for c in containers:
        rows.append({
            "ID": c.id if no_trunc else c.short_id, "Image": c.config.image,
            "Command": command_text(c, no_trunc), "CreatedAt": c.created,
            "RunningFor": ago(c.created), "Status": status_text(c), "State": c.state.status,
            "Ports": ports_text(c), "Names": c.name,
            "Labels": ",".join(f"{k}={v}" for k, v in c.config.labels.items()),
            "Networks": c.config.network_mode, "Mounts": ",".join(m.target for m in c.config.mounts),
            "LocalVolumes": str(sum(1 for m in c.config.mounts if m.type == "volume")),
            "Size": "0B",
        })
    return rows


def render_ps(rows: list[dict], fmt: str = "") -> None:
    if fmt == "json":
        for r in rows:
            print(json.dumps(r, separators=(",", ":")))
        return
    if fmt and fmt != "table":
        table = fmt.startswith("table ")
        template = fmt[6:] if table else fmt
        if table:
            heads = re.findall(r"\{\{\s*\.(\w+)\s*\}\}", template)
            print(go_template(template, {h: h.upper() for h in heads}))
        for r in rows:
            print(go_template(template, r))
        return
    print_table(PS_HEADERS, [(r["ID"], r["Image"], r["Command"], r["RunningFor"], r["Status"],
                              r["Ports"], r["Names"]) for r in rows])
