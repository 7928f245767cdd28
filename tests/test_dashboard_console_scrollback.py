"""The console's scrollback (shift+PgUp/PgDn, the wheel) and resizes that keep what was on
screen, at 80×24 and 200×60, with a real shell in a real container; and the console keys:
`c` goes back to a container's console, the consoles list, tab titles true to the tab."""

from __future__ import annotations

import pytest

from dashboard_support import make_app, running, screen_text, settle

SIZES = [(80, 24), (200, 60)]


async def _until(pilot, cond) -> bool:
    await settle(pilot, cond, rounds=1000)
    return cond()


def _lines(app) -> list[str]:
    return [line.strip() for line in screen_text(app).splitlines()]


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
async def test_scrollback_and_resize_keep_the_output(engine, cli, busybox, size):
    from textual import events
    from tui.screens.console import open_console
    cli("run", "-d", "--network", "none", "--name", "scroll", busybox, "sleep", "3600")
    app = make_app(engine, live=False)
    async with running(app, size=size) as pilot:
        term = await open_console(app, engine, engine.container("scroll").id, "scroll")
        assert await _until(pilot, lambda: "#" in term.text()), term.text()
        # how to scroll back is on screen, 80 columns too (it was past where they cut)
        assert "shift+PgUp/PgDn scroll" in screen_text(app), screen_text(app)
        await pilot.press(*"seq 1 300", "enter")
        assert await _until(pilot, lambda: "\n300\n" in term.text()), term.text()
        rows = term.size.height
        assert "1" not in _lines(app)   # scrolled off the top
        # shift+PgUp pages back to the very first line, shift+PgDn returns
        for _ in range(300 // (rows - 1) + 2):
            await pilot.press("shift+pageup")
        lines = _lines(app)
        assert "seq 1 300" in " ".join(lines) and "1" in lines and "2" in lines, lines
        await pilot.press("shift+pagedown")
        assert "1" not in _lines(app)
        for _ in range(300 // (rows - 1) + 2):
            await pilot.press("shift+pagedown")
        assert term.back == 0 and "300" in _lines(app)
        # the wheel scrolls three lines a notch; typing comes back to the live screen
        top_before = int(next(x for x in _lines(app) if x.isdigit()))
        for _ in range(4):
            term.post_message(events.MouseScrollUp(term, 1, 1, 0, 0, 0, False, False, False))
        await pilot.pause()
        assert term.back == 12
        assert str(top_before - 12) in [line.split()[0] for line in _lines(app) if line]
        await pilot.press("space", "backspace")
        assert term.back == 0

        # a smaller pane keeps the last lines and the prompt; the larger one brings back
        # the lines that went off the top
        before = term.text()
        await pilot.resize_terminal(size[0], size[1] - 10)
        await pilot.pause()
        assert await _until(pilot, lambda: "300" in term.text() and "#" in term.text())
        await pilot.resize_terminal(*size)
        await pilot.pause()
        for line in before.splitlines()[:-1]:
            if line.strip().isdigit():
                assert line.strip() in term.text().split(), (line, term.text())
        assert len(term.screen_buffer.history) >= 300 - rows


async def test_c_goes_back_to_the_console_and_C_lists_them_all(engine, cli, busybox):
    from tui.screens.console import ConsoleScreen, open_attach
    from tui.screens.console_list import ConsoleList
    cli("run", "-d", "--network", "none", "--name", "again", busybox, "sleep", "3600")
    app = make_app(engine, live=False)
    async with running(app, size=(80, 24)) as pilot:
        await pilot.press("c")
        console = app.screen
        assert isinstance(console, ConsoleScreen)
        first = console.current()
        assert await _until(pilot, lambda: "#" in first.text()), first.text()
        title = str(console.query_one("#console-title").render())
        assert "detach" not in title   # an exec tab: ctrl-p ctrl-q is the shell's
        await pilot.press("f12")
        assert app.screen is app.dashboard
        await pilot.press("c")                       # back to the same console, no new tab
        assert app.screen is console and console.terminals() == [first]
        assert console.current() is first
        await pilot.press("f2")                      # asked for another: a second tab
        assert await _until(pilot, lambda: len(console.terminals()) == 2)
        second = console.current()
        assert second is not first and second.container_id == first.container_id
        attached = await open_attach(app, engine, first.container_id, "again")
        assert console.current() is attached
        assert "ctrl-p ctrl-q: detach" in str(console.query_one("#console-title").render())
        await pilot.pause()   # the new tab is shown
        await pilot.press("f7")
        assert console.current() is second
        assert "detach" not in str(console.query_one("#console-title").render())

        await pilot.press("f12")
        await pilot.press("C")                       # from the dashboard: the list
        assert isinstance(app.screen, ConsoleList)
        text = screen_text(app)
        assert text.count("again") >= 3 and "attached to the main process" in text
        await pilot.press("down", "enter")           # the second one
        assert await _until(pilot, lambda: app.screen is console)
        assert console.current() is second
