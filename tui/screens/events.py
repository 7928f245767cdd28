"""EventsScreen: `berth events` live (the last hour, then as they are logged), filterable.

An async worker follows ``Engine.follow_events`` and posts each event; the handler keeps the
newest ``MAX_EVENTS`` in a ring and appends the lines that pass the filter to a bounded Log. The
filter is a substring, or a regular expression after ``~`` (as the dashboard's ``/``), matched
against the line as ``berth events`` prints it.
"""

from __future__ import annotations

import re
import time
from collections import deque
from datetime import datetime

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.message import Message
from textual.screen import Screen
from textual.widgets import Input, Log, Static

from ..textfilter import compile_filter
from ..widgets.footer import ScreenFooter
from .screen_size import LaidOutOnce

MAX_EVENTS = 5000
BACKLOG = 3600.0     # seconds of history shown on opening


HEX_ID = re.compile(r"\b(?:sha256:)?([0-9a-f]{12})[0-9a-f]{52}\b")


def event_line(ev) -> str:
    """What the filter matches: the line as ``berth events`` prints it, full ids and all."""
    from tui.commands.stats import event_line as plain
    return plain(ev)


def short_line(ev) -> str:
    """What the screen shows: local time, then ids cut to 12 characters (as the panes show
    them) so that a line fits the width."""
    from tui.commands.stats import event_attrs
    stamp = datetime.fromtimestamp(ev.time).strftime("%H:%M:%S.%f")[:-3]
    return HEX_ID.sub(r"\1", f"{stamp} {ev.type:<9} {ev.action:<10} {ev.id}{event_attrs(ev)}")


class EventsScreen(LaidOutOnce, Screen):
    """The engine's events, following."""

    DEFAULT_CSS = """
    EventsScreen #events-title { height: 1; background: $panel; color: $primary; }
    EventsScreen #events-log { height: 1fr; border: round $primary 60%; background: $background; }
    EventsScreen #events-filter { dock: bottom; height: 3; margin-bottom: 1; border: tall $accent;
                                  background: $surface; }
    EventsScreen #events-filter.-invalid { border: tall $error; }
    """

    BINDINGS = [
        Binding("escape", "leave", "Dashboard", id="events_leave"),
        Binding("slash", "filter", "Filter", id="events_filter"),
        Binding("c", "clear", "Clear", id="events_clear"),
    ]

    class Arrived(Message):
        def __init__(self, event) -> None:
            super().__init__()
            self.event = event

    def __init__(self, engine) -> None:
        super().__init__()
        self.engine = engine
        self.events: deque[str] = deque(maxlen=MAX_EVENTS)
        self.keep = None
        self.filter_text = ""

    def compose(self) -> ComposeResult:
        yield Static("", id="events-title", markup=False)
        yield Log(max_lines=MAX_EVENTS, id="events-log", auto_scroll=True)
        yield Input(placeholder="filter: text, or ~regex   (enter keeps it, esc clears)",
                    id="events-filter")
        yield ScreenFooter()

    def on_mount(self) -> None:
        self.query_one("#events-filter").display = False
        self._title()
        self.follow(time.time() - BACKLOG)

    @work(group="events-pane", exclusive=True, exit_on_error=False)
    async def follow(self, since: float) -> None:
        async for ev in self.engine.follow_events(since=since):
            self.post_message(self.Arrived(ev))

    def on_worker_state_changed(self, event) -> None:
        self.app.on_worker_state_changed(event)

    def on_events_screen_arrived(self, message: Arrived) -> None:
        full, line = event_line(message.event), short_line(message.event)
        self.events.append((full, line))
        if self.keep is None or self.keep(full):
            self.query_one(Log).write_line(line)
        self._title()

    def shown(self) -> list[str]:
        """The lines on show (tests read it)."""
        return list(self.query_one(Log).lines)

    def _title(self) -> None:
        f = f"   filter: {self.filter_text}" if self.filter_text else ""
        self.query_one("#events-title", Static).update(
            f" events: {len(self.events)} (the last hour, then live){f}   / filter   "
            "c clear   esc dashboard")

    def _rebuild(self) -> None:
        log = self.query_one(Log)
        log.clear()
        lines = [line for full, line in self.events if self.keep is None or self.keep(full)]
        if lines:
            log.write_lines(lines)
        self._title()

    def action_filter(self) -> None:
        box = self.query_one("#events-filter", Input)
        box.display = True
        box.focus()

    @on(Input.Changed, "#events-filter")
    def _filter_changed(self, event: Input.Changed) -> None:
        try:
            keep = compile_filter(event.value)
        except re.error:
            event.input.add_class("-invalid")
            return
        event.input.remove_class("-invalid")
        self.keep, self.filter_text = keep, event.value.strip()
        self._rebuild()

    @on(Input.Submitted, "#events-filter")
    def _filter_done(self, event: Input.Submitted) -> None:
        event.input.display = bool(event.value)
        self.query_one(Log).focus()

    def on_key(self, event) -> None:
        box = self.query_one("#events-filter", Input)
        if event.key == "escape" and box.has_focus:
            event.stop()
            box.value = ""
            box.display = False
            self.query_one(Log).focus()

    def action_clear(self) -> None:
        self.events.clear()
        self._rebuild()

    def action_leave(self) -> None:
        self.app.pop_screen()
