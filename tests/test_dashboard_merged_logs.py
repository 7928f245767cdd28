"""The logs of several containers in one console: interleaved by time, each line under its
container's name padded to one column, and saved where the user says (~/berth-logs-… offered)."""

from __future__ import annotations

import pytest

from dashboard_support import make_app, running, screen_text, settle

SIZES = [(80, 24), (200, 60)]


@pytest.fixture
def two_talkers(engine, busybox):
    """Two exited containers whose lines alternate in time: a1 b1 a2 b2 a3 (started together,
    so that b's lines fall between a's)."""
    from engine.models import ContainerConfig
    from tui.commands.parallel import each
    script = {"aa": "echo a1; sleep 0.8; echo a2; sleep 0.8; echo a3",
              "longername": "sleep 0.4; echo b1; sleep 0.8; echo b2"}
    for name, sh in script.items():
        engine.create(ContainerConfig(image=str(busybox), cmd=["sh", "-c", sh],
                                      network_mode="none"), name)
    assert [e for _, e in each(list(script), engine.start)] == [None, None]
    for name in script:
        engine.wait(name, "not-running")
    lines = sorted((line.time, line.text.strip()) for name in script
                   for line in engine.logs(name))
    assert [t for _, t in lines] == ["a1", "b1", "a2", "b2", "a3"]
    return [(engine.container(n).id, n) for n in script]


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
async def test_merged_logs_are_in_time_order_under_padded_names(engine, two_talkers, size,
                                                               tmp_path, monkeypatch):
    from tui.screens.logs import LogsScreen
    from tui.screens.save_logs import SaveLogsDialog
    from tui.widgets.log_view import LogView
    monkeypatch.setenv("HOME", str(tmp_path))
    app = make_app(engine, live=False)
    async with running(app, size=size) as pilot:
        screen = LogsScreen(engine, two_talkers)
        await app.push_screen(screen)
        await settle(pilot, lambda: screen.received >= 5 and len(screen.ended) == 2)
        view = screen.query_one(LogView)
        assert [e.text.strip() for e in view.entries] == ["a1", "b1", "a2", "b2", "a3"]
        text = screen_text(app)
        # the name column is as wide as the longest name
        assert f"{'aa':<10} │ a1" in text and "longername │ b1" in text, text

        await pilot.press("ctrl+s")
        dialog = app.screen
        assert isinstance(dialog, SaveLogsDialog)
        offered = dialog.values()["path"]
        assert offered.startswith("~/berth-logs-aa-longername-") and offered.endswith(".log")
        await pilot.press("enter")
        await settle(pilot, lambda: app.screen is screen)
        saved = list(tmp_path.glob("berth-logs-aa-longername-*.log"))
        assert len(saved) == 1
        words = [line.split()[1:] for line in saved[0].read_text().splitlines()]
        assert words == [["aa", "stdout", "a1"], ["longername", "stdout", "b1"],
                         ["aa", "stdout", "a2"], ["longername", "stdout", "b2"],
                         ["aa", "stdout", "a3"]]
