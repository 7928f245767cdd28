"""`T` on a running container: its processes, as `berth top` lists them, read again while the
screen shows; escape goes back."""

from __future__ import annotations

import pytest

from dashboard_support import make_app, running, screen_text, settle


@pytest.mark.parametrize("size", [(80, 24), (200, 60)], ids=lambda s: f"{s[0]}x{s[1]}")
async def test_top_shows_the_containers_processes(engine, cli, busybox, size):
    from tui.screens.top import TopScreen
    cli("run", "-d", "--network", "none", "--name", "topme", busybox, "sh", "-c",
        "sleep 3601 & sleep 3602")
    expected = cli("top", "topme").stdout
    assert "sleep 3601" in expected
    app = make_app(engine, live=False)
    async with running(app, size=size) as pilot:
        await pilot.press("T")
        top = app.screen
        assert isinstance(top, TopScreen)
        await settle(pilot, lambda: top.reads >= 1)
        text = screen_text(app)
        assert "PID" in text and "sleep 3601" in text and "sleep 3602" in text, text
        assert f"{len(expected.splitlines()) - 1} processes" in text
        await pilot.press("escape")
        assert app.screen is app.dashboard
