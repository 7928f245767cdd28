"""LogView: a bounded, filterable, searchable log display (Textual line API).

It keeps at most ``max_lines`` entries (a ring buffer: a dashboard left open for a day holds
the same memory as after an hour) and draws only the lines on screen. The filter shows only
matching entries; the search highlights matches and ``next_match`` jumps between them.
Following keeps the view at the end; scrolling up pauses it and counts the lines that arrive
meanwhile (``unseen``); scrolling back to the end resumes it.
"""

from __future__ import annotations

import re
from collections import deque
from dataclasses import dataclass

from rich.segment import Segment
from rich.style import Style
from rich.text import Text
from textual.geometry import Size
from textual.message import Message
from textual.reactive import reactive
from textual.scroll_view import ScrollView
from textual.strip import Strip

LABEL_COLOURS = ("cyan", "magenta", "green", "yellow", "blue", "bright_red", "bright_cyan",
                 "bright_magenta")
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1a\x1c-\x1f\x7f]")


@dataclass(eq=False)
class Entry:
    """One log line as shown: which container (label), stream, time and text."""

    label: str
    colour: str
    stream: str
    time: str
    text: str


def _when(e: Entry) -> str:
    """An entry's time as a sort key: the monitor writes fixed-width RFC 3339 in UTC, so the
    strings sort as the times do."""
    return e.time


class LogView(ScrollView, can_focus=True):
    """The logs console's scrollback."""

    following: reactive[bool] = reactive(True)
    """Whether new lines scroll the view to the end."""
    timestamps: reactive[bool] = reactive(False)
    """Whether each line starts with its time."""
    wrap: reactive[bool] = reactive(False)
    """Whether long lines wrap (else scroll sideways)."""
    labels: reactive[bool] = reactive(False)
    """Whether each line starts with its container's name (merged logs)."""

    class FollowChanged(Message):
        """Following was paused or resumed, or the unseen count changed; coalesces."""

        def can_replace(self, message: Message) -> bool:
            return isinstance(message, LogView.FollowChanged)

    def __init__(self, max_lines: int = 10_000, empty_text: str = "", **kwargs):
        super().__init__(**kwargs)
        self.max_lines = max_lines
        self.empty_text = empty_text
        """Shown dimmed on the first line while no line has come (an empty screen read as
        broken)."""
        self.entries: deque[Entry] = deque(maxlen=max_lines)
        """Every kept entry, oldest first (bounded)."""
        self.rows: deque[tuple[Entry, int, int]] = deque()
        """What is drawn: (entry, start, end) per screen line, after filter and wrap."""
        self.filter: re.Pattern | None = None
        self.search: re.Pattern | None = None
        self.unseen = 0
        """Lines that arrived while following was paused."""
        self.match_row: int | None = None
        self._width = 0
        self._programmatic = False
        self._render_cache: dict[int, Text] = {}
        self.label_width = 0
        """Merged logs: the width the names are padded to, so the lines start in one column."""

    # --- adding ---------------------------------------------------------------------------------

    def add_entries(self, entries: list[Entry]) -> None:
        """Append a batch of entries (the oldest fall off past max_lines)."""
        if not entries:
            return
        if self.labels and self._merge(entries):
            return
        if len(entries) > self.max_lines:
            entries = entries[-self.max_lines:]
        dropped = set()
        for e in entries:
            if len(self.entries) == self.max_lines:
                dropped.add(id(self.entries[0]))
            self.entries.append(e)
        shift = 0
        while self.rows and id(self.rows[0][0]) in dropped:
            self.rows.popleft()
            shift += 1
        if len(dropped) >= len(self.entries):
            self._render_cache.clear()
        new_rows = 0
        for e in entries:
            if id(e) in dropped:
                continue
            if self.filter is None or self.filter.search(e.text):
                added = self._rows_of(e)
                self.rows.extend(added)
                new_rows += len(added)
        self._update_size()
        if self.following:
            self._scroll_to_end()
        else:
            if shift:
                self._programmatic = True
                self.scroll_to(y=max(0, self.scroll_y - shift), animate=False, immediate=True)
                self._programmatic = False
            if new_rows:
                self.unseen += new_rows
                self.post_message(self.FollowChanged())
        self.refresh()

    def _merge(self, entries: list[Entry]) -> bool:
        """Merged logs: put ``entries`` in time order among those kept (each container's
        reader delivers its own lines in order, but not in step with the others). True when
        that took a re-sort (done here); False when they simply follow the last line."""
        entries.sort(key=_when)   # stable: lines of one instant keep their arrival order
        if not self.entries or _when(entries[0]) >= _when(self.entries[-1]):
            return False
        merged = sorted([*self.entries, *entries], key=_when)[-self.max_lines:]
        self.entries = deque(merged, maxlen=self.max_lines)
        if not self.following:
            self.unseen += len(entries)
            self.post_message(self.FollowChanged())
        self._rebuild()
        return True

    def clear(self) -> None:
        self.entries.clear()
        self.rows.clear()
        self.unseen = 0
        self._render_cache.clear()
        self._update_size()
        self.refresh()

    # --- layout ---------------------------------------------------------------------------------

    def _line_text(self, e: Entry) -> Text:
        t = Text(no_wrap=True)
        if self.timestamps:
            t.append(e.time[:23].replace("T", " ") + " ", style="dim")
        if self.labels:
            width = self.label_width or len(e.label)
            label = e.label if len(e.label) <= width else e.label[:width - 1] + "…"
            t.append(f"{label:<{width}} │ ", style=e.colour)
        body = e.text.rstrip("\n").expandtabs(8)
        if "\x1b" in body:
            body_text = Text.from_ansi(body)
        else:
            body_text = Text(_CONTROL.sub("�", body))
        if e.stream == "stderr":
            body_text.stylize(self._stderr_style)
        t.append_text(body_text)
        return t

    @property
    def _stderr_style(self) -> str:
        return self.app.theme_variables.get("error", "red")

    def _rows_of(self, e: Entry) -> list[tuple[Entry, int, int]]:
        if not self.wrap or self._width <= 0:
            return [(e, 0, -1)]
        length = self._line_text(e).cell_len
        if length <= self._width:
            return [(e, 0, -1)]
        return [(e, i, min(i + self._width, length)) for i in range(0, length, self._width)]

    def _rebuild(self) -> None:
        """Recompute the drawn rows (filter, wrap or width changed)."""
        self._render_cache.clear()
        self.rows = deque(r for e in self.entries
                          if self.filter is None or self.filter.search(e.text)
                          for r in self._rows_of(e))
        self.match_row = None
        self._update_size()
        if self.following:
            self._scroll_to_end()
        self.refresh()

    def _update_size(self) -> None:
        width = self._width if self.wrap else max(
            (len(e.text) + 40 for e, _, _ in list(self.rows)[-2000:]), default=0)
        self.virtual_size = Size(max(width, self._width), len(self.rows))

    def on_resize(self) -> None:
        width = self.scrollable_content_region.width
        if width != self._width:
            self._width = width
            if self.wrap:
                self._rebuild()
            else:
                self._update_size()

    def watch_wrap(self) -> None:
        self._rebuild()

    def watch_timestamps(self) -> None:
        self._rebuild()

    def watch_labels(self) -> None:
        self._rebuild()

    def set_filter(self, pattern: re.Pattern | None) -> None:
        self.filter = pattern
        self._rebuild()

    def set_search(self, pattern: re.Pattern | None) -> None:
        self.search = pattern
        self.match_row = None
        self.refresh()

    # --- following ------------------------------------------------------------------------------

    def _scroll_to_end(self) -> None:
        # after the refresh: the new virtual size must be laid out before max_scroll_y grows
        self.call_after_refresh(self._jump_to_end)

    def _jump_to_end(self) -> None:
        if not self.following:
            return
        self._programmatic = True
        self.scroll_to(y=self.max_scroll_y, animate=False, immediate=True)
        self._programmatic = False

    def watch_following(self, following: bool) -> None:
        if following:
            self.unseen = 0
            self._scroll_to_end()
        self.post_message(self.FollowChanged())

    def watch_scroll_y(self, old: float, new: float) -> None:
        super().watch_scroll_y(old, new)
        if self._programmatic:
            return
        if new < old and self.following:
            self.following = False
        elif not self.following and new >= self.max_scroll_y and new > old:
            self.following = True

    # --- search ---------------------------------------------------------------------------------

    def next_match(self, backwards: bool = False) -> bool:
        """Move to the next (or previous) row matching the search; False when there is none."""
        if self.search is None or not self.rows:
            return False
        n = len(self.rows)
        start = self.match_row if self.match_row is not None else (
            int(self.scroll_y) + (self.scrollable_content_region.height if backwards else -1))
        rows = list(self.rows)
        step = -1 if backwards else 1
        i = start
        for _ in range(n):
            i = (i + step) % n
            e, a, b = rows[i]
            if a == 0 and self.search.search(e.text):
                self.match_row = i
                self.following = False
                self._programmatic = True
                self.scroll_to(y=max(0, i - self.scrollable_content_region.height // 2),
                               animate=False, immediate=True)
                self._programmatic = False
                self.refresh()
                return True
        return False

    # --- drawing --------------------------------------------------------------------------------

    def render_line(self, y: int) -> Strip:
        scroll_x, scroll_y = self.scroll_offset
        index = scroll_y + y
        width = self.scrollable_content_region.width
        base = self.rich_style
        if index >= len(self.rows):
            if index == 0 and self.empty_text and not self.entries:
                return Strip([Segment(self.empty_text[:width], base + Style(dim=True))]
                             ).extend_cell_length(width, base)
            return Strip.blank(width, base)
        entry, start, end = self.rows[index]
        text = self._line_text(entry)
        if self.search is not None:
            highlight = Style(reverse=True, bold=index == self.match_row)
            plain = text.plain
            for m in self.search.finditer(plain):
                if m.end() > m.start():
                    text.stylize(highlight, m.start(), m.end())
        if end != -1:
            text = text[start:end]
        segments = list(text.render(self.app.console))
        strip = Strip(segments, text.cell_len)
        if end == -1:
            strip = strip.crop(scroll_x, scroll_x + width)
        strip = strip.extend_cell_length(width).crop(0, width)
        return strip.apply_style(base)
