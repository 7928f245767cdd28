"""Snapshot tests of the dashboard's layout (pytest-textual-snapshot), at 160x48.

Everything that moves is frozen: the root is a fixed path, the clock is before the objects were
made (every age reads 0s), and stats and host totals are off. Update a snapshot only after
looking at it (pytest --snapshot-update, then open the report)."""

from __future__ import annotations

import os
import shutil

import pytest

from dashboard_support import make_app, settle

SIZE = (160, 48)

# one fixed root path (snapshots show it), so these run one after another on one worker
pytestmark = pytest.mark.xdist_group("dashboard-snapshots")


@pytest.fixture
def snap_engine():
    from engine import Engine
    from helpers import cleanup_root
    root = "/var/tmp/berth-snapshot-root"
    shutil.rmtree(root, ignore_errors=True)
    os.makedirs(root)
    try:
        engine = Engine(root)
        for name in ("cache", "data", "pgdata"):
            engine.create_volume(name, labels={"app": "demo"})
        yield engine
    finally:
        cleanup_root(root)
        shutil.rmtree(root, ignore_errors=True)


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
