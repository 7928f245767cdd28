"""The forms of the images, volumes and networks panes: tag and save an image, create a volume
or a network.

Each is a small modal whose values are checked by the engine itself, in a thread worker owned
by the app (so a save carries on when its dialog is closed): the dialog closes on success with
a notification, or stays open showing the engine's one-line message, as the CLI prints it.
"""

from __future__ import annotations

import os
import shlex
from typing import Any

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Grid
from textual.screen import ModalScreen
from textual.widgets import Checkbox, Input, Label, Static

from .dialog_fit import DialogFrame, FitsTheTerminal, focus_keys, compact_css


class FormDialog(FitsTheTerminal, ModalScreen[Any]):
    """A titled form of labelled inputs; enter or ctrl+s submits, escape closes.

    Subclasses name their FIELDS, turn the values into arguments (``parse``, raising BerthError
    for what the CLI would refuse before calling the engine) and make the engine call
    (``perform``, in a thread); the dialog dismisses with its result."""

    DEFAULT_CSS = """
    FormDialog { align: center middle; }
    FormDialog #form { width: 84; max-width: 100%; height: auto; max-height: 100%;
                       padding: 0 2; border: round $primary; background: $surface; }
    FormDialog #form-title { text-style: bold; color: $primary; margin-bottom: 1; }
    FormDialog #form-grid { grid-size: 2; grid-columns: 16 1fr; grid-rows: 3; height: auto; }
    FormDialog #form-grid Label { padding: 1 0 0 0; }
    FormDialog Checkbox { margin-left: 16; }
    FormDialog #form-error { color: $error; height: auto; }
    FormDialog #form-keys { color: $text-muted; }
    FormDialog.-compact #form-grid { grid-rows: 1; }
    FormDialog.-compact #form-grid Label { padding: 0; }
    FormDialog.-compact Checkbox { margin-top: 1; }
    """ + compact_css("FormDialog")

    BINDINGS = [
        Binding("ctrl+s", "submit", "OK", id="form.submit"),
        Binding("escape", "cancel", "Cancel", id="form.cancel"),
        *focus_keys(),
    ]
    """ctrl+s (or enter in a field) submits; escape closes (a save in progress carries on)."""

    FIELDS: tuple[tuple[str, str, str], ...] = ()
    """(id, label, placeholder) of each input."""
    CHECKBOX: str = ""
    """The label of one optional checkbox (its value is values()["check"])."""
    VERB = ""
    """Title of the notification and of the busy state."""

    def __init__(self, engine, title: str, values: dict[str, str] | None = None) -> None:
        super().__init__()
        self.engine = engine
        self.title_text = title
        self.initial = values or {}
        self.busy = False
        self.result: Any = None
        """What the engine call returned, once it succeeded (tests read it)."""

    def compose(self) -> ComposeResult:
        with DialogFrame(id="form"):
            yield Static(self.title_text, id="form-title", markup=False)
            with Grid(id="form-grid"):
                for key, label, hint in self.FIELDS:
                    yield Label(label)
                    yield Input(self.initial.get(key, ""), placeholder=hint, id=f"form-{key}")
            if self.CHECKBOX:
                yield Checkbox(self.CHECKBOX, id="form-check")
            yield Static("", id="form-error", markup=False)
            yield Static("[b]enter[/b]/[b]ctrl+s[/b] ok    [b]esc[/b] cancel", id="form-keys")

    def values(self) -> dict[str, Any]:
        out: dict[str, Any] = {k: self.query_one(f"#form-{k}", Input).value.strip()
                               for k, _, _ in self.FIELDS}
        if self.CHECKBOX:
            out["check"] = self.query_one("#form-check", Checkbox).value
        return out

    def set_error(self, text: str) -> None:
        self.query_one("#form-error", Static).update(text)

    def error_text(self) -> str:
        return str(self.query_one("#form-error", Static).render())

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.action_submit()

    def action_submit(self) -> None:
        from engine.errors import BerthError
        if self.busy:
            return
        try:
            args = self.parse(self.values())
        except BerthError as e:
            self.set_error(str(e))
            return
        self.busy = True
        self.set_error("")
        self.query_one("#form-title", Static).update(f"{self.title_text}: {self.VERB}…")
        self.app.run_worker(lambda: self._call(args), thread=True, group=self.VERB,
                            exit_on_error=False)

    def _call(self, args: dict) -> None:
        """The engine call (thread); the outcome goes back to the event loop."""
        from engine.errors import BerthError
        try:
            result = self.perform(args)
        except BerthError as e:
            self.app.call_from_thread(self._failed, str(e))
            return
        except Exception as e:  # another area's bug: shown, never a traceback
            self.app.call_from_thread(self._failed, f"{type(e).__name__}: {e}")
            return
        self.app.call_from_thread(self._succeeded, result)

    def _succeeded(self, result: Any) -> None:
        self.busy = False
        self.result = result
        self.app.notify(self.done_text(result), title=self.VERB, timeout=5)
        dash = getattr(self.app, "dashboard", None)
        if dash is not None:
            dash.post_message(dash.Changed())
        if self.is_current:
            self.dismiss(result)

    def _failed(self, message: str) -> None:
        self.busy = False
        if self.is_current:
            self.query_one("#form-title", Static).update(self.title_text)
            self.set_error(message)
        else:   # closed while the engine worked: the message still reaches the user
            self.app.notify(message, title=self.VERB, severity="error", timeout=8)

    def action_cancel(self) -> None:
        if self.busy:
            self.app.notify(f"{self.VERB} continues; you'll be told when it is done",
                            title=self.VERB, timeout=3)
        self.dismiss(None)

    def output_path(self, text: str, example: str) -> str:
        """The absolute path of a file to write, from the form's ``text``; InvalidArgument for
        none, a directory, a missing directory, or an existing file not asked for twice."""
        from engine.errors import InvalidArgument
        if not text:
            raise InvalidArgument(f"give the file to write, e.g. {example}")
        path = os.path.abspath(os.path.expanduser(text))
        if os.path.isdir(path):
            raise InvalidArgument(f"{path} is a directory: name the file to write")
        if not os.path.isdir(os.path.dirname(path)):
            raise InvalidArgument(f"{os.path.dirname(path)}: no such directory")
        if os.path.exists(path) and getattr(self, "_overwrite", "") != path:
            self._overwrite = path
            raise InvalidArgument(f"{path} exists: enter again to overwrite it")
        return path

    # --- what each form does --------------------------------------------------------------------

    def parse(self, values: dict[str, Any]) -> dict:
        return values

    def perform(self, args: dict) -> Any:
        raise NotImplementedError

    def done_text(self, result: Any) -> str:
        return "done"


def _pairs(text: str, what: str) -> dict[str, str]:
    """KEY=VALUE words (shell-quoted) as the CLI's repeated --label / -o flags take them."""
    from engine.errors import InvalidArgument

    from ..commands.volumes import parse_pairs
    try:
        words = shlex.split(text)
    except ValueError as e:
        raise InvalidArgument(f"{what}s: {e}") from None
    return parse_pairs(words, what)


class TagDialog(FormDialog):
    """`berth tag SOURCE TARGET`: give the selected image another name."""

    FIELDS = (("target", "New name", "REPOSITORY[:TAG], e.g. myrepo/busybox:v1"),)
    VERB = "tag"

    def __init__(self, engine, source: str, label: str) -> None:
        super().__init__(engine, f"Tag {label}")
        self.source = source
        self.label = label

    def perform(self, args: dict) -> str:
        self.engine.tag(self.source, args["target"])
        return args["target"]

    def done_text(self, result: str) -> str:
        return f"tagged {self.label} as {result}"


class SaveDialog(FormDialog):
    """`berth save -o PATH IMAGE…`: write the images to an archive."""

    FIELDS = (("path", "Output file", "./name.tar"),)
    CHECKBOX = "docker-archive (default: oci-archive)"
    VERB = "save"

    def __init__(self, engine, refs: list[str], label: str, path: str) -> None:
        super().__init__(engine, f"Save {label}", {"path": path})
        self.refs = refs
        self.label = label

    def parse(self, values: dict[str, Any]) -> dict:
        path = self.output_path(values["path"], "./image.tar")
        fmt = "docker-archive" if values["check"] else "oci-archive"
        return {"path": path, "format": fmt}

    def perform(self, args: dict) -> tuple[str, int]:
        self.engine.save(self.refs, args["path"], args["format"])
        return args["path"], os.path.getsize(args["path"])

    def done_text(self, result: tuple[str, int]) -> str:
        from ..widgets.rows import human_size
        return f"saved {self.label} to {result[0]} ({human_size(result[1])})"


class VolumeDialog(FormDialog):
    """`berth volume create [--label K=V]… [-o K=V]… [NAME]`."""

    FIELDS = (("name", "Name", "optional: a random name when empty"),
              ("labels", "Labels", "KEY=VALUE …"),
              ("options", "Driver options",
               "KEY=VALUE …  e.g. type=tmpfs device=tmpfs o=size=64m"))
    VERB = "volume create"

    def parse(self, values: dict[str, Any]) -> dict:
        return {"name": values["name"] or None, "labels": _pairs(values["labels"], "label"),
                "options": _pairs(values["options"], "option")}

    def perform(self, args: dict):
        from engine.errors import NotFound
        existed = False
        if args["name"]:
            try:
                existed = bool(self.engine.volume(args["name"]))
            except NotFound:
                pass
        # an existing name is returned as it is (as docker volume create does): say so
        return self.engine.create_volume(args["name"], labels=args["labels"],
                                         options=args["options"]), existed

    def done_text(self, result) -> str:
        volume, existed = result
        if existed:
            return f"volume {volume.name} already exists: kept as it was"
        return f"created volume {volume.name}"


class NetworkDialog(FormDialog):
    """`berth network create [--subnet] [--gateway] [--ip-range] [--internal] NAME`."""

    FIELDS = (("name", "Name", "e.g. app"),
              ("subnet", "Subnet", "optional CIDR, e.g. 10.90.0.0/24 (default: the next free /16)"),
              ("gateway", "Gateway", "optional: the bridge's address (needs the subnet)"),
              ("ip_range", "IP range", "optional: containers' addresses from this part"),
              ("labels", "Labels", "KEY=VALUE …"))
    CHECKBOX = "internal (no traffic in or out)"
    VERB = "network create"

    def parse(self, values: dict[str, Any]) -> dict:
        return {"name": values["name"], "subnet": values["subnet"] or None,
                "gateway": values["gateway"] or None, "ip_range": values["ip_range"] or None,
                "internal": values["check"], "labels": _pairs(values["labels"], "label")}

    def perform(self, args: dict):
        return self.engine.create_network(**args)

    def done_text(self, result) -> str:
        return f"created network {result.name} ({result.subnet})"
