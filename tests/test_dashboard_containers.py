"""Containers through the dashboard's keys, against real containers on a test root."""

from __future__ import annotations

import pytest

from dashboard_support import dashboard, make_app, running, screen_text, settle, table_names

LOOP = ("trap 'exit 0' TERM; i=0; while :; do i=$((i+1)); echo line $i; "
        "echo oops $i >&2; sleep 0.2; done")


def create(engine, image, name, script=LOOP):
    from engine.models import ContainerConfig
    config = ContainerConfig(image=str(image), cmd=["sh", "-c", script], network_mode="none")
    return engine.create(config, name=name)


def status(engine, name) -> str:
    return engine.container(name).state.status


def row_state(app, name) -> str:
    for row in dashboard(app).table("containers").rows_in_order():
        if row.model.name == name:
            return row.cells[2].plain
    return ""


async def select(pilot, app, name):
    table = dashboard(app).table("containers")
    await settle(pilot, lambda: name in table.rows_by_key.keys() or
                 any(r.model.name == name for r in table.rows_in_order()))
    for i, row in enumerate(table.rows_in_order()):
        if row.model.name == name:
            table.move_cursor(row=i)
            await pilot.pause()
            return
    raise AssertionError(f"{name} is not in the containers pane:\n{screen_text(app)}")


async def test_start_pause_stop_remove_through_keys(engine, busybox):
    from engine.errors import NotFound
    from tui.screens.confirm import ConfirmScreen
    create(engine, busybox, "web")
    app = make_app(engine)
    async with running(app) as pilot:
        await select(pilot, app, "web")
        assert row_state(app, "web") == "created"
        await pilot.press("s")
        await settle(pilot, lambda: row_state(app, "web") == "running")
        assert status(engine, "web") == "running"
        assert "Up " in screen_text(app)

        await pilot.press("p")
        await settle(pilot, lambda: row_state(app, "web") == "paused")
        assert status(engine, "web") == "paused"
        await pilot.press("p")
        await settle(pilot, lambda: row_state(app, "web") == "running")
        assert status(engine, "web") == "running"

        await pilot.press("x")
        await settle(pilot, lambda: row_state(app, "web") == "exited", rounds=1000)
        assert status(engine, "web") == "exited"
        assert "Exited (0)" in screen_text(app)

        await pilot.press("d")
        assert isinstance(app.screen, ConfirmScreen)
        await pilot.press("y")
        await settle(pilot, lambda: "web" not in table_names(app, "containers"))
        with pytest.raises(NotFound):
            engine.container("web")


async def test_removing_a_running_container_offers_force(engine, busybox):
    from engine.errors import NotFound
    from tui.screens.confirm import ConfirmScreen
    create(engine, busybox, "busy")
    engine.start("busy")
    app = make_app(engine)
    async with running(app) as pilot:
        await select(pilot, app, "busy")
        await pilot.press("d")
        assert isinstance(app.screen, ConfirmScreen)
        assert "force" in screen_text(app)
        await pilot.press("y")
        await settle(pilot, lambda: "busy" not in table_names(app, "containers"))
        with pytest.raises(NotFound):
            engine.container("busy")


async def test_keys_that_do_not_apply_are_greyed_out(engine, busybox):
    create(engine, busybox, "fresh")
    app = make_app(engine)
    async with running(app) as pilot:
        await select(pilot, app, "fresh")
        screen = dashboard(app)
        assert screen.check_action("start", ()) is True
        assert screen.check_action("stop", ()) is None      # shown, disabled
        assert screen.check_action("pause", ()) is None
        assert screen.check_action("shell", ()) is None
        await pilot.press("3")
        assert screen.check_action("start", ()) is False    # not a container pane: hidden


async def test_kill_asks_first(engine, busybox):
    from tui.screens.confirm import ConfirmScreen
    create(engine, busybox, "victim")
    engine.start("victim")
    app = make_app(engine)
    async with running(app) as pilot:
        await select(pilot, app, "victim")
        await pilot.press("K")
        assert isinstance(app.screen, ConfirmScreen)
        await pilot.press("escape")
        assert status(engine, "victim") == "running"
        await pilot.press("K", "y")
        await settle(pilot, lambda: row_state(app, "victim") == "exited", rounds=1000)
        assert engine.container("victim").state.exit_code == 137


async def test_hide_stopped_containers(engine, busybox):
    create(engine, busybox, "up")
    create(engine, busybox, "down")
    engine.start("up")
    app = make_app(engine)
    async with running(app) as pilot:
        await settle(pilot, lambda: len(table_names(app, "containers")) == 2)
        await pilot.press("a")
        await settle(pilot)
        assert table_names(app, "containers") == ["up"]
        await pilot.press("a")
        await settle(pilot)
        assert sorted(table_names(app, "containers")) == ["down", "up"]


async def test_logs_follow_live_and_tell_stderr_apart(engine, busybox):
    from tui.screens.logs import LogsScreen
    from tui.widgets.log_view import LogView
    create(engine, busybox, "chatty")
    engine.start("chatty")
    app = make_app(engine)
    async with running(app) as pilot:
        await select(pilot, app, "chatty")
        await pilot.press("l")
        assert isinstance(app.screen, LogsScreen)
        view = app.screen.query_one(LogView)
        await settle(pilot, lambda: any(e.text.startswith("line 3") for e in view.entries),
                     rounds=1000)
        streams = {e.text.split()[0]: e.stream for e in view.entries}
        assert streams["line"] == "stdout" and streams["oops"] == "stderr"
        assert "line 3" in screen_text(app)
        # a line that arrives later shows up too: the console follows
        seen = len(view.entries)
        await settle(pilot, lambda: len(view.entries) > seen + 2, rounds=1000)
        await pilot.press("ampersand", *"oops", "enter")
        await settle(pilot)
        assert view.rows and all(e.text.startswith("oops") for e, _, _ in view.rows)
        await pilot.press("escape")
        assert dashboard(app) is app.screen


async def test_closing_logs_of_a_quiet_container_ends_its_reader(engine, busybox):
    """A follower of a container that prints nothing has no next line to notice it is no
    longer wanted: closing the screen stops it through Engine.logs' ``stop``."""
    import threading
    import time
    create(engine, busybox, "quiet", script="echo once; exec sleep 600")
    engine.start("quiet")
    app = make_app(engine)
    async with running(app) as pilot:
        await select(pilot, app, "quiet")
        await pilot.press("l")
        await settle(pilot, lambda: "once" in screen_text(app), rounds=1000)

        def readers() -> list[str]:
            return [t.name for t in threading.enumerate() if t.name.startswith("berth-logs-")]
        assert readers() == ["berth-logs-quiet"]
        await pilot.press("escape")
        deadline = time.monotonic() + 5
        while readers() and time.monotonic() < deadline:
            await pilot.pause(0.05)
        assert readers() == []
    engine.remove("quiet", force=True)


async def test_merged_logs_of_marked_containers_are_labelled(engine, busybox):
    from tui.widgets.log_view import LogView
    create(engine, busybox, "one")
    create(engine, busybox, "two")
    engine.start("one")
    engine.start("two")
    app = make_app(engine)
    async with running(app) as pilot:
        await settle(pilot, lambda: len(table_names(app, "containers")) == 2)
        table = dashboard(app).table("containers")
        table.move_cursor(row=0)
        await pilot.press("space", "space", "l")
        view = app.screen.query_one(LogView)
        await settle(pilot, lambda: {e.label for e in view.entries} == {"one", "two"},
                     rounds=1000)
        assert view.labels
        assert "one │" in screen_text(app) and "two │" in screen_text(app)


async def test_inspect_a_container_summarises_env(engine, busybox):
    from tui.screens.inspect import InspectScreen
    create(engine, busybox, "env-demo")
    app = make_app(engine)
    async with running(app) as pilot:
        await select(pilot, app, "env-demo")
        await pilot.press("enter")
        await settle(pilot, lambda: isinstance(app.screen, InspectScreen)
                     and app.screen.data is not None)
        text = screen_text(app)
        assert "Env" in text and "PATH=" in text
        assert "Mounts" in text and "Networks" in text


async def test_prune_stopped_containers_asks_then_removes(engine, busybox):
    from engine.errors import NotFound
    from tui.screens.confirm import ConfirmScreen
    create(engine, busybox, "stale")
    create(engine, busybox, "alive")
    engine.start("alive")
    app = make_app(engine)
    async with running(app) as pilot:
        app.prune("containers")
        await pilot.pause()
        assert isinstance(app.screen, ConfirmScreen)
        await pilot.press("y")
        await settle(pilot, lambda: table_names(app, "containers") == ["alive"], rounds=500)
        with pytest.raises(NotFound):
            engine.container("stale")
        assert status(engine, "alive") == "running"
        assert any("removed 1" in n.message for n in app._notifications)


async def test_hidden_dashboard_draws_stats_when_it_shows_again(engine, busybox):
    """Under a full screen (graphs, a console) the table isn't redrawn each second; it is
    drawn from the newest samples as soon as it is back. A dialog leaves it in view."""
    from textual.screen import Screen

    from tui.screens.confirm import ConfirmScreen
    from tui.widgets import rows as R
    c = create(engine, busybox, "busy")
    engine.start(c.id)
    app = make_app(engine)
    async with running(app) as pilot:
        dash = dashboard(app)
        await settle(pilot, lambda: c.id in dash.samples, rounds=400)
        table = dash.table("containers")
        drawn = []
        real = table.update_rows
        table.update_rows = lambda rows: (drawn.append(len(rows)), real(rows))[1]

        app.push_screen(Screen())
        await pilot.pause()
        assert dash.covered
        first = dash.samples[c.id]
        await settle(pilot, lambda: dash.samples[c.id] is not first, rounds=400)
        assert drawn == [] and dash._stale

        app.pop_screen()
        await settle(pilot, lambda: not dash._stale)
        row = table.rows_by_key[c.id]
        model = next(m for m in dash.snap.items("containers") if m.id == c.id)
        fresh = R.container_row(model, dash.samples[c.id], dash.history.get(c.id, ()),
                                dash._now, dash.theme_style)
        assert [str(x) for x in row.cells[5:7]] == [str(x) for x in fresh.cells[5:7]]  # cpu, mem

        app.push_screen(ConfirmScreen("a question?"))
        await pilot.pause()
        assert not dash.covered
        engine.stop(c.id, timeout=1)


async def test_a_new_container_brings_the_fast_clock_back(engine, busybox):
    """Ages under a minute tick every CLOCK_INTERVAL; once every age is in minutes the clock
    slows down, and a container started then must speed it up again (not sit at "Up 0s")."""
    import time

    from tui.screens.dashboard import CLOCK_INTERVAL, SLOW_CLOCK_INTERVAL
    offset = [300.0]
    old = create(engine, busybox, "old")
    engine.start(old.id)
    app = make_app(engine, clock=lambda: time.time() + offset[0])
    async with running(app) as pilot:
        dash = dashboard(app)
        dash._clock_tick()
        assert dash._clock_interval == SLOW_CLOCK_INTERVAL
        offset[0] = 0.0
        young = create(engine, busybox, "young")
        engine.start(young.id)
        table = dash.table("containers")
        await settle(pilot, lambda: young.id in table.rows_by_key
                     and row_state(app, "young") == "running")
        assert dash._clock_interval == CLOCK_INTERVAL
        for c in (old, young):
            engine.stop(c.id, timeout=1)
