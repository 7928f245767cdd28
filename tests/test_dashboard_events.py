"""The events pane: follows the engine's event log live and filters it."""

from __future__ import annotations

import re

from dashboard_support import make_app, running


async def _until(pilot, cond, rounds=400):
    for _ in range(rounds):
        if cond():
            return True
        await pilot.pause(0.05)
    return cond()


async def test_events_follow_live_and_filter(engine, cli, busybox):
    from tui.screens.events import EventsScreen
    cli("create", "--network", "none", "--name", "before", busybox, "true")
    app = make_app(engine, live=False)
    async with running(app) as pilot:
        screen = EventsScreen(engine)
        await app.push_screen(screen)
        assert await _until(pilot, lambda: any("name=before" in s for s in screen.shown())), \
            screen.shown()
        cli("create", "--network", "none", "--name", "after", busybox, "true")
        cli("volume", "create", "vol-x")
        assert await _until(pilot, lambda: any("name=after" in s for s in screen.shown()))
        assert await _until(pilot, lambda: any(re.search(r"volume +create +vol-x", s) for s in screen.shown()))
        await pilot.press("slash", *"volume", "enter")
        assert screen.shown() and all("volume" in s for s in screen.shown()), screen.shown()
        # a new container event is kept but not shown while the filter is on
        cli("rm", "after")
        assert await _until(pilot, lambda: any("destroy" in full for full, _ in screen.events))
        assert not any("destroy" in s for s in screen.shown())
        await pilot.press("slash", "escape")
        assert any("destroy" in s for s in screen.shown())
        # the screen cuts ids to 12 characters; the filter still matches the full one
        assert all(not re.search(r"[0-9a-f]{13}", s) for s in screen.shown()), screen.shown()
        full = engine.container("before").id
        await pilot.press("slash", *full, "enter")
        assert screen.shown() and all(full[:12] in s for s in screen.shown()), screen.shown()
        await pilot.press("escape")
        assert app.screen is app.dashboard
