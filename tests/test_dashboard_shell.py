"""Coming back from the full-terminal shell: keys typed for the shell never act on the dashboard."""

from __future__ import annotations

from textual._time import get_time

from dashboard_support import dashboard, make_app, running


async def test_keys_queued_before_the_return_from_a_shell_are_dropped(engine):
    app = make_app(engine)
    async with running(app) as pilot:
        assert dashboard(app).pane_kind == "containers"
        app.keys_stale_before = get_time() + 3600   # as if every key now was typed ahead
        await pilot.press("2", "3")
        assert dashboard(app).pane_kind == "containers"
        app.keys_stale_before = get_time()          # keys typed after the return act again
        await pilot.press("3")
        assert dashboard(app).pane_kind == "volumes"
