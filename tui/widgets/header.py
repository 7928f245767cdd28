"""The dashboard's top lines: host totals and object counts, then the pane tabs."""

from __future__ import annotations

from rich.style import Style
from rich.text import Text
from textual.reactive import reactive
from textual.widgets import Static

from .rows import binary_size

PANES = ("containers", "images", "volumes", "networks")


class HostHeader(Static):
    """berth, the root, host CPU / memory / load and the count of each kind of object."""

    totals: reactive[dict | None] = reactive(None, always_update=True)
    """The last Engine.host_totals() (None: not measured yet or not available)."""
    counts: reactive[dict] = reactive(dict, always_update=True)
    """kind -> (shown, total), or kind -> None when the kind is not available."""

    def __init__(self, root: str, **kwargs):
        super().__init__(**kwargs)
        self.root = root
        self.unavailable = ""
        self.stats_note = ""

    def render(self) -> Text:
        t = Text(no_wrap=True, overflow="ellipsis")
        t.append(" ⚓ berth ", style="bold reverse")
        t.append(f"  {self.root}", style="dim")
        t.append("   ")
        tot = self.totals
        if tot:
            t.append("cpu ", style="dim")
            t.append(f"{tot.get('cpu_percent', 0):5.1f}%", style="bold")
            t.append(f" of {tot.get('cpus', '?')}", style="dim")
            used, total = tot.get("memory_used", 0), tot.get("memory_total", 0)
            t.append("   mem ", style="dim")
            t.append(f"{binary_size(used)}", style="bold")
            t.append(f" / {binary_size(total)}", style="dim")
            t.append("   load ", style="dim")
            t.append(" ".join(f"{tot.get(k, 0):.2f}" for k in ("load1", "load5", "load15")),
                     style="bold")
        else:
            t.append(self.unavailable or "host totals: measuring…", style="dim")
        c = self.counts or {}
        cont = c.get("containers")
        if cont is not None:
            running, total = cont
            t.append("   containers ", style="dim")
            t.append(f"{running}", style="bold")
            t.append(f" running / {total}", style="dim")
        if self.stats_note:
            t.append(f"   {self.stats_note}", style="dim")
        return t


class PaneTabs(Static):
    """The pane tabs: number key, name and count; the current pane highlighted; clickable."""

    current: reactive[str] = reactive("containers")
    """The pane on show."""
    counts: reactive[dict] = reactive(dict, always_update=True)
    """kind -> number of rows, or None when the kind is not available in this build."""
    extra: reactive[str] = reactive("")
    """Text at the right end: the filter, the sort, the marks."""

    def render(self) -> Text:
        t = Text(no_wrap=True, overflow="ellipsis")
        for i, kind in enumerate(PANES, 1):
            n = self.counts.get(kind, 0)
            label = f" {i} {kind} " + (f"{n} " if n is not None else "– ")
            style = Style.parse("reverse bold" if kind == self.current else "")
            t.append(label, style=style + Style.from_meta({"@click": f"screen.pane('{kind}')"}))
            t.append(" ")
        if self.extra:
            t.append("  " + self.extra, style="dim")
        return t
