"""What each pane shows: its columns and how a model becomes a row of cells.

Pure functions of the models (and a ``now`` for the time-dependent cells), so a table can be
diffed cell by cell and a test can freeze the clock. Cells are rich ``Text``; ``sort`` values
are plain Python values so any column sorts sensibly (sizes as numbers, times as times).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Sequence

from rich.text import Text

from tui.commands.common import human_size, parse_time

SPARK = "▁▂▃▄▅▆▇█"
SPARK_WIDTH = 10
MARK = "●"


@dataclass(frozen=True)
class Column:
    """One column of a pane: its key, header and width (None: sized to the content)."""

    key: str
    label: str
    width: int | None = None
    right: bool = False


@dataclass
class Row:
    """One row: ``key`` is stable across refreshes, ``ref`` is what engine verbs are given."""

    key: str
    ref: str
    cells: tuple[Any, ...]            # one per column after the mark column
    sort: tuple[Any, ...]             # sort value per column after the mark column
    text: str                         # what the filter searches
    model: Any


def _safe_time(rfc3339: str) -> float:
    try:
        return parse_time(rfc3339)
    except (ValueError, TypeError):
        return 0.0


def age(seconds: float) -> str:
    """k9s-style compact age: 12s, 5m, 3h, 4d."""
    s = int(max(0.0, seconds))
    if s < 60:
        return f"{s}s"
    if s < 3600:
        return f"{s // 60}m"
    if s < 48 * 3600:
        return f"{s // 3600}h"
    return f"{s // 86400}d"


def ago(rfc3339: str, now: float) -> str:
    t = _safe_time(rfc3339)
    if not t:
        return "-"
    return age(now - t)


def clip(text: str, width: int = 40) -> str:
    return text if len(text) <= width else text[:width - 1] + "…"


def sparkline(values: Sequence[float], width: int = SPARK_WIDTH, top: float = 100.0) -> str:
    """The last ``width`` values as block characters scaled to ``top``; blanks before data."""
    vals = list(values)[-width:]
    top = max(top, max(vals, default=0.0), 1e-9)
    chars = [SPARK[min(len(SPARK) - 1, int(v / top * (len(SPARK) - 1) + 0.5))] if v > 0 else " "
             for v in vals]
    return "".join(chars).rjust(width)


def binary_size(n: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if abs(n) < 1024 or unit == "TiB":
            return f"{n:.1f}{unit}" if unit != "B" else f"{int(n)}B"
        n /= 1024
    return f"{n:.1f}PiB"  # pragma: no cover


def short_image(ref: str) -> str:
    for prefix in ("docker.io/library/", "docker.io/"):
        if ref.startswith(prefix):
            return ref[len(prefix):]
    return ref


# --- containers -------------------------------------------------------------------------------

CONTAINER_COLUMNS = (
    Column("name", "NAME"), Column("image", "IMAGE"), Column("state", "STATE", 10),
    Column("status", "STATUS", 20), Column("ports", "PORTS"), Column("cpu", "CPU%", 6, True),
    Column("mem", "MEM", 9, True), Column("pids", "PIDS", 4, True),
    Column("spark", "CPU (20s)", SPARK_WIDTH), Column("id", "ID", 12),
)

STATE_STYLE = {"running": "bold $success", "paused": "bold $warning", "restarting": "$warning",
               "exited": "$text-muted", "dead": "$error", "created": "$secondary",
               "removing": "$text-muted"}
# a running container's healthcheck: a glyph after its state, the word after its uptime
HEALTH_STYLE = {"healthy": "$success", "unhealthy": "bold $error", "starting": "$warning"}
HEALTH_GLYPH = {"healthy": "✓", "unhealthy": "✗", "starting": "…"}


def health_of(c) -> str:
    """The health status the table shows: a running container's, "" without a healthcheck."""
    h = c.state.health
    return h.status if h is not None and c.state.status == "running" else ""


def container_status(c, now: float) -> str:
    s = c.state
    if s.status in ("running", "paused"):
        up = age(now - _safe_time(s.started_at)) if s.started_at else "?"
        health = health_of(c)
        return f"Up {up}" + (" (Paused)" if s.status == "paused" else
                             f" ({health})" if health else "")
    if s.status == "restarting":
        return f"Restarting ({s.exit_code})"
    if s.status in ("exited", "dead"):
        code = f"Exited ({s.exit_code})" + (" OOM" if s.oom_killed else "")
        return f"{code} {ago(s.finished_at, now)} ago" if s.finished_at else code
    if s.status == "created":
        return "Created"
    return s.status.capitalize()


def ports_text(c) -> str:
    ports = c.state.ports or c.config.ports
    out = []
    for p in ports:
        host = f"{p.host_ip or '0.0.0.0'}:{p.host_port}->" if p.host_port else ""
        out.append(f"{host}{p.container_port}/{p.proto}")
    if not out:
        out = list(c.config.exposed_ports)
    return ", ".join(out)


def container_row(c, sample, history: Sequence[float], now: float, theme_style) -> Row:
    """A container's row; ``sample`` is its latest StatsSample or None when not measured."""
    running = c.state.status in ("running", "paused")
    state = Text(c.state.status, style=theme_style(STATE_STYLE.get(c.state.status, "")))
    health = health_of(c)
    if health:
        state.append(" " + HEALTH_GLYPH.get(health, "?"),
                     style=theme_style(HEALTH_STYLE.get(health, "")))
    if sample is not None and running:
        cpu = f"{sample.cpu_percent:5.1f}"
        mem = binary_size(sample.memory_usage)
        pids = str(sample.pids)
        cpu_sort, mem_sort = sample.cpu_percent, sample.memory_usage
    else:
        cpu = mem = pids = "-" if not running else "…"
        cpu_sort, mem_sort = -1.0, -1
    spark = Text(sparkline(history) if running else "", style=theme_style("$accent"))
    image = short_image(c.config.image)
    status = container_status(c, now)
    if health:
        head, _, _ = status.rpartition(" (")
        status = Text(head + " ")
        status.append(f"({health})", style=theme_style(HEALTH_STYLE.get(health, "")))
    ports = ports_text(c)
    cells = (Text(clip(c.name), style="bold"), clip(image, 32), state, status, clip(ports, 40),
             Text(cpu, justify="right"), Text(mem, justify="right"),
             Text(pids, justify="right"), spark, c.id[:12])
    sort = (c.name, image, c.state.status, _safe_time(c.state.started_at or c.created), ports,
            cpu_sort, mem_sort, sample.pids if sample else -1, sum(history), c.id)
    return Row(c.id, c.id, cells, sort,
               f"{c.name} {image} {c.state.status} {health} {c.id[:12]} {ports}", c)


# --- images -----------------------------------------------------------------------------------

IMAGE_COLUMNS = (
    Column("repo", "REPOSITORY"), Column("tag", "TAG"), Column("id", "IMAGE ID", 12),
    Column("size", "SIZE", 9, True), Column("created", "AGE", 5, True),
    Column("used", "CONTAINERS", 10, True),
)


def split_tag(ref: str) -> tuple[str, str]:
    ref = short_image(ref)
    name, _, digest = ref.partition("@")
    slash = name.rfind("/")
    colon = name.rfind(":")
    if colon > slash:
        return name[:colon], name[colon + 1:]
    return name, digest[:19] if digest else "<none>"


def image_rows(img, users: int, now: float) -> list[Row]:
    out = []
    tags = img.repo_tags or [""]
    for ref in tags:
        repo, tag = split_tag(ref) if ref else ("<none>", "<none>")
        cells = (Text(repo, style="bold"), tag, img.short_id, Text(human_size(img.size), justify="right"),
                 Text(ago(img.created, now), justify="right"), Text(str(users) if users else "-", justify="right"))
        sort = (repo, tag, img.id, img.size, _safe_time(img.created), users)
        out.append(Row(f"{img.id}|{ref}", ref or img.id, cells, sort,
                       f"{repo}:{tag} {img.short_id}", img))
    return out


# --- volumes ----------------------------------------------------------------------------------

VOLUME_COLUMNS = (
    Column("name", "NAME"), Column("driver", "DRIVER", 8), Column("created", "AGE", 5, True),
    Column("used", "CONTAINERS", 10, True), Column("kind", "KIND", 9), Column("mountpoint", "MOUNTPOINT"),
)


def volume_row(v, users: int, now: float) -> Row:
    kind = "anonymous" if v.anonymous else "named"
    cells = (Text(clip(v.name), style="bold"), v.driver, Text(ago(v.created, now), justify="right"),
             Text(str(users) if users else "-", justify="right"), kind, clip(v.mountpoint, 60))
    sort = (v.name, v.driver, _safe_time(v.created), users, kind, v.mountpoint)
    return Row(v.name, v.name, cells, sort, f"{v.name} {v.driver} {kind}", v)


# --- networks ---------------------------------------------------------------------------------

NETWORK_COLUMNS = (
    Column("name", "NAME"), Column("id", "NETWORK ID", 12), Column("driver", "DRIVER", 8),
    Column("subnet", "SUBNET", 18), Column("gateway", "GATEWAY", 15), Column("bridge", "BRIDGE", 12),
    Column("used", "CONTAINERS", 10, True), Column("internal", "INTERNAL", 8),
)


def network_row(n, now: float) -> Row:
    users = len(n.allocations)
    cells = (Text(n.name, style="bold"), n.id[:12], n.driver, n.subnet or "-", n.gateway or "-",
             n.bridge or "-", Text(str(users) if users else "-", justify="right"),
             "yes" if n.internal else "")
    sort = (n.name, n.id, n.driver, n.subnet, n.gateway, n.bridge, users, n.internal)
    return Row(n.name, n.name, cells, sort, f"{n.name} {n.driver} {n.subnet} {n.id[:12]}", n)


COLUMNS: dict[str, tuple[Column, ...]] = {
    "containers": CONTAINER_COLUMNS, "images": IMAGE_COLUMNS,
    "volumes": VOLUME_COLUMNS, "networks": NETWORK_COLUMNS,
}


DROP_ORDER: dict[str, tuple[str, ...]] = {
    "containers": ("id", "ports", "spark", "pids", "state", "image"),
    "images": ("id", "used", "created"),
    "volumes": ("mountpoint", "driver", "created", "kind"),
    "networks": ("id", "bridge", "gateway", "internal", "driver"),
}
"""Which columns a narrow table drops first (keys of COLUMNS), until the rest fit."""


def volume_users(containers) -> dict[str, int]:
    out: dict[str, int] = {}
    for c in containers or ():
        for m in c.config.mounts:
            if m.type == "volume" and m.source:
                out[m.source] = out.get(m.source, 0) + 1
    return out


def image_users(containers) -> dict[str, int]:
    out: dict[str, int] = {}
    for c in containers or ():
        if c.config.image_id:
            out[c.config.image_id] = out.get(c.config.image_id, 0) + 1
    return out


StyleFn = Callable[[str], str]
