"""TopScreen: the processes of one container, as `berth top` lists them, read again every two
seconds in a thread (the first read shows as soon as it is back); escape or q goes back."""

from __future__ import annotations

from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.screen import Screen
from textual.widgets import DataTable, Static

from ..widgets.footer import ScreenFooter
from .screen_size import LaidOutOnce

INTERVAL = 2.0
"""Seconds between two reads of the processes (as the stats refresh)."""


class TopScreen(LaidOutOnce, Screen):
    """A container's processes, refreshed while the screen shows."""

    DEFAULT_CSS = """
    #top-title { height: 1; background: $panel; color: $primary; }
    #top-table { height: 1fr; }
    """

    BINDINGS = [Binding("escape,q", "app.pop_screen", "Back", id="top.back")]

    def __init__(self, engine, container_id: str, name: str) -> None:
        super().__init__()
        self.engine = engine
        self.container_id = container_id
        self.container_name = name
        self.reads = 0
        """Times the processes were read (tests wait on it)."""

    def compose(self) -> ComposeResult:
        yield Static(f" top  {self.container_name}   reading…", id="top-title", markup=False)
        yield DataTable(id="top-table", cursor_type="row", zebra_stripes=True)
        yield ScreenFooter()

    def on_mount(self) -> None:
        self.query_one(DataTable).focus()
        self.read()
        self.set_interval(INTERVAL, self.read)

    @work(thread=True, group="top", exclusive=True, exit_on_error=False)
    def read(self) -> None:
        """Engine.top in a thread; the table is filled on the event loop."""
        from engine.errors import BerthError
        try:
            headers, rows = self.engine.top(self.container_id)
        except BerthError as e:
            self.app.call_from_thread(self._show, [], [], str(e))
            return
        self.app.call_from_thread(self._show, headers, rows, "")

    def _show(self, headers: list[str], rows: list[list[str]], error: str) -> None:
        self.reads += 1
        title = self.query_one("#top-title", Static)
        table = self.query_one(DataTable)
        if error:
            title.update(f" top  {self.container_name}   {error}")
            return
        title.update(f" top  {self.container_name}   {len(rows)} "
                     f"process{'' if len(rows) == 1 else 'es'}, every {INTERVAL:g} s")
        if [str(c.label) for c in table.columns.values()] != headers:
            table.clear(columns=True)
            table.add_columns(*headers)
        else:
            table.clear()
        table.add_rows(rows)
