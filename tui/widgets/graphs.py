"""Small block-character graphs of a container's history, for the graphs screen.

``bars`` turns a list of values into rows of eighth-block characters (pure, tested);
``ContainerGraphs`` draws one container's CPU, memory (with its limit as a line), network rx/tx
and block read/write from a ContainerHistory, as a small card in the grid or (``fill``) as tall
as its pane allows. Drawing reads the history only; the stats stream that fills it lives on the
screen.
"""

from __future__ import annotations

import os

from rich.segment import Segment
from rich.style import Style
from textual.geometry import Region
from textual.strip import Strip
from textual.widget import Widget

from .history import ContainerHistory
from .rows import binary_size as human_size

__all__ = ["bars", "ContainerGraphs", "GRAPH_ROWS", "CARD_HEIGHT"]

BLOCKS = " ▁▂▃▄▅▆▇█"


def _host_memory() -> int:
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError):
        return 0


HOST_MEMORY = _host_memory()
"""The engine reports the host's memory as the limit of an unlimited container."""
GRAPH_ROWS = 2
"""Rows of each graph on a card in the grid."""
SECTIONS = 4
"""cpu, mem, net, blk: each a label line and its graph rows."""
CARD_HEIGHT = SECTIONS * (1 + GRAPH_ROWS) + 2
"""A card's height in the grid, its border included."""


def bars(values: list[float], width: int, height: int, top: float) -> list[str]:
    """``height`` strings of ``width`` cells drawing the newest ``width`` values as columns
    scaled so that ``top`` fills the height (values above it are clipped); right-aligned."""
    values = values[-width:] if width > 0 else []
    pad = width - len(values)
    levels = [0] * pad + [
        max(0, min(height * 8, round(v / top * height * 8))) if top > 0 else 0 for v in values]
    rows = []
    for r in range(height):
        floor = (height - 1 - r) * 8   # eighths below this row
        rows.append("".join(BLOCKS[max(0, min(8, lv - floor))] for lv in levels))
    return rows


def _rate(n: float) -> str:
    return f"{human_size(n)}/s"


class ContainerGraphs(Widget, can_focus=True):
    """One container's graphs: CPU and memory full width; net and block I/O side by side."""

    DEFAULT_CSS = """
    ContainerGraphs {
        height: CARD_HEIGHT;
        border: round $primary 60%;
        border-title-color: $primary;
        padding: 0 1;
    }
    ContainerGraphs:focus {
        border: round $accent;
        border-title-color: $accent;
        border-title-style: bold;
    }
    """.replace("CARD_HEIGHT", str(CARD_HEIGHT))

    def __init__(self, cid: str, history: ContainerHistory, coarse: bool = False,
                 fill: bool = False, id: str | None = None) -> None:
        super().__init__(id=id or f"graphs-{cid[:12]}")
        self.cid = cid
        self.history = history
        self.coarse = coarse
        self.fill = fill
        """Grow the graphs to the widget's height (the detail view) instead of GRAPH_ROWS."""
        self._title = f" {history.name} "
        self.border_title = self._title
        self._cache: tuple[tuple[int, int], list] | None = None
        self._drawn: tuple[tuple, list] | None = None
        """The last lines render_lines_text made, with what they were made from."""

    @property
    def graph_rows(self) -> int:
        """Rows of each graph: GRAPH_ROWS on a card, as many as the height allows when filling
        (less the time axis's line)."""
        return self._shape()[1]

    def _shape(self) -> tuple[int, int]:
        """(sections shown, rows of each graph). Filling a height too low for all four
        sections (the detail pane at 80x24), the last ones (blk, then net) are left out, so
        that cpu and memory keep a row each, their labels, scales and the time axis, rather
        than the bottom being cut off the screen, time axis first."""
        if not self.fill:
            return SECTIONS, GRAPH_ROWS
        room = self.size.height - 1           # (the time axis's line)
        for sections in range(SECTIONS, 1, -1):
            if room // sections - 1 >= GRAPH_ROWS:
                break
        rows = room // sections - 1
        return sections, max(rows, GRAPH_ROWS if sections == SECTIONS else 1)

    def update_graphs(self, visible: bool = True) -> None:
        """New samples arrived (or the theme changed): draw again, if anything on the card
        moved. A card out of view (``visible`` False) is only marked, and drawn when it
        scrolls into view: most cards of an idle host would otherwise repaint every second
        to show the same flat lines."""
        title = f" {self.history.name} "
        if title != self._title:
            self._title = self.border_title = title
        width, height = self.size
        if not visible or not width:
            self._cache = None      # drawn afresh by show() when it scrolls into view
            return
        old, lines = self._cache, self.render_lines_text()
        self._cache = ((width, height), lines)
        if old is not None and old[1] is lines and old[0] == (width, height):
            return      # drawn from the same figures: nothing moved
        if old is None or old[0] != (width, height) or len(old[1]) != len(lines):
            self.refresh()
            return
        # only the lines that changed (an idle container's card: often none)
        changed = [Region(0, y, width, 1) for y, (a, b) in enumerate(zip(old[1], lines))
                   if a != b]
        if changed:
            self.refresh(*changed)

    def show(self) -> None:
        """The card scrolled into view: repaint it if samples arrived while it was out."""
        if self._cache is None:
            self.refresh()

    def on_resize(self) -> None:
        self._cache = None

    def _layout(self, width: int) -> list[tuple[str, list[tuple[str, str, list[float], float, float | None]]]]:
        h = self.history
        half = max(1, (width - 1) // 2)

        def pts(metric: str, w: int) -> list[float]:
            return h[metric].points(self.coarse, w)

        cpu = pts("cpu", width)
        ceiling = h.cpu_limit * 100.0          # docker's CPU %: 100 is one whole CPU
        cpu_top = max(100.0, ceiling, max(cpu, default=0.0))
        cpu_label = f"cpu {h['cpu'].last:5.1f}% / {ceiling:g}%" if ceiling else \
            f"cpu {h['cpu'].last:5.1f}%"
        mem = pts("mem", width)
        limit = h.memory_limit or 0
        if HOST_MEMORY and limit >= HOST_MEMORY:
            limit = 0
        # no limit: scale to the peak with headroom, so a flat line does not read as "full"
        mem_top = max(limit, max(mem, default=0.0) * (1.0 if limit else 1.5), 1.0)
        net_top = max(pts("net_rx", half) + pts("net_tx", half) + [1024.0])
        blk_top = max(pts("blk_read", half) + pts("blk_write", half) + [1024.0])
        mem_label = f"mem {human_size(h['mem'].last)} / {human_size(limit)}" if limit else \
            f"mem {human_size(h['mem'].last)}"
        if getattr(h, "limits_note", ""):   # [rootless] said, rather than a limit never drawn
            full = f"{mem_label} · {h.limits_note}"
            mem_label = full if len(full) <= width else h.limits_note
        return [
            ("cpu", [(cpu_label, "$success", cpu, cpu_top, ceiling or None)]),
            ("mem", [(mem_label, "$accent", mem, mem_top, float(limit) if limit else None)]),
            ("net", [(f"net rx {_rate(h['net_rx'].last)}", "$primary", pts("net_rx", half),
                      net_top, None),
                     (f"tx {_rate(h['net_tx'].last)}", "$secondary", pts("net_tx", half),
                      net_top, None)]),
            ("blk", [(f"blk r {_rate(h['blk_read'].last)}", "$primary", pts("blk_read", half),
                      blk_top, None),
                     (f"w {_rate(h['blk_write'].last)}", "$secondary", pts("blk_write", half),
                      blk_top, None)]),
        ]

    @staticmethod
    def scale(section: str, top: float) -> str:
        """What the top of a graph's rows stands for, with its unit."""
        if section == "cpu":
            return f"{top:g}%"
        if section == "mem":
            return human_size(top)
        return _rate(top)

    def time_axis(self, width: int) -> str:
        """The line under the graphs: how long ago the left edge is, and "now" at the right."""
        step = 10 if self.coarse else 1      # seconds a column (history.py's FOLD)
        left = f"-{_duration(width * step)}"
        mid = f"-{_duration(width * step // 2)}"
        line = [" "] * width
        for at, text in ((0, left), (max(0, width // 2 - len(mid) // 2), mid),
                         (max(0, width - 3), "now")):
            for i, ch in enumerate(text):
                if at + i < width:
                    line[at + i] = ch
        return "".join(line)

    def _color(self, var: str) -> Style:
        value = self.app.theme_variables.get(var[1:], "")
        try:
            return Style(color=value or None)
        except Exception:
            return Style()

    def render_lines_text(self) -> list[list[tuple[str, Style]]]:
        """The card as lines of (text, style) pieces; the same list again while what it is
        drawn from is the same (an idle container's flat lines, tick after tick)."""
        width = max(2, self.size.width)
        half = max(1, (width - 1) // 2)
        base = self.rich_style
        sections, height = self._shape()
        layout = self._layout(width)[:sections]
        key = (width, height, self.fill, base, self.app.theme, layout)
        if self._drawn is not None and self._drawn[0] == key:
            return self._drawn[1]
        muted = base + Style(dim=True)
        lines: list[list[tuple[str, Style]]] = []
        for section, graphs in layout:
            w = width if len(graphs) == 1 else half
            labels, rowsets = [], []
            for i, (label, var, values, top, limit) in enumerate(graphs):
                style = base + self._color(var)
                # the scale: what a full column stands for, at the right of the label line
                # (of the right-hand one where two graphs share a top)
                scale = f"▲{self.scale(section, top)}" if i == len(graphs) - 1 else ""
                text = label[:w]
                if scale and len(text) + len(scale) + 1 <= w:
                    text = text.ljust(w - len(scale)) + scale
                labels.append((text.ljust(w), style))
                rows = bars(values, w, height, top)
                if limit is not None and top > 0:
                    # the limit as a dotted line across the empty cells of its row, named
                    # where its row is empty (the oldest end, on a young history)
                    level = limit / top * height
                    r = max(0, min(height - 1, height - int(level + 0.999)))
                    row = list("".join("┄" if c == " " else c for c in rows[r]))
                    tag = f" limit {self.scale(section, limit)} " if self.fill else ""
                    if tag and len(tag) + 2 <= w and all(c == "┄" for c in row[1:len(tag) + 1]):
                        row[1:len(tag) + 1] = tag
                    rows[r] = "".join(row)
                rowsets.append([(row, style) for row in rows])
            lines.append(_join(labels, muted))
            for r in range(height):
                lines.append(_join([rs[r] for rs in rowsets], muted))
        if self.fill:
            lines.append([(self.time_axis(width), muted)])
        self._drawn = (key, lines)
        return lines

    def render_line(self, y: int) -> Strip:
        width = self.size.width
        key = (width, self.size.height)
        if self._cache is None or self._cache[0] != key:
            self._cache = (key, self.render_lines_text())
        lines = self._cache[1]
        if y >= len(lines):
            return Strip.blank(width, self.rich_style)
        return Strip([Segment(t, s) for t, s in lines[y]]).adjust_cell_length(width,
                                                                            self.rich_style)

    def text(self) -> str:
        return "\n".join("".join(t for t, _ in line) for line in self.render_lines_text())


def _duration(seconds: int) -> str:
    if seconds < 120:
        return f"{seconds}s"
    if seconds < 7200:
        return f"{seconds // 60}m"
    return f"{seconds // 3600}h"


def _join(pieces: list[tuple[str, Style]], gap_style: Style) -> list[tuple[str, Style]]:
    out: list[tuple[str, Style]] = []
    for i, piece in enumerate(pieces):
        if i:
            out.append((" ", gap_style))
        out.append(piece)
    return out
