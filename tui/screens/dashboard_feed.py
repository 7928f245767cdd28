"""The dashboard's feed: what keeps its lists, stats and clock current without a reload timer.

A mixin of DashboardScreen. The lists follow the event log (Engine.follow_events when the build
has it, else a cheap stat of events.jsonl on a re-armed one-shot timer); a thread worker reads a
Snapshot (or the one container an event names) and posts it, and the handler diffs it into the
tables. CPU and memory come from the Engine.stats stream, host totals from a timer that stops
while a full screen covers the dashboard.
"""

from __future__ import annotations

import os
import time
from collections import deque

from textual import work
from textual.message import Message   # the handlers' own are DashboardScreen's nested ones
from textual.screen import ModalScreen

from ..widgets import rows as R
from ..widgets.header import HostHeader
from .fetch import KINDS, Snapshot, Unavailable, snapshot, verb

WATCH_INTERVAL = 0.25       # seconds between stats of events.jsonl when follow_events is absent
HOST_INTERVAL = 3.0         # host totals
CLOCK_INTERVAL = 5.0        # re-render "Up 45s" and "3m ago" while something is that young
SLOW_CLOCK_INTERVAL = 20.0  # ... and when every age is in minutes or more
MONITOR_LOOK = 60.0         # the running containers' records are read again this often
STATS_INTERVAL = 2.0        # as k9s refreshes; each sample repaints the visible table
POINT = 1.0                 # seconds a point of the graphs' history stands for (graphs.py's)
HISTORY = R.SPARK_WIDTH
MEASURED = ("running", "paused")   # a paused container still has memory and pids to show


class DashboardFeed:
    """Event following, list refreshes, the stats stream, host totals and the age clock."""

    _monitor_look = float("-inf")
    """When the clock last read the running containers again (time.monotonic)."""

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

    def on_dashboard_screen_changed(self, _message: Message) -> None:
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

    def on_dashboard_screen_loaded(self, message: Message) -> None:
        self._now = self.app.clock()
        snap = message.snap
        if message.changed is None:
            self.snap = snap
            self._row_cache.clear()
            self._redraw_or_defer()
        else:
            self.snap.listings.update(snap.listings)
            cont = self.snap.listings.get("containers")
            moved = bool(snap.listings)
            if message.changed and cont is not None and cont.items is not None:
                by_id = {c.id: c for c in cont.items}
                for cid, c in message.changed.items():
                    old = by_id.get(cid)
                    if c is not None and old is not None and c == old:
                        # the clock's look at a running container found it as it was: its
                        # row, and the pane following it, stay as they are
                        continue
                    moved = True
                    self._row_cache.pop(cid, None)
                    if c is None:
                        by_id.pop(cid, None)
                    else:
                        by_id[cid] = c
                cont.items = list(by_id.values())
            if moved:
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
        ids = tuple(sorted(c.id for c in self.snap.items("containers")
                           if c.state.status in MEASURED))
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

    def on_dashboard_screen_stats(self, message: Message) -> None:
        if not self.fed_by_graphs:   # (the graphs screen adds its samples to the book itself)
            # one sample every 2 s makes two 1 s points: the graphs screen, once open, goes
            # on with its own 1 s samples in the same book, and the time axis stays true
            self.book.add(message.samples, repeat=round(STATS_INTERVAL / POINT))
        seen = {s.id for s in message.samples}
        for cid in [c for c in self.samples if c not in seen]:
            self.samples.pop(cid, None)
            self.history.pop(cid, None)
            self._row_inputs.pop(cid, None)
            self._row_cache.pop(cid, None)
        moved = set()
        for s in message.samples:
            self.samples[s.id] = s
            history = self.history.setdefault(s.id, deque(maxlen=HISTORY))
            history.append(s.cpu_percent)
            # what the row shows of a sample: an idle container's repeats itself, and its row
            # (and the cells drawn from it) stays as it is
            inputs = (s.cpu_percent, s.memory_usage, s.pids, tuple(history))
            if self._row_inputs.get(s.id) != inputs:
                self._row_inputs[s.id] = inputs
                self._row_cache.pop(s.id, None)
                moved.add(s.id)
        if self.covered:   # nobody sees the table: draw it once it shows again
            self._stale = True
            return
        self.detail_stats_moved()
        # only the measured containers' rows can have changed
        table = self.table("containers")
        listing = self.snap.listings.get("containers")
        if listing is None or listing.items is None or not table.display:
            return
        now, rows = self._now, []
        for c in listing.items:
            if c.id in seen and c.id in table.rows_by_key:
                cached = self._row_cache.get(c.id)
                if c.id not in moved and cached is not None and cached.model is c:
                    continue
                row = self._row_cache[c.id] = R.container_row(
                    c, self.samples.get(c.id), self.history.get(c.id, ()), now, self.theme_style)
                rows.append(row)
        if rows:
            table.update_rows(rows)

    @work(thread=True, group="host", exclusive=True, exit_on_error=False)
    def sample_host(self) -> None:
        """Read the host's CPU, memory and load (thread)."""
        try:
            totals = verb(self.engine, "host_totals", "host totals")()
            self.post_message(self.HostTotals(totals))
        except Unavailable as e:
            self.post_message(self.HostTotals(None, str(e)))

    def on_dashboard_screen_host_totals(self, message: Message) -> None:
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

    def _screen_resized(self, size) -> None:
        # A screen pushed over the dashboard gets a Resize with its first layout, and Textual
        # hands it to the screens under it too: the dashboard laid its whole tree out again,
        # in the middle of every `i` and `l`. Covered, it lays out when it shows again (its
        # resume compares sizes); in view (under a dialog, or back from the shell, whose
        # Resize is what repaints it) as Textual does. screen_size.py: the screens over it.
        if self.covered:
            return
        super()._screen_resized(size)

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
        self.detail_follow(force=True)   # what it read may have moved while covered
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
        # (and release it, with a "die" event), as the next `berth ps` would. Once a
        # MONITOR_LOOK, not every tick: reading 50 running containers' records was a fifth of
        # an idle dashboard's CPU
        if time.monotonic() - self._monitor_look >= MONITOR_LOOK:
            self._monitor_look = time.monotonic()
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



def _age(c, now: float) -> float:
    """Seconds since a container started (running) or stopped, as its status line reads them;
    infinite for one that never ran, whose "Created" doesn't move."""
    since = c.state.started_at if c.running else c.state.finished_at
    if c.state.status == "created" or not since:
        return float("inf")
    return now - R._safe_time(since)
