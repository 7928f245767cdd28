"""The exec console: a terminal in the dashboard running `berth exec -it` in a real container."""

from __future__ import annotations

from dashboard_support import make_app, running


def _run_sleeper(cli, image, name):
    cli("run", "-d", "--network", "none", "--name", name, image, "sleep", "3600")
    return cli("inspect", "-f", "{{.Id}}", name).stdout.strip()


async def _until(pilot, cond, rounds=400):
    for _ in range(rounds):
        if cond():
            return True
        await pilot.pause(0.05)
    return cond()


async def test_typing_in_the_console_runs_in_the_container(engine, cli, busybox):
    from tui.screens.console import ConsoleScreen, open_console
    cid = _run_sleeper(cli, busybox, "con1")
    app = make_app(engine, live=False)
    async with running(app) as pilot:
        term = await open_console(app, engine, cid, "con1")
        assert isinstance(app.screen, ConsoleScreen)
        assert await _until(pilot, lambda: "#" in term.text()), term.text()
        await pilot.press(*"echo hello-$((6*7))", "enter")
        assert await _until(pilot, lambda: "hello-42" in term.text()), term.text()
        await pilot.press("f6")
        assert "hello-42" in app.clipboard
        # the shell sees the pane's size, and keys like q reach the shell, not the app
        await pilot.press(*"stty size; hostname", "enter")
        rows, cols = term.size.height, term.size.width
        assert await _until(pilot, lambda: f"{rows} {cols}" in term.text()), term.text()
        # keys the dashboard binds (q quits, ? helps, : commands) belong to the program here
        await pilot.press(*"echo 'q?:'-$((2+3))", "enter")
        assert await _until(pilot, lambda: "q?:-5" in term.text()), term.text()
        assert app.is_running and isinstance(app.screen, ConsoleScreen)
        # ctrl+c interrupts the program in the console
        await pilot.press(*"sleep 1000; echo slept-$((1+1))", "enter", "ctrl+c")
        await pilot.press(*"echo after-$((3+4))", "enter")
        assert await _until(pilot, lambda: "after-7" in term.text()), term.text()
        assert "slept-2" not in term.text()
        await pilot.press("ctrl+d")
        assert await _until(pilot, lambda: term.exit_code is not None), term.text()
        assert term.exit_code == 0


async def test_consoles_open_as_tabs_and_survive_leaving(engine, cli, busybox):
    from tui.screens.console import open_console
    a = _run_sleeper(cli, busybox, "tab-a")
    b = _run_sleeper(cli, busybox, "tab-b")
    app = make_app(engine, live=False)
    async with running(app) as pilot:
        t1 = await open_console(app, engine, a, "tab-a")
        assert await _until(pilot, lambda: "#" in t1.text()), t1.text()
        await pilot.press(*"echo one-$((1+1))", "enter")
        await pilot.press("f12")
        assert app.screen is app.dashboard
        t2 = await open_console(app, engine, b, "tab-b")
        console = app.screen
        assert len(console.terminals()) == 2
        assert console.current() is t2
        assert await _until(pilot, lambda: "#" in t2.text()), t2.text()
        await pilot.press(*"printf 'col\\033[31mred\\033[0m'", "enter")
        assert await _until(pilot, lambda: "colred" in t2.text()), t2.text()
        line = next(y for y, text in enumerate(t2.screen_buffer.display) if "colred" in text)
        x = t2.screen_buffer.display[line].index("colred") + 3
        assert t2.screen_buffer.buffer[line][x].fg == "red"
        await pilot.press("f7")
        assert console.current() is t1
        assert await _until(pilot, lambda: "one-2" in t1.text()), t1.text()
        await pilot.press("f9")
        assert await _until(pilot, lambda: len(console.terminals()) == 1)
        assert console.current() is t2


async def test_a_console_laid_out_after_mounting_starts_with_the_pane_size(root, cli, busybox):
    from textual.app import App
    from textual.containers import Vertical
    from tui.widgets.terminal import TerminalWidget, exec_argv
    cid = _run_sleeper(cli, busybox, "late")
    term = TerminalWidget(exec_argv(cid), env={"BERTH_ROOT": root})

    class Late(App):
        CSS = "#box { height: 1fr; } TerminalWidget { height: 1fr; }"

        def compose(self):
            box = Vertical(term, id="box")
            box.display = False          # mounted with no size: nothing runs yet
            yield box

    app = Late()
    async with app.run_test(size=(120, 30)) as pilot:
        await pilot.pause()
        assert term.proc is None
        app.query_one("#box").display = True
        assert await _until(pilot, lambda: "#" in term.text()), term.text()
        term.focus()
        await pilot.press(*"stty size", "enter")
        assert await _until(pilot, lambda: "30 120" in term.text()), term.text()
