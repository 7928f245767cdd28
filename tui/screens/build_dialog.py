"""BuildDialog: ``b`` in the images pane. A form (context directory, Dockerfile, tags, build
args, target, no-cache), then the build streamed into a log view with the step being run
highlighted (its line in the log, and the step above it); escape cancels the build (the engine
removes what it made), or closes the dialog; when the build finishes the dashboard selects the
new image.

``Engine.build`` runs in a thread worker; its progress callback posts each event, coalesced
into batches, and the handler appends them to the log on the event loop.
"""

from __future__ import annotations

import os
import shlex
import threading

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.screen import ModalScreen
from textual.widgets import Checkbox, Input, Label, Static

from ..widgets.log_view import Entry, LogView
from .dialog_fit import FitsTheTerminal, compact_css, focus_keys



class BuildLog(LogView):
    """The build's output: step lines bold, the step being run in reverse until it is over."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.current: Entry | None = None

    def set_current(self, entry: Entry | None) -> None:
        self.current = entry
        self._render_cache.clear()
        self.refresh()

    def _line_text(self, e: Entry) -> Text:
        t = super()._line_text(e)
        if e.stream == "step":
            t.stylize("bold reverse" if e is self.current else "bold")
        return t


def parse_form(values: dict[str, str]):
    """The dialog's fields as (context directory, BuildOptions); InvalidArgument with the
    ``berth build`` wording when one is wrong. ``build args``: ``K=V`` words (shell quoting),
    a bare ``K`` takes its value from the environment, as ``--build-arg K`` does."""
    from engine.public import BuildOptions
    from engine.errors import InvalidArgument

    from ..commands.build import _pairs
    context = os.path.expanduser(values.get("context", "").strip() or ".")
    try:
        tags = shlex.split(values.get("tags", "").replace(",", " "))
        build_args = _pairs(shlex.split(values.get("args", "")), "--build-arg", from_env=True)
    except ValueError as e:
        raise InvalidArgument(f"unbalanced quotes in the form: {e}") from None
    if not os.path.isdir(context):
        raise InvalidArgument(f'unable to prepare context: path "{context}" not found')
    return os.path.abspath(context), BuildOptions(
        tags=tags, dockerfile=values.get("dockerfile", "").strip() or "Dockerfile",
        build_args=build_args, target=values.get("target", "").strip(),
        no_cache=values.get("no_cache") == "true")


class BuildDialog(FitsTheTerminal, ModalScreen[str | None]):
    """Build an image; dismisses with the new image's id (None when closed without one)."""

    DEFAULT_CSS = """
    BuildDialog { align: center middle; }
    #build { width: 120; max-width: 100%; height: 90%; padding: 0 2; border: round $primary;
             background: $surface; }
    #build-title { text-style: bold; color: $primary; margin-bottom: 1; }
    #build-form { height: auto; }
    #build-form Horizontal { height: 3; }
    #build-form Label { width: 14; padding: 1 0; color: $text-muted; }
    #build-form Input { width: 1fr; }
    #build-step { height: 1; background: $accent; color: $text; text-style: bold; }
    #build-log { height: 1fr; border: round $panel; }
    #build-error { color: $error; height: auto; }
    #build-keys { color: $text-muted; height: 1; }
    BuildDialog.-compact #build { height: 100%; }
    BuildDialog.-compact #build-title { margin-bottom: 0; }
    BuildDialog.-compact #build-form Horizontal { height: 1; }
    BuildDialog.-compact #build-form Label { padding: 0; }
    """ + compact_css("BuildDialog")

    BINDINGS = [
        Binding("escape", "cancel", "Cancel / close", id="build.cancel"),
        Binding("ctrl+s", "start", "Build", id="build.start"),
        *focus_keys(),
    ]

    FIELDS = (("context", "Context", "directory with the Dockerfile and the files it copies"),
              ("dockerfile", "Dockerfile", "Dockerfile (relative to the context)"),
              ("tags", "Tags", "app:1 app:latest"),
              ("args", "Build args", "NAME=value NAME2=\"with spaces\""),
              ("target", "Target", "stage to stop at (the last one when empty)"))

    class Events(Message):
        """BuildEvents arrived from the build's thread; coalesces (the handler drains)."""

        def can_replace(self, message: Message) -> bool:
            return isinstance(message, BuildDialog.Events)

    class Finished(Message):
        def __init__(self, image_id: str = "", error: str = "", cancelled: bool = False):
            super().__init__()
            self.image_id, self.error, self.cancelled = image_id, error, cancelled

    def __init__(self, engine, context: str = "", dashboard=None) -> None:
        super().__init__()
        self.engine = engine
        self.context = context or os.getcwd()
        self.dashboard = dashboard
        self.pending: list = []
        self.lock = threading.Lock()
        self.cancel_event: threading.Event | None = None
        self.image_id: str | None = None
        self.state = "idle"
        """idle, building, cancelling, done, failed or cancelled (tests read it)."""
        self.step_text = ""

    def compose(self) -> ComposeResult:
        with Vertical(id="build"):
            yield Static("Build an image", id="build-title", markup=False)
            with Vertical(id="build-form"):
                for key, label, hint in self.FIELDS:
                    with Horizontal():
                        yield Label(label)
                        yield Input(self.context if key == "context" else
                                    "Dockerfile" if key == "dockerfile" else "",
                                    placeholder=hint, id=f"build-{key}")
                yield Checkbox("no cache (run every step again)", id="build-no-cache")
            yield Static("", id="build-step", markup=False)
            yield BuildLog(id="build-log")
            yield Static("", id="build-error", markup=False)
            yield Static("[b]ctrl+s[/b]/[b]enter[/b] build    [b]esc[/b] cancel the build, "
                         "or close", id="build-keys")

    def on_mount(self) -> None:
        for sel in ("#build-step", "#build-log", "#build-error"):
            self.query_one(sel).display = False
        self.query_one("#build-tags", Input).focus()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.action_start()

    def values(self) -> dict[str, str]:
        out = {key: self.query_one(f"#build-{key}", Input).value for key, _, _ in self.FIELDS}
        out["no_cache"] = "true" if self.query_one("#build-no-cache", Checkbox).value else ""
        return out

    def action_start(self) -> None:
        from engine.errors import BerthError
        if self.state in ("building", "cancelling"):
            return
        try:
            context, options = parse_form(self.values())
        except BerthError as e:
            self._show_error(str(e))
            return
        self.state = "building"
        self.image_id = None
        self.cancel_event = threading.Event()
        self.query_one("#build-form").display = False
        self.query_one("#build-error").display = False
        log = self.query_one(BuildLog)
        log.clear()
        log.display = True
        log.set_current(None)
        self.query_one("#build-title", Static).update(
            f"Building {' '.join(options.tags) or 'an untagged image'} from {context}")
        self.run_build(context, options, self.cancel_event)

    def _show_error(self, message: str) -> None:
        error = self.query_one("#build-error", Static)
        error.update(message)
        error.display = True

    @work(thread=True, group="build", exclusive=True, exit_on_error=False)
    def run_build(self, context: str, options, cancel: threading.Event) -> None:
        """Engine.build in this thread; events go to the dialog as they come."""
        from engine.errors import BerthError, Cancelled

        def progress(event) -> None:
            with self.lock:
                self.pending.append(event)
            self.post_message(self.Events())
        try:
            image = self.engine.build(context, options, progress=progress, cancel=cancel)
        except Cancelled:
            self.post_message(self.Finished(cancelled=True))
        except BerthError as e:
            self.post_message(self.Finished(error=str(e)))
        except Exception as e:  # shown, never a traceback
            self.post_message(self.Finished(error=f"{type(e).__name__}: {e}"))
        else:
            self.post_message(self.Finished(image_id=image.id))

    def on_build_dialog_events(self, _message: Events) -> None:
        from engine.public import render_build_event as render
        with self.lock:
            events, self.pending = self.pending, []
        log = self.query_one(BuildLog)
        entries = []
        current = None
        for ev in events:
            if ev.kind == "step":
                current = Entry("", "", "step", "", ev.text)
                entries.append(current)
                self.step_text = ev.text
                continue
            text = render(ev)
            stream = "stderr" if ev.kind in ("warning", "error") else "stdout"
            entries.extend(Entry("", "", stream, "", line) for line in text.splitlines())
        log.add_entries(entries)
        if current is not None:
            log.set_current(current)
            step = self.query_one("#build-step", Static)
            step.update(f" ▶ {self.step_text}")
            step.display = True

    def on_build_dialog_finished(self, message: Finished) -> None:
        self.on_build_dialog_events(self.Events())   # what came before the end
        log = self.query_one(BuildLog)
        log.set_current(None)
        self.query_one("#build-step").display = False
        title = self.query_one("#build-title", Static)
        if message.cancelled:
            self.state = "cancelled"
            title.update("Build cancelled: nothing it made was kept   (esc closes)")
        elif message.error:
            self.state = "failed"
            title.update("Build failed   (esc closes, ctrl+s builds again)")
            self._show_error(message.error)
            self.query_one("#build-form").display = True
        else:
            self.state = "done"
            self.image_id = message.image_id
            short = message.image_id.partition(":")[2][:12]
            title.update(f"Built {short}   (esc closes)")
            if self.dashboard is not None:
                self.dashboard.select_when_listed("images", message.image_id + "|")

    def on_unmount(self) -> None:
        # the app is quitting under a running build: stop it, so its step goes too
        if self.state == "building" and self.cancel_event is not None:
            self.cancel_event.set()

    def action_cancel(self) -> None:
        if self.state == "building" and self.cancel_event is not None:
            self.cancel_event.set()   # the engine stops the step and removes what it made
            self.state = "cancelling"
            self.query_one("#build-title", Static).update("Cancelling the build…")
            return
        if self.state == "cancelling":
            return
        self.dismiss(self.image_id)


def open_build_dialog(dash, context: str = "") -> None:
    """``b`` in the images pane."""
    def done(image_id: str | None) -> None:
        if image_id:
            dash.select_when_listed("images", image_id + "|")
    dash.app.push_screen(BuildDialog(dash.engine, context, dashboard=dash), done)
