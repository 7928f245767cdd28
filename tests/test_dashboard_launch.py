"""The dashboard's keys for the console (c), graphs (g), run (R), pull (P) and events (E)."""

from __future__ import annotations

from dashboard_support import dashboard, make_app, running, settle, table_names


async def _until(pilot, cond, rounds=400):
    for _ in range(rounds):
        if cond():
            return True
        await pilot.pause(0.05)
    return cond()


async def test_keys_open_each_screen_from_the_selection(engine, cli, busybox):
    from textual.widgets import Input
    from tui.screens.console import ConsoleScreen
    from tui.screens.events import EventsScreen
    from tui.screens.graphs import GraphsScreen
    from tui.screens.pull_dialog import PullDialog
    from tui.screens.run_dialog import RunDialog
    cli("run", "-d", "--network", "none", "--name", "keyed", busybox, "sleep", "3600")
    app = make_app(engine, live=False)
    async with running(app) as pilot:
        await settle(pilot, lambda: "keyed" in table_names(app, "containers"))
        await pilot.press("c")
        assert await _until(pilot, lambda: isinstance(app.screen, ConsoleScreen))
        term = app.screen.current()
        assert term.title == "keyed"
        assert await _until(pilot, lambda: "#" in term.text()), term.text()
        # the program sees the pane's size, however the pane was laid out while it started
        await pilot.press(*"stty size", "enter")
        size = f"{term.size.height} {term.size.width}"
        assert term.size.width > 100
        assert await _until(pilot, lambda: size in term.text()), term.text()
        await pilot.press("f12")
        assert app.screen is dashboard(app)
        await pilot.press("g")
        assert await _until(pilot, lambda: isinstance(app.screen, GraphsScreen))
        await pilot.press("escape")
        await pilot.press("2")
        await settle(pilot, lambda: dashboard(app).table("images").selected() is not None)
        await pilot.press("R")
        assert await _until(pilot, lambda: isinstance(app.screen, RunDialog))
        assert "busybox" in app.screen.query_one("#run-image", Input).value
        await pilot.press("escape")
        await pilot.press("P")
        assert await _until(pilot, lambda: isinstance(app.screen, PullDialog))
        await pilot.press("escape")
        await pilot.press("E")
        assert await _until(pilot, lambda: isinstance(app.screen, EventsScreen))
        assert await _until(pilot, lambda: any("name=keyed" in s for s in app.screen.shown()))
        await pilot.press("escape")
        assert app.screen is dashboard(app)


def test_without_a_terminal_the_dashboard_refuses_in_one_line(root):
    """`berth` in a pipe or a cron job: one line and exit 1, at once (textual would spin)."""
    import subprocess
    import time

    from helpers import BERTH, REPO
    env = {**__import__("os").environ, "BERTH_ROOT": root}
    for argv in ([], ["tui"]):
        t0 = time.monotonic()
        p = subprocess.run([*BERTH, *argv], stdin=subprocess.DEVNULL, capture_output=True,
                           text=True, timeout=30, env=env, cwd=REPO)
        assert time.monotonic() - t0 < 10
        assert p.returncode == 1 and p.stdout == ""
        assert p.stderr.count("\n") == 1 and p.stderr.startswith("berth: the dashboard needs a "
                                                                 "terminal"), p.stderr


async def test_the_theme_and_sort_chosen_are_saved_in_the_config_and_restored(engine, tmp_path):
    from tui.config import load
    path = tmp_path / "berth" / "config.toml"
    path.parent.mkdir()
    path.write_text('# mine\nhide_stopped = false\n\n[keys]\nstart = "S"\n')
    app = make_app(engine, live=False, config=load(str(path)))
    async with running(app) as pilot:
        await pilot.press("o", "o")          # sort by the third column (STATE)
        app.theme = "berth-light"
        await pilot.pause()
        table = dashboard(app).table("containers")
        column = table.columns_spec[table.sort_index].key
    saved = load(str(path))
    assert saved.theme == "berth-light" and saved.sort["containers"] == (column, False)
    assert saved.keys == {"start": "S"} and "# mine" in path.read_text() and not saved.problems
    app = make_app(engine, live=False, config=saved)
    async with running(app) as pilot:
        table = dashboard(app).table("containers")
        assert app.theme == "berth-light"
        assert table.columns_spec[table.sort_index].key == column
