"""Snapshot tests of the containers' screens (pytest-textual-snapshot): the detail pane's tabs,
the top screen, the console list, the save-logs dialog, the whole dashboard at 80x24.

One real container runs (it prints three lines, then sleeps) and one is only created. What
changes from run to run is fixed the way test_dashboard_snapshots.py fixes it: the root is a
fixed path, the clock is frozen, stats are off; and here the ids and creation time are made
while os.urandom and the clock give fixed values, the start time and pids the kernel gives are
replaced by fixed ones in what inspect and top read, and the stats tab's graphs are fed 90 s of
made-up samples for the real container (as the graphs snapshot is). Update a snapshot only
after looking at it (pytest --snapshot-update, then open the report)."""

from __future__ import annotations

import json
import re

import pytest

from dashboard_support import dashboard, settle
from test_dashboard_snapshots import SIZE, _history, _quiet, app_for, snap_engine  # noqa: F401

SMALL = (80, 24)
LINES = ("listening on :8080", "GET /health 200 3ms")

pytestmark = pytest.mark.xdist_group("dashboard-snapshots")


def _steady_inspect(data, cid: str):
    """A container's inspect with the start time and pid the kernel gave replaced."""
    text = json.dumps(data)
    text = re.sub(r'"(StartedAt|FinishedAt)": "(?!0001-)[^"]*"',
                  r'"\1": "2030-03-17T09:00:01.000000000Z"', text)
    text = re.sub(r'"Pid": [1-9][0-9]*', '"Pid": 4242', text)
    return json.loads(text)


def _steady_top(headers: list[str], rows: list[list[str]]):
    """Engine.top's table with the host's pids, start times, CPU times and memory fixed."""
    fixed = {"PID": lambda i: str(4242 + i), "PPID": lambda i: "4100" if i == 0 else "4242",
             "STIME": lambda i: "09:00", "TIME": lambda i: "00:00:00",
             "C": lambda i: "0", "%CPU": lambda i: "0.0", "%MEM": lambda i: "0.0",
             "RSS": lambda i: "600K", "VSZ": lambda i: "1300K"}
    out = []
    for i, row in enumerate(rows):
        out.append([fixed[h](i) if h in fixed else cell for h, cell in zip(headers, row)])
    return headers, out


@pytest.fixture
def demo(snap_engine, monkeypatch):   # noqa: F811
    """web (running, 64 MiB and half a CPU, has printed LINES and a warning) and worker
    (created), with fixed ids and creation time."""
    import itertools
    import os
    import time

    import engine.clock
    from engine.models import ContainerConfig, Resources
    from helpers import BUSYBOX_MUSL
    e = snap_engine
    e.load(str(BUSYBOX_MUSL))
    e.tag("busybox:1.38.0-musl", "busybox:latest")
    serial = itertools.count(0xa1)
    script = (f"echo '{LINES[0]}'; echo '{LINES[1]}'; echo 'warn: cache cold' >&2; "
              "exec sleep 3600")
    with monkeypatch.context() as m:
        m.setattr(os, "urandom", lambda n: bytes([next(serial)]) * n)
        m.setattr(engine.clock, "now_rfc3339", lambda t=None: "2030-03-17T09:00:00.000000000Z")
        web = e.create(ContainerConfig(image="busybox", cmd=["sh", "-c", script],
                                       env=["APP_ENV=demo", "PORT=8080"], network_mode="none",
                                       resources=Resources(memory=64 << 20,
                                                           nano_cpus=500_000_000)), name="web")
        e.create(ContainerConfig(image="busybox", cmd=["sleep", "3600"], network_mode="none"),
                 name="worker")
    e.start(web.id)
    deadline = time.monotonic() + 20
    while len([x for x in e.logs(web.id, follow=False)]) < 3 and time.monotonic() < deadline:
        time.sleep(0.05)
    real_inspect, real_top = e.container_inspect, e.top
    monkeypatch.setattr(e, "container_inspect",
                        lambda ref, size=False: _steady_inspect(real_inspect(ref, size), web.id))
    monkeypatch.setattr(e, "top", lambda ref, ps_args=(): _steady_top(*real_top(ref, ps_args)))
    try:
        yield e, web.id
    finally:
        e.remove(web.id, force=True)


async def _on_web(pilot):
    """The dashboard loaded, the cursor on web, its log lines in the pane."""
    from test_dashboard_containers import select
    app = pilot.app
    await settle(pilot, lambda: getattr(app.screen, "loaded", False))
    await select(pilot, app, "web")
    dash = dashboard(app)
    await settle(pilot, lambda: len(dash._log_lines) >= 3, rounds=500)
    await _quiet(pilot)
    return dash


async def _feed_stats(pilot, dash, cid: str) -> None:
    """90 s of made-up samples for web, as the stats stream would post them."""
    from tui.screens.dashboard_feed import POINT, STATS_INTERVAL
    samples = _history(cid, "web", limit=64 << 20, cpus=0.5)
    for sample in samples[:-1]:     # (the messages coalesce: the history is added here)
        dash.book.add([sample], repeat=round(STATS_INTERVAL / POINT))
    samples[-1].pids = 2
    dash.post_message(type(dash).Stats([samples[-1]]))
    await settle(pilot, lambda: dash.book.by_id.get(cid) is not None
                 and dash.samples.get(cid) is not None)
    await _quiet(pilot)


@pytest.mark.parametrize("tab", ["logs", "stats", "top", "env", "inspect"])
def test_container_detail_tab(snap_compare, demo, tab):
    """The detail pane beside the list on each of a running container's tabs."""
    e, cid = demo
    tabs = ["logs", "stats", "top", "env", "inspect"]
    marks = {"logs": LINES[1], "stats": "limits", "top": "PID", "env": "APP_ENV",
             "inspect": '"Id"'}

    async def run_before(pilot):
        dash = await _on_web(pilot)
        await _feed_stats(pilot, dash, cid)
        for _ in range(tabs.index(tab)):
            await pilot.press("right_square_bracket")
        await settle(pilot, lambda: _pane_has(dash, marks[tab]), rounds=500)
        await _quiet(pilot)
    assert snap_compare(app_for(e), terminal_size=SIZE, run_before=run_before)


def _pane_has(dash, mark: str) -> bool:
    from dashboard_support import screen_text
    return mark in screen_text(dash.app)


def test_dashboard_80x24(snap_compare, demo):
    """The whole dashboard in the smallest terminal it is made for: list, the detail pane
    under it on the stats tab, header and footer."""
    e, cid = demo

    async def run_before(pilot):
        dash = await _on_web(pilot)
        await _feed_stats(pilot, dash, cid)
        await pilot.press("right_square_bracket")
        await settle(pilot, lambda: _pane_has(dash, "limits"), rounds=500)
        await _quiet(pilot)
    assert snap_compare(app_for(e), terminal_size=SMALL, run_before=run_before)


def test_top_screen(snap_compare, demo):
    e, cid = demo

    async def run_before(pilot):
        await _on_web(pilot)
        await pilot.press("T")
        await settle(pilot, lambda: getattr(pilot.app.screen, "reads", 0) >= 1, rounds=500)
        await _quiet(pilot)
    assert snap_compare(app_for(e), terminal_size=SIZE, run_before=run_before)


def test_console_list(snap_compare, demo):
    """Two consoles open on web (a shell, then another), back on the dashboard (F12), the
    list of them from there (C)."""
    e, cid = demo

    async def run_before(pilot):
        from tui.screens.console import open_console
        dash = await _on_web(pilot)
        for another in (False, True):
            term = await open_console(pilot.app, e, cid, "web", another=another)
            await settle(pilot, lambda t=term: t.text().rstrip().endswith("#"), rounds=1000)
        await pilot.press("f12")
        await settle(pilot, lambda: pilot.app.screen is dash)
        await pilot.press("C")
        await settle(pilot, lambda: type(pilot.app.screen).__name__ == "ConsoleList")
        await _quiet(pilot)
    assert snap_compare(app_for(e), terminal_size=SIZE, run_before=run_before)


def test_save_logs_dialog(snap_compare, demo, monkeypatch):
    """ctrl+s in web's logs: the dialog asks where, offering ~/berth-logs-web-<time>.log."""
    import time as real_time
    from types import SimpleNamespace

    import tui.screens.save_logs
    e, cid = demo
    monkeypatch.setattr(tui.screens.save_logs, "time", SimpleNamespace(
        strftime=lambda fmt: real_time.strftime(fmt, real_time.gmtime(1_900_000_000))))

    async def run_before(pilot):
        from test_dashboard_snapshots import _steady_cursors
        await _on_web(pilot)
        await pilot.press("l")
        await settle(pilot, lambda: getattr(pilot.app.screen, "received", 0) >= 3, rounds=500)
        await pilot.press("ctrl+s")
        await settle(pilot, lambda: type(pilot.app.screen).__name__ == "SaveLogsDialog")
        _steady_cursors(pilot.app)
        await _quiet(pilot)
    assert snap_compare(app_for(e), terminal_size=SIZE, run_before=run_before)
