"""The dashboard's build dialog (``b`` in the images pane) driven by keys against a real engine:
a build streamed into the log with its running step highlighted and the new image selected
after; escape cancelling a running build, which leaves nothing behind."""

from __future__ import annotations

from dashboard_support import dashboard, make_app, running, settle


async def _until(pilot, cond) -> bool:
    await settle(pilot, cond, rounds=1500)   # 30 s at most
    return cond()


def _log_text(dialog) -> str:
    from tui.screens.build_dialog import BuildLog
    return "\n".join(e.text for e in dialog.query_one(BuildLog).entries)


async def _open_and_fill(pilot, app, values: dict[str, str]):
    from textual.widgets import Input

    from tui.screens.build_dialog import BuildDialog
    await pilot.press("2")                  # the images pane
    await pilot.press("b")
    assert await _until(pilot, lambda: isinstance(app.screen, BuildDialog))
    dialog = app.screen
    for key, text in values.items():
        field = dialog.query_one(f"#build-{key}", Input)
        field.value = text
    return dialog


async def test_build_streams_highlights_the_step_and_selects_the_image(engine, cli, busybox,
                                                                      tmp_path):
    from tui.screens.build_dialog import BuildLog
    engine.tag(str(busybox), "busybox")
    (tmp_path / "Dockerfile").write_text("FROM busybox\nRUN echo hello-from-build; sleep 1\n"
                                         "LABEL built=by-dialog\n")
    app = make_app(engine, live=False)
    async with running(app) as pilot:
        dialog = await _open_and_fill(pilot, app, {"context": str(tmp_path),
                                                   "tags": "dialog:1"})
        await pilot.press("ctrl+s")
        log = dialog.query_one(BuildLog)
        # while the RUN runs, its step line is the highlighted one and shows above the log
        assert await _until(pilot, lambda: "hello-from-build" in _log_text(dialog))
        assert dialog.state == "building"
        assert log.current is not None and log.current.text.startswith("Step 2/3 : RUN echo")
        assert "reverse" in str(log._line_text(log.current).spans)
        assert "Step 2/3 : RUN" in str(dialog.query_one("#build-step").render())
        assert await _until(pilot, lambda: dialog.state == "done"), _log_text(dialog)
        assert "Step 3/3 : LABEL built=by-dialog" in _log_text(dialog)
        assert "Successfully tagged dialog:1" in _log_text(dialog)
        assert log.current is None
        image = engine.image("dialog:1")
        assert image.id == dialog.image_id
        assert image.config["Labels"] == {"built": "by-dialog"}
        await pilot.press("escape")
        assert await _until(pilot, lambda: app.screen is dashboard(app))
        table = dashboard(app).table("images")
        assert await _until(pilot, lambda: (table.selected() is not None and
                                            table.selected().key.startswith(image.id + "|")))


async def test_escape_cancels_a_running_build_and_nothing_is_left(engine, cli, busybox,
                                                                  tmp_path):
    engine.tag(str(busybox), "busybox")
    (tmp_path / "Dockerfile").write_text("FROM busybox\nRUN echo run-started; sleep 60\n")
    app = make_app(engine, live=False)
    async with running(app) as pilot:
        dialog = await _open_and_fill(pilot, app, {"context": str(tmp_path),
                                                   "tags": "never:1"})
        await pilot.press("enter")
        assert await _until(pilot, lambda: "run-started" in _log_text(dialog))
        await pilot.press("escape")
        assert dialog.state in ("cancelling", "cancelled")   # the engine may be quick to stop
        assert await _until(pilot, lambda: dialog.state == "cancelled"), _log_text(dialog)
        assert cli("ps", "-aq").stdout == ""
        assert cli("images", "-q", "never").stdout == ""
        await pilot.press("escape")
        assert await _until(pilot, lambda: app.screen is dashboard(app))


async def test_bad_form_shows_the_message_and_builds_nothing(engine, tmp_path):
    app = make_app(engine, live=False)
    async with running(app) as pilot:
        dialog = await _open_and_fill(pilot, app, {"context": str(tmp_path / "missing")})
        await pilot.press("ctrl+s")
        assert dialog.state == "idle"
        assert "not found" in str(dialog.query_one("#build-error").render())
        # b does nothing outside the images pane
        await pilot.press("escape", "1", "b")
        await pilot.pause()
        assert app.screen is dashboard(app)


async def test_quitting_the_app_stops_a_running_build(engine, cli, busybox, tmp_path):
    import time
    engine.tag(str(busybox), "busybox")
    (tmp_path / "Dockerfile").write_text("FROM busybox\nRUN echo run-started; sleep 60\n")
    app = make_app(engine, live=False)
    async with running(app) as pilot:
        dialog = await _open_and_fill(pilot, app, {"context": str(tmp_path), "tags": "gone:1"})
        await pilot.press("enter")
        assert await _until(pilot, lambda: "run-started" in _log_text(dialog))
    # the app has exited with the build's step running: the build stops and leaves nothing
    deadline = time.monotonic() + 30
    while cli("ps", "-aq").stdout and time.monotonic() < deadline:
        time.sleep(0.2)
    assert cli("ps", "-aq").stdout == ""
    assert cli("images", "-q", "gone").stdout == ""


def test_form_fields_as_build_options(tmp_path, monkeypatch):
    import pytest

    from engine.errors import InvalidArgument
    from tui.screens.build_dialog import parse_form
    monkeypatch.setenv("FROM_ENV", "env-value")
    monkeypatch.delenv("UNSET_ONE", raising=False)
    context, options = parse_form({"context": str(tmp_path), "tags": "a:1, b:2",
                                   "args": 'X=1 Y="two words" FROM_ENV UNSET_ONE',
                                   "target": " build ", "no_cache": "true"})
    assert context == str(tmp_path) and options.tags == ["a:1", "b:2"]
    assert options.build_args == {"X": "1", "Y": "two words", "FROM_ENV": "env-value"}
    assert (options.target, options.no_cache, options.dockerfile) == ("build", True,
                                                                      "Dockerfile")
    with pytest.raises(InvalidArgument):
        parse_form({"context": str(tmp_path), "args": "=1"})
    with pytest.raises(InvalidArgument):
        parse_form({"context": str(tmp_path), "args": "X='unbalanced"})
