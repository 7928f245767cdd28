"""PullDialog: pull an image with a progress bar per layer, and cancel.

``Engine.pull`` runs in an async worker; its progress callback (Docker's JSON progress messages,
as ``berth pull`` draws them) only records the message in ``PullProgress`` and posts a coalescing
message, and the handler draws the bars. Cancelling cancels the worker, which cancels the pull.
"""

from __future__ import annotations

from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.message import Message
from textual.screen import ModalScreen
from textual.widgets import Checkbox, Input, Label, ProgressBar, Static

from .dialog_fit import FitsTheTerminal, focus_keys, compact_css

MAX_LAYERS = 64      # rows drawn; an image with more shows the rest as a count
MAX_LINES = 20       # status lines kept (digest, "Status: ...")


class PullProgress:
    """The state of one pull from its progress messages: per layer (status, current, total)
    and the last few general status lines. Bounded."""

    def __init__(self) -> None:
        self.layers: dict[str, list] = {}
        self.head = ""
        """"TAG: Pulling from REPO", shown above the layers as docker pull shows it."""
        self.lines: list[str] = []

    def update(self, msg: dict) -> None:
        status = msg.get("status", "")
        ident = msg.get("id", "")
        if msg.get("error"):
            self._line(str(msg["error"]))
            return
        if status.startswith("Pulling from"):
            self.head = f"{ident}: {status}" if ident else status
            return
        if not ident:
            self._line(status)
            return
        layer = self.layers.get(ident)
        if layer is None:
            if len(self.layers) >= 1000:
                return
            layer = self.layers[ident] = [status, 0, 0]
        layer[0] = status
        detail = msg.get("progressDetail") or {}
        if detail.get("total"):
            layer[1], layer[2] = detail.get("current", 0), detail["total"]
        elif status in ("Download complete", "Pull complete", "Already exists",
                        "Verifying Checksum"):
            if layer[2]:
                layer[1] = layer[2]

    def _line(self, text: str) -> None:
        self.lines.append(text)
        del self.lines[:-MAX_LINES]

    def done(self, ident: str) -> bool:
        return self.layers.get(ident, [""])[0] in ("Pull complete", "Already exists")


class LayerRow(Horizontal):
    """One layer: its id, a bar and its status."""

    DEFAULT_CSS = """
    LayerRow { height: 1; }
    LayerRow .layer-id { width: 14; color: $primary; }
    LayerRow ProgressBar { width: 50; }
    LayerRow .layer-status { width: 1fr; color: $text-muted; }
    """

    def __init__(self, ident: str) -> None:
        super().__init__()
        self.ident = ident

    def compose(self) -> ComposeResult:
        yield Label(self.ident[:12], classes="layer-id")
        yield ProgressBar(total=None, show_eta=False, show_percentage=True)
        yield Label("", classes="layer-status")

    def show(self, status: str, current: int, total: int, complete: bool) -> None:
        bar = self.query_one(ProgressBar)
        if complete:
            bar.update(total=1, progress=1)
        elif total:
            bar.update(total=total, progress=current)
        self.query_one(".layer-status", Label).update(status)


class PullDialog(FitsTheTerminal, ModalScreen[str | None]):
    """Pull an image; dismisses with the reference pulled (None when closed without one)."""

    DEFAULT_CSS = """
    PullDialog { align: center middle; }
    #pull { width: 110; max-width: 100%; height: auto; max-height: 100%; padding: 0 2;
            border: round $primary; background: $surface; }
    #pull-title { text-style: bold; color: $primary; margin-bottom: 1; }
    #pull-form { height: 3; }
    #pull-ref { width: 1fr; }
    #pull-layers { height: auto; max-height: 24; }
    #pull-lines, #pull-head { color: $text-muted; height: auto; }
    #pull-error { color: $error; height: auto; }
    #pull-keys { color: $text-muted; margin-top: 1; }
    PullDialog.-compact #pull-form { height: 1; }
    PullDialog.-compact #pull-layers { max-height: 8; }
    """ + compact_css("PullDialog")

    BINDINGS = [
        Binding("escape", "cancel", "Cancel / close", id="pull.cancel"),
        *focus_keys(),
    ]

    class Progress(Message):
        """New progress messages were recorded; coalesces."""

        def can_replace(self, message: Message) -> bool:
            return isinstance(message, PullDialog.Progress)

    class Finished(Message):
        def __init__(self, ref: str, error: str = "", cancelled: bool = False) -> None:
            super().__init__()
            self.ref = ref
            self.error = error
            self.cancelled = cancelled

    def __init__(self, engine, ref: str = "") -> None:
        super().__init__()
        self.engine = engine
        self.ref = ref
        self.progress = PullProgress()
        self.pulling = False
        self.pulled: str | None = None
        self.state = "idle"
        """idle, pulling, done, failed or cancelled (tests read it)."""

    def compose(self) -> ComposeResult:
        with Vertical(id="pull"):
            yield Static("Pull an image", id="pull-title", markup=False)
            with Horizontal(id="pull-form"):
                yield Input(self.ref, placeholder="reference, e.g. 127.0.0.1:5000/alpine:3.20",
                            id="pull-ref")
                yield Checkbox("skip TLS checks", id="pull-insecure")
            yield Static("", id="pull-head", markup=False)
            yield VerticalScroll(id="pull-layers")
            yield Static("", id="pull-lines", markup=False)
            yield Static("", id="pull-error", markup=False)
            yield Static("[b]enter[/b] pull    [b]esc[/b] cancel the pull, or close",
                         id="pull-keys")

    def on_mount(self) -> None:
        for sel in ("#pull-head", "#pull-lines", "#pull-error"):
            self.query_one(sel).display = False   # shown once they have something to say
        self.query_one("#pull-ref", Input).focus()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        ref = event.value.strip()
        if not ref or self.pulling:
            return
        self.start(ref)

    def start(self, ref: str) -> None:
        self.ref = ref
        self.pulling = True
        self.state = "pulling"
        self.progress = PullProgress()
        self.query_one("#pull-layers").remove_children()
        self.query_one("#pull-error", Static).display = False
        self.query_one("#pull-title", Static).update(f"Pulling {ref}…")
        insecure = self.query_one("#pull-insecure", Checkbox).value
        self.pull(ref, insecure)

    @work(group="pull", exclusive=True, exit_on_error=False)
    async def pull(self, ref: str, insecure: bool) -> None:
        """Engine.pull with the progress recorded (its callback runs on the event loop)."""
        import asyncio

        from engine.errors import BerthError

        def progress(msg: dict) -> None:
            self.progress.update(msg)
            self.post_message(self.Progress())
        try:
            await self.engine.pull(ref, progress=progress, tls_verify=not insecure)
        except asyncio.CancelledError:
            self.post_message(self.Finished(ref, cancelled=True))
            raise
        except BerthError as e:
            self.post_message(self.Finished(ref, error=str(e)))
            return
        except Exception as e:  # shown, never a traceback
            self.post_message(self.Finished(ref, error=f"{type(e).__name__}: {e}"))
            return
        self.post_message(self.Finished(ref))

    def on_pull_dialog_progress(self, _message: Progress) -> None:
        self.draw()

    def draw(self) -> None:
        box = self.query_one("#pull-layers")
        rows = {r.ident: r for r in box.query(LayerRow)}
        idents = list(self.progress.layers)[:MAX_LAYERS]
        new = [LayerRow(i) for i in idents if i not in rows]
        if new:
            box.mount_all(new)
            self.call_after_refresh(self.draw)   # the new rows draw once mounted
        for ident in idents:
            row = rows.get(ident)
            if row is not None and row.is_mounted:
                status, current, total = self.progress.layers[ident]
                row.show(status, current, total, self.progress.done(ident))
        extra = len(self.progress.layers) - len(idents)
        lines = self.progress.lines[-4:] + ([f"… and {extra} more layers"] if extra > 0 else [])
        for sel, text in (("#pull-lines", "\n".join(lines)), ("#pull-head", self.progress.head)):
            static = self.query_one(sel, Static)
            static.update(text)
            static.display = bool(text)

    def on_pull_dialog_finished(self, message: Finished) -> None:
        self.pulling = False
        self.draw()
        title = self.query_one("#pull-title", Static)
        if message.cancelled:
            self.state = "cancelled"
            title.update(f"Pull of {message.ref} cancelled")
        elif message.error:
            self.state = "failed"
            title.update(f"Pull of {message.ref} failed")
            error = self.query_one("#pull-error", Static)
            error.update(message.error)
            error.display = True
        else:
            self.state = "done"
            self.pulled = message.ref
            title.update(f"Pulled {message.ref}   (esc closes)")
            dash = getattr(self.app, "dashboard", None)
            if dash is not None:
                dash.post_message(dash.Changed())

    def action_cancel(self) -> None:
        if self.pulling:
            self.workers.cancel_group(self, "pull")
            self.pulling = False
            self.state = "cancelled"
            self.query_one("#pull-title", Static).update(f"Pull of {self.ref} cancelled")
            return
        self.dismiss(self.pulled)


def open_pull_dialog(app, engine, ref: str = "") -> None:
    def done(ref: str | None) -> None:
        if ref:
            app.notify(f"pulled {ref}", title="pull", timeout=3)
    app.push_screen(PullDialog(engine, ref), done)
