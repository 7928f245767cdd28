"""The detail pane beside (or under) the dashboard's list: the selected row's tabs.

A container has a live log tail, its graphs with health, ports, mounts and limits, its
processes, its environment and its inspect JSON; an image its layers; a volume the containers
using it; a network the containers on it; every kind its inspect. The renderers here are pure
functions of what the screen fetched (tested without a terminal); DetailPane only shows them.
Fetching is the screen's (screens/dashboard_detail.py): what is known is drawn at once, what a
worker reads fills in after.
"""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical, VerticalScroll
from textual.widgets import Static

from .graphs import ContainerGraphs
from .history import ContainerHistory
from .rows import binary_size, clip, health_of, ports_text, short_image

TABS = {
    "containers": ("logs", "stats", "top", "env", "inspect"),
    "images": ("layers", "inspect"),
    "volumes": ("users", "inspect"),
    "networks": ("containers", "inspect"),
}
"""Each kind's tabs, in the order the tab key cycles them; the first is where a kind starts."""

EMPTY_HISTORY = ContainerHistory()


def tab_bar(kind: str, current: str, title: str, width: int) -> Text:
    """The tabs of ``kind`` with ``current`` highlighted, then the object's name."""
    t = Text(no_wrap=True, overflow="ellipsis")
    for tab in TABS[kind]:
        t.append(f" {tab} ", style="reverse bold" if tab == current else "dim")
        t.append_text(Text.from_markup("[dim]│[/]") if tab != TABS[kind][-1] else Text(""))
    t.append("  ")
    t.append(clip(title, max(8, width - t.cell_len - 1)), style="bold")
    return t


def _limits(c) -> list[str]:
    r = c.config.resources
    out = []
    if r.memory:
        out.append(f"memory {binary_size(r.memory)}")
    if r.nano_cpus:
        out.append(f"cpus {r.nano_cpus / 1e9:g}")
    if getattr(r, "pids_limit", 0):
        out.append(f"pids {r.pids_limit}")
    if r.cpuset_cpus:
        out.append(f"cpuset {r.cpuset_cpus}")
    return out


def container_facts(c, sample=None) -> Text:
    """Health, limits, pids, ports and mounts in two lines: what the stats tab shows above
    the graphs, from the container's record alone (the table already shows image and state)."""
    t = Text(no_wrap=True, overflow="ellipsis")
    health = health_of(c)
    t.append("health ", style="dim")
    t.append(health or "-", style="bold" if health else "")
    h = c.state.health
    if health and h is not None and h.failing_streak:
        t.append(f" ({h.failing_streak} failing)", style="dim")
    t.append("   limits ", style="dim")
    t.append(", ".join(_limits(c)) or "none")
    policy = c.config.restart_policy
    if policy.name and policy.name != "no":
        t.append("   restart ", style="dim")
        t.append(policy.name)
    if sample is not None and c.state.status in ("running", "paused"):
        t.append("   pids ", style="dim")
        t.append(str(sample.pids))
    mounts = [f"{m.source or m.type}:{m.target}{':ro' if m.read_only else ''}"
              for m in c.config.mounts]
    t.append("\nports ", style="dim")
    t.append(ports_text(c) or "-")
    t.append("   mounts ", style="dim")
    t.append(", ".join(mounts) or "-")
    return t


def env_text(c) -> Text:
    t = Text(no_wrap=True, overflow="ellipsis")
    for i, kv in enumerate(c.config.env or ()):
        key, _, value = kv.partition("=")
        if i:
            t.append("\n")
        t.append(key, style="bold")
        t.append("=" + value)
    if not c.config.env:
        t.append("no environment", style="dim")
    return t


def top_text(headers: list[str], rows: list[list[str]], width: int) -> Text:
    """Engine.top's table, columns as wide as their widest cell, the last one clipped."""
    t = Text(no_wrap=True, overflow="ellipsis")
    if not headers:
        t.append("no processes", style="dim")
        return t
    widths = [max([len(h)] + [len(r[i]) for r in rows if i < len(r)])
              for i, h in enumerate(headers)]
    widths[-1] = 0

    def line(cells: list[str]) -> str:
        return " ".join(c.ljust(w) for c, w in zip(cells, widths))[:max(1, width)]
    t.append(line(headers), style="bold")
    for r in rows:
        t.append("\n" + line(r))
    return t


def log_text(lines, height: int, width: int) -> Text:
    """The newest ``height`` log lines ((stream, text, time) each), each clipped to ``width``;
    stderr dimmed red."""
    t = Text(no_wrap=True, overflow="ellipsis")
    shown = list(lines)[-max(1, height):]
    if not shown:
        t.append("no log lines yet", style="dim")
    for i, (stream, text, *_time) in enumerate(shown):
        if i:
            t.append("\n")
        t.append(text.rstrip("\n")[:max(1, width)], style="red" if stream == "stderr" else "")
    return t


def layers_text(rows: list[dict], width: int) -> Text:
    """Engine.history as one line a layer: size, then the step that made it."""
    t = Text(no_wrap=True, overflow="ellipsis")
    for i, r in enumerate(rows):
        if i:
            t.append("\n")
        size = r.get("Size") or 0
        t.append(f"{binary_size(size):>9} ", style="bold" if size else "dim")
        step = (r.get("CreatedBy") or "").replace("/bin/sh -c #(nop) ", "").strip()
        t.append(step[:max(1, width - 10)])
    if not rows:
        t.append("no history", style="dim")
    return t


def users_text(containers, what: str) -> Text:
    """The containers using a volume or on a network, one a line with their state."""
    t = Text(no_wrap=True, overflow="ellipsis")
    for i, c in enumerate(containers):
        if i:
            t.append("\n")
        t.append(c.name, style="bold")
        t.append(f"  {c.state.status}", style="dim")
    if not containers:
        t.append(f"no container {what}", style="dim")
    return t


def json_text(data, limit: int = 400) -> Text:
    """Inspect JSON, indented, its first ``limit`` lines (enter opens all of it)."""
    import json
    lines = json.dumps(data, indent=2, default=str).splitlines()
    more = len(lines) - limit
    body = "\n".join(lines[:limit]) + (f"\n… {more} more lines (enter: all of it)"
                                       if more > 0 else "")
    return Text(body, no_wrap=True, overflow="ellipsis")


class DetailPane(Vertical):
    """The selected object's tabs: a tab bar, a text body and, on the stats tab, graphs."""

    DEFAULT_CSS = """
    DetailPane {
        height: 1fr;
        border: round $primary 40%;
        border-title-color: $primary;
    }
    DetailPane #detail-tabs { height: 1; background: $surface; }
    DetailPane #detail-scroll { height: 1fr; scrollbar-size-vertical: 1; }
    DetailPane #detail-facts { height: auto; text-wrap: nowrap; text-overflow: ellipsis; }
    DetailPane #detail-text { text-wrap: nowrap; text-overflow: ellipsis; }
    DetailPane #detail-graphs { height: 1fr; border: none; padding: 0; }
    """

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self._shown: dict[str | None, Text] = {}
        """What each Static of the pane shows now (to skip updates that change nothing)."""

    def compose(self) -> ComposeResult:
        yield Static("", id="detail-tabs")
        yield Static("", id="detail-facts")
        with VerticalScroll(id="detail-scroll"):
            yield Static("", id="detail-text")
        yield ContainerGraphs("detail", EMPTY_HISTORY, fill=True, id="detail-graphs")

    def on_mount(self) -> None:
        self.query_one("#detail-scroll").can_focus = False
        self.query_one("#detail-graphs").can_focus = False
        self.show(Text(""), graphs=False)

    def tabs(self, text: Text) -> None:
        self._put(self.query_one("#detail-tabs", Static), text)

    def show(self, body: Text, graphs: bool = False, facts: Text | None = None,
             history: ContainerHistory | None = None, scroll_end: bool = False) -> None:
        """Show ``body`` as the tab's text, or (``graphs``) ``facts`` above the graphs of
        ``history``."""
        scroll = self.query_one("#detail-scroll", VerticalScroll)
        graph = self.query_one("#detail-graphs", ContainerGraphs)
        facts_w = self.query_one("#detail-facts", Static)
        if graphs:
            self._put(facts_w, facts or Text(""))
            graph.history = history or EMPTY_HISTORY
            graph.update_graphs()
        else:
            self._put(self.query_one("#detail-text", Static), body)
            if scroll_end:
                scroll.scroll_end(animate=False, immediate=True)
        if facts_w.display != graphs:
            facts_w.display = graphs
            graph.display = graphs
            scroll.display = not graphs
            if not graphs:
                scroll.scroll_home(animate=False)

    def _put(self, widget: Static, text: Text) -> None:
        """Show ``text`` in ``widget``, doing nothing when it already shows the same: a stats
        tick redraws the facts with the same words, and every update of a Static re-lays out
        the whole screen unless its height stays (then only the widget repaints)."""
        old = self._shown.get(widget.id)
        if old is not None and old == text and old.style == text.style:
            return
        same_height = old is not None and old.plain.count("\n") == text.plain.count("\n")
        self._shown[widget.id] = text
        widget.update(text, layout=not same_height)

    def graphs_moved(self) -> None:
        """New samples arrived: redraw the graphs if they are on show."""
        graph = self.query_one("#detail-graphs", ContainerGraphs)
        if graph.display:
            graph.update_graphs()

    def body_size(self) -> tuple[int, int]:
        """The text body's width and height in cells (a guess before the first layout)."""
        scroll = self.query_one("#detail-scroll")
        w, h = scroll.size
        return (w or 60) - 1, h or 10
