"""GraphsScreen: a grid of small resource graphs, one card per running container.

The screen is installed on the app once and keeps following ``Engine.stats`` (1 s) while the
dashboard runs, so the history (10 minutes at 1 s, an hour at 10 s: widgets/history.py) is there
whenever it is opened. Workers fetch (the stats stream reads the kernel in a thread), handlers
draw, and only while the screen is on show.
"""

from __future__ import annotations

from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Grid, VerticalScroll
from textual.message import Message
from textual.screen import Screen
from textual.widgets import Footer, Static

from ..widgets.graphs import ContainerGraphs
from ..widgets.header import HostHeader
from ..widgets.history import HistoryBook

NAME = "berth-graphs"
INTERVAL = 1.0
HOST_INTERVAL = 3.0
RESORT_TICKS = 5       # re-sort by heat every few seconds, not every tick (cards would jump)


class GraphsScreen(Screen):
    """CPU, memory, network and block I/O over time for every running container."""

    DEFAULT_CSS = """
    GraphsScreen #graphs-status {
        height: 1;
        background: $surface;
        color: $primary;
    }
    GraphsScreen #graphs-grid {
        grid-size: 3;
        grid-gutter: 0 1;
        grid-rows: 14;
        height: auto;
    }
    GraphsScreen #graphs-empty {
        padding: 1 2;
        color: $text-muted;
    }
    """

    BINDINGS = [
        Binding("escape,g", "leave", "Dashboard", id="graphs_leave"),
        Binding("o", "sort", "Sort", id="graphs_sort", tooltip="By the hottest, or by name"),
        Binding("w", "window", "10m / 1h", id="graphs_window"),
    ]

    class Samples(Message):
        def __init__(self, samples: list) -> None:
            super().__init__()
            self.samples = samples

    class Host(Message):
        def __init__(self, totals: dict | None, error: str = "") -> None:
            super().__init__()
            self.totals = totals
            self.error = error

    def __init__(self, engine) -> None:
        super().__init__(name=NAME)
        self.engine = engine
        self.book = HistoryBook()
        self.sort_hot = True
        """Hottest (current CPU) first; else by name."""
        self.coarse = False
        """Show the last hour at 10 s instead of the last 10 minutes at 1 s."""
        self.ticks = 0
        self._order: list[str] = []

    def compose(self) -> ComposeResult:
        yield HostHeader(self.engine.paths.root, id="graphs-host")
        yield Static("", id="graphs-status", markup=False)
        with VerticalScroll(id="graphs-scroll"):
            yield Static("no running containers", id="graphs-empty")
            yield Grid(id="graphs-grid")
        yield Footer(show_command_palette=False)

    def on_mount(self) -> None:
        self.watch(self.app, "theme", lambda: self.draw(), init=False)
        self.follow_stats()
        self.sample_host()
        self._status()

    # --- workers fetch --------------------------------------------------------------------------

    @work(group="graph-stats", exclusive=True, exit_on_error=False)
    async def follow_stats(self) -> None:
        """Every running container's stats each second (new ones are picked up)."""
        async for samples in self.engine.stats(None, interval=INTERVAL):
            self.post_message(self.Samples(list(samples)))

    @work(thread=True, group="graph-host", exclusive=True, exit_on_error=False)
    def sample_host(self) -> None:
        try:
            self.post_message(self.Host(self.engine.host_totals()))
        except Exception as e:  # shown in the header, never as a traceback
            self.post_message(self.Host(None, str(e)))

    def on_worker_state_changed(self, event) -> None:
        self.app.on_worker_state_changed(event)   # failures become notifications

    # --- handlers draw --------------------------------------------------------------------------

    def on_graphs_screen_host(self, message: Host) -> None:
        header = self.query_one(HostHeader)
        header.unavailable = message.error
        if message.totals is not None:
            header.totals = message.totals
            self.set_timer(HOST_INTERVAL, self.sample_host)
        header.counts = {"containers": (len(self.book), len(self.book))}

    def on_graphs_screen_samples(self, message: Samples) -> None:
        self.book.add(message.samples)
        self.ticks += 1
        if self.app.screen is self:
            self.draw(resort=self.ticks % RESORT_TICKS == 1)

    def on_screen_resume(self) -> None:
        self.draw(resort=True)

    def order(self) -> list[str]:
        if self.sort_hot:
            return self.book.hottest()
        return sorted(self.book.by_id, key=lambda c: self.book.by_id[c].name)

    def cards(self) -> dict[str, ContainerGraphs]:
        return {c.cid: c for c in self.query(ContainerGraphs)}

    def draw(self, resort: bool = False) -> None:
        grid = self.query_one("#graphs-grid", Grid)
        cards = self.cards()
        for cid, card in cards.items():
            if cid not in self.book.by_id:
                card.remove()
        new = [cid for cid in self.book.by_id if cid not in cards]
        if new:
            grid.mount_all([ContainerGraphs(cid, self.book.by_id[cid], self.coarse) for cid in new])
            resort = True
        for cid, card in cards.items():
            if cid in self.book.by_id:
                card.coarse = self.coarse
                card.update_graphs()
        self.query_one("#graphs-empty").display = not self.book.by_id
        if resort:
            self.call_after_refresh(self._resort)
        self._status()

    def _resort(self) -> None:
        order = self.order()
        if order == self._order:
            return
        grid = self.query_one("#graphs-grid", Grid)
        cards = self.cards()
        present = [cid for cid in order if cid in cards]
        for i, cid in enumerate(present[1:], 1):
            grid.move_child(cards[cid], after=cards[present[i - 1]])
        if present:
            grid.move_child(cards[present[0]], before=0)
        self._order = order

    def shown_order(self) -> list[str]:
        """Container ids in the order the cards are on screen."""
        return [c.cid for c in self.query_one("#graphs-grid", Grid).children
                if isinstance(c, ContainerGraphs)]

    def _status(self) -> None:
        self.query_one("#graphs-status", Static).update(
            f" {len(self.book)} running   sort: {'hottest first' if self.sort_hot else 'name'}"
            f"   window: {'last hour, 10 s points' if self.coarse else 'last 10 minutes, 1 s points'}")

    # --- keys -----------------------------------------------------------------------------------

    def action_leave(self) -> None:
        self.app.pop_screen()

    def action_sort(self) -> None:
        self.sort_hot = not self.sort_hot
        self._order = []
        self.draw(resort=True)

    def action_window(self) -> None:
        self.coarse = not self.coarse
        self.draw()


def open_graphs(app, engine):
    """Show the graphs screen, installing it (and its stats stream) the first time."""
    try:
        screen = app.get_screen(NAME)
    except KeyError:
        screen = GraphsScreen(engine)
        app.install_screen(screen, NAME)
    if app.screen is not screen:
        return app.push_screen(screen)
    return None
