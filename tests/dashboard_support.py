"""Helpers for the dashboard tests: open the app on a test root and wait for it like a user
would (for the screen to show something), never for a fixed time."""

from __future__ import annotations

import contextlib

FROZEN_NOW = 1_900_000_000.0
FOREVER = ("events", "stats")


async def settle(pilot, until=None, rounds: int = 200) -> None:
    """Let workers and messages run until ``until()`` holds (or give up after ``rounds``
    short pauses; the test's own assertion then fails with what the screen shows)."""
    for _ in range(rounds):
        await pilot.pause(0.02)
        if until is None:
            # the event follower and the stats stream never complete; wait for the rest
            finite = [w for w in pilot.app.workers if w.group not in FOREVER]
            if finite:  # (an empty list would mean "all of them")
                await pilot.app.workers.wait_for_complete(finite)
            await pilot.pause()
            return
        if until():
            return


def dashboard(app):
    from tui.screens.dashboard import DashboardScreen
    for screen in app.screen_stack:
        if isinstance(screen, DashboardScreen):
            return screen
    raise AssertionError("the dashboard screen is not open")


def table_names(app, kind: str) -> list[str]:
    """The first text column of each row of a pane, in screen order."""
    table = dashboard(app).table(kind)
    return [r.cells[0].plain if hasattr(r.cells[0], "plain") else str(r.cells[0])
            for r in table.rows_in_order()]


def make_app(engine, **kwargs):
    from tui.app import BerthApp
    from tui.config import Config
    kwargs.setdefault("config", Config())
    return BerthApp(engine, **kwargs)


@contextlib.asynccontextmanager
async def running(app, size=(160, 48)):
    async with app.run_test(size=size) as pilot:
        await settle(pilot, lambda: getattr(app.screen, "loaded", False))
        yield pilot


def screen_text(app) -> str:
    """What the terminal shows now, as plain text lines (the topmost screen)."""
    strips = app.screen._compositor.render_strips()
    return "\n".join(strip.text for strip in strips)
