"""GraphsScreen: a grid of small resource graphs, one card per running container; enter on a
card opens GraphDetailScreen, that container's graphs as tall as the terminal.

The screen is installed on the app once and keeps following ``Engine.stats`` (1 s) while the
dashboard runs, so the history (10 minutes at 1 s, an hour at 10 s: widgets/history.py) is there
whenever it is opened: that one stream is all it costs while hidden. Workers fetch (the stats
stream reads the kernel in a thread), handlers draw, and only while the screen (or its detail
view) is on show; the host totals in its header are read only then too.
"""

from __future__ import annotations

from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Grid, VerticalScroll
from textual.message import Message
from textual.screen import Screen
from textual.widgets import Static

from ..host_label import where
from ..widgets.footer import ScreenFooter
from ..widgets.graphs import CARD_HEIGHT, ContainerGraphs
from ..widgets.header import HostHeader
from ..widgets.history import HistoryBook
from .dashboard_feed import STATS_INTERVAL
from .screen_size import LaidOutOnce

NAME = "berth-graphs"
INTERVAL = 1.0
HOST_INTERVAL = 3.0
DASHBOARD_EVERY = max(1, round(STATS_INTERVAL / INTERVAL))
"""Every how many ticks the dashboard gets the samples (it samples at STATS_INTERVAL)."""
RESORT_TICKS = 5       # re-sort by heat every few seconds, not every tick (cards would jump)


class GraphsScreen(LaidOutOnce, Screen):
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
        grid-rows: CARD_HEIGHT;
        height: auto;
    }
    GraphsScreen #graphs-empty {
        padding: 1 2;
        color: $text-muted;
    }
    """.replace("CARD_HEIGHT", str(CARD_HEIGHT))

    BINDINGS = [
        Binding("escape,g", "leave", "Dashboard", id="graphs_leave"),
        Binding("enter", "zoom", "Zoom", id="graphs_zoom",
                tooltip="The selected container's graphs, full screen"),
        Binding("o", "sort", "Sort", id="graphs_sort", tooltip="By the hottest, or by name"),
        Binding("w", "window", "10m / 1h", id="graphs_window"),
        Binding("left,h", "move(-1)", "Previous card", id="graphs_left", show=False),
        Binding("right,l", "move(1)", "Next card", id="graphs_right", show=False),
        Binding("up,k", "move(-3)", "Card above", id="graphs_up", show=False),
        Binding("down,j", "move(3)", "Card below", id="graphs_down", show=False),
    ]
    COLUMNS = 3
    """Cards per row (grid-size above); up and down move by a row."""

    class Samples(Message):
        def __init__(self, samples: list) -> None:
            super().__init__()
            self.samples = samples

    class Host(Message):
        def __init__(self, totals: dict | None, error: str = "") -> None:
            super().__init__()
            self.totals = totals
            self.error = error

    def __init__(self, engine, book: HistoryBook | None = None) -> None:
        super().__init__(name=NAME)
        self.engine = engine
        self.book = book if book is not None else HistoryBook()
        """The dashboard's history when it has one: the graphs start with the dashboard."""
        self.sort_hot = True
        """Hottest (current CPU) first; else by name."""
        self.coarse = False
        """Show the last hour at 10 s instead of the last 10 minutes at 1 s."""
        self.ticks = 0
        self._order: list[str] = []
        self._host_pending = False
        """A host reading (or the timer for the next one) is under way."""
        self.picked = False
        """A card was selected with the keys (else the selection follows the first card)."""
        self._status_text = ""

    def compose(self) -> ComposeResult:
        yield HostHeader(where(self.engine), id="graphs-host")
        yield Static("", id="graphs-status", markup=False)
        with VerticalScroll(id="graphs-scroll"):
            yield Static("no running containers", id="graphs-empty")
            yield Grid(id="graphs-grid")
        yield ScreenFooter()

    def on_mount(self) -> None:
        scroll = self.query_one("#graphs-scroll")
        scroll.can_focus = False   # tab and arrows move between cards
        self.watch(scroll, "scroll_y", self._show_in_view, init=False)
        self.watch(scroll, "size", self._show_in_view, init=False)
        self.watch(self.app, "theme", lambda: self.draw(), init=False)
        self.follow_stats()
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

    def _want_host(self) -> None:
        """Read the host totals now unless a reading is under way (never in snapshot tests)."""
        if not self._host_pending and getattr(self.app, "live", True):
            self._host_pending = True
            self.sample_host()

    def on_graphs_screen_host(self, message: Host) -> None:
        header = self.query_one(HostHeader)
        header.unavailable = message.error
        self._host_pending = False
        if message.totals is not None:
            header.totals = message.totals
            if self.is_current:   # hidden: the next resume reads them again
                self._host_pending = True
                self.set_timer(HOST_INTERVAL, self.sample_host)
        header.counts = {"containers": (len(self.book), len(self.book))}

    def on_graphs_screen_samples(self, message: Samples) -> None:
        self.book.add(message.samples)
        self.ticks += 1
        dash = getattr(self.app, "dashboard", None)
        if dash is not None and dash.fed_by_graphs and self.ticks % DASHBOARD_EVERY == 0:
            dash.post_message(dash.Stats(message.samples))
        if self.app.screen is self:
            self.draw(resort=self.ticks % RESORT_TICKS == 1)
        elif isinstance(self.app.screen, GraphDetailScreen) and self.app.screen.graphs is self:
            self.app.screen.update_graphs()

    def on_screen_resume(self) -> None:
        self._want_host()
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
        in_view = self._in_view()
        for cid, card in cards.items():
            if cid in self.book.by_id:
                card.coarse = self.coarse
                card.update_graphs(visible=cid in in_view)
        empty = self.query_one("#graphs-empty")
        if empty.display != (not self.book.by_id):
            empty.display = not self.book.by_id
        if resort:
            self.call_after_refresh(self._resort)
        self._status()

    def _show_in_view(self) -> None:
        cards = self.cards()
        for cid in self._in_view():
            if cid in cards:
                cards[cid].show()

    def _in_view(self) -> set[str]:
        """The cards the scrolled grid shows (worked out from the grid's fixed rows: asking
        the compositor for every card's region each second costs more than drawing them)."""
        scroll = self.query_one("#graphs-scroll")
        top = scroll.scroll_offset.y
        bottom = top + scroll.size.height
        return {cid for i, cid in enumerate(self.shown_order())
                if (i // self.COLUMNS) * CARD_HEIGHT < bottom
                and (i // self.COLUMNS + 1) * CARD_HEIGHT > top}

    def _resort(self) -> None:
        order = self.order()
        cards = self.cards()
        if order != self._order:
            grid = self.query_one("#graphs-grid", Grid)
            present = [cid for cid in order if cid in cards]
            for i, cid in enumerate(present[1:], 1):
                grid.move_child(cards[cid], after=cards[present[i - 1]])
            if present:
                grid.move_child(cards[present[0]], before=0)
            self._order = order
            self._show_in_view()
        # until a card is picked, the selection stays on the first (the hottest) one
        if not self.picked or not isinstance(self.focused, ContainerGraphs):
            shown = self.shown_order()
            if shown and self.focused is not cards.get(shown[0]):
                cards[shown[0]].focus(scroll_visible=False)

    def shown_order(self) -> list[str]:
        """Container ids in the order the cards are on screen."""
        return [c.cid for c in self.query_one("#graphs-grid", Grid).children
                if isinstance(c, ContainerGraphs)]

    def _status(self) -> None:
        text = (f" {len(self.book)} running   sort: {'hottest first' if self.sort_hot else 'name'}"
                f"   window: "
                f"{'last hour, 10 s points' if self.coarse else 'last 10 minutes, 1 s points'}")
        if text != self._status_text:   # an update lays the screen out again: only on change
            self._status_text = text
            self.query_one("#graphs-status", Static).update(text, layout=False)

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

    def action_move(self, step: int) -> None:
        order = self.shown_order()
        if not order:
            return
        focused = self.focused
        i = order.index(focused.cid) if isinstance(focused, ContainerGraphs) and \
            focused.cid in order else 0
        self.picked = True
        self.cards()[order[max(0, min(len(order) - 1, i + step))]].focus()

    def on_click(self, event) -> None:
        if isinstance(event.widget, ContainerGraphs):
            self.picked = True          # clicking focuses the card; a double click zooms
            if getattr(event, "chain", 1) >= 2:
                self.action_zoom()

    def action_zoom(self) -> None:
        """The selected card's container (else the first), full screen."""
        order = self.shown_order()
        if not order:
            return
        focused = self.focused
        cid = focused.cid if isinstance(focused, ContainerGraphs) else order[0]
        self.app.push_screen(GraphDetailScreen(self, cid))


class GraphDetailScreen(LaidOutOnce, Screen):
    """One container's graphs as tall as the terminal allows, following the same history."""

    DEFAULT_CSS = """
    GraphDetailScreen #graph-detail-status {
        height: 1;
        background: $surface;
        color: $primary;
    }
    GraphDetailScreen ContainerGraphs, GraphDetailScreen ContainerGraphs:focus {
        height: 1fr;
        border: round $primary 60%;
        border-title-color: $primary;
    }
    """

    BINDINGS = [
        Binding("escape,enter", "leave", "Graphs", id="graph_detail_leave"),
        Binding("w", "window", "10m / 1h", id="graph_detail_window"),
    ]

    def __init__(self, graphs: GraphsScreen, cid: str) -> None:
        super().__init__()
        self.graphs = graphs
        """The grid screen whose stream fills the history (and tells us to draw)."""
        self.cid = cid
        self.stopped = False

    def compose(self) -> ComposeResult:
        history = self.graphs.book.by_id[self.cid]
        yield Static("", id="graph-detail-status", markup=False)
        yield ContainerGraphs(self.cid, history, self.graphs.coarse, fill=True,
                              id="graph-detail")
        yield ScreenFooter()

    def on_mount(self) -> None:
        self._status()

    def card(self) -> ContainerGraphs:
        return self.query_one("#graph-detail", ContainerGraphs)

    def update_graphs(self) -> None:
        """New samples arrived: follow the container's history (a restart starts a new one)."""
        card = self.card()
        history = self.graphs.book.by_id.get(self.cid)
        self.stopped = history is None
        if history is not None:
            card.history = history
        card.coarse = self.graphs.coarse
        card.update_graphs()
        self._status()

    def _status(self) -> None:
        h = self.card().history
        state = "   not running: the graphs stop here" if self.stopped else ""
        text = (f" {h.name}  {self.cid[:12]}   window: "
                f"{'last hour, 10 s points' if self.graphs.coarse else 'last 10 minutes, 1 s points'}"
                f"{state}")
        status = self.query_one("#graph-detail-status", Static)
        if str(status.content) != text:
            status.update(text, layout=False)

    def action_window(self) -> None:
        self.graphs.coarse = not self.graphs.coarse
        self.graphs._status()
        self.update_graphs()

    def action_leave(self) -> None:
        self.app.pop_screen()


def open_graphs(app, engine):
    """Show the graphs screen, installing it (and its stats stream) the first time."""
    try:
        screen = app.get_screen(NAME)
    except KeyError:
        dash = getattr(app, "dashboard", None)
        screen = GraphsScreen(engine, getattr(dash, "book", None))
        app.install_screen(screen, NAME)
        if dash is not None and getattr(app, "live", True):
            dash.feed_from_graphs()
    if app.screen is not screen:
        return app.push_screen(screen)
    return None
