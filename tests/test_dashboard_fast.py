"""The dashboard stays light and answers at once: what an idle dashboard redoes with the detail
pane open (counted, not timed), and the screens that open on a key before what they show has
been read. Real containers on a test root."""

from __future__ import annotations

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
