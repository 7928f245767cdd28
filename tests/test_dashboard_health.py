"""A container's health on the dashboard: the glyph after its state and the word after its
uptime, in the theme's colours, following the health_status events; the health log in the
details summary."""

from __future__ import annotations

from dashboard_support import dashboard, make_app, running, screen_text, settle


async def test_an_unhealthy_container_shows_it_in_its_row_and_its_details(engine, busybox):
    from engine.healthconfig import from_flags
    from engine.models import ContainerConfig
    from tui.screens.inspect import InspectScreen
    config = ContainerConfig(image=str(busybox), cmd=["sleep", "300"], network_mode="none",
                             healthcheck=from_flags("echo db is down; exit 1", interval="100ms",
                                                    retries="1"))
    engine.run(config, name="sick")
    engine.run(ContainerConfig(image=str(busybox), cmd=["sleep", "300"], network_mode="none"),
               name="plain")
    app = make_app(engine)
    async with running(app) as pilot:
        table = dashboard(app).table("containers")

        def row(name):
            return next((r for r in table.rows_in_order() if r.model.name == name), None)
        await settle(pilot, lambda: row("sick") is not None and
                     row("sick").cells[2].plain == "running ✗", rounds=1000)
        sick, plain = row("sick"), row("plain")
        assert str(sick.cells[3]).endswith("(unhealthy)")
        error = app.theme_variables["error"].lower()
        glyph = [s for s in sick.cells[2].spans if "✗" in sick.cells[2].plain[s.start:s.end]]
        assert glyph and error in str(glyph[0].style).lower()
        assert plain.cells[2].plain == "running" and "(" not in str(plain.cells[3])
        table.move_cursor(row=table.rows_in_order().index(sick))
        await pilot.pause()
        await pilot.press("enter")
        await settle(pilot, lambda: isinstance(app.screen, InspectScreen)
                     and app.screen.data is not None)
        text = screen_text(app)
        assert "Health" in text and "unhealthy" in text and "exit 1  db is down" in text
