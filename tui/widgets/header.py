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

    def fields(self) -> list[tuple[int, Text]]:
        """The header's fields as (priority, text): the lower the priority, the sooner a
        narrow terminal drops it."""
        out: list[tuple[int, Text]] = []
        tot = self.totals
        if tot:
            cpu = Text("cpu ", style="dim")
            cpu.append(f"{tot.get('cpu_percent', 0):.1f}%", style="bold")
            cpu.append(f" of {tot.get('cpus', '?')}", style="dim")
            used, total = tot.get("memory_used", 0), tot.get("memory_total", 0)
            mem = Text("mem ", style="dim")
            mem.append(binary_size(used), style="bold")
            mem.append(f" / {binary_size(total)}", style="dim")
            load = Text("load ", style="dim")
            load.append(f"{tot.get('load1', 0):.2f}", style="bold")
            load15 = Text(" ".join(f"{tot.get(k, 0):.2f}" for k in ("load5", "load15")),
                          style="dim")
            out += [(8, cpu), (7, mem), (6, load), (2, load15)]
        else:
            out.append((5, Text(self.unavailable or "host totals: measuring…", style="dim")))
        cont = (self.counts or {}).get("containers")
        if cont is not None:
            running, total = cont
            t = Text("containers ", style="dim")
            t.append(str(running), style="bold")
            t.append(f" running / {total}", style="dim")
            out.append((9, t))
        if self.stats_note:
            out.append((1, Text(self.stats_note, style="dim")))
        out.append((3, Text(self.root, style="dim")))
        return out

    SEP = "  │  "

    def render(self) -> Text:
        width = self.size.width or 160
        fields = self.fields()
        brand = Text(" ⚓ berth ", style="bold reverse")
        # drop the least wanted fields until the rest fit; load 5/15 go with load 1
        keep = list(fields)
        while keep and brand.cell_len + sum(f.cell_len + len(self.SEP) for _, f in keep) > width:
            keep.remove(min(keep, key=lambda pf: pf[0]))
        t = Text(no_wrap=True, overflow="ellipsis")
        t.append_text(brand)
        for i, (prio, f) in enumerate(keep):
            if prio == 2 and i:   # load 5 and 15 follow load 1 directly
                t.append(" ")
            else:
                t.append(self.SEP, style="dim")
            t.append_text(f)
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
