"""HistoryScreen: an image's layers as `berth history` lists them, newest first: the step that
created each one, its size and its age; nothing truncated (long commands wrap)."""

from __future__ import annotations

from rich.table import Table
from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import Screen
from textual.widgets import Static

from ..widgets.footer import ScreenFooter
from .screen_size import LaidOutOnce


def history_table(rows: list[dict], now: float) -> Table:
    """The rows of Engine.history as a table: IMAGE, CREATED, CREATED BY, SIZE, COMMENT."""
    from engine.clock import human_duration

    from ..commands.common import parse_time
    from ..widgets.rows import human_size
    t = Table(box=None, expand=True, padding=(0, 1), header_style="bold")
    t.add_column("IMAGE", no_wrap=True, width=12)
    t.add_column("CREATED", no_wrap=True)
    t.add_column("CREATED BY", overflow="fold", ratio=1)
    t.add_column("SIZE", justify="right", no_wrap=True)
    t.add_column("COMMENT", overflow="fold", max_width=30)
    for r in rows:
        ident = r.get("Id") or "<missing>"
        short = ident if ident == "<missing>" else ident.removeprefix("sha256:")[:12]
        try:
            created = parse_time(r.get("Created") or "")
        except ValueError:
            created = 0.0
        age = human_duration(now - created) + " ago" if created else "N/A"
        size = r.get("Size") or 0
        t.add_row(Text(short, style="dim" if ident == "<missing>" else "bold"), age,
                  Text(r.get("CreatedBy") or ""),
                  Text(human_size(size), style="" if size else "dim"),
                  Text(r.get("Comment") or ""))
    return t


class HistoryScreen(LaidOutOnce, Screen):
    """One image's history; escape or q goes back."""

    DEFAULT_CSS = """
    #history-title { height: 1; background: $panel; color: $primary; }
    #history-body { height: 1fr; border: round $primary 60%; padding: 0 1; }
    #history-body:focus { border: round $accent; }
    #history-table.-error { color: $error; }
    """

    BINDINGS = [Binding("escape,q", "close", "Back", id="history.back")]
    """Keys of the history view (arrows and page keys scroll)."""

    def __init__(self, engine, ref: str, label: str) -> None:
        super().__init__()
        self.engine = engine
        self.ref = ref
        self.label = label
        self.rows: list[dict] | None = None
        """Engine.history's rows once read (tests wait for them)."""

    def compose(self) -> ComposeResult:
        yield Static(Text.assemble((" history ", "reverse bold"), (f"  {self.label}", "bold")),
                     id="history-title")
        with VerticalScroll(id="history-body"):
            yield Static("reading…", id="history-table")
        yield ScreenFooter()

    def on_mount(self) -> None:
        self.query_one("#history-body").focus()
        self.load()

    @work(thread=True, group="history", exclusive=True, exit_on_error=False)
    def load(self) -> None:
        """Engine.history (thread); the engine's message in place of the table if it fails."""
        from engine.errors import BerthError
        try:
            rows = self.engine.history(self.ref)
        except BerthError as e:
            self.app.call_from_thread(self._show, None, str(e))
            return
        self.app.call_from_thread(self._show, rows, "")

    def _show(self, rows: list[dict] | None, error: str) -> None:
        body = self.query_one("#history-table", Static)
        if rows is None:
            body.add_class("-error")
            body.update(Text(error))
            return
        self.rows = rows
        total = sum(r.get("Size") or 0 for r in rows)
        from ..widgets.rows import human_size
        self.query_one("#history-title", Static).update(Text.assemble(
            (" history ", "reverse bold"), (f"  {self.label}", "bold"),
            (f"   {len(rows)} step{'s' if len(rows) != 1 else ''}, {human_size(total)}", "dim")))
        body.update(history_table(rows, self.app.clock()))

    def on_worker_state_changed(self, event) -> None:
        self.app.on_worker_state_changed(event)   # not an engine error: still one line

    def action_close(self) -> None:
        self.app.pop_screen()
