"""The dashboard over several engines: `h` switches between this machine's berth and a
connection (here a second berth root served by `berth system service` on a unix socket), the
header names each, and a host that goes away shows as disconnected and comes back by itself;
a host that hangs never freezes the screen."""

from __future__ import annotations

import os
import signal
import subprocess
import sys

import pytest

from dashboard_support import dashboard, running, screen_text, settle
from helpers import REPO, claim_root, release_root
from remote_engines import _answers, _stop, wait_for


def names(app) -> list[str]:
    return sorted(r.model.name for r in dashboard(app).table("containers").rows_in_order())


def _serve(root: str, sock: str) -> subprocess.Popen:
    env = {k: v for k, v in os.environ.items() if not k.startswith("BERTH_")}
    p = subprocess.Popen([sys.executable, "-m", "tui.cli", "--root", root, "system", "service",
                          "--socket", sock], cwd=REPO, env=env, stderr=subprocess.DEVNULL,
                         start_new_session=True)
    wait_for(lambda: p.poll() is not None or _answers(sock), 30, "berth's API service")
    assert p.poll() is None
    return p


@pytest.fixture
def other_root(tmp_path):
    d = claim_root("berth-other-")
    try:
        yield d
    finally:
        release_root(d)


@pytest.fixture
def two_hosts(engine, busybox, other_root, tmp_path, monkeypatch):
    """This machine's berth (with "here") and a connection "other": a second root (with
    "there", running) served by `berth system service` on a socket. Yields (other engine,
    config, socket path, service holder): holder[0] is the service process, which a test may
    stop and start again."""
    from engine import Engine, connections
    from engine.models import ContainerConfig
    from helpers import BUSYBOX_MUSL
    monkeypatch.setenv("HOME", str(tmp_path))
    for var in ("XDG_CONFIG_HOME", "DOCKER_HOST", "CONTAINER_HOST", "DOCKER_CONFIG"):
        monkeypatch.delenv(var, raising=False)
    other = Engine(other_root)
    other.load(str(BUSYBOX_MUSL))
    config = ContainerConfig(image="busybox:1.38.0-musl", cmd=["sleep", "300"],
                             network_mode="none")
    engine.create(config, name="here")
    other.run(config, name="there")
    sock = str(tmp_path / "other.sock")
    holder = [_serve(other_root, sock)]
    try:
        connections.add("other", f"unix://{sock}")
        yield other, config, sock, holder
    finally:
        _stop(holder[0])


def _app(engine):
    from tui.config import Config
    from tui.hosts import HostsApp
    return HostsApp(engine, "local", config=Config(), live=False)


async def test_switch_hosts_and_a_host_that_drops(engine, two_hosts):
    from tui.hosts import HostsScreen
    other, config, sock, holder = two_hosts
    app = _app(engine)
    async with running(app) as pilot:
        await settle(pilot, lambda: names(app) == ["here"])
        assert names(app) == ["here"], screen_text(app)
        await pilot.press("h")
        assert isinstance(app.screen, HostsScreen)
        await pilot.press("down", "enter")   # local, then other
        await settle(pilot, lambda: app.host == "other" and getattr(app.screen, "loaded", False)
                     and names(app) == ["there"], rounds=1000)
        assert "other · berth" in screen_text(app)
        # and back to this machine, and there again
        await pilot.press("h")
        await pilot.press("up", "enter")
        await settle(pilot, lambda: app.host == "local" and getattr(app.screen, "loaded", False)
                     and names(app) == ["here"], rounds=1000)
        assert "other · berth" not in screen_text(app)
        await pilot.press("h")
        await pilot.press("down", "enter")
        await settle(pilot, lambda: app.host == "other" and getattr(app.screen, "loaded", False)
                     and names(app) == ["there"], rounds=1000)
        # the host goes away: the header says so; it comes back by itself
        _stop(holder[0])
        await settle(pilot, lambda: "DISCONNECTED" in screen_text(app), rounds=1000)
        other.create(config, name="while-away")
        holder[0] = _serve(other.paths.root, sock)
        await settle(pilot, lambda: "while-away" in names(app)
                     and "DISCONNECTED" not in screen_text(app), rounds=1500)
        # a host that hangs (stopped, not gone): keys still work on the screen
        holder[0].send_signal(signal.SIGSTOP)
        try:
            await pilot.press("2")
            await settle(pilot, lambda: app.screen.pane_kind == "images", rounds=100)
            assert app.screen.pane_kind == "images"
        finally:
            holder[0].send_signal(signal.SIGCONT)


async def test_all_hosts_in_one_list(engine, two_hosts):
    """F: this machine's containers and a connection's in the dashboard's table with a HOST
    column; the dashboard's keys act on the row's host (stop, start, logs, inspect; marks of
    the cursor's host only); a host that hangs is shown as slow, the others still drawn."""
    from tui.screens.fleet import FleetScreen
    from tui.screens.inspect import InspectScreen
    from tui.screens.logs import LogsScreen
    other, config, sock, holder = two_hosts
    engine.run(config, name="busy-here")
    app = _app(engine)
    async with running(app) as pilot:
        await pilot.press("F")
        fleet = app.screen
        assert isinstance(fleet, FleetScreen)

        def listed():
            return sorted((h, c.name) for h, c in fleet.rows.values())

        def state(host, name):
            return next(c.state.status for h, c in fleet.rows.values()
                        if (h, c.name) == (host, name))

        async def cursor_to(host, name):
            table = fleet.table()
            rows = table.rows_in_order()
            table.move_cursor(row=next(i for i, r in enumerate(rows)
                                       if r.key.partition("/")[0] == host
                                       and r.model.name == name))
            await pilot.pause()

        await settle(pilot, lambda: listed() == [("local", "busy-here"), ("local", "here"),
                                                 ("other", "there")], rounds=1000)
        text = screen_text(app)
        assert "HOST" in text and "CPU%" in text and "other (berth)" in text
        # marks on two hosts: x stops the cursor's host's marked row only
        await cursor_to("local", "busy-here")
        await pilot.press("space")
        await cursor_to("other", "there")
        await pilot.press("space")
        await pilot.press("x")
        await settle(pilot, lambda: other.container("there").state.status == "exited"
                     and state("other", "there") == "exited", rounds=1500)
        assert engine.container("busy-here").state.status == "running"
        await pilot.press("s")
        await settle(pilot, lambda: other.container("there").state.status == "running",
                     rounds=1500)
        await pilot.press("l")
        assert isinstance(app.screen, LogsScreen) and app.screen.engine is app.engines["other"]
        await pilot.press("escape")
        await pilot.press("i")
        assert isinstance(app.screen, InspectScreen)
        await settle(pilot, lambda: other.container("there").id in screen_text(app),
                     rounds=1000)
        await pilot.press("escape")
        # a host that hangs: the others are drawn, it is named as slow
        holder[0].send_signal(signal.SIGSTOP)
        try:
            engine.create(config, name="here-too")
            await settle(pilot, lambda: ("local", "here-too") in listed()
                         and "slow" in screen_text(app), rounds=1500)
            assert ("local", "here-too") in listed(), screen_text(app)
        finally:
            holder[0].send_signal(signal.SIGCONT)


async def test_a_host_that_is_down_is_tried_with_backoff(tmp_path):
    """While a host is gone, its event stream is tried again at growing intervals (0.5 s
    doubling), not in a loop that would cost the dashboard a core: counted at a socket that
    takes each connection and hangs up, as a host dying under its sockets does."""
    import asyncio
    import socket
    import threading
    import time
    import engine
    path = str(tmp_path / "gone.sock")
    listener = socket.socket(socket.AF_UNIX)
    listener.bind(path)
    listener.listen(16)
    tries: list[float] = []

    def hang_up() -> None:
        while True:
            try:
                conn, _ = listener.accept()
            except OSError:
                return
            tries.append(time.monotonic())
            conn.recv(65536)
            conn.close()

    threading.Thread(target=hang_up, daemon=True).start()
    e = engine.connect(f"unix://{path}", name="gone")
    e._info = engine.models.EngineInfo("docker", "28", "gone", path)   # no /version to ask
    stream = e.follow_events().__aiter__()
    task = asyncio.ensure_future(stream.__anext__())
    try:
        await asyncio.sleep(4.0)
        assert not task.done()   # no "reconnect" while it is still gone
        gaps = [b - a for a, b in zip(tries, tries[1:])]
        assert 3 <= len(tries) <= 5, tries
        assert all(later >= 1.6 * earlier for earlier, later in zip(gaps, gaps[1:])), gaps
        assert not e.connected and path in e.connection_error, e.connection_error
    finally:
        task.cancel()
        listener.close()
        e.close()
