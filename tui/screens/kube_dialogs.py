"""The Kubernetes panes' dialogs: scale a deployment (asks for the replicas, as k9s's ``s``)
and pick the namespace shown (``n``; "all" first)."""

from __future__ import annotations

from typing import Any

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import OptionList, Static
from textual.widgets.option_list import Option

from .resource_dialogs import FormDialog

ALL = ""


class ScaleDialog(FormDialog):
    """``kubectl scale --replicas=N deployment/NAME``: the deployment's scale subresource."""

    FIELDS = (("replicas", "Replicas", "how many pods, 0 or more"),)
    VERB = "scale"

    def __init__(self, cluster, namespace: str, name: str, replicas: int) -> None:
        super().__init__(cluster, f"Scale deployment {namespace}/{name}",
                         {"replicas": str(replicas)})
        self.namespace, self.deployment = namespace, name

    def parse(self, values: dict[str, Any]) -> dict:
        from engine.errors import InvalidArgument
        text = values["replicas"]
        if not text.isdigit():
            raise InvalidArgument(f"replicas must be a whole number, 0 or more, not {text!r}")
        return {"replicas": int(text)}

    def perform(self, args: dict) -> int:
        self.engine.scale(self.namespace, self.deployment, args["replicas"])
        return args["replicas"]

    def done_text(self, result: int) -> str:
        return f"deployment {self.namespace}/{self.deployment} scaled to {result}"


class NamespaceScreen(ModalScreen[str | None]):
    """The namespaces to show: all of them, or one; dismisses with the choice (ALL for all)."""

    DEFAULT_CSS = """
    NamespaceScreen { align: center middle; background: $background 60%; }
    #namespaces { width: 60; max-width: 100%; height: auto; max-height: 100%;
                  border: round $primary; background: $surface; padding: 0 1; }
    #namespaces-title { text-style: bold; color: $primary; }
    #namespaces OptionList { height: auto; max-height: 20; }
    """

    BINDINGS = [Binding("escape", "dismiss(None)", "Cancel", show=False)]

    def __init__(self, names: list[str], current: str):
        super().__init__()
        self.names = [ALL, *names]
        self.current = current

    def compose(self) -> ComposeResult:
        with Vertical(id="namespaces"):
            yield Static("Show which namespace?  (enter picks, esc cancels)",
                         id="namespaces-title")
            yield OptionList(*[Option(f"{'●' if n == self.current else ' '} {n or 'all'}",
                                      id=n or "-all-") for n in self.names],
                             id="namespaces-list")

    def on_mount(self) -> None:
        if self.current in self.names:
            self.query_one(OptionList).highlighted = self.names.index(self.current)

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        self.dismiss(ALL if event.option.id == "-all-" else event.option.id)
