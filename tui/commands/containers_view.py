"""How container listings look: Docker's ps columns and status words, ``--format`` templates."""

from __future__ import annotations

import time

from .common import ago, human_duration, parse_time, print_table

PS_HEADERS = ("CONTAINER ID", "IMAGE", "COMMAND", "CREATED", "STATUS", "PORTS", "NAMES")
# the column names of docker's ps table formats, by field
PS_HEADER = {"ID": "CONTAINER ID", "Names": "NAMES", "Image": "IMAGE", "Command": "COMMAND",
             "CreatedAt": "CREATED AT", "RunningFor": "CREATED", "Ports": "PORTS",
             "State": "STATE", "Status": "STATUS", "Size": "SIZE", "Labels": "LABELS",
             "Mounts": "MOUNTS", "LocalVolumes": "LOCAL VOLUMES", "Networks": "NETWORKS",
             "Platform": "PLATFORM"}


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


def size_text(rw: int, rootfs: int) -> str:
    """docker ps's SIZE: '0B (virtual 1.53MB)'."""
    from .common import human_size
    return f"{human_size(rw)} (virtual {human_size(rootfs)})" if rootfs > 0 else human_size(rw)


def wants_size(fmt: str) -> bool:
    """Whether a ps format shows .Size (docker's ps then asks for sizes, as -s does)."""
    return ".Size" in fmt


def ps_rows(containers, no_trunc: bool = False, sizes=None) -> list[dict]:
    """The fields of docker's ps formats (its ContainerContext), one dict per container.
    ``sizes``: a function of a container's id to (SizeRw, SizeRootFs), when sizes are shown."""
    rows = []
    for c in containers:
        labels = c.config.labels
        rows.append({
            "ID": c.id if no_trunc else c.short_id, "Image": c.config.image,
            "Command": command_text(c, no_trunc), "CreatedAt": _go_time(c.created),
            "RunningFor": ago(c.created), "Status": status_text(c), "State": c.state.status,
            "Ports": ports_text(c), "Names": c.name,
            "Labels": ",".join(sorted(f"{k}={v}" for k, v in labels.items())),
            "Networks": c.config.network_mode,
            "Mounts": ",".join(m.source if no_trunc or len(m.source) <= 15
                               else m.source[:14] + "…" for m in c.config.mounts),
            "LocalVolumes": str(sum(1 for m in c.config.mounts if m.type == "volume")),
            "Size": size_text(*sizes(c.id)) if sizes else "0B", "Platform": None,
            "_labels": labels,
        })
    return rows


def _go_time(rfc3339: str) -> str:
    from tui.gotemplate.docker import go_time
    return go_time(rfc3339, seconds=True)


def render_ps(rows: list[dict], fmt: str = "", size: bool = False) -> None:
    if fmt and fmt != "table":
        import sys
        from tui.gotemplate.docker import context, format_rows
        sys.stdout.write(format_rows(fmt, [
            context("*formatter.ContainerContext",
                    {k: v for k, v in r.items() if k != "_labels"}, r["_labels"])
            for r in rows], PS_HEADER))
        return
    print_table(PS_HEADERS + (("SIZE",) if size else ()),
                [(r["ID"], r["Image"], r["Command"], r["RunningFor"], r["Status"], r["Ports"],
                  r["Names"], *((r["Size"],) if size else ())) for r in rows])
