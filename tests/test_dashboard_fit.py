"""Every dialog at 80×24 and at 200×60: each field reached with Tab from the first, typed into,
and what was typed on screen (the focused field scrolled into view); the hint of the keys on
screen; keys sent in one burst, as a paste arrives, land in order, Tabs included."""

from __future__ import annotations

import pytest

from dashboard_support import make_app, running, screen_text

SIZES = [(80, 24), (200, 60)]


def _dialogs(engine, busybox):
    """(name, a new dialog, the text of its keys hint) for every dialog with fields."""
    from tui.screens.build_dialog import BuildDialog
    from tui.screens.pull_dialog import PullDialog
    from tui.screens.resource_dialogs import NetworkDialog, SaveDialog, TagDialog, VolumeDialog
    from tui.screens.run_dialog import RunDialog
    from tui.screens.save_logs import SaveLogsDialog
    from tui.screens.update_limits import UpdateLimitsScreen
    c = engine.container("fitme")
    return [
        ("run", lambda: RunDialog(engine, str(busybox)), "ctrl+s/enter run"),
        ("limits", lambda: UpdateLimitsScreen(c), "ctrl+s/enter save"),
        ("pull", lambda: PullDialog(engine), "enter pull"),
        ("tag", lambda: TagDialog(engine, str(busybox), "busybox"), "enter/ctrl+s ok"),
        ("save", lambda: SaveDialog(engine, [str(busybox)], "busybox", "./b.tar"),
         "enter/ctrl+s ok"),
        ("volume", lambda: VolumeDialog(engine, "New volume"), "enter/ctrl+s ok"),
        ("network", lambda: NetworkDialog(engine, "New network"), "enter/ctrl+s ok"),
        ("save logs", lambda: SaveLogsDialog(engine, [], "~/berth-logs-x.log", False),
         "enter/ctrl+s ok"),
        ("build", lambda: BuildDialog(engine, "/tmp"), "ctrl+s/enter build"),
    ]


def _DialogHost():
    """The dashboard's stylesheet and theme without the dashboard: a dialog's layout doesn't
    depend on the screen under it, and restyling the dashboard at every focus change would
    cost this test most of its time."""
    from textual.app import App

    from themes import DEFAULT, register_all

    class DialogHost(App):
        CSS_PATH = str(__import__("pathlib").Path(__import__("tui").__file__).parent
                       / "berth.tcss")

        def on_mount(self) -> None:
            register_all(self)
            self.theme = DEFAULT
    return DialogHost()


def _visible(app, widget) -> bool:
    """Whether the whole of ``widget`` is on the screen, inside every container around it."""
    region = widget.region
    if not region.area or region not in app.screen.region:
        return False
    for ancestor in widget.ancestors:
        if hasattr(ancestor, "scrollable_content_region") and ancestor is not app.screen:
            if region not in ancestor.scrollable_content_region:
                return False
    return True


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
async def test_every_field_of_every_dialog_is_reached_typed_and_seen(engine, busybox, size):
    from textual.widgets import Input
    engine.create(_config(busybox), "fitme")
    app = _DialogHost()
    async with app.run_test(size=size) as pilot:
        for name, make, hint in _dialogs(engine, busybox):
            dialog = make()
            await app.push_screen(dialog)
            await pilot.pause()
            assert hint in screen_text(app), f"{name}: the keys hint is off screen"
            inputs = list(dialog.query(Input).results())
            inputs[0].focus()
            await pilot.pause()
            for i, field in enumerate(inputs):
                if i:
                    # tab until the next field (a checkbox or select may sit between)
                    for _ in range(4):
                        await _keys(pilot, "tab")
                        if app.focused is field:
                            break
                assert app.focused is field, f"{name}: tab never reached {field.id}"
                typed = f"q{i}z"
                field.value = ""   # a prefilled value goes
                await _keys(pilot, *typed)
                for _ in range(50):
                    if field.value == typed:
                        break
                    await pilot.pause(0.02)
                assert field.value == typed
                assert _visible(app, field), f"{name}: {field.id} is out of view at {size}"
                if _scrolls_to(dialog):   # only the focused field need be on screen
                    assert typed in screen_text(app), f"{name}: typed {typed!r} not on screen"
            text = screen_text(app)
            if not _scrolls_to(dialog):
                for i in range(len(inputs)):
                    assert f"q{i}z" in text, f"{name}: typed q{i}z not on screen"
            assert hint in text or _scrolls_to(dialog), f"{name}: hint unreachable"
            dialog.dismiss(None)
            await pilot.pause()


async def _keys(pilot, *keys: str) -> None:
    """Keys as a terminal delivers them (all queued, then handled), and one pause: far
    quicker than pilot.press, which waits for the screen to settle after each key."""
    from textual import events
    for key in keys:
        pilot.app.post_message(events.Key(key, key if len(key) == 1 else None))
    await pilot.pause()


def _scrolls_to(dialog) -> bool:
    """The dialog's frame scrolls (so the hint at its bottom is reachable)."""
    return any(getattr(w, "max_scroll_y", 0) > 0 for w in dialog.query("*").results())


def _config(busybox):
    from engine.models import ContainerConfig
    return ContainerConfig(image=str(busybox), cmd=["true"])


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
async def test_a_paste_into_the_run_dialog_keeps_its_tabs_in_order(engine, busybox, size):
    """A burst of keys, as a terminal delivers a paste: every key is queued before the first
    is handled. Without Tab at priority the fields' text came before the Tabs: all of it
    landed in the first field."""
    from textual import events
    from tui.screens.run_dialog import RunDialog
    app = make_app(engine, live=False)
    async with running(app, size=size) as pilot:
        dialog = RunDialog(engine, str(busybox))
        await app.push_screen(dialog)
        await pilot.pause()
        burst = "web\tsleep 9\tA=1\t8080:80\t\t\t48m\t0.5"
        for ch in burst:
            key = {"\t": "tab", " ": "space"}.get(ch, ch)
            app.post_message(events.Key(key, ch))
        await pilot.pause()
        values = dialog.values()
        assert (values["name"], values["command"], values["env"], values["ports"],
                values["memory"], values["cpus"]) == ("web", "sleep 9", "A=1", "8080:80",
                                                      "48m", "0.5"), values
        assert "48m" in screen_text(app)


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
async def test_the_dialogs_without_fields_fit(size):
    """The questions (remove, kill, prune with its checkbox) show whole, keys included."""
    from tui.screens.confirm import ConfirmScreen
    from tui.screens.resource_actions import PruneScreen
    app = _DialogHost()
    async with app.run_test(size=size) as pilot:
        for dialog, keys in ((ConfirmScreen("Remove containers " + ", ".join(
                                  f"name{i}" for i in range(20)) + "?", "This can't be undone."),
                              "y yes"),
                             (PruneScreen("Prune images?", "dangling images", "every image"),
                              "a all")):
            await app.push_screen(dialog)
            await pilot.pause()
            text = screen_text(app)
            assert keys in text and "esc cancel" in text, text
            dialog.dismiss(None)
            await pilot.pause()


async def test_a_bracketed_paste_with_tabs_fills_one_field_each(engine, busybox):
    """A terminal's bracketed paste arrives whole (one Paste event): its Tabs move between
    fields as typed ones would, instead of landing in the first field."""
    from textual import events
    from tui.screens.run_dialog import RunDialog
    app = make_app(engine, live=False)
    async with running(app, size=(80, 24)) as pilot:
        dialog = RunDialog(engine, str(busybox))
        await app.push_screen(dialog)
        await pilot.pause()
        app.post_message(events.Paste("web\tsleep 9\tA=1"))
        await pilot.pause()
        values = dialog.values()
        assert (values["name"], values["command"], values["env"]) == ("web", "sleep 9", "A=1")
        assert app.focused is dialog.query_one("#run-env")
