"""ConfirmScreen: a yes/no question as a modal; dismisses with True (y) or False (n, escape)."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Static


class ConfirmScreen(ModalScreen[bool]):
    """Ask before something that can't be undone (remove, kill, prune)."""

    BINDINGS = [
        Binding("y", "answer(True)", "Yes", id="confirm.yes"),
        Binding("n", "answer(False)", "No", id="confirm.no"),
        Binding("escape", "answer(False)", "Cancel", show=False),
    ]
    """y confirms; n and escape cancel."""

    def __init__(self, question: str, detail: str = "", danger: bool = True):
        super().__init__()
        self.question = question
        self.detail = detail
        self.danger = danger

    def compose(self) -> ComposeResult:
        with Vertical(id="confirm", classes="danger" if self.danger else ""):
            yield Static(self.question, id="confirm-question", markup=False)
            if self.detail:
                yield Static(self.detail, id="confirm-detail", markup=False)
            yield Static("[b]y[/b] yes    [b]n[/b] no    [b]esc[/b] cancel", id="confirm-keys")

    def action_answer(self, value: bool) -> None:
        self.dismiss(value)
