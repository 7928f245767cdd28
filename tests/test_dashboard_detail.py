"""The dashboard at a glance: the detail pane following the cursor and its tabs, the filter's
fields, a paused container's figures, the header, footer and table columns at 80 and 160/200
columns. Real containers on a test root."""

from __future__ import annotations

import pytest

from dashboard_support import dashboard, make_app, running, screen_text, settle, table_names
from test_dashboard_containers import select


def make(engine, image, name, script, **kw):
    from engine.models import ContainerConfig, Mount, Resources
    mounts = [Mount(type="volume", source=kw.pop("volume"), target="/data")] \
        if "volume" in kw else []
    config = ContainerConfig(image=str(image), cmd=["sh", "-c", script], network_mode="none",
                             env=kw.pop("env", []), labels=kw.pop("labels", {}), mounts=mounts,
                             resources=Resources(memory=kw.pop("memory", 0)))
    return engine.create(config, name=name)


def detail_text(app) -> str:
    """The detail pane's lines (the right part of the screen when it sits beside the list)."""
    pane = dashboard(app).query_one("#detail")
    r = pane.region
    lines = screen_text(app).splitlines()[r.y:r.y + r.height]
    return "\n".join(line[r.x:r.x + r.width] for line in lines)


@pytest.mark.parametrize("size", [(200, 60), (80, 24)], ids=lambda s: f"{s[0]}x{s[1]}")
async def test_detail_pane_follows_the_cursor_through_its_tabs_and_the_other_panes(
        engine, busybox, size):
    """200x60: the pane sits beside the list, 80x24: under it; moving the cursor shows the
    next container's log tail; ] cycles logs, stats (limits, graphs), top, env, inspect;
    images, volumes and networks have their own tabs."""
    engine.create_volume("data")
    make(engine, busybox, "alpha", "echo alpha says hi; exec sleep 600", memory=64 << 20,
         env=["FOO=bar"], volume="data")
    make(engine, busybox, "beta", "echo beta says hi; exec sleep 600")
    engine.start("alpha")
    engine.start("beta")
    app = make_app(engine)
    async with running(app, size=size) as pilot:
        dash = dashboard(app)
        side = size[0] >= 140
        assert dash.query_one("#body").has_class("-side") == side
        table, pane = dash.table("containers"), dash.query_one("#detail")
        if side:
            assert pane.region.x > table.region.x and pane.region.y == table.region.y - 1 or \
                pane.region.x > table.region.right - 2
        else:
            assert pane.region.y >= table.region.bottom and pane.region.width >= 78
        await select(pilot, app, "alpha")
        await settle(pilot, lambda: "alpha says hi" in detail_text(app), rounds=500)
        assert "logs" in detail_text(app) and "alpha" in detail_text(app).splitlines()[1]
        await pilot.press("j")
        await settle(pilot, lambda: "beta says hi" in detail_text(app), rounds=500)
        assert "alpha says hi" not in detail_text(app)
        await pilot.press("k")
        await settle(pilot, lambda: "alpha says hi" in detail_text(app), rounds=500)
        # the tabs, as lazydocker's main panel: stats, top, env, inspect, and round to logs
        for want in ("limits memory 64.0MiB", "PID", "FOO=bar", '"Id":', "alpha says hi"):
            await pilot.press("right_square_bracket")
            await settle(pilot, lambda w=want: w in detail_text(app), rounds=500)
        await pilot.press("left_square_bracket")       # back to inspect
        await settle(pilot, lambda: '"Id":' in detail_text(app))
        await pilot.press("right_square_bracket", "right_square_bracket")
        await settle(pilot, lambda: "mounts data:/data" in detail_text(app), rounds=300)
        assert "cpu" in detail_text(app) and "mem" in detail_text(app)   # the graphs
        await pilot.press("enter")                       # enter still opens the full view
        await settle(pilot, lambda: type(app.screen).__name__ == "InspectScreen", rounds=500)
        await pilot.press("escape")
        await settle(pilot, lambda: app.screen is dash)
        # the other kinds: an image's layers, a volume's users
        await pilot.press("2")
        await settle(pilot, lambda: "layers" in detail_text(app) and "BusyBox" in detail_text(app),
                     rounds=500)
        await pilot.press("3")
        await settle(pilot, lambda: "users" in detail_text(app) and "alpha" in detail_text(app),
                     rounds=300)
        await pilot.press("4")
        await settle(pilot, lambda: "containers" in detail_text(app).splitlines()[1], rounds=300)
        # v hides the pane; the list takes the room
        await pilot.press("1", "v")
        await pilot.pause()
        assert not pane.display


async def test_filter_fields_and_a_paused_container_at_80x24(engine, busybox):
    """80x24: the pane sits under the list; the filter matches names and images (not ids),
    by field and by regex as typed; a paused container shows its memory and pids."""
    web = make(engine, busybox, "web", "exec sleep 600", labels={"tier": "front"})
    make(engine, busybox, "db", "exec sleep 600")
    make(engine, busybox, "webdb-helper", "exec sleep 600")
    engine.start("web")
    engine.pause("web")
    app = make_app(engine)
    async with running(app, size=(80, 24)) as pilot:
        dash = dashboard(app)
        assert not dash.query_one("#body").has_class("-side")
        assert dash.query_one("#detail").region.y > dash.table().region.bottom - 1

        async def filtered(text: str) -> list[str]:
            dash.filters["containers"] = text
            dash.redraw(only="containers")
            await pilot.pause()
            return sorted(table_names(app, "containers"))

        assert await filtered("~^(web|db)$") == ["db", "web"]
        assert await filtered("~web|db") == ["db", "web", "webdb-helper"]
        assert await filtered(web.id[:10]) == []                 # not by id unless asked
        assert await filtered(f"id:{web.id[:10]}") == ["web"]
        assert await filtered("name:helper") == ["webdb-helper"]
        assert await filtered("status:paused") == ["web"]
        assert await filtered("label:tier=front") == ["web"]
        assert await filtered("label:tier") == ["web"]
        assert await filtered("image:busybox status:created") == ["db", "webdb-helper"]
        assert len(await filtered("busybox")) == 3
        await filtered("")
        # typed into the filter, as a user would
        await pilot.press("slash", *"name:db", "enter")
        await settle(pilot, lambda: sorted(table_names(app, "containers")) == ["db"])
        await pilot.press("escape")
        await settle(pilot, lambda: len(table_names(app, "containers")) == 3)

        # paused: measured like a running one, never "…" forever
        def paused_cells():
            for row in dash.table("containers").rows_in_order():
                if row.model.name == "web":
                    return [c.plain if hasattr(c, "plain") else str(c) for c in row.cells]
            return []
        await settle(pilot, lambda: paused_cells() and paused_cells()[6].strip() not in
                     ("…", "-"), rounds=500)
        assert paused_cells()[7].strip() not in ("…", "-", "0")   # pids
        # the graphs' history started with the dashboard: opening them shows what was measured
        await settle(pilot, lambda: web.id in dash.book.by_id
                     and len(dash.book.by_id[web.id]["mem"]) >= 4, rounds=500)
        await pilot.press("g")
        await settle(pilot, lambda: type(app.screen).__name__ == "GraphsScreen")
        assert len(app.screen.book.by_id[web.id]["mem"]) >= 4


async def test_header_footer_and_columns_at_80_and_160(engine, busybox):
    """The footer shows the pane's keys by priority and ? for the rest at every width, never a
    label cut in half; the header separates its fields; at 80 columns the table drops ID,
    PORTS and the sparkline, not the name or the status."""
    make(engine, busybox, "web", "exec sleep 600")
    engine.start("web")
    app = make_app(engine)
    async with running(app, size=(80, 24)) as pilot:
        await select(pilot, app, "web")
        await settle(pilot, lambda: "containers" in screen_text(app).splitlines()[0]
                     and "cpu" in screen_text(app).splitlines()[0], rounds=500)
        lines = screen_text(app).splitlines()
        footer, header = lines[-1].rstrip(), lines[0]
        assert footer.endswith("? more") and "Details" in footer and "Logs" in footer
        assert "│" in header and "running / 1" in header
        heads = " ".join(c.label.plain for c in dashboard(app).table().columns.values())
        for gone in ("ID", "PORTS", "CPU (20s)"):
            assert gone not in heads.split("  ") and gone not in heads.replace("CPU%", "")
        for kept in ("NAME", "STATUS", "CPU%", "MEM"):
            assert kept in heads
        await pilot.resize_terminal(160, 48)
        await settle(pilot, lambda: "Events" in screen_text(app).splitlines()[-1])
        footer = screen_text(app).splitlines()[-1]
        for key in (" c Console", " g Graphs", " R Run", " P Pull", " E Events", " A Attach"):
            assert key in footer, footer
        assert footer.rstrip().endswith("? more")
        assert "load" in screen_text(app).splitlines()[0]
        await pilot.press("2")
        await settle(pilot, lambda: "Tag" in screen_text(app).splitlines()[-1])
        footer = screen_text(app).splitlines()[-1]
        assert "Start" not in footer and "New" not in footer
        await pilot.resize_terminal(200, 60)
        await pilot.press("1")
        await settle(pilot, lambda: "PIDS" in " ".join(   # dropped at 80, back with room
            c.label.plain for c in dashboard(app).table().columns.values()).split())
