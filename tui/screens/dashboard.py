"""DashboardScreen: the four panes (containers, images, volumes, networks) and their keys.

Workers fetch, handlers draw: a thread worker reads a Snapshot of every list and posts it; the
handler diffs it into the tables. The lists follow the event log (Engine.follow_events when the
build has it, else a cheap stat of events.jsonl on a re-armed one-shot timer), so nothing is
reloaded on a timer. CPU and memory come from the Engine.stats stream. What the keys do to
the rows is in dashboard_verbs.py.
"""

from __future__ import annotations

import os
import re
from collections import deque

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.message import Message
from textual.screen import ModalScreen, Screen
from textual.widgets import ContentSwitcher, Footer, Input, Static

from ..textfilter import compile_filter
from ..widgets import rows as R
from ..widgets.header import PANES, HostHeader, PaneTabs
from ..widgets.resource_table import ResourceTable
from .dashboard_verbs import DashboardVerbs
from .fetch import KINDS, Snapshot, Unavailable, snapshot, verb

WATCH_INTERVAL = 0.25       # seconds between stats of events.jsonl when follow_events is absent
HOST_INTERVAL = 3.0         # host totals
CLOCK_INTERVAL = 5.0        # re-render "Up 45s" and "3m ago" while something is that young
SLOW_CLOCK_INTERVAL = 20.0  # ... and when every age is in minutes or more
STATS_INTERVAL = 2.0        # as k9s refreshes; each sample repaints the visible table
HISTORY = R.SPARK_WIDTH

CONTAINER_ACTIONS = {"start", "stop", "restart", "pause", "kill", "logs", "shell",
                     "update_limits", "attach"}
IMAGE_ACTIONS = {"tag_image", "save_image", "image_history"}
CREATE_PANES = ("volumes", "networks")


class DashboardScreen(DashboardVerbs, Screen):
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
        self._stats_ids: tuple[str, ...] | None = None
        self._watch_sig: tuple | None = None
        self.loaded = False
        """True once the first snapshot was drawn (tests wait for it)."""

    # --- layout ---------------------------------------------------------------------------------

    def compose(self) -> ComposeResult:
        yield HostHeader(self.engine.paths.root, id="host")
        yield PaneTabs(id="tabs")
        with ContentSwitcher(initial="pane-containers", id="panes"):
            for kind in PANES:
                with Vertical(id=f"pane-{kind}", classes="pane"):
                    yield Static("", id=f"msg-{kind}", classes="pane-message", markup=False)
                    yield ResourceTable(kind, R.COLUMNS[kind], id=f"table-{kind}")
        yield Input(placeholder="filter: text, or ~regex   (enter keeps it, esc clears)",
                    id="filter")
        yield Footer(id="footer", show_command_palette=False)

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

    # --- following the event log ----------------------------------------------------------------

    def _start_following(self) -> None:
        if getattr(self.engine, "follow_events", None) is not None:
            self.follow_events()
        else:
            self._watch_tick()

    @work(group="events", exclusive=True, exit_on_error=False)
    async def follow_events(self) -> None:
        """Post Changed for every event the engine logs."""
        async for event in self.engine.follow_events():
            self._dirty.add((event.type, event.id if event.type == "container" else ""))
            self.post_message(self.Changed())

    def _events_signature(self) -> tuple | None:
        try:
            st = os.stat(self.engine.paths.events_file)
        except OSError:
            return None
        return (st.st_ino, st.st_size, st.st_mtime_ns)

    def _watch_tick(self) -> None:
        # A stat per tick is the whole cost of being idle; re-armed so ticks never pile up.
        sig = self._events_signature()
        if sig != self._watch_sig:
            self._watch_sig = sig
            self._dirty.add(("*", ""))
            self.request_refresh()
        self.set_timer(WATCH_INTERVAL, self._watch_tick)

    def on_dashboard_screen_changed(self, _message: Changed) -> None:
        self.request_refresh()

    def request_refresh(self, delay: float = 0.03) -> None:
        """Refresh the lists soon; a burst of requests makes one refresh."""
        if not self._refresh_pending:
            self._refresh_pending = True
            self.set_timer(delay, self._do_refresh)

    def _do_refresh(self) -> None:
        self._refresh_pending = False
        if self._refreshing:
            return   # one refresh at a time, so results arrive in order; this one runs after
        self._refreshing = True
        dirty, self._dirty = self._dirty, set()
        if not self.loaded or ("*", "") in dirty:
            self.refresh_lists(None, self.snap)
        else:
            self.refresh_lists(dirty, self.snap)

    @work(thread=True, group="refresh", exit_on_error=False)
    def refresh_lists(self, dirty: set | None, base: Snapshot) -> None:
        """Read what the events say changed (everything when ``dirty`` is None) and post it.

        A container event re-reads that one container, not all of them: with hundreds of
        containers a full list costs the engine tens of milliseconds, one record a fraction."""
        if dirty is None:
            self.post_message(self.Loaded(snapshot(self.engine), None))
            return
        kinds = {t + "s" for t, _ in dirty if t + "s" in KINDS and t != "container"}
        snap = snapshot(self.engine, kinds) if kinds else Snapshot()
        changed: dict[str, object] = {}
        for t, cid in dirty:
            if t == "container" and cid:
                try:
                    changed[cid] = self.engine.container(cid)
                except Exception:  # NotFound: it was removed
                    changed[cid] = None
            elif t == "container":
                snap.listings.update(snapshot(self.engine, ("containers",)).listings)
        self.post_message(self.Loaded(snap, changed))

    def on_dashboard_screen_loaded(self, message: Loaded) -> None:
        self._now = self.app.clock()
        snap = message.snap
        if message.changed is None:
            self.snap = snap
            self._row_cache.clear()
            self._redraw_or_defer()
        else:
            self.snap.listings.update(snap.listings)
            cont = self.snap.listings.get("containers")
            if message.changed and cont is not None and cont.items is not None:
                by_id = {c.id: c for c in cont.items}
                for cid, c in message.changed.items():
                    self._row_cache.pop(cid, None)
                    if c is None:
                        by_id.pop(cid, None)
                    else:
                        by_id[cid] = c
                cont.items = list(by_id.values())
            self._redraw_or_defer()
        self.loaded = True
        self._refreshing = False
        self._quicken_clock()
        if self._dirty:
            self.request_refresh()
        if self.live:
            self._restart_stats()

    # --- stats and host totals ------------------------------------------------------------------

    def _start_stats(self) -> None:
        if getattr(self.engine, "stats", None) is None:
            self.query_one(HostHeader).stats_note = "cpu/mem: not available in this build"

    def _restart_stats(self) -> None:
        """Stream stats for exactly the running containers (naming them spares the engine a
        look at every stopped container's record each second)."""
        if getattr(self.engine, "stats", None) is None or self.fed_by_graphs:
            return
        ids = tuple(sorted(c.id for c in self.snap.items("containers") if c.state.status == "running"))
        if ids == self._stats_ids:
            return
        self._stats_ids = ids
        if not ids:
            self.workers.cancel_group(self, "stats")
            return
        self.stream_stats(list(ids))

    def feed_from_graphs(self) -> None:
        """The graphs screen, once opened, reads every running container each second for the
        rest of the session; it hands the dashboard every STATS_INTERVAL's samples, and the
        dashboard's own stream (the same cgroup files read again) stops."""
        self.fed_by_graphs = True
        self.workers.cancel_group(self, "stats")
        self._stats_ids = None

    @work(group="stats", exclusive=True, exit_on_error=False)
    async def stream_stats(self, ids: list[str]) -> None:
        """Follow Engine.stats for the running containers."""
        from engine.errors import NotFound
        try:
            async for samples in self.engine.stats(ids, interval=STATS_INTERVAL):
                self.post_message(self.Stats(list(samples)))
        except NotFound:  # one of them was removed meanwhile; the next refresh restarts us
            self._stats_ids = None

    def on_dashboard_screen_stats(self, message: Stats) -> None:
        seen = {s.id for s in message.samples}
        for cid in [c for c in self.samples if c not in seen]:
            self.samples.pop(cid, None)
            self.history.pop(cid, None)
            self._row_cache.pop(cid, None)
        for s in message.samples:
            self.samples[s.id] = s
            self.history.setdefault(s.id, deque(maxlen=HISTORY)).append(s.cpu_percent)
            self._row_cache.pop(s.id, None)
        if self.covered:   # nobody sees the table: draw it once it shows again
            self._stale = True
            return
        # only the measured containers' rows can have changed
        table = self.table("containers")
        listing = self.snap.listings.get("containers")
        if listing is None or listing.items is None or not table.display:
            return
        now, rows = self._now, []
        for c in listing.items:
            if c.id in seen and c.id in table.rows_by_key:
                row = self._row_cache[c.id] = R.container_row(
                    c, self.samples.get(c.id), self.history.get(c.id, ()), now, self.theme_style)
                rows.append(row)
        table.update_rows(rows)

    @work(thread=True, group="host", exclusive=True, exit_on_error=False)
    def sample_host(self) -> None:
        """Read the host's CPU, memory and load (thread)."""
        try:
            totals = verb(self.engine, "host_totals", "host totals")()
            self.post_message(self.HostTotals(totals))
        except Unavailable as e:
            self.post_message(self.HostTotals(None, str(e)))

    def on_dashboard_screen_host_totals(self, message: HostTotals) -> None:
        header = self.query_one(HostHeader)
        header.unavailable = message.error
        header.totals = message.totals
        if message.totals is None:
            return
        if self.covered:   # read again when the dashboard shows (on_screen_resume)
            self._host_paused = True
        else:
            self.set_timer(HOST_INTERVAL, self.sample_host)

    @property
    def covered(self) -> bool:
        """A full screen (a console, the graphs, logs) is above the dashboard, which no one
        sees until it comes back; a dialog above it leaves it in view, dimmed."""
        stack = self.app.screen_stack
        if self not in stack:
            return False
        return any(not isinstance(s, ModalScreen) for s in stack[stack.index(self) + 1:])

    def _compositor_refresh(self) -> None:
        # Textual repaints the screen just under the top one in case it shows through, and
        # passes its dirty regions up as a repaint of the top screen: under the graphs (which
        # are opaque) that made the graphs screen repaint whole with each stats tick.
        if self.covered:
            self._compositor._dirty_regions.clear()
            self._dirty_widgets.clear()
            return
        super()._compositor_refresh()

    def _redraw_or_defer(self) -> None:
        # a refresh of a screen under the top one is passed up to the top screen to repaint
        if self.covered:
            self._stale = True
        else:
            self.redraw()

    def on_screen_resume(self) -> None:
        if self._stale:
            self._stale = False
            self.redraw()
        if self._host_paused:
            self._host_paused = False
            self.sample_host()

    def _theme_changed(self) -> None:
        self._row_cache.clear()
        self.redraw()

    def _clock_tick(self) -> None:
        # uptimes and ages move on every CLOCK_INTERVAL, not with every stats sample: a
        # status cell changing each second would repaint the whole table each second
        self._now = now = self.app.clock()
        # only rows whose text depends on the time: "Created" rows stay as they are
        youngest = float("inf")
        moved = []
        for c in self.snap.items("containers"):
            if c.state.status != "created":
                self._row_cache.pop(c.id, None)
                moved.append(c)
                youngest = min(youngest, _age(c, now))
        table = self.table("containers")
        if self.covered:
            self._stale = True
        elif self.pane_kind == "containers" and table.display:
            # only the rows whose status reads a time: with 500 containers a full redraw
            # (rows rebuilt and diffed) was most of the idle dashboard's CPU
            rows = []
            for c in moved:
                if c.id in table.rows_by_key:
                    row = self._row_cache[c.id] = R.container_row(
                        c, self.samples.get(c.id), self.history.get(c.id, ()), now,
                        self.theme_style)
                    rows.append(row)
            table.update_rows(rows)
        else:
            self.redraw()
        # ages under a minute show seconds; past that they change once a minute at most
        self._arm_clock(CLOCK_INTERVAL if youngest < 60 else SLOW_CLOCK_INTERVAL)
        # a monitor that dies says nothing: reading its container again lets the engine notice
        # (and release it, with a "die" event), as the next `berth ps` would
        running = {("container", c.id) for c in self.snap.items("containers") if c.running}
        if running:
            self._dirty |= running
            self.request_refresh()

    def _arm_clock(self, interval: float) -> None:
        if self._clock_timer is not None:
            self._clock_timer.stop()
        self._clock_interval = interval
        self._clock_timer = self.set_timer(interval, self._clock_tick)

    def _quicken_clock(self) -> None:
        """A container started or stopped under a minute ago reads its age in seconds: tick
        at CLOCK_INTERVAL again instead of leaving "Up 0s" until the slow tick."""
        if self._clock_timer is None or self._clock_interval == CLOCK_INTERVAL:
            return
        if any(_age(c, self._now) < 60 for c in self.snap.items("containers")):
            self._arm_clock(CLOCK_INTERVAL)

    # --- drawing --------------------------------------------------------------------------------

    def theme_style(self, spec: str) -> str:
        variables = self.app.theme_variables
        return " ".join(variables.get(tok[1:], "") if tok.startswith("$") else tok
                        for tok in spec.split())

    def rows_for(self, kind: str) -> list[R.Row] | None:
        listing = self.snap.listings.get(kind)
        if listing is None or listing.items is None:
            return None
        now = self._now
        containers = self.snap.items("containers")
        if kind == "containers":
            items = listing.items
            if self.hide_stopped:
                items = [c for c in items if c.running]
            cache = self._row_cache
            rows = []
            for c in items:
                row = cache.get(c.id)
                if row is None or row.model is not c:
                    row = cache[c.id] = R.container_row(c, self.samples.get(c.id),
                                                        self.history.get(c.id, ()), now,
                                                        self.theme_style)
                rows.append(row)
        elif kind == "images":
            users = R.image_users(containers)
            rows = [r for img in listing.items for r in R.image_rows(img, users.get(img.id, 0), now)]
        elif kind == "volumes":
            users = R.volume_users(containers)
            rows = [R.volume_row(v, users.get(v.name, 0), now) for v in listing.items]
        else:
            rows = [R.network_row(n, now) for n in listing.items]
        return rows

    def redraw(self, only: str | None = None) -> None:
        """Diff every pane (or one) against the current snapshot."""
        counts = {}
        for kind in PANES:
            table = self.table(kind)
            if only is not None and kind != only:
                counts[kind] = len(table.rows_by_key) if table.display else None
                continue
            rows = self.rows_for(kind)
            message = self.query_one(f"#msg-{kind}", Static)
            if rows is None:
                listing = self.snap.listings.get(kind)
                error = listing.error if listing else ""
                counts[kind] = None
                message.update(error or f"{kind}: loading…")
                message.display = True
                table.display = False
                continue
            message.display = False
            table.display = True
            try:
                keep = compile_filter(self.filters[kind])
            except re.error:
                keep = None
            if keep is not None:
                rows = [r for r in rows if keep(r.text)]
            table.apply(rows)
            counts[kind] = len(rows)
            total = len(self.rows_for(kind) or ()) if keep is not None else len(rows)
            pane = self.query_one(f"#pane-{kind}")
            scope = ("running" if self.hide_stopped else "all") if kind == "containers" else "all"
            shown = f"{len(rows)}/{total}" if keep is not None else f"{len(rows)}"
            pane.border_title = f" {kind}({scope})[{shown}] "
        tabs = self.query_one(PaneTabs)
        tabs.counts = counts
        header = self.query_one(HostHeader)
        cont = self.snap.listings.get("containers")
        if cont is not None and cont.items is not None:
            header.counts = {"containers": (sum(c.running for c in cont.items), len(cont.items))}
        self._update_extra()
        self.refresh_keys()

    def refresh_keys(self) -> None:
        """Redraw the footer only when which keys apply changed: rebuilding it restyles every
        key, which is most of an idle dashboard's CPU if done on every stats tick."""
        state = (self.pane_kind,) + tuple(self.check_action(b.action, ()) for b in self.BINDINGS
                                          if b.show)
        if state != self._keys_state:
            self._keys_state = state
            self.refresh_bindings()

    def _update_extra(self) -> None:
        table = self.table()
        parts = []
        col = table.columns_spec[table.sort_index]
        parts.append(f"sort: {col.label.lower()} {'▼' if table.sort_reverse else '▲'}")
        if self.filters[self.pane_kind]:
            parts.append(f"filter: {self.filters[self.pane_kind]}")
        if self.pane_kind == "containers":
            parts.append("running only" if self.hide_stopped else "all containers")
        if table.marked:
            parts.append(f"{len(table.marked)} marked")
        self.query_one(PaneTabs).extra = "   ".join(parts)

    # --- keys: which apply to the selected row --------------------------------------------------

    def targets(self) -> list[R.Row]:
        return self.table().targets()

    def check_action(self, action: str, parameters: tuple) -> bool | None:
        if action in CONTAINER_ACTIONS:
            if self.pane_kind != "containers":
                return False
            rows = self.targets()
            containers = [r.model for r in rows]
            if not containers:
                return None
            ok = {
                "start": lambda c: c.can_start(),
                "stop": lambda c: c.can_stop(),
                "restart": lambda c: c.can_stop() or c.can_start(),
                "pause": lambda c: c.can_pause() or c.can_unpause(),
                "kill": lambda c: c.can_stop(),
                "logs": lambda c: True,
                "shell": lambda c: c.state.status == "running",
                "attach": lambda c: c.state.status == "running",
                "update_limits": lambda c: c.state.status != "removing",
            }[action]
            return True if any(ok(c) for c in containers) else None
        if action in ("remove", "inspect", "details", "mark"):
            return True if self.table().selected() is not None else None
        if action in IMAGE_ACTIONS:
            if self.pane_kind != "images":
                return False
            return True if self.table().selected() is not None else None
        if action == "create":
            return self.pane_kind in CREATE_PANES
        if action == "toggle_stopped":
            return self.pane_kind == "containers"
        return True

    @on(ResourceTable.RowHighlighted)
    def _row_moved(self) -> None:
        self.refresh_keys()

    @on(ResourceTable.RowSelected)
    def _row_selected(self) -> None:
        # the table takes enter for itself before the screen's binding sees it
        self.action_details()

    @on(ResourceTable.SortChanged)
    def _sort_changed(self) -> None:
        self._update_extra()

    # --- panes ----------------------------------------------------------------------------------

    def action_pane(self, kind: str) -> None:
        if kind not in PANES:
            return
        self.pane_kind = kind
        self.query_one(ContentSwitcher).current = f"pane-{kind}"
        self.query_one(PaneTabs).current = kind
        filt = self.query_one("#filter", Input)
        filt.value = self.filters[kind]
        filt.display = bool(self.filters[kind])
        self.table().focus()
        self._update_extra()
        self.refresh_bindings()

    def action_next_pane(self) -> None:
        self.action_pane(PANES[(PANES.index(self.pane_kind) + 1) % len(PANES)])

    def action_prev_pane(self) -> None:
        self.action_pane(PANES[(PANES.index(self.pane_kind) - 1) % len(PANES)])

    def action_cursor_down(self) -> None:
        self.table().action_cursor_down()

    def action_cursor_up(self) -> None:
        self.table().action_cursor_up()

    def action_mark(self) -> None:
        self.table().toggle_mark()
        self._update_extra()
        self.refresh_bindings()

    def action_sort(self) -> None:
        table = self.table()
        table.sort_by((table.sort_index + 1) % len(table.columns_spec), reverse=False)

    def action_sort_reverse(self) -> None:
        table = self.table()
        table.sort_by(table.sort_index, reverse=not table.sort_reverse)

    def action_toggle_stopped(self) -> None:
        self.hide_stopped = not self.hide_stopped
        self.redraw()

    # --- filter ---------------------------------------------------------------------------------

    def action_filter(self) -> None:
        filt = self.query_one("#filter", Input)
        filt.display = True
        filt.value = self.filters[self.pane_kind]
        filt.focus()

    @on(Input.Changed, "#filter")
    def _filter_changed(self, event: Input.Changed) -> None:
        try:
            compile_filter(event.value)
            event.input.remove_class("-invalid")
        except re.error:
            event.input.add_class("-invalid")
            return
        self.filters[self.pane_kind] = event.value
        self.redraw(only=self.pane_kind)

    @on(Input.Submitted, "#filter")
    def _filter_done(self, event: Input.Submitted) -> None:
        event.input.display = bool(event.value)
        self.table().focus()

    def action_clear(self) -> None:
        filt = self.query_one("#filter", Input)
        if filt.has_focus or self.filters[self.pane_kind]:
            filt.value = ""
            self.filters[self.pane_kind] = ""
            filt.display = False
            self.table().focus()
            self.redraw(only=self.pane_kind)
        else:
            self.table().clear_marks()
            self._update_extra()

    def on_key(self, event) -> None:
        # escape inside the filter input clears it (the input would swallow the binding)
        filt = self.query_one("#filter", Input)
        if event.key == "escape" and filt.has_focus:
            event.stop()
            self.action_clear()

    def on_worker_state_changed(self, event) -> None:
        from textual.worker import WorkerState
        if event.worker.group == "refresh" and event.state in (WorkerState.ERROR,
                                                               WorkerState.CANCELLED):
            self._refreshing = False
            self._dirty.add(("*", ""))
        self.app.on_worker_state_changed(event)


def _age(c, now: float) -> float:
    """Seconds since a container started (running) or stopped, as its status line reads them;
    infinite for one that never ran, whose "Created" doesn't move."""
    since = c.state.started_at if c.running else c.state.finished_at
    if c.state.status == "created" or not since:
        return float("inf")
    return now - R._safe_time(since)
