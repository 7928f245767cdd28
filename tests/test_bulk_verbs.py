"""`berth stop/kill/rm/pause/unpause/start/restart` with several names run them at once, as
docker's CLI does: names printed in the order given, each once it and those before it are
done; failures after them, each naming its container; the first failure's exit code."""

from __future__ import annotations

import time

import pytest

# pid 1 of a pid namespace ignores SIGTERM unless it handles it: `sleep` makes a container
# that only SIGKILL (at the end of the stop timeout) ends
DEAF = ("sleep", "1000")
# ... and one that exits at once on SIGTERM
QUICK = ("sh", "-c", "trap 'exit 0' TERM; while :; do sleep 0.1; done")


def _run(cli, busybox, name, cmd):
    cli("run", "-d", "--name", name, "--network", "none", busybox, *cmd)


def test_stop_several_deaf_containers_takes_one_timeout_in_the_given_order(cli, busybox):
    for name in ("deaf1", "deaf2", "deaf3"):
        _run(cli, busybox, name, DEAF)
    _run(cli, busybox, "quick", QUICK)
    t0 = time.monotonic()
    # quick is done long before deaf3, and still printed after it
    p = cli("stop", "-t", "1", "deaf1", "deaf2", "nosuch", "deaf3", "quick", check=False)
    took = time.monotonic() - t0
    assert p.stdout.split() == ["deaf1", "deaf2", "deaf3", "quick"]
    assert p.stderr.count("\n") == 1 and "nosuch" in p.stderr and p.stderr.startswith("berth: ")
    assert p.returncode == 125
    # one after the other: over 3 s of stop timeouts; at once: one
    assert took < 2.8, f"stop of three deaf containers took {took:.1f}s"
    states = cli("ps", "-a", "--format", "{{.Names}} {{.State}}").stdout.split("\n")
    assert sorted(s for s in states if s) == ["deaf1 exited", "deaf2 exited", "deaf3 exited",
                                              "quick exited"]


def test_the_other_bulk_verbs_take_several_names(cli, busybox):
    for name in ("bulk1", "bulk2"):
        _run(cli, busybox, name, QUICK)
    names = ["bulk1", "bulk2"]
    for verb in (["pause"], ["unpause"], ["restart", "-t", "1"], ["kill"], ["start"],
                 ["stop", "-t", "1"]):
        p = cli(*verb, *names)
        assert p.stdout.split() == names, (verb, p.stderr)
    p = cli("rm", "bulk1", "nosuch", "bulk2", check=False)
    assert p.stdout.split() == names and "nosuch" in p.stderr and p.returncode == 125
    assert cli("ps", "-aq").stdout == ""


# --- the dashboard ------------------------------------------------------------------------------

def _cell(app, name: str, column: str) -> str:
    """The row's state as drawn: its state cell, or where a narrow table dropped that column,
    the word after the name ("web stopping…") or else the model's state."""
    from dashboard_support import dashboard
    table = dashboard(app).table("containers")
    keys = [c.key for c in table.columns_spec]
    for row in table.rows_in_order():
        if row.model.name == name:
            if keys.index(column) in table.shown:
                cell = table.get_cell(row.key, column)
                return getattr(cell, "plain", str(cell))
            shown = getattr(table.get_cell(row.key, "name"), "plain", "")
            return shown[len(name):].strip() or row.model.state.status
    return ""


@pytest.mark.parametrize("size", [(80, 24), (200, 60)], ids=lambda s: f"{s[0]}x{s[1]}")
async def test_dashboard_stops_marked_deaf_containers_at_once_showing_stopping(
        engine, busybox, size):
    from dashboard_support import dashboard, make_app, running, screen_text, settle
    from engine.models import ContainerConfig
    names = ["deafa", "deafb", "deafc"]
    for name in names:
        engine.run(ContainerConfig(image=str(busybox), cmd=list(DEAF), network_mode="none",
                                   stop_timeout=2), name)
    app = make_app(engine)
    async with running(app, size=size) as pilot:
        table = dashboard(app).table("containers")
        await settle(pilot, lambda: all(_cell(app, n, "state") == "running" for n in names))
        table.move_cursor(row=0)
        await pilot.press("space", "space", "space")
        t0 = time.monotonic()
        await pilot.press("x")
        await pilot.pause()
        assert [_cell(app, n, "state") for n in names] == ["stopping…"] * 3, \
            ([(n, engine.container(n).state.status, engine.container(n).state.exit_code,
              engine.container(n).state.finished_at) for n in names], time.monotonic() - t0)
        assert screen_text(app).count("stopping…") == 3
        assert all(engine.container(n).state.status == "running" for n in names)
        await settle(pilot, lambda: all(_cell(app, n, "state") == "exited" for n in names),
                     rounds=400)
        took = time.monotonic() - t0
        assert [engine.container(n).state.status for n in names] == ["exited"] * 3
        assert "stopping…" not in screen_text(app)
        # at once: one after the other would take 6 s (2 s each before the SIGKILL)
        assert took < 4.5, f"three deaf containers took {took:.1f}s to stop"


async def test_a_failure_among_marked_rows_names_its_container_and_clears_its_row(
        engine, busybox):
    """`s` on two marked containers, one of which can't start: the other runs, the failure
    is said naming the container that failed, and its row leaves `starting…`."""
    from dashboard_support import dashboard, make_app, running, settle
    from engine.models import ContainerConfig
    engine.create(ContainerConfig(image=str(busybox), cmd=["sleep", "600"],
                                  network_mode="none"), name="startsfine")
    engine.create(ContainerConfig(image=str(busybox), cmd=["/nonexistent"],
                                  network_mode="none"), name="cantstart")
    app = make_app(engine)
    said = []
    real_notify = app.notify

    def notify(message, *args, **kwargs):
        said.append(str(message))
        return real_notify(message, *args, **kwargs)
    app.notify = notify
    async with running(app, size=(200, 60)) as pilot:
        table = dashboard(app).table("containers")
        await settle(pilot, lambda: len(table.rows_by_key) == 2)
        table.move_cursor(row=0)
        await pilot.press("space", "space", "s")
        await settle(pilot, lambda: engine.container("startsfine").state.status == "running"
                     and any("cantstart" in s for s in said), rounds=500)
        await settle(pilot, lambda: _cell(app, "cantstart", "state") == "created", rounds=200)
        assert [s for s in said if "cantstart" in s and "/nonexistent" in s], said
        assert not [s for s in said if "startsfine" in s], said
        assert _cell(app, "cantstart", "state") == "created"
        assert engine.container("startsfine").state.status == "running"
