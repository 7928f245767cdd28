"""Snapshot tests of the dashboard's layout (pytest-textual-snapshot), at 160x48.

Everything that moves is frozen: the root is a fixed path, the clock is before the objects were
made (every age reads 0s), and stats and host totals are off. Update a snapshot only after
looking at it (pytest --snapshot-update, then open the report)."""

from __future__ import annotations

import os
import shutil
import time

import pytest

from dashboard_support import make_app, settle

SIZE = (160, 48)

# one fixed root path (snapshots show it), so these run one after another on one worker
pytestmark = pytest.mark.xdist_group("dashboard-snapshots")


@pytest.fixture
def snap_engine():
    from engine import Engine
    from helpers import remove_root
    root = "/var/tmp/berth-snapshot-root"
    shutil.rmtree(root, ignore_errors=True)
    os.makedirs(root)
    try:
        engine = Engine(root)
        for name in ("cache", "data", "pgdata"):
            engine.create_volume(name, labels={"app": "demo"})
        yield engine
    finally:
        remove_root(root)


def app_for(engine, theme="berth-dark"):
    return make_app(engine, theme=theme, clock=lambda: 0.0, live=False)


async def _to_volumes(pilot):
    await settle(pilot, lambda: getattr(pilot.app.screen, "loaded", False))
    await pilot.press("3")
    await settle(pilot)


@pytest.mark.parametrize("theme", ["berth-dark", "berth-light", "berth-contrast"])
def test_volumes_pane(snap_compare, snap_engine, theme):
    assert snap_compare(app_for(snap_engine, theme), terminal_size=SIZE, run_before=_to_volumes)


def test_help_screen(snap_compare, snap_engine):
    async def run_before(pilot):
        await _to_volumes(pilot)
        await pilot.press("question_mark")
        await settle(pilot)
    assert snap_compare(app_for(snap_engine), terminal_size=SIZE, run_before=run_before)


def test_remove_confirmation(snap_compare, snap_engine):
    async def run_before(pilot):
        await _to_volumes(pilot)
        await pilot.press("j", "d")
        await settle(pilot)
    assert snap_compare(app_for(snap_engine), terminal_size=SIZE, run_before=run_before)


# --- the exec console, graphs, run and pull dialogs, events ----------------------------------------

LONG_LIVED = ("events", "stats", "events-pane", "graph-stats", "graph-host", "console-reap")
"""Worker groups that follow something for as long as their screen lives."""


async def _quiet(pilot) -> None:
    """Let the workers that finish (not the followers) finish, then let the screen settle."""
    await pilot.pause(0.05)
    finite = [w for w in pilot.app.workers if w.group not in LONG_LIVED and not w.is_finished]
    if finite:
        await pilot.app.workers.wait_for_complete(finite)
    await pilot.pause()


def _steady_cursors(app) -> None:
    """Input cursors stop blinking (and hide), so the picture doesn't depend on the moment."""
    from textual.widgets import Input
    for box in app.screen.query(Input):
        box.cursor_blink = False


def test_run_dialog(snap_compare, snap_engine):
    """Filled in, and refused with the run command's own message."""
    async def run_before(pilot):
        await _to_volumes(pilot)
        await pilot.press("R")
        await settle(pilot, lambda: type(pilot.app.screen).__name__ == "RunDialog")
        for value in ("busybox", "shop-web-2", "httpd -f -p 8080", "MODE=demo TZ=UTC",
                      "8080:8080", "data:/srv/data", "", "12q"):
            await pilot.press(*value, "tab")
        await pilot.press("ctrl+s")
        await settle(pilot, lambda: "memory" in str(
            pilot.app.screen.query_one("#run-error").content).lower())
        _steady_cursors(pilot.app)
        await _quiet(pilot)
    assert snap_compare(app_for(snap_engine), terminal_size=SIZE, run_before=run_before)


def test_pull_dialog_failed(snap_compare, snap_engine):
    """A reference typed in and pulled from a registry that isn't there."""
    async def run_before(pilot):
        await _to_volumes(pilot)
        await pilot.press("P")
        await settle(pilot, lambda: type(pilot.app.screen).__name__ == "PullDialog")
        await pilot.press(*"127.0.0.1:1/shop/web:1.4", "enter")
        await settle(pilot, lambda: pilot.app.screen.state == "failed", rounds=1000)
        _steady_cursors(pilot.app)
        await _quiet(pilot)
    assert snap_compare(app_for(snap_engine), terminal_size=SIZE, run_before=run_before)


@pytest.fixture
def events_engine(snap_engine, monkeypatch):
    """The snapshot root with a few more events, logged at fixed times (the events screen
    prints each event's time); the events screen's "now" is just after them."""
    import itertools
    from types import SimpleNamespace

    import engine.events
    import tui.screens.events
    from helpers import BUSYBOX_MUSL
    logged = itertools.count(1_900_000_000)
    monkeypatch.setattr(engine.events, "time", SimpleNamespace(time=lambda: next(logged)))
    snap_engine.load(str(BUSYBOX_MUSL))
    snap_engine.tag("busybox:1.38.0-musl", "busybox:latest")
    snap_engine.create_volume("uploads", labels={"app": "demo"})
    snap_engine.remove_volume("uploads")
    monkeypatch.undo()
    monkeypatch.setattr(tui.screens.events, "time", SimpleNamespace(time=lambda: 1_900_000_100))
    monkeypatch.setenv("TZ", "UTC")   # the screen shows local times
    time.tzset()
    yield snap_engine
    monkeypatch.undo()
    time.tzset()


def test_events_screen(snap_compare, events_engine):
    async def run_before(pilot):
        await _to_volumes(pilot)
        await pilot.press("E")
        await settle(pilot, lambda: len(getattr(pilot.app.screen, "events", ())) >= 4)
        await _quiet(pilot)
    assert snap_compare(app_for(events_engine), terminal_size=SIZE, run_before=run_before)


def _history(cid: str, name: str, n: int = 90, limit: int = 0, cpus: float = 0.0):
    """``n`` one-second StatsSamples of a made-up container (cumulative byte counters)."""
    import math

    from engine.models import StatsSample
    out, rx, tx, rd, wr = [], 0, 0, 0, 0
    for t in range(n):
        wave = (math.sin(t / 6) + 1) / 2
        if name == "cache":
            mem, cpu = (t % 12 + 1) * 4 << 20, 2.0
            rd, wr = rd + (t % 3) * (256 << 10), wr + (512 << 10)
        elif name == "worker":
            mem, cpu = 600 << 10, 50.0 * wave if t % 10 < 7 else 1.0
        else:
            mem, cpu = (1200 + 40 * (t % 5)) << 10, 5 + 10 * wave
            rx, tx = rx + int(200_000 * wave), tx + 3_000
        out.append(StatsSample(id=cid, name=name, time=float(t), cpu_percent=cpu,
                               memory_usage=mem, memory_limit=limit, net_rx=rx, net_tx=tx,
                               block_read=rd, block_write=wr, cpu_limit=cpus))
    return out


async def _to_graphs(pilot):
    """The graphs of three made-up containers: the real stats stream is stopped and the
    screen is fed 90 s of samples, so the picture is the same on every run."""
    from tui.screens.graphs import GraphsScreen
    await _to_volumes(pilot)
    await pilot.press("g")
    await settle(pilot, lambda: isinstance(pilot.app.screen, GraphsScreen))
    screen = pilot.app.screen
    screen.workers.cancel_group(screen, "graph-stats")
    await _quiet(pilot)
    series = [_history("a" * 64, "api"), _history("c" * 64, "cache", limit=64 << 20),
              _history("w" * 64, "worker", cpus=0.5)]
    for ticks in zip(*series):
        screen.post_message(GraphsScreen.Samples(list(ticks)))
    await settle(pilot, lambda: len(screen.cards()) == 3 and screen.ticks >= 90)
    screen.action_sort()          # hottest first, then by name: sorted at once
    screen.action_sort()
    await _quiet(pilot)
    return screen


def test_graphs_screen(snap_compare, snap_engine):
    async def run_before(pilot):
        await _to_graphs(pilot)
    assert snap_compare(app_for(snap_engine), terminal_size=SIZE, run_before=run_before)


def test_graph_detail(snap_compare, snap_engine):
    """One container's graphs full screen: the memory limit drawn across the memory graph."""
    async def run_before(pilot):
        screen = await _to_graphs(pilot)
        screen.picked = True
        screen.cards()["c" * 64].focus()
        await pilot.press("enter")
        await settle(pilot, lambda: type(pilot.app.screen).__name__ == "GraphDetailScreen")
        await _quiet(pilot)
    assert snap_compare(app_for(snap_engine), terminal_size=SIZE, run_before=run_before)


def test_exec_console(snap_compare, snap_engine):
    """A shell in a real container, after a command."""
    from engine.models import ContainerConfig
    from helpers import BUSYBOX_MUSL
    snap_engine.load(str(BUSYBOX_MUSL))
    snap_engine.tag("busybox:1.38.0-musl", "busybox:latest")
    c = snap_engine.create(ContainerConfig(image="busybox", cmd=["sleep", "3600"],
                                           network_mode="none"), name="shell-demo")
    snap_engine.start(c.id)

    async def run_before(pilot):
        from tui.screens.console import open_console
        await settle(pilot, lambda: getattr(pilot.app.screen, "loaded", False))
        term = await open_console(pilot.app, snap_engine, c.id, "shell-demo")
        await settle(pilot, lambda: term.text().rstrip().endswith("#"), rounds=1000)
        await pilot.press(*"ls /; echo $((6*7))", "enter")
        await settle(pilot, lambda: "42" in term.text() and term.text().rstrip().endswith("#"),
                     rounds=1000)
        await _quiet(pilot)
    try:
        assert snap_compare(app_for(snap_engine), terminal_size=SIZE, run_before=run_before)
    finally:
        snap_engine.remove(c.id, force=True)
