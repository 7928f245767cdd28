"""The run dialog (and, when present, the pull dialog) driven by keys against a real engine."""

from __future__ import annotations

from dashboard_support import make_app, running


async def _until(pilot, cond, rounds=400):
    for _ in range(rounds):
        if cond():
            return True
        await pilot.pause(0.05)
    return cond()


async def _fill(pilot, dialog, values: dict[str, str]) -> None:
    from textual.widgets import Input
    for key, text in values.items():
        field = dialog.query_one(f"#run-{key}", Input)
        field.focus()
        field.value = ""
        await pilot.press(*text)


async def test_run_a_container_from_the_dialog(engine, cli, busybox):
    """...and the new container is selected, so the detail pane shows its logs and graphs
    (the cursor stayed on the row it was on, the first)."""
    from engine.models import ContainerConfig
    from tui.screens.run_dialog import RunDialog, open_run_dialog
    engine.create(ContainerConfig(image=str(busybox), cmd=["true"]), name="earlier")
    app = make_app(engine, live=False)
    async with running(app) as pilot:
        assert app.dashboard.table().selected().model.name == "earlier"
        open_run_dialog(app, engine, busybox)
        await pilot.pause()
        dialog = app.screen
        assert isinstance(dialog, RunDialog)
        await _fill(pilot, dialog, {"name": "fromdialog", "command": "sleep 3600",
                                    "env": "GREETING='hi there' N=1", "network": "none",
                                    "memory": "64m", "cpus": "0.5"})
        await pilot.press("ctrl+s")
        assert await _until(pilot, lambda: app.screen is app.dashboard), \
            dialog.query_one("#run-error").render()
        c = engine.container("fromdialog")
        assert c.state.status == "running"
        assert c.config.cmd == ["sleep", "3600"]
        assert "GREETING=hi there" in c.config.env and "N=1" in c.config.env
        assert c.config.resources.memory == 64 * 1024 * 1024
        assert c.config.resources.nano_cpus == 500_000_000
        assert c.config.network_mode == "none"
        assert "fromdialog" in cli("ps").stdout
        assert await _until(pilot, lambda: getattr(app.dashboard.table().selected(), "model",
                                                   None) and app.dashboard.table().selected()
                            .model.name == "fromdialog")
        pane = app.dashboard.query_one("#detail-tabs").render()
        assert await _until(pilot, lambda: "fromdialog" in str(
            app.dashboard.query_one("#detail-tabs").render())), pane


async def test_bad_values_show_the_cli_message_and_run_nothing(engine, cli, busybox):
    from tui.screens.run_dialog import RunDialog, open_run_dialog
    expected = cli("run", "-d", "--network", "none", "--memory", "lots", busybox, "true",
                   check=False).stderr.strip().removeprefix("berth: ")
    assert expected
    app = make_app(engine, live=False)
    async with running(app) as pilot:
        open_run_dialog(app, engine, busybox)
        await pilot.pause()
        dialog = app.screen
        await _fill(pilot, dialog, {"memory": "lots", "network": "none", "command": "true"})
        await pilot.press("enter")
        await pilot.pause()
        assert isinstance(app.screen, RunDialog)
        assert str(dialog.query_one("#run-error").render()) == expected
        # an image that is not there: the engine's message, and the dialog stays open
        await _fill(pilot, dialog, {"memory": "", "image": "nosuch:1"})
        await pilot.press("ctrl+s")
        assert await _until(pilot, lambda: "nosuch" in str(dialog.query_one("#run-error").render()))
        assert isinstance(app.screen, RunDialog)
        await pilot.press("escape")
        assert app.screen is app.dashboard
    assert engine.containers(all=True) == []


async def test_run_with_the_console_attached(engine, cli, busybox):
    from tui.screens.console import ConsoleScreen
    from tui.screens.run_dialog import open_run_dialog
    from textual.widgets import Checkbox
    app = make_app(engine, live=False)
    async with running(app) as pilot:
        open_run_dialog(app, engine, busybox)
        await pilot.pause()
        dialog = app.screen
        await _fill(pilot, dialog, {"name": "withconsole", "network": "none", "command": "sh"})
        dialog.query_one("#run-console", Checkbox).value = True
        await pilot.press("ctrl+s")
        assert await _until(pilot, lambda: isinstance(app.screen, ConsoleScreen))
        console = app.screen
        term = console.current()
        # attached to the main process from its first byte: the shell's first prompt is there
        assert term.verb == "attach" and console.tab_label(term).startswith("attach withconsole")
        assert await _until(pilot, lambda: "#" in term.text()), term.text()
        await pilot.press(*"echo hello-$((6*7))", "enter")
        assert await _until(pilot, lambda: "hello-42" in term.text()), term.text()
        # pid 1 in its pid namespace: the container's own process, not a shell exec'd beside it
        await pilot.press(*"echo $$", "enter")
        assert await _until(pilot, lambda: "1" in term.text().splitlines()), term.text()
        c = engine.container("withconsole")
        assert c.config.tty and c.config.open_stdin
        # it started with the pane's size, and follows it
        await pilot.press(*"stty size", "enter")
        size = f"{term.size.height} {term.size.width}"
        assert await _until(pilot, lambda: size in term.text().splitlines()), term.text()
        # ctrl-p ctrl-q detaches (the tab closes, the container runs on)
        await pilot.press("ctrl+p", "ctrl+q")
        assert await _until(pilot, lambda: app.screen is app.dashboard)
        assert engine.container("withconsole").state.status == "running"


async def test_run_attached_shows_the_output_and_the_exit(engine, cli, busybox):
    from tui.screens.console import ConsoleScreen
    from tui.screens.run_dialog import open_run_dialog
    from textual.widgets import Checkbox
    app = make_app(engine, live=False)
    async with running(app) as pilot:
        open_run_dialog(app, engine, busybox)
        await pilot.pause()
        dialog = app.screen
        await _fill(pilot, dialog, {"name": "shortlived", "network": "none",
                                    "command": "sh -c 'echo out-$((2*21)); exit 7'"})
        dialog.query_one("#run-console", Checkbox).value = True
        dialog.query_one("#run-rm", Checkbox).value = True
        await pilot.press("ctrl+s")
        assert await _until(pilot, lambda: isinstance(app.screen, ConsoleScreen))
        term = app.screen.current()
        # the output is there even though the process may have ended (and, --rm, the
        # container gone) before the tab opened
        assert await _until(pilot, lambda: term.exit_code == 7), term.text()
        assert "out-42" in term.text()
        assert app.screen.tab_label(term) == "attach shortlived #1 (exited 7)"
        assert await _until(pilot, lambda: engine.containers(all=True) == [])


# --- pull ---------------------------------------------------------------------------------------

async def test_pull_from_a_local_registry_shows_layers(engine, root):
    import socket
    from helpers import BUSYBOX_MUSL
    from registry_server import registry
    from tui.screens.pull_dialog import LayerRow, PullDialog, open_pull_dialog
    with registry() as reg:
        reg.skopeo_copy_in(f"oci-archive:{BUSYBOX_MUSL}", "library/busybox:musl")
        ref = f"{reg.host}/library/busybox:musl"
        layer = reg.skopeo_inspect("library/busybox:musl")["Layers"][0].partition(":")[2][:12]
        app = make_app(engine, live=False)
        async with running(app) as pilot:
            open_pull_dialog(app, engine)
            await pilot.pause()
            dialog = app.screen
            assert isinstance(dialog, PullDialog)
            await pilot.press(*ref, "enter")
            assert await _until(pilot, lambda: dialog.state != "pulling"), dialog.state
            assert dialog.state == "done", str(dialog.query_one("#pull-error").render())
            await pilot.pause()
            rows = {r.ident: r for r in dialog.query(LayerRow)}
            assert layer in rows
            assert dialog.progress.done(layer)
            assert ref in engine.image(ref).repo_tags
            await pilot.press("escape")
            assert app.screen is app.dashboard

    # a registry that never answers: the pull hangs until cancelled, and nothing is left
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        host = f"127.0.0.1:{silent.getsockname()[1]}"
        app = make_app(engine, live=False)
        async with running(app) as pilot:
            open_pull_dialog(app, engine)
            await pilot.pause()
            dialog = app.screen
            await pilot.press(*f"{host}/library/never:1", "enter")
            assert dialog.state == "pulling"
            await pilot.press("escape")
            assert isinstance(app.screen, PullDialog) and dialog.state == "cancelled"
            assert await _until(pilot, lambda: not [w for w in dialog.workers
                                                    if w.group == "pull" and w.is_running])
            await pilot.press("escape")
            assert app.screen is app.dashboard
    assert not any("never" in t for img in engine.images() for t in img.repo_tags)
