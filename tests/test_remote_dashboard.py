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
    """F: this machine's containers and a connection's in one table with a HOST column; a
    stop reaches the right host; a host that hangs is shown as slow, the others still drawn."""
    from tui.screens.fleet import FleetScreen
    other, config, sock, holder = two_hosts
    app = _app(engine)
    async with running(app) as pilot:
        await pilot.press("F")
        fleet = app.screen
        assert isinstance(fleet, FleetScreen)

        def listed():
            return sorted((h, c.name) for h, c in fleet.rows.values())
        await settle(pilot, lambda: listed() == [("local", "here"), ("other", "there")],
                     rounds=1000)
        assert "HOST" in screen_text(app) and "other (berth)" in screen_text(app)
        table = fleet.query_one("DataTable")
        keys = list(fleet.rows)
        table.move_cursor(row=keys.index(next(k for k in keys if k.startswith("other/"))))
        await pilot.press("x")
        await settle(pilot, lambda: other.container("there").state.status == "exited",
                     rounds=1500)
        # a host that hangs: the others are drawn, it is named as slow
        holder[0].send_signal(signal.SIGSTOP)
        try:
            engine.create(config, name="here-too")
            await settle(pilot, lambda: ("local", "here-too") in listed()
                         and "slow" in screen_text(app), rounds=1500)
            assert ("local", "here-too") in listed(), screen_text(app)
        finally:
            holder[0].send_signal(signal.SIGCONT)
