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


def _rendered(app, term) -> list[str]:
    """The terminal's rows as the app drew them (not pyte's grid: this catches rows that
    were changed but never drawn again)."""
    r = term.region
    strips = app.screen._compositor.render_strips()
    return [strips[y].text[r.x:r.x + r.width].rstrip() for y in range(r.y, r.y + r.height)]


async def _drawn(pilot, app, term):
    """Wait until what the app drew is what pyte holds (the last redraw has happened)."""
    want = lambda: _rendered(app, term)[:-1] == [l.rstrip() for l in term.screen_buffer.display][:-1]
    return await _until(pilot, want, rounds=40)


async def test_vi_and_top_run_full_screen_in_the_console(engine, cli, busybox):
    from tui.screens.console import open_console
    cid = _run_sleeper(cli, busybox, "fullscreen")
    app = make_app(engine, live=False)
    async with running(app) as pilot:
        term = await open_console(app, engine, cid, "fullscreen")
        assert await _until(pilot, lambda: "#" in term.text()), term.text()
        await pilot.press(*"echo before-$((1+1))", "enter")
        assert await _until(pilot, lambda: "before-2" in term.text()), term.text()
        rows = term.size.height
        # vi draws on the alternate screen: a column of ~ and its status line at the bottom
        await pilot.press(*"vi /tmp/v.txt", "enter")
        assert await _until(pilot, lambda: term.screen_buffer.alternate
                            and term.text().count("~") >= rows - 3), term.text()
        assert "before-2" not in term.text()
        await pilot.press("i", *"hello", "escape")
        # vi takes bytes that follow ESC within 50 ms for an escape sequence of a key it
        # doesn't know, and drops them; a terminal's escape key is followed by silence (textual
        # reports escape only after 100 ms without another byte)
        await pilot.pause(0.15)
        await pilot.press(*":wq", "enter")
        # leaving vi brings the shell's screen back as it was
        assert await _until(pilot, lambda: not term.screen_buffer.alternate), term.text()
        assert "before-2" in term.text()
        await pilot.press(*"cat /tmp/v.txt; echo end-$((3*3))", "enter")
        assert await _until(pilot, lambda: "end-9" in term.text()), term.text()
        lines = term.text().splitlines()
        assert lines[lines.index("end-9") - 1] == "hello", term.text()
        # cursor keys in vi's command mode: two to the right, then insert there
        await pilot.press(*"vi /tmp/v.txt", "enter")
        assert await _until(pilot, lambda: term.screen_buffer.alternate
                            and term.text().startswith("hello")), term.text()
        await pilot.press("right", "right", "i", "X", "escape")
        assert await _until(pilot, lambda: term.text().startswith("heXllo")), term.text()
        await pilot.pause(0.15)
        assert await _drawn(pilot, app, term), (_rendered(app, term), term.text())
        await pilot.press(*":wq", "enter")
        assert await _until(pilot, lambda: not term.screen_buffer.alternate), term.text()
        await pilot.press(*'echo "<$(cat /tmp/v.txt)>"', "enter")
        assert await _until(pilot, lambda: "<heXllo>" in term.text()), term.text()

        # top: a screen that redraws itself every few seconds, then q gives the shell back
        await pilot.press("ctrl+l", *"top", "enter")
        assert await _until(pilot, lambda: "PID" in term.text() and "Mem:" in term.text()
                            and "top" in term.text().split("PID", 1)[1]), term.text()
        assert await _drawn(pilot, app, term), (_rendered(app, term), term.text())
        await pilot.press("q")
        await pilot.press(*"echo after-top-$((5+5))", "enter")
        assert await _until(pilot, lambda: "after-top-10" in term.text()), term.text()
        assert await _drawn(pilot, app, term), (_rendered(app, term), term.text())


async def test_the_mouse_selects_and_copies(engine, cli, busybox):
    from tui.screens.console import open_console
    cid = _run_sleeper(cli, busybox, "mouse")
    app = make_app(engine, live=False)
    async with running(app) as pilot:
        term = await open_console(app, engine, cid, "mouse")
        assert await _until(pilot, lambda: "#" in term.text()), term.text()
        await pilot.press("ctrl+l", *"printf 'alpha beta\\ngamma delta   \\nepsilon\\n'", "enter")
        assert await _until(pilot, lambda: "epsilon" in term.text()), term.text()
        lines = term.text().splitlines()
        y = lines.index("alpha beta")
        # press on "beta", drag to the "s" of "epsilon", release: three rows, trailing
        # blanks dropped
        await pilot.mouse_down(term, offset=(6, y))
        await pilot.hover(term, offset=(2, y + 2))
        await pilot.mouse_up(term, offset=(2, y + 2))
        assert term.last_copied == "beta\ngamma delta\neps", repr(term.last_copied)
        assert app.clipboard == "beta\ngamma delta\neps"
        # the selection is drawn (the selection style, or reverse), and stays until a key
        assert term.selection is not None
        def style_of(text):
            return next(seg.style for seg in term.render_line(y + 1) if text in seg.text)
        selected = style_of("gamma")
        # F6 copies the selection; with nothing selected, the whole screen
        app.copy_to_clipboard("")
        await pilot.press("f6")
        assert app.clipboard == "beta\ngamma delta\neps"
        await pilot.press("space", "backspace")
        assert term.selection is None
        assert style_of("gamma") != selected
        await pilot.press("f6")
        assert "alpha beta\ngamma delta\nepsilon" in app.clipboard
        # a double click takes a word, a triple click the row
        await pilot.click(term, offset=(8, y + 1), times=2)
        assert term.last_copied == "delta"
        await pilot.click(term, offset=(1, y + 1), times=3)
        assert term.last_copied == "gamma delta"
        # a click alone selects nothing and copies nothing
        term.last_copied = ""
        await pilot.click(term, offset=(2, y))
        assert term.selection is None and term.last_copied == ""

        # once the program asks for mouse reports (SGR), the mouse is the program's...
        await pilot.press(*"printf '\\033[?1000h\\033[?1006h'; read -r got; printf '\\033[?1000l'; "
                          "echo \"$got\" | od -c | head -1", "enter")
        await pilot.pause(0.3)
        term.last_copied = ""
        await pilot.mouse_down(term, offset=(4, 2))
        await pilot.hover(term, offset=(6, 2))
        await pilot.mouse_up(term, offset=(6, 2))
        assert term.selection is None and term.last_copied == ""
        await pilot.press("enter")
        # od shows the report the program got: ESC [ < 0 ; 5 ; 3 M (cells count from 1)
        assert await _until(pilot, lambda: "033   [   <   0   ;   5   ;   3   M" in term.text()), \
            term.text()
        # ...but with shift held it is still a selection
        await pilot.press(*"printf '\\033[?1000h'", "enter")
        await pilot.pause(0.3)
        lines = term.text().splitlines()
        y = next(i for i, l in enumerate(lines) if l.startswith("0000000"))
        await pilot.mouse_down(term, offset=(0, y), shift=True)
        await pilot.hover(term, offset=(6, y))
        await pilot.mouse_up(term, offset=(6, y), shift=True)
        assert term.last_copied == "0000000", repr(term.last_copied)
        await pilot.press(*"printf '\\033[?1000l'", "enter")


async def test_a_console_attached_to_the_main_process(engine, cli, busybox):
    from tui.screens.console import ConsoleScreen, open_attach
    cli("run", "-d", "-i", "-t", "--network", "none", "--name", "main1", busybox, "sh")
    cid = cli("inspect", "-f", "{{.Id}}", "main1").stdout.strip()
    app = make_app(engine, live=False)
    async with running(app) as pilot:
        term = await open_attach(app, engine, cid, "main1")
        console = app.screen
        assert isinstance(console, ConsoleScreen)
        assert term.verb == "attach" and console.tab_label(term).startswith("attach main1")
        await pilot.press(*"echo pid-$$", "enter")
        # pid 1 in its namespace: the container's main process, not an exec'd shell
        assert await _until(pilot, lambda: "pid-1" in term.text().splitlines()), term.text()
        # the shell sees the pane's size (RESIZE frames)
        await pilot.press(*"stty size", "enter")
        size = f"{term.size.height} {term.size.width}"
        assert await _until(pilot, lambda: size in term.text().splitlines()), term.text()
        # ctrl-p alone is the shell's (held until the next key says it is not a detach)
        await pilot.press("ctrl+p", "ctrl+u", *"echo still-$((1+1))", "enter")
        assert await _until(pilot, lambda: "still-2" in term.text().splitlines()), term.text()
        # ctrl-p ctrl-q detaches: the tab goes, the container runs on
        await pilot.press("ctrl+p", "ctrl+q")
        assert await _until(pilot, lambda: app.screen is app.dashboard)
        assert app.is_running
        assert engine.container(cid).state.status == "running"
        # attached again, with the dashboard's A on the selected container: the process
        # exiting marks the tab with its code
        dash = app.dashboard
        assert await _until(pilot, lambda: dash.loaded and dash.table().selected() is not None)
        await pilot.press("A")
        assert await _until(pilot, lambda: isinstance(app.screen, ConsoleScreen)
                            and app.screen.current() is not None)
        term = app.screen.current()
        assert term.verb == "attach"
        await pilot.press(*"exit 3", "enter")
        assert await _until(pilot, lambda: term.exit_code == 3), term.text()
        assert app.screen.tab_label(term).endswith("(exited 3)")
        assert "exited with 3" in term.render_line(term.size.height - 1).text
        assert await _until(pilot, lambda: engine.container(cid).state.status == "exited")


async def test_quitting_hangs_up_the_consoles_and_waits_for_them(engine, cli, busybox):
    from tui.screens.console import open_console
    cid = _run_sleeper(cli, busybox, "quitter")
    app = make_app(engine, live=False)
    async with running(app) as pilot:
        term = await open_console(app, engine, cid, "quitter")
        assert await _until(pilot, lambda: "#" in term.text()), term.text()
        proc = term.session.proc
        await pilot.press("f12", "q")
        await pilot.pause()
    # the program was reaped before the event loop closed, not left to its child watcher
    assert proc.returncode is not None
