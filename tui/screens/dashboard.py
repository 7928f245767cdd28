"""DashboardScreen: the four panes (containers, images, volumes, networks) and their keys.

What it owns is split by mixin: dashboard_feed.py keeps the lists, stats and clock current
(workers fetch, handlers draw), dashboard_view.py draws the rows and moves between panes, rows
and the filter, dashboard_verbs.py is what the verb keys do to the rows. This module holds the
key bindings, the messages between them and the layout.
"""

from __future__ import annotations

from collections import deque

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Container, Vertical
from textual.message import Message
from textual.screen import Screen
from textual.widgets import ContentSwitcher, Input, Static

from ..host_label import where
from ..widgets import rows as R
from ..widgets.detail import DetailPane
from ..widgets.footer import KeyFooter
from ..widgets.header import PANES, HostHeader, PaneTabs
from ..widgets.history import HistoryBook
from ..widgets.resource_table import ResourceTable
from .dashboard_detail import DashboardDetail
from .dashboard_feed import CLOCK_INTERVAL, SLOW_CLOCK_INTERVAL, DashboardFeed
from .dashboard_verbs import DashboardVerbs
from .dashboard_view import DashboardView
from .fetch import Snapshot

__all__ = ["DashboardScreen", "CLOCK_INTERVAL", "SLOW_CLOCK_INTERVAL"]


class DashboardScreen(DashboardFeed, DashboardView, DashboardDetail, DashboardVerbs, Screen):
    """The main screen: header, pane tabs, the current pane's table, filter, footer."""

    BINDINGS = [
        Binding("s", "start", "Start", id="start"),
        Binding("x", "stop", "Stop", id="stop"),
        Binding("r", "restart", "Restart", id="restart"),
        Binding("p", "pause", "Pause", id="pause", tooltip="Pause or unpause"),
        Binding("K", "kill", "Kill", id="kill"),
        Binding("d", "remove", "Remove", id="remove"),
        Binding("l", "logs", "Logs", id="logs"),
        Binding("e", "shell", "Shell", id="shell"),
        Binding("i", "inspect", "Inspect", id="inspect"),
        Binding("u", "update_limits", "Limits", id="update_limits",
                tooltip="Change memory and CPU limits, live"),
        Binding("t", "tag_image", "Tag", id="tag_image", tooltip="Tag the image"),
        Binding("S", "save_image", "Save", id="save_image", tooltip="Save images to a tar archive"),
        Binding("H", "image_history", "History", id="image_history",
                tooltip="Image history (its layers)"),
        Binding("n", "create", "New", id="create", tooltip="New volume or network"),
        Binding("D", "prune", "Prune", id="prune", tooltip="Prune what nothing uses (asks)"),
        Binding("enter", "details", "Details", id="details"),
        Binding("space", "mark", "Mark", id="mark", show=False),
        Binding("slash", "filter", "Filter", id="filter"),
        Binding("a", "toggle_stopped", "All", id="toggle_stopped", tooltip="Show or hide stopped containers"),
        Binding("o", "sort", "Sort", id="sort", show=False),
        Binding("O", "sort_reverse", "Reverse sort", id="sort_reverse", show=False),
        Binding("tab", "next_pane", "Next pane", id="next_pane", show=False),
        Binding("shift+tab", "prev_pane", "Previous pane", id="prev_pane", show=False),
        Binding("1", "pane('containers')", "Containers", id="pane_containers", show=False),
        Binding("2", "pane('images')", "Images", id="pane_images", show=False),
        Binding("3", "pane('volumes')", "Volumes", id="pane_volumes", show=False),
        Binding("4", "pane('networks')", "Networks", id="pane_networks", show=False),
        Binding("j,down", "cursor_down", "Down", id="down", show=False),
        Binding("k,up", "cursor_up", "Up", id="up", show=False),
        Binding("escape", "clear", "Clear marks and filter", id="clear", show=False),
        Binding("c", "console", "Console", id="console", show=False,
                tooltip="Exec console (a terminal tab)"),
        Binding("A", "attach", "Attach", id="attach", show=False,
                tooltip="Attach a console to the main process (^p ^q detaches)"),
        Binding("g", "graphs", "Graphs", id="graphs", show=False,
                tooltip="Resource graphs"),
        Binding("R", "run_dialog", "Run", id="run_dialog", show=False,
                tooltip="Run a container"),
        Binding("P", "pull_dialog", "Pull", id="pull_dialog", show=False,
                tooltip="Pull an image"),
        Binding("b", "build_dialog", "Build", id="build_dialog", show=False,
                tooltip="Build an image from a Dockerfile (images pane)"),
        Binding("E", "events", "Events", id="events", show=False, tooltip="Events, live"),
        Binding("T", "top", "Top", id="top", show=False, tooltip="The container's processes"),
        Binding("right_square_bracket", "detail_tab(1)", "Next tab", id="detail_next",
                show=False, tooltip="The detail pane's next tab"),
        Binding("left_square_bracket", "detail_tab(-1)", "Previous tab", id="detail_prev",
                show=False, tooltip="The detail pane's previous tab"),
        Binding("v", "detail_toggle", "Detail", id="detail_toggle", show=False,
                tooltip="Show or hide the detail pane"),
    ]
    """lazydocker / k9s keys; every one can be remapped by its id in the config file."""

    class Loaded(Message):
        """Lists read by the refresh worker: all of them (``changed`` None), or the kinds in
        ``snap`` plus the containers in ``changed`` (id -> Container, None when removed)."""

        def __init__(self, snap: Snapshot, changed: dict | None = None) -> None:
            super().__init__()
            self.snap = snap
            self.changed = changed

    class Changed(Message):
        """Something in the event log changed; coalesces (one refresh per burst)."""

        def can_replace(self, message: Message) -> bool:
            return isinstance(message, DashboardScreen.Changed)

    class Stats(Message):
        """A batch of StatsSamples arrived; coalesces."""

        def __init__(self, samples: list) -> None:
            super().__init__()
            self.samples = samples

        def can_replace(self, message: Message) -> bool:
            return isinstance(message, DashboardScreen.Stats)

    class HostTotals(Message):
        def __init__(self, totals: dict | None, error: str = "") -> None:
            super().__init__()
            self.totals = totals
            self.error = error

    def __init__(self, engine, hide_stopped: bool = False, live: bool = True):
        super().__init__()
        self.engine = engine
        self.live = live
        """Whether to sample stats and host totals (snapshot tests turn it off)."""
        self.hide_stopped = hide_stopped
        """Show only running containers."""
        self.pane_kind = "containers"
        self.snap = Snapshot()
        self.samples: dict[str, object] = {}
        self.history: dict[str, deque] = {}
        """CPU % per container for the sparklines (HISTORY points, one every STATS_INTERVAL)."""
        self.book = HistoryBook()
        """Every measured container's history since the dashboard started (bounded), for the
        detail pane's graphs and the graphs screen."""
        self.filters: dict[str, str] = {k: "" for k in PANES}
        self._refresh_pending = False
        self._dirty: set[tuple[str, str]] = set()
        self._refreshing = False
        self._clock_timer = None
        self._clock_interval = 0.0
        self.fed_by_graphs = False
        """Stats come from the graphs screen's stream (feed_from_graphs), not one of ours."""
        self._host_paused = False
        """Host totals stopped being read while a full screen covered the dashboard."""
        self._stale = False
        """Samples, events or the clock moved while a full screen covered the dashboard."""
        self._keys_state: tuple = ()
        self._now = 0.0
        self._row_cache: dict[str, R.Row] = {}
        self._row_inputs: dict[str, tuple] = {}
        """What each measured row was last drawn from (dashboard_feed.py's stats handler)."""
        self._stats_ids: tuple[str, ...] | None = None
        self._watch_sig: tuple | None = None
        self.loaded = False
        """True once the first snapshot was drawn (tests wait for it)."""
        self._detail_init()

    # --- layout ---------------------------------------------------------------------------------

    def compose(self) -> ComposeResult:
        yield HostHeader(where(self.engine), id="host")
        yield PaneTabs(id="tabs")
        with Container(id="body"):
            with ContentSwitcher(initial="pane-containers", id="panes"):
                for kind in PANES:
                    with Vertical(id=f"pane-{kind}", classes="pane"):
                        yield Static("", id=f"msg-{kind}", classes="pane-message", markup=False)
                        yield ResourceTable(kind, R.COLUMNS[kind], id=f"table-{kind}")
            yield DetailPane(id="detail")
        yield Input(placeholder="filter names and images: text, ~regex, name: image: status: "
                                "label: id:   (enter keeps it, esc clears)",
                    id="filter")
        yield KeyFooter(id="footer")

    def on_mount(self) -> None:
        self.query_one("#filter", Input).display = False
        for kind in PANES:
            self.query_one(f"#msg-{kind}").display = False
        self.table().focus()
        self.watch(self.app, "theme", self._theme_changed, init=False)
        self._dirty.add(("*", ""))
        self.request_refresh()
        self._start_following()
        if self.live:
            self.sample_host()
            self._start_stats()
            self._arm_clock(CLOCK_INTERVAL)

    def table(self, kind: str | None = None) -> ResourceTable:
        return self.query_one(f"#table-{kind or self.pane_kind}", ResourceTable)

    def on_worker_state_changed(self, event) -> None:
        from textual.worker import WorkerState
        if event.worker.group == "refresh" and event.state in (WorkerState.ERROR,
                                                               WorkerState.CANCELLED):
            self._refreshing = False
            self._dirty.add(("*", ""))
        self.app.on_worker_state_changed(event)

