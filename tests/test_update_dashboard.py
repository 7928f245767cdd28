"""`u` in the containers pane: the limits form opens with the container's values, saving applies
them to the running container's cgroup, a bad value is refused in the form."""

from __future__ import annotations

import os

from dashboard_support import dashboard, make_app, running, screen_text, settle


def _start(engine, image, name, **resources):
    from engine.models import ContainerConfig, Resources
    config = ContainerConfig(image=str(image), cmd=["sleep", "1000"], network_mode="none",
                             resources=Resources(**resources))
    c = engine.create(config, name=name)
    engine.start(c.id)
    return c


async def _select(pilot, app, name):
    table = dashboard(app).table("containers")
    await settle(pilot, lambda: any(r.model.name == name and r.model.running
                                    for r in table.rows_in_order()))
    for i, row in enumerate(table.rows_in_order()):
        if row.model.name == name:
            table.move_cursor(row=i)
            await pilot.pause()
            return
    raise AssertionError(f"{name} is not in the containers pane:\n{screen_text(app)}")


def _cgroup(engine, cid, ctrl, name) -> str:
    from engine.runtime import cgroups
    with open(os.path.join(cgroups.detect(engine.paths).path(cid, ctrl), name)) as f:
        return f.read().strip()


async def test_u_changes_a_running_containers_limits(engine, busybox):
    from textual.widgets import Input
    from tui.screens.update_limits import UpdateLimitsScreen
    c = _start(engine, busybox, "lim", memory=256 << 20, nano_cpus=1_000_000_000)
    app = make_app(engine)
    async with running(app) as pilot:
        await _select(pilot, app, "lim")
        await pilot.press("u")
        await settle(pilot, lambda: isinstance(app.screen, UpdateLimitsScreen))
        form = app.screen
        assert form.query_one("#limit-memory", Input).value == "256m"
        assert form.query_one("#limit-nano_cpus", Input).value == "1"
        form.query_one("#limit-memory", Input).value = "64m"
        form.query_one("#limit-nano_cpus", Input).value = "0.25"
        await pilot.press("ctrl+s")
        await settle(pilot, lambda: engine.container(c.id).config.resources.nano_cpus
                     == 250_000_000)
        assert not isinstance(app.screen, UpdateLimitsScreen)
    assert engine.container(c.id).config.resources.memory == 64 << 20
    assert int(_cgroup(engine, c.id, "memory", "memory.limit_in_bytes")) == 64 << 20
    assert _cgroup(engine, c.id, "cpu", "cpu.cfs_quota_us") == "25000"
    engine.remove(c.id, force=True)


async def test_a_bad_value_stays_in_the_form_with_the_reason(engine, busybox):
    from textual.widgets import Input, Static
    from tui.screens.update_limits import UpdateLimitsScreen
    c = _start(engine, busybox, "bad", memory=128 << 20, memory_reservation=64 << 20)
    app = make_app(engine)
    async with running(app) as pilot:
        await _select(pilot, app, "bad")
        await pilot.press("u")
        await settle(pilot, lambda: isinstance(app.screen, UpdateLimitsScreen))
        form = app.screen
        form.query_one("#limit-blkio_weight", Input).value = "5"
        await pilot.press("ctrl+s")
        await pilot.pause()
        assert isinstance(app.screen, UpdateLimitsScreen)
        error = str(form.query_one("#limits-error", Static).render())
        assert "Range of blkio weight is from 10 to 1000" in error
        form.query_one("#limit-blkio_weight", Input).value = ""
        form.query_one("#limit-memory", Input).value = "12x"
        await pilot.press("ctrl+s")
        await pilot.pause()
        assert "invalid size: '12x'" in str(form.query_one("#limits-error", Static).render())
        await pilot.press("escape")
        await settle(pilot, lambda: not isinstance(app.screen, UpdateLimitsScreen))
    assert engine.container(c.id).config.resources.memory == 128 << 20
    engine.remove(c.id, force=True)


async def test_u_lowers_the_cpu_limit_and_the_graph_flattens_under_the_new_ceiling(engine, busybox):
    """The issue's own words: `u` changes a running container's CPU limit and its CPU graph
    flattens to the new ceiling (drawn as a line)."""
    import asyncio

    from textual.widgets import Input
    from tui.screens.graphs import open_graphs
    from tui.screens.update_limits import UpdateLimitsScreen
    from engine.models import ContainerConfig
    c = engine.create(ContainerConfig(image=str(busybox), network_mode="none",
                                      cmd=["sh", "-c", "while :; do :; done"]), name="spin")
    engine.start(c.id)
    app = make_app(engine)
    try:
        async with running(app) as pilot:
            async def until(cond, seconds=30.0):
                deadline = asyncio.get_running_loop().time() + seconds
                while not cond() and asyncio.get_running_loop().time() < deadline:
                    await pilot.pause(0.1)
                return cond()

            await open_graphs(app, engine)
            book = app.screen.book
            assert await until(lambda: c.id in book.by_id
                               and max(book.by_id[c.id]["cpu"].points(), default=0) > 50)
            await pilot.press("escape")
            await _select(pilot, app, "spin")
            await pilot.press("u")
            await settle(pilot, lambda: isinstance(app.screen, UpdateLimitsScreen))
            app.screen.query_one("#limit-nano_cpus", Input).value = "0.2"
            await pilot.press("ctrl+s")
            await settle(pilot, lambda: engine.container(c.id).config.resources.nano_cpus
                         == 200_000_000)
            await open_graphs(app, engine)
            h = book.by_id[c.id]
            assert await until(lambda: h.cpu_limit == 0.2)
            # flattened: the last readings sit under the 20 % ceiling (with a little slack)
            assert await until(lambda: 0 < max(h["cpu"].points(n=3)) < 25), h["cpu"].points(n=10)
            card = app.screen.cards()[c.id]
            assert "/ 20%" in card.text() and "┄" in card.text()
    finally:
        engine.remove(c.id, force=True)
