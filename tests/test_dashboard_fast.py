"""The dashboard stays light and answers at once: what an idle dashboard redoes with the detail
pane open (counted, not timed), and the screens that open on a key before what they show has
been read. Real containers on a test root."""

from __future__ import annotations

import contextlib
import time

from dashboard_support import dashboard, make_app, running, settle
from test_dashboard_containers import select


def _sleepers(engine, busybox, names):
    from engine.models import ContainerConfig
    for name in names:
        engine.run(ContainerConfig(image=str(busybox), cmd=["sh", "-c", f"echo {name} up; "
                                                                  "exec sleep 600"],
                                   network_mode="none"), name)


async def test_idle_dashboard_with_the_stats_tab_open_lays_nothing_out_again(engine, busybox):
    """Stats ticks and the clock's look at the running containers bring the same figures
    again: the detail pane's facts and the rows stay as drawn, so the screen is never laid out
    again and the lists are not redrawn (each layout re-arranged every widget: most of an idle
    dashboard's CPU)."""
    from tui.screens import dashboard_feed
    _sleepers(engine, busybox, ["idlea", "idleb", "idlec"])
    app = make_app(engine)
    async with running(app, size=(160, 48)) as pilot:
        dash = dashboard(app)
        await select(pilot, app, "idlea")
        await pilot.press("right_square_bracket")     # the stats tab: facts above the graphs
        await settle(pilot, lambda: dash.samples and "pids" in str(
            dash.query_one("#detail-facts").render()), rounds=500)
        await pilot.pause(0.5)
        counts = {"layouts": 0, "redraws": 0, "stats ticks": 0, "clock ticks": 0}
        layout, redraw = dash._refresh_layout, dash.redraw
        stats, clock = dash.detail_stats_moved, dash._clock_tick

        def count(name, fn):
            def counted(*a, **kw):
                counts[name] += 1
                return fn(*a, **kw)
            return counted
        dash._refresh_layout = count("layouts", layout)
        dash.redraw = count("redraws", redraw)
        dash.detail_stats_moved = count("stats ticks", stats)
        dash._clock_tick = count("clock ticks", clock)
        dash._arm_clock(0.5)   # the clock's look at the running containers, soon
        deadline = time.monotonic() + 4 * dashboard_feed.STATS_INTERVAL + 2
        while (counts["stats ticks"] < 3 or counts["clock ticks"] < 1) \
                and time.monotonic() < deadline:
            await pilot.pause(0.1)
        await settle(pilot)
        assert counts["stats ticks"] >= 3 and counts["clock ticks"] >= 1, counts
        assert counts["layouts"] == 0 and counts["redraws"] == 0, counts


class _Gate:
    """Holds an engine verb's calls (from the dashboard's worker threads) until released: a
    slow read, so a test sees what the screen shows before the read is done."""

    def __init__(self, engine, name):
        import threading
        self.release = threading.Event()
        self.waiting = 0
        real = getattr(engine, name)

        def slowed(*args, **kwargs):
            self.waiting += 1
            self.release.wait(30)
            return real(*args, **kwargs)
        setattr(engine, name, slowed)


async def test_inspect_opens_at_once_with_what_the_pane_read_then_fills_in(engine, busybox):
    """`i` pushes the inspect screen before its read is done: with the inspect the detail
    pane read when the cursor rested on the row, or saying it is reading; the read fills it."""
    from tui.screens.inspect import InspectScreen
    _sleepers(engine, busybox, ["rested", "passed"])
    app = make_app(engine)
    async with running(app, size=(160, 48)) as pilot:
        dash = dashboard(app)
        await select(pilot, app, "rested")
        row = dash.table().selected()
        # the cursor rests: the pane reads the row's inspect for `i` on its own
        await settle(pilot, lambda: ("containers", row.ref, id(row.model)) in dash._inspects,
                     rounds=500)
        gate = _Gate(engine, "container_inspect")
        await pilot.press("i")
        await settle(pilot, lambda: gate.waiting == 1, rounds=500)
        assert isinstance(app.screen, InspectScreen), type(app.screen).__name__
        assert app.screen.data["Id"] == engine.container("rested").id
        text = _text(app)
        assert "Env" in text and "PATH=" in text and 'Id: "' in text, text
        gate.release.set()
        await settle(pilot)
        assert app.screen.data["Name"] == "/rested"
        await pilot.press("escape")
        await settle(pilot, lambda: app.screen is dash)
        # a row it has not read: the screen opens saying so, and the read fills it in
        gate.release.clear()
        await select(pilot, app, "passed")
        dash._inspects.clear()     # (it may have read this one too, when the app started)
        waiting = gate.waiting
        await pilot.press("i")
        await settle(pilot, lambda: gate.waiting > waiting, rounds=500)
        assert isinstance(app.screen, InspectScreen) and app.screen.data is None
        assert "reading…" in _text(app)
        gate.release.set()
        await settle(pilot, lambda: app.screen.data is not None, rounds=500)
        await pilot.pause()
        assert app.screen.data["Name"] == "/passed" and "PATH=" in _text(app)


async def test_logs_open_with_the_pane_tail_then_the_reader_takes_over(engine, busybox):
    """`l` shows the lines the detail pane's tail already holds while the logs reader has not
    read anything yet; its first batch then replaces them (no line twice)."""
    from tui.screens.logs import LogsScreen
    from engine.models import ContainerConfig
    engine.run(ContainerConfig(image=str(busybox), cmd=["sh", "-c", "for i in 1 2 3; do echo "
                                                        "line-$i; done; exec sleep 600"],
                               network_mode="none"), "talker")
    app = make_app(engine)
    async with running(app, size=(160, 48)) as pilot:
        dash = dashboard(app)
        await select(pilot, app, "talker")
        await settle(pilot, lambda: len(dash._log_lines) == 3, rounds=500)
        gate = _Gate(engine, "logs")
        await pilot.press("l")
        await settle(pilot, lambda: gate.waiting == 1, rounds=500)
        await pilot.pause()
        assert isinstance(app.screen, LogsScreen)
        view = app.screen.query_one("#log")
        assert [e.text.rstrip() for e in view.entries] == ["line-1", "line-2", "line-3"]
        assert "line-3" in _text(app)
        gate.release.set()
        await settle(pilot, lambda: app.screen.received >= 3, rounds=500)
        assert [e.text.rstrip() for e in view.entries] == ["line-1", "line-2", "line-3"]


def _text(app) -> str:
    from dashboard_support import screen_text
    return screen_text(app)


async def test_a_chatty_containers_tail_is_drawn_a_few_times_a_second_and_ends_drawn(
        engine, busybox):
    """A container printing a line every few milliseconds: the detail pane's tail is drawn at
    most once per TAIL_DRAW_INTERVAL (not once a line, which kept the app from ever being idle),
    and its last line is on screen once it stops."""
    from engine.models import ContainerConfig
    from tui.screens import dashboard_detail
    engine.run(ContainerConfig(image=str(busybox), cmd=[
        "sh", "-c", "sleep 1; i=0; while [ $i -lt 300 ]; do i=$((i+1)); echo tick-$i; "
                    "usleep 10000; done; exec sleep 600"], network_mode="none"), "chatty")
    app = make_app(engine)
    async with running(app, size=(160, 48)) as pilot:
        dash = dashboard(app)
        await select(pilot, app, "chatty")
        draws = []
        real = dash._draw_detail

        def counted(row, tab, fetched):
            if tab == "logs":
                draws.append(time.monotonic())
            return real(row, tab, fetched)
        dash._draw_detail = counted
        await settle(pilot, lambda: any(t[1].startswith("tick-1") for t in list(dash._log_lines)),
                     rounds=500)
        started = time.monotonic()
        await settle(pilot, lambda: any(t[1].startswith("tick-300") for t in list(dash._log_lines)),
                     rounds=1000)
        took = time.monotonic() - started
        interval = getattr(dashboard_detail, "TAIL_DRAW_INTERVAL", 0.25)
        await pilot.pause(2 * interval)
        await settle(pilot)
        during = [t for t in draws if started <= t <= started + took]
        assert took > 1.0, took      # (the burst lasted long enough to tell)
        assert len(during) <= took / interval + 3, (len(during), took)
        assert "tick-300" in str(dash.query_one("#detail-text").render())


def _count_relayouts(monkeypatch):
    """A Counter of the screens laid out again for a Resize, by class name."""
    from collections import Counter

    from textual.screen import Screen
    resized = Counter()
    real = Screen._screen_resized

    def counted(self, size):
        if self.stack_updates and self.is_attached:   # what lays the screen out again
            resized[type(self).__name__] += 1
        return real(self, size)
    monkeypatch.setattr(Screen, "_screen_resized", counted)
    return resized


async def test_opening_inspect_and_logs_lays_them_out_once_and_not_the_dashboard(
        engine, busybox, monkeypatch):
    """A screen pushed over the dashboard is not laid out again for the Resize its own first
    layout sends it, and the dashboard under it is not laid out for it at all (both were whole
    re-arrangements of a screen for a size it already had)."""
    from tui.screens.inspect import InspectScreen
    from tui.screens.logs import LogsScreen
    _sleepers(engine, busybox, ["shown"])
    resized = _count_relayouts(monkeypatch)
    app = make_app(engine)
    async with running(app, size=(160, 48)) as pilot:
        dash = dashboard(app)
        await select(pilot, app, "shown")
        for key, kind in (("i", InspectScreen), ("l", LogsScreen)):
            await settle(pilot)
            resized.clear()
            await pilot.press(key)
            await settle(pilot, lambda k=kind: isinstance(app.screen, k), rounds=500)
            await settle(pilot)
            await pilot.press("escape")
            await settle(pilot, lambda: app.screen is dash)
            await settle(pilot)
            assert not resized, resized


def _count_rows_rendered(monkeypatch, table) -> list:
    """The rows of ``table`` that DataTable renders from their cells (not reused), by key."""
    from textual.widgets import DataTable
    rendered = []
    real = DataTable._render_line_in_row

    def counted(self, row_key, *args, **kwargs):
        if self is table and row_key in self._row_locations:
            rendered.append(row_key.value)
        return real(self, row_key, *args, **kwargs)
    monkeypatch.setattr(DataTable, "_render_line_in_row", counted)
    return rendered


@contextlib.asynccontextmanager
async def _stopped_rows(engine, busybox, names, monkeypatch):
    """The dashboard on containers ``names`` (created, never started: their rows don't move),
    with the containers table's rows counted as DataTable renders them."""
    from engine.models import ContainerConfig
    for name in names:
        engine.create(ContainerConfig(image=str(busybox), cmd=["true"], network_mode="none"),
                      name=name)
    app = make_app(engine)
    async with running(app, size=(160, 48)) as pilot:
        table = dashboard(app).table("containers")
        await settle(pilot, lambda: len(table.rows_by_key) == len(names))
        await settle(pilot)
        yield pilot, app, table, _count_rows_rendered(monkeypatch, table)


async def test_back_to_the_containers_pane_reuses_its_drawn_rows(engine, busybox, monkeypatch):
    """A pane switch moves the focus, which restyles the tables: DataTable dropped every
    row it had drawn, so `1` rendered the whole containers list again. Its drawings are kept
    per focus state, and coming back draws none of its rows anew."""
    names = ("kept1", "kept2", "kept3")
    async with _stopped_rows(engine, busybox, names, monkeypatch) as (pilot, app, table,
                                                                       rendered):
        dash = dashboard(app)
        await pilot.press("2")
        await settle(pilot, lambda: dash.pane_kind == "images")
        await settle(pilot)
        assert not table.has_focus
        rendered.clear()
        await pilot.press("1")
        await settle(pilot, lambda: dash.pane_kind == "containers")
        await settle(pilot)
        assert table.has_focus and "kept1" in _text(app)
        assert rendered == [], rendered


async def test_one_changed_cell_renders_its_row_alone(engine, busybox, monkeypatch):
    """A stats tick replaces a few cells of the measured rows: DataTable keyed every drawn
    row on one table-wide count, so one new cell rendered every row on screen again (most
    of an idle dashboard's CPU with 50 running). Only the row whose cell changed is drawn."""
    from dataclasses import replace

    from rich.text import Text
    names = ("same1", "same2", "moved")
    async with _stopped_rows(engine, busybox, names, monkeypatch) as (pilot, app, table,
                                                                       rendered):
        row = next(r for r in table.rows_by_key.values() if r.model.name == "moved")
        cells = list(row.cells)
        cells[0] = Text("MOVED")     # as wide: the columns stay as they are
        table.update_rows([replace(row, cells=tuple(cells))])
        await settle(pilot)
        assert "MOVED" in _text(app)
        assert rendered and set(rendered) == {row.key}, rendered


async def test_top_events_and_graphs_draw_their_keys_as_one_line_and_lay_out_once(
        engine, busybox, monkeypatch):
    """The top, events and graphs screens drew their keys with Textual's Footer (a widget
    per key, mounted again on every bindings change) and were laid out a second time for the
    size they already had, as logs and inspect were: they draw a ScreenFooter and lay out
    once (screen_size.py's LaidOutOnce)."""
    from textual.widgets import Footer
    from tui.screens.events import EventsScreen
    from tui.screens.graphs import GraphsScreen
    from tui.screens.top import TopScreen
    from tui.widgets.footer import ScreenFooter
    _sleepers(engine, busybox, ["topped"])
    resized = _count_relayouts(monkeypatch)
    app = make_app(engine)
    async with running(app, size=(160, 48)) as pilot:
        dash = dashboard(app)
        await select(pilot, app, "topped")
        for key, kind, shows in (("T", TopScreen, "Back"), ("E", EventsScreen, "Filter"),
                                 ("g", GraphsScreen, "Zoom")):
            await pilot.pause(0.3)      # (the graphs' stream never ends: no settle())
            resized.clear()
            await pilot.press(key)
            await settle(pilot, lambda k=kind: isinstance(app.screen, k), rounds=500)
            await settle(pilot, lambda s=shows: s in _text(app).splitlines()[-1], rounds=200)
            assert not app.screen.query(Footer), kind.__name__
            assert app.screen.query(ScreenFooter), kind.__name__
            assert shows in _text(app).splitlines()[-1], _text(app)
            await pilot.press("escape")
            await settle(pilot, lambda: app.screen is dash)
            await pilot.pause(0.3)
            assert not resized, (kind.__name__, resized)


async def test_the_clock_reads_the_running_containers_again_once_a_minute(engine, busybox):
    """The clock reads the running containers' records again, so that the engine notices a
    monitor that died; it did so on every tick (every 5 or 20 s), which with 50 running was a
    fifth of an idle dashboard's CPU. Ticks within MONITOR_LOOK of that read don't."""
    from tui.screens import dashboard_feed
    _sleepers(engine, busybox, ["looked1", "looked2"])
    app = make_app(engine)
    async with running(app, size=(160, 48)) as pilot:
        dash = dashboard(app)
        await settle(pilot, lambda: len(dash.table().rows_by_key) == 2)
        await settle(pilot)
        reads = []
        real = engine.container

        def counted(ref):
            reads.append(ref)
            return real(ref)
        engine.container = counted
        dash._clock_tick()
        await settle(pilot, lambda: len(reads) >= 2)
        await settle(pilot)
        assert len(reads) == 2, reads
        dash._clock_tick()               # the next tick, well within MONITOR_LOOK
        await pilot.pause(0.3)
        await settle(pilot)
        assert len(reads) == 2, reads
        dash._monitor_look -= dashboard_feed.MONITOR_LOOK
        dash._clock_tick()               # a minute on
        await settle(pilot, lambda: len(reads) >= 4)
        assert len(reads) == 4, reads


async def test_graphs_drawn_from_the_same_figures_are_not_drawn_again(engine, busybox):
    """Each stats tick redrew the detail pane's graphs, all their bars, to find that an idle
    container's flat lines had not moved; the lines are kept with the figures they were
    drawn from and reused while those are the same."""
    from types import SimpleNamespace
    _sleepers(engine, busybox, ["flat"])
    app = make_app(engine, live=False)
    async with running(app, size=(160, 48)) as pilot:
        dash = dashboard(app)
        await select(pilot, app, "flat")
        await pilot.press("right_square_bracket")       # the stats tab: the graphs
        await settle(pilot)
        graphs = dash.query_one("#detail-graphs")
        first = graphs.render_lines_text()
        assert graphs.render_lines_text() is first
        sample = SimpleNamespace(id="x", name="flat", memory_limit=0, cpu_limit=0.0,
                                 limits_note="", cpu_percent=50.0, memory_usage=1 << 20,
                                 time=1.0, net_rx=0, net_tx=0, block_read=0, block_write=0)
        graphs.history.add(sample)
        moved = graphs.render_lines_text()
        assert moved is not first and moved != first


async def test_the_footer_draws_its_line_again_only_when_its_keys_change(engine, busybox):
    """Every focus change (two a pane switch) asks the footer to draw again, mostly for the
    same keys: it reuses the line it drew for them, and draws anew when they change."""
    from tui.widgets.footer import KeyFooter
    _sleepers(engine, busybox, ["footed"])
    app = make_app(engine, live=False)
    async with running(app, size=(160, 48)) as pilot:
        footer = dashboard(app).query_one(KeyFooter)
        await settle(pilot)
        drawn = footer.render()
        assert footer.render() is drawn
        footer.set_pane("images")
        assert footer.render().plain != drawn.plain


async def test_inspect_again_reuses_its_screen_and_what_it_drew(engine, busybox, monkeypatch):
    """`i` composed, mounted and styled a new InspectScreen each time, and Textual styled it
    again on resume, so every line was drawn anew (most of `i`'s time). The dashboard keeps
    one: the same object again lays nothing out and draws no tree line anew; another object
    is laid out once; a read for the object shown before is not drawn over the new one; a
    theme changed meanwhile styles it again."""
    from textual.screen import Screen
    from textual.widgets import Tree
    from tui.screens.inspect import InspectScreen
    _sleepers(engine, busybox, ["again1", "again2"])
    counts = {"layouts": 0, "labels": 0, "restyles": 0}
    real_layout, real_label = Screen._refresh_layout, Tree.render_label
    real_styles = Screen.update_node_styles

    def layout(self, *a, **kw):
        counts["layouts"] += isinstance(self, InspectScreen)
        return real_layout(self, *a, **kw)

    def label(self, *a, **kw):
        counts["labels"] += 1
        return real_label(self, *a, **kw)

    def styles(self, *a, **kw):
        counts["restyles"] += isinstance(self, InspectScreen)
        return real_styles(self, *a, **kw)
    monkeypatch.setattr(Screen, "_refresh_layout", layout)
    monkeypatch.setattr(Tree, "render_label", label)
    monkeypatch.setattr(Screen, "update_node_styles", styles)
    app = make_app(engine, live=False)
    async with running(app, size=(160, 48)) as pilot:
        dash = dashboard(app)

        async def inspect(name):
            await select(pilot, app, name)
            row = dash.table().selected()      # the cursor rests: the pane reads its inspect
            await settle(pilot, lambda: ("containers", row.ref, id(row.model)) in dash._inspects,
                         rounds=500)
            await settle(pilot)
            for key in counts:
                counts[key] = 0
            await pilot.press("i")
            await settle(pilot, lambda: isinstance(app.screen, InspectScreen)
                         and app.screen.data is not None and f'"/{name}"' in _text(app),
                         rounds=500)
            await settle(pilot)
            return app.screen

        first = await inspect("again1")
        tree = first.query_one(Tree)
        assert counts["labels"] > 0
        await pilot.press("escape")
        await settle(pilot, lambda: app.screen is dash)
        again = await inspect("again1")
        assert again is first and again.query_one(Tree) is tree
        assert counts == {"layouts": 0, "labels": 0, "restyles": 0}, counts
        old_ticket, old_data = again.ticket, again.data
        await pilot.press("escape")
        await settle(pilot, lambda: app.screen is dash)
        other = await inspect("again2")
        assert other is first and counts["layouts"] <= 1, counts
        other.set_data(old_data, "", old_ticket)     # again1's read, late
        await settle(pilot)
        assert other.data["Name"] == "/again2" and '"/again2"' in _text(app)
        await pilot.press("escape")
        await settle(pilot, lambda: app.screen is dash)
        app.theme = "berth-light" if app.theme != "berth-light" else "berth-dark"
        await settle(pilot)
        await inspect("again2")
        assert counts["restyles"] >= 1, counts


async def test_the_first_inspect_of_a_session_finds_its_screen_composed(engine, busybox,
                                                                         monkeypatch):
    """The cursor rested on a row and its inspect was read: the inspect screen is made and
    composed off-screen with it (InspectScreen.compose_ahead), so even the session's first `i`
    composes nothing (190-280 ms at 100 containers before), and shows that row."""
    from tui.screens.inspect import InspectScreen
    _sleepers(engine, busybox, ["first1"])
    composed = []
    real_compose = InspectScreen.compose
    monkeypatch.setattr(InspectScreen, "compose",
                        lambda self: composed.append(self) or real_compose(self))
    app = make_app(engine, live=False)
    async with running(app, size=(160, 48)) as pilot:
        dash = dashboard(app)
        await select(pilot, app, "first1")
        await settle(pilot, lambda: dash._inspect_screen is not None
                     and dash._inspect_screen.is_mounted, rounds=500)
        screen = dash._inspect_screen
        assert composed == [screen] and app.screen is dash   # composed, not shown
        assert (screen.data or {}).get("Name") == "/first1"
        await pilot.press("i")
        await settle(pilot, lambda: app.screen is screen and '"/first1"' in _text(app),
                     rounds=500)
        assert composed == [screen]    # the first `i` composed nothing
        await pilot.press("escape")
        await settle(pilot, lambda: app.screen is dash)


async def test_inspect_where_the_cursor_rested_was_drawn_ahead(engine, busybox, monkeypatch):
    """Once `i` made the inspect screen, the row the cursor rests on is drawn in it ahead
    (InspectScreen.prepare), so `i` there lays nothing out, fills nothing in and draws no
    tree line: 125 ms at 100 containers before, now what `i` again on the same row costs.
    A row the cursor only passed on its way still opens with its own inspect."""
    from textual.screen import Screen
    from textual.widgets import Tree
    from tui.screens.inspect import PREPARE_STEP, InspectScreen
    _sleepers(engine, busybox, ["ahead1", "ahead2", "ahead3"])
    counts = {"layouts": 0, "labels": 0, "fills": 0}
    real_layout, real_label = Screen._refresh_layout, Tree.render_label
    real_redraw = InspectScreen._redraw

    def count(name, real, only=object):
        def counted(self, *a, **kw):
            counts[name] += isinstance(self, only)
            return real(self, *a, **kw)
        return counted
    monkeypatch.setattr(Screen, "_refresh_layout", count("layouts", real_layout, InspectScreen))
    monkeypatch.setattr(Tree, "render_label", count("labels", real_label))
    monkeypatch.setattr(InspectScreen, "_redraw", count("fills", real_redraw))
    app = make_app(engine, live=False)
    async with running(app, size=(160, 48)) as pilot:
        dash = dashboard(app)

        async def open_inspect(name):
            await pilot.press("i")
            await settle(pilot, lambda: isinstance(app.screen, InspectScreen)
                         and f'"/{name}"' in _text(app), rounds=500)

        await select(pilot, app, "ahead1")
        await open_inspect("ahead1")
        screen = app.screen
        await pilot.press("escape")
        await settle(pilot, lambda: app.screen is dash)
        await select(pilot, app, "ahead2")
        await settle(pilot, lambda: (screen.data or {}).get("Name") == "/ahead2", rounds=500)
        await pilot.pause(4 * PREPARE_STEP)     # its steps: laid out, then its lines drawn
        assert app.screen is not screen
        for key in counts:
            counts[key] = 0
        await open_inspect("ahead2")
        assert app.screen is screen
        assert counts == {"layouts": 0, "labels": 0, "fills": 0}, counts
        await pilot.press("escape")
        await settle(pilot, lambda: app.screen is dash)
        await select(pilot, app, "ahead3")
        await open_inspect("ahead3")    # at once: nothing was read or drawn ahead for it
        assert counts["fills"] >= 1 and screen.data["Name"] == "/ahead3"
