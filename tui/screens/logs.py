"""LogsScreen: the live logs of one container, or the merged, labelled logs of several.

A reader thread per container iterates Engine.logs(ref, follow=True) (a blocking iterator) and
puts lines in a bounded pending queue; the screen drains it every 50 ms at most into the
LogView. The readers are plain daemon threads, not Textual workers, on purpose: the iterator
blocks until the container writes, so a reader can't be cancelled promptly, and a worker in
the shared executor would hold up the app's exit and starve the other workers.
"""

from __future__ import annotations

import re
import threading
import time
from collections import deque

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.message import Message
from textual.screen import Screen
from textual.widgets import Input, Static

from ..widgets.footer import ScreenFooter
from ..widgets.log_view import LABEL_COLOURS, Entry, LogView
from .screen_size import LaidOutOnce

FLUSH_DELAY = 0.05
LABEL_WIDTH = 24
"""Merged logs: names are padded to the longest, up to this many columns."""
SINCE_PRESETS = {"0": (None, "all"), "1": (60, "1m"), "2": (300, "5m"), "3": (900, "15m"),
                 "4": (3600, "1h"), "5": (86400, "24h")}


class LogsScreen(LaidOutOnce, Screen):
    """The logs console: follow, search, filter, timestamps, wrap, since, save."""

    BINDINGS = [
        Binding("escape,q", "close", "Back", id="logs.back"),
        Binding("f", "toggle_follow", "Follow", id="logs.follow"),
        Binding("slash", "search", "Search", id="logs.search"),
        Binding("n", "next_match", "Next match", id="logs.next"),
        Binding("N", "prev_match", "Previous match", id="logs.prev"),
        Binding("ampersand", "filter", "Filter lines", id="logs.filter"),
        Binding("t", "toggle_timestamps", "Timestamps", id="logs.timestamps"),
        Binding("w", "toggle_wrap", "Wrap", id="logs.wrap"),
        Binding("ctrl+s", "save", "Save", id="logs.save"),
        Binding("c", "clear", "Clear", id="logs.clear"),
        Binding("G,end", "end", "End", id="logs.end", show=False),
        Binding("g,home", "top", "Top", id="logs.top", show=False),
        Binding("0", "since('0')", "Since: all", id="logs.since_all", show=False),
        Binding("1", "since('1')", "Since: 1m", id="logs.since_1m", show=False),
        Binding("2", "since('2')", "Since: 5m", id="logs.since_5m", show=False),
        Binding("3", "since('3')", "Since: 15m", id="logs.since_15m", show=False),
        Binding("4", "since('4')", "Since: 1h", id="logs.since_1h", show=False),
        Binding("5", "since('5')", "Since: 24h", id="logs.since_24h", show=False),
    ]
    """less / k9s keys; 0-5 choose how far back to start (all, 1m, 5m, 15m, 1h, 24h)."""

    class Pending(Message):
        """Reader threads queued lines; coalesces so a burst schedules one drain."""

        def can_replace(self, message: Message) -> bool:
            return isinstance(message, LogsScreen.Pending)

    def __init__(self, engine, targets: list[tuple[str, str]], max_lines: int = 10_000,
                 seed: list[tuple[str, str, str]] | None = None):
        super().__init__()
        self.seed = seed or []
        """(stream, text, time) of the lines already known (the detail pane's tail of the one
        container): shown at once, then replaced by the reader's first batch."""
        self._replace = False
        self.engine = engine
        self.targets = targets
        """(container id, name) of each container shown."""
        self.max_lines = max_lines
        self.since_key = "0"
        self._lock = threading.Lock()
        self._pending: deque[Entry] = deque(maxlen=max_lines)
        self._scheduled = False
        self._generation = 0
        self._stop = threading.Event()
        """Set when the readers of the current generation are to end (Engine.logs ``stop``)."""
        self.ended: set[str] = set()
        self._input_mode = ""     # "search" or "filter" while the input is open
        self.search_text = ""
        self.filter_text = ""
        self.received = 0
        """Lines drained into the view since the screen opened (tests wait on it)."""

    def compose(self) -> ComposeResult:
        yield Static(id="logs-title")
        yield LogView(max_lines=self.max_lines, id="log",
                      empty_text="no log lines yet: they show here as they are printed")
        yield Static(id="logs-status")
        yield Input(id="logs-input")
        yield ScreenFooter()

    def on_mount(self) -> None:
        view = self.query_one(LogView)
        view.labels = len(self.targets) > 1
        view.label_width = min(LABEL_WIDTH, max(len(n) for _, n in self.targets))
        self.query_one("#logs-input").display = False
        view.focus()
        if self.seed and len(self.targets) == 1:
            name = self.targets[0][1]
            view.add_entries([Entry(name, LABEL_COLOURS[0], stream, when, text)
                              for stream, text, when in self.seed])
            self._replace = True
        self._start_readers()
        self._update_status()

    def on_unmount(self) -> None:
        self._generation += 1   # readers see it and stop at their next line
        self._stop.set()        # ... or within a poll when no line comes

    # --- readers --------------------------------------------------------------------------------

    def _start_readers(self) -> None:
        self._generation += 1
        gen = self._generation
        self._stop.set()
        self._stop = threading.Event()
        seconds, _ = SINCE_PRESETS[self.since_key]
        since = time.time() - seconds if seconds else None
        tail = None if since else self.max_lines
        self.ended.clear()
        for i, (cid, name) in enumerate(self.targets):
            colour = LABEL_COLOURS[i % len(LABEL_COLOURS)]
            t = threading.Thread(target=self._read,
                                 args=(gen, cid, name, colour, since, tail, self._stop),
                                 name=f"berth-logs-{name}", daemon=True)
            t.start()

    def _read(self, gen: int, cid: str, name: str, colour: str, since, tail,
              stop: threading.Event) -> None:
        from engine.errors import BerthError
        try:
            for line in self.engine.logs(cid, follow=True, tail=tail, since=since, stop=stop):
                if gen != self._generation:
                    return
                self._queue(gen, Entry(name, colour, line.stream, line.time, line.text))
        except BerthError as e:
            self._queue(gen, Entry(name, colour, "stderr", _now(), f"berth: {e}"))
        except Exception as e:  # a reader must never die silently: say why the logs stopped
            self._queue(gen, Entry(name, colour, "stderr", _now(),
                                   f"berth: {type(e).__name__}: {e}"))
        if gen == self._generation:
            self.ended.add(cid)
            self._queue(gen, None)

    def _queue(self, gen: int, entry: Entry | None) -> None:
        with self._lock:
            if gen != self._generation:
                return
            if entry is not None:
                self._pending.append(entry)
            if self._scheduled:
                return
            self._scheduled = True
        self.post_message(self.Pending())

    def on_logs_screen_pending(self, _message: Pending) -> None:
        self.set_timer(FLUSH_DELAY, self._drain)

    def _drain(self) -> None:
        with self._lock:
            batch = list(self._pending)
            self._pending.clear()
            self._scheduled = False
        if batch:
            view = self.query_one(LogView)
            if self._replace:   # the reader's tail starts where the known lines did
                self._replace = False
                view.clear()
            view.add_entries(batch)
            self.received += len(batch)
        self._update_status()

    # --- status line ----------------------------------------------------------------------------

    def _update_status(self) -> None:
        view = self.query_one(LogView)
        names = ", ".join(n for _, n in self.targets)
        title = Text.assemble((" logs ", "reverse bold"), (f"  {names}", "bold"))
        self.query_one("#logs-title", Static).update(title)
        t = Text(no_wrap=True)
        if view.following:
            t.append(" ● following ", style="bold reverse")
        else:
            t.append(" ❚❚ paused ", style="bold reverse")
            if view.unseen:
                t.append(f"  ▼ {view.unseen} new lines (G or end to follow)", style="bold")
        _, since = SINCE_PRESETS[self.since_key]
        t.append(f"   since: {since}", style="dim")
        t.append(f"   lines: {len(view.entries)}/{view.max_lines}", style="dim")
        if self.filter_text:
            t.append(f"   filter: {self.filter_text}", style="bold")
        if self.search_text:
            t.append(f"   search: {self.search_text}", style="bold")
        flags = [name for name, on_ in (("timestamps", view.timestamps), ("wrap", view.wrap)) if on_]
        if flags:
            t.append("   " + " ".join(flags), style="dim")
        if self.ended and len(self.ended) == len(self.targets):
            t.append("   (stopped: no more lines)", style="dim")
        self.query_one("#logs-status", Static).update(t)

    @on(LogView.FollowChanged)
    def _follow_changed(self) -> None:
        self._update_status()

    # --- keys -----------------------------------------------------------------------------------

    def action_close(self) -> None:
        self.app.pop_screen()

    def action_toggle_follow(self) -> None:
        view = self.query_one(LogView)
        view.following = not view.following

    def action_end(self) -> None:
        self.query_one(LogView).following = True

    def action_top(self) -> None:
        view = self.query_one(LogView)
        view.following = False
        view.scroll_home(animate=False)

    def action_toggle_timestamps(self) -> None:
        view = self.query_one(LogView)
        view.timestamps = not view.timestamps
        self._update_status()

    def action_toggle_wrap(self) -> None:
        view = self.query_one(LogView)
        view.wrap = not view.wrap
        self._update_status()

    def action_clear(self) -> None:
        self.query_one(LogView).clear()
        self._update_status()

    def action_since(self, key: str) -> None:
        self.since_key = key
        self._replace = False
        with self._lock:
            self._pending.clear()
        self.query_one(LogView).clear()
        self._start_readers()
        self._update_status()

    def _open_input(self, mode: str, value: str, placeholder: str) -> None:
        self._input_mode = mode
        box = self.query_one("#logs-input", Input)
        box.placeholder = placeholder
        box.value = value
        box.display = True
        box.focus()

    def action_search(self) -> None:
        self._open_input("search", self.search_text, "search (regex, case-insensitive): "
                         "enter, then n / N")

    def action_filter(self) -> None:
        self._open_input("filter", self.filter_text, "show only lines matching (regex); "
                         "empty shows all")

    @on(Input.Submitted, "#logs-input")
    def _input_done(self, event: Input.Submitted) -> None:
        try:
            pattern = re.compile(event.value, re.IGNORECASE) if event.value else None
        except re.error as e:
            self.notify(f"not a regular expression: {e}", severity="error")
            return
        view = self.query_one(LogView)
        if self._input_mode == "search":
            self.search_text = event.value
            view.set_search(pattern)
            if pattern is not None and not view.next_match(backwards=True):
                self.notify(f"no line matches {event.value!r}", severity="warning")
        else:
            self.filter_text = event.value
            view.set_filter(pattern)
        event.input.display = False
        view.focus()
        self._update_status()

    def on_key(self, event) -> None:
        box = self.query_one("#logs-input", Input)
        if event.key == "escape" and box.has_focus:
            event.stop()
            box.display = False
            self.query_one(LogView).focus()

    def action_next_match(self) -> None:
        if not self.query_one(LogView).next_match():
            self.app.bell()

    def action_prev_match(self) -> None:
        if not self.query_one(LogView).next_match(backwards=True):
            self.app.bell()

    def action_save(self) -> None:
        """Ask where to save what the view holds, offering ~/berth-logs-<names>-<time>.log."""
        from .save_logs import SaveLogsDialog, default_path
        view = self.query_one(LogView)
        names = [n for _, n in self.targets]
        self.app.push_screen(SaveLogsDialog(self.engine, list(view.entries), default_path(names),
                                            labels=len(names) > 1))


def _now() -> str:
    from engine.clock import now_rfc3339
    return now_rfc3339()
