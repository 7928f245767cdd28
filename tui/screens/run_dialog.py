"""RunDialog: `berth run` as a form: image, name, command, env, ports, volumes, network, restart
policy, memory and CPU limits, --rm, and whether to run detached (`run -d`) or attached in a
console tab (`run -it`: the tab is the container's main process from its first byte, as
`berth run -it` in a terminal; ctrl-p ctrl-q detaches).

The form is turned into the run command's own flags and parsed by the CLI's parser and
``build_config`` (tui/commands/run_flags.py), so every value is checked as ``berth run`` checks
it, with the same messages. The container is created and started by a thread worker; the dialog
closes with its id, or stays open showing the engine's message. Attached, the worker hands the
monitor one end of a socket pair as the run's attach stream and the console gets the other.
"""

from __future__ import annotations

import shlex

from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Grid, Horizontal
from textual.screen import ModalScreen
from textual.widgets import Checkbox, Input, Label, Select, Static

from engine.options import RESTART_POLICIES

from .dialog_fit import DialogFrame, FitsTheTerminal, focus_keys, compact_css

# (id, label, hint, flag: each shell word of the field becomes one "flag value" pair)
FIELDS = (
    ("image", "Image", "e.g. alpine:3.20", None),
    ("name", "Name", "optional", "--name"),
    ("command", "Command", "optional, as in a shell: sh -c 'echo hi'", None),
    ("env", "Environment", "KEY=value KEY2='with spaces'", "-e"),
    ("ports", "Ports", "8080:80 127.0.0.1:9000:9000/udp", "-p"),
    ("volumes", "Volumes", "data:/data /host/dir:/mnt:ro", "-v"),
    ("network", "Network", "bridge, none, host or a network's name", "--network"),
    ("memory", "Memory limit", "e.g. 128m", "--memory"),
    ("cpus", "CPUs", "e.g. 0.5", "--cpus"),
)


class RunError(Exception):
    """The engine refused to run the container (the message is the engine's)."""


def run_argv(values: dict[str, str], restart: str, rm: bool, console: bool) -> list[str]:
    """The `berth run` arguments the form describes (after `run`): `-d`, or `-i -t` for a
    console attached to it. Raises InvalidArgument for text that is not valid shell quoting."""
    from engine.errors import InvalidArgument
    argv = ["-i", "-t"] if console else ["-d"]
    words = {}
    for key, label, _, _ in FIELDS:
        try:
            words[key] = shlex.split(values.get(key, ""))
        except ValueError as e:
            raise InvalidArgument(f"{label}: {e}") from None
    for key, _, _, flag in FIELDS:
        if flag:
            for w in words[key]:
                argv += [flag, w]
    if restart and restart != "no":
        argv += ["--restart", restart]
    if rm:
        argv.append("--rm")
    if len(words["image"]) != 1:
        raise InvalidArgument('"berth run" requires at least 1 argument: the image'
                              if not words["image"] else "Image: one image reference")
    return argv + words["image"] + words["command"]


def parse_run(argv: list[str]):
    """(ContainerConfig, name, entrypoint_set) from `berth run` arguments, as the CLI parses
    them; InvalidArgument with the CLI's message when they are wrong."""
    from engine.errors import InvalidArgument
    from tui.cli import build_parser
    from tui.commands.run_flags import build_config
    parser = build_parser("containers")
    sub = next(a for a in parser._actions if a.dest == "command")
    run = sub.choices["run"]

    def error(message: str):
        raise InvalidArgument(message)
    run.error = error
    args = run.parse_args(argv)
    config, entrypoint_set = build_config(args)
    return config, args.name, entrypoint_set


class RunDialog(FitsTheTerminal, ModalScreen[str | None]):
    """Run a container; dismisses with its id (None when cancelled)."""

    DEFAULT_CSS = """
    RunDialog { align: center middle; }
    #run { width: 96; max-width: 100%; height: auto; max-height: 100%; padding: 0 2;
           border: round $primary; background: $surface; }
    #run-title { text-style: bold; color: $primary; margin-bottom: 1; }
    #run-grid { grid-size: 2; grid-columns: 16 1fr; grid-rows: 3; height: auto; }
    #run-grid Label { padding: 1 0 0 0; }
    #run-options { height: 3; }
    #run-options Checkbox { margin-right: 2; }
    #run-restart { width: 32; }
    RunDialog.-compact #run-restart { width: 20; }
    #run-restart-label { width: 16; padding: 1 0 0 0; }
    #run-error { color: $error; height: auto; }
    #run-keys { color: $text-muted; }
    RunDialog.-compact #run-grid { grid-rows: 1; }
    RunDialog.-compact #run-grid Label, RunDialog.-compact #run-restart-label { padding: 0; }
    RunDialog.-compact #run-options { height: 1; margin-top: 1; }
    """ + compact_css("RunDialog")

    BINDINGS = [
        Binding("ctrl+s", "run", "Run", id="run.run"),
        Binding("escape", "cancel", "Cancel", id="run.cancel"),
        *focus_keys(),
    ]
    """ctrl+s (or enter in a field) runs; escape closes without running anything."""

    def __init__(self, engine, image: str = "", network: str = "") -> None:
        super().__init__()
        self.engine = engine
        self.image = image
        self.network = network
        self.console = False
        """Run attached, in a console tab."""
        self.attach_sock: int | None = None
        """Attached: the run's attach stream (frames), for the console, once it runs."""
        self.console_size: tuple[int, int] | None = None
        """Attached: the terminal size the container starts with (the console pane's)."""
        self.started = None
        """The container, once it runs."""
        self.busy = False

    def compose(self) -> ComposeResult:
        with DialogFrame(id="run"):
            yield Static("Run a container", id="run-title", markup=False)
            with Grid(id="run-grid"):
                for key, label, hint, _ in FIELDS:
                    value = {"image": self.image, "network": self.network}.get(key, "")
                    yield Label(label)
                    yield Input(value, placeholder=hint, id=f"run-{key}")
            with Horizontal(id="run-options"):
                yield Label("Restart", id="run-restart-label")
                yield Select([(p, p) for p in RESTART_POLICIES], value="no", allow_blank=False,
                             id="run-restart", prompt="restart")
                yield Checkbox("--rm", id="run-rm")
                yield Checkbox("attach a console", id="run-console")
            yield Static("", id="run-error", markup=False)
            yield Static("[b]ctrl+s[/b]/[b]enter[/b] run    [b]esc[/b] cancel", id="run-keys")

    def on_mount(self) -> None:
        self.query_one("#run-name" if self.image else "#run-image", Input).focus()

    def values(self) -> dict[str, str]:
        return {key: self.query_one(f"#run-{key}", Input).value for key, _, _, _ in FIELDS}

    def set_error(self, text: str) -> None:
        self.query_one("#run-error", Static).update(text)

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.action_run()

    def action_run(self) -> None:
        from engine.errors import BerthError
        if self.busy:
            return
        self.console = self.query_one("#run-console", Checkbox).value
        restart = self.query_one("#run-restart", Select).value
        try:
            argv = run_argv(self.values(), str(restart), self.query_one("#run-rm", Checkbox).value,
                            self.console)
            config, name, entrypoint_set = parse_run(argv)
        except BerthError as e:
            self.set_error(str(e))
            return
        self.busy = True
        self.set_error("")
        self.query_one("#run-title", Static).update(f"Running {config.image}…")
        self.start(config, name, entrypoint_set)

    @work(thread=True, group="run", exclusive=True, exit_on_error=False)
    def start(self, config, name, entrypoint_set) -> None:
        """Create and start the container (thread); the dialog closes with its id. Attached,
        the output is kept from its first byte for the console (``attach_sock``)."""
        import socket
        from engine.errors import BerthError
        mine = theirs = None
        if self.console:
            mine, theirs = socket.socketpair()
        try:
            container = self.engine.run(
                config, name, entrypoint_set=entrypoint_set,
                attach_fd=theirs.fileno() if theirs else None,
                console_size=self.console_size if self.console else None)
        except BaseException as e:
            if mine is not None:
                mine.close()
            if isinstance(e, BerthError):
                self.app.call_from_thread(self._failed, str(e))
                return
            raise
        finally:
            if theirs is not None:
                theirs.close()   # the monitor has its own copy
        if mine is not None:
            self.attach_sock = mine.detach()
        self.started = container
        self.app.call_from_thread(self.dismiss, container.id)

    def _failed(self, message: str) -> None:
        self.busy = False
        self.query_one("#run-title", Static).update("Run a container")
        self.set_error(message)

    def on_worker_state_changed(self, event) -> None:
        from textual.worker import WorkerState
        if event.state == WorkerState.ERROR:   # not an engine error: still no traceback
            self._failed(f"{type(event.worker.error).__name__}: {event.worker.error}")

    def action_cancel(self) -> None:
        if self.busy:   # the container is being started: the dialog closes when it runs
            return
        self.dismiss(None)


def open_run_dialog(app, engine, image: str = "") -> None:
    """Show the run dialog; afterwards notify, and attach a console when it was asked for."""
    from .console import pane_size
    dialog = RunDialog(engine, image)
    dialog.console_size = pane_size(app)

    async def done(cid: str | None) -> None:
        if not cid:
            return
        app.notify(f"started {cid[:12]}", title="run", timeout=3)
        dash = app.dashboard
        if dash is not None:    # the new container selected: the pane shows its logs, graphs
            dash.select_when_listed("containers", cid)
        if dialog.attach_sock is not None:
            from .console import open_attach
            sock, dialog.attach_sock = dialog.attach_sock, None
            await open_attach(app, engine, cid, dialog.started.name, sock=sock)
    app.push_screen(dialog, done)
