"""The dashboard's `:` palette runs `system check`, and with repair (asked first) fixes the root."""

from __future__ import annotations

import os

from dashboard_support import make_app, running, settle, table_names


def _messages(app) -> list[str]:
    return [str(n.message) for n in app._notifications]


async def _palette(pilot, text: str) -> None:
    await pilot.press("colon")
    await settle(pilot)
    await pilot.press(*text)
    await settle(pilot)
    await pilot.press("enter")
    await settle(pilot)


async def test_palette_checks_and_repairs_a_damaged_volume(engine):
    engine.create_volume("good")
    engine.create_volume("bad")
    with open(os.path.join(engine.paths.root, "volumes", "bad", "meta.json"), "w") as f:
        f.write("{torn")
    app = make_app(engine)
    async with running(app) as pilot:
        await pilot.press("3")
        await settle(pilot, lambda: table_names(app, "volumes"))
        assert table_names(app, "volumes") == ["good"]
        await _palette(pilot, "System check")
        await settle(pilot, lambda: any("volume bad" in m for m in _messages(app)))
        assert any("meta.json is not valid JSON" in m for m in _messages(app))
        assert not any("(repaired)" in m for m in _messages(app))
        await _palette(pilot, "System check and repair")
        await pilot.press("y")
        await settle(pilot, lambda: any("(repaired)" in m for m in _messages(app)))
        await settle(pilot, lambda: table_names(app, "volumes") == ["bad", "good"])
        assert table_names(app, "volumes") == ["bad", "good"]
    assert engine.system_check() == []


async def test_dashboard_notices_a_killed_monitor(engine, busybox):
    import signal
    from engine.models import ContainerConfig
    c = engine.run(ContainerConfig(image=str(busybox), cmd=["sleep", "600"], network_mode="none"),
                   name="victim")
    app = make_app(engine, live=True)
    async with running(app) as pilot:
        await settle(pilot, lambda: table_names(app, "containers"))
        assert screen_status(app, "victim").startswith("Up")
        os.kill(c.state.monitor_pid, signal.SIGKILL)
        await settle(pilot, lambda: screen_status(app, "victim").startswith("Exited (137)"),
                     rounds=500)
        assert screen_status(app, "victim").startswith("Exited (137)")
    engine.remove("victim", force=True)


def screen_status(app, name: str) -> str:
    from dashboard_support import dashboard
    for c in dashboard(app).snap.items("containers"):
        if c.name == name:
            from tui.commands.containers_view import status_text
            return status_text(c)
    return ""
