"""The open consoles as a list, from any screen (`C`; F11 in the consoles): enter shows the
chosen one's tab, escape closes the list."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import OptionList, Static
from textual.widgets.option_list import Option


def describe(term) -> str:
    """One console as the list shows it: what it is, where, and whether it still runs."""
    serial = (term.id or "").rpartition("-")[2]
    if term.detached:
        state = "detached"
    elif term.exit_code is not None:
        state = f"exited {term.exit_code}"
    else:
        state = "running"
    what = "exec (a shell)" if term.verb == "exec" else "attached to the main process"
    return f"#{serial}  {term.title}  {what}  ({state})"


class ConsoleList(ModalScreen):
    """Pick a console; dismisses with its terminal (None when closed)."""

    DEFAULT_CSS = """
    ConsoleList { align: center middle; background: $background 60%; }
    #console-list { width: 72; max-width: 100%; height: auto; max-height: 100%;
                    border: round $primary; background: $surface; padding: 0 1; }
    #console-list-title { text-style: bold; color: $primary; }
    #console-list OptionList { height: auto; max-height: 20; }
    #console-list-keys { color: $text-muted; }
    """

    BINDINGS = [Binding("escape", "dismiss(None)", "Close", id="console_list.close")]

    def __init__(self, terminals: list) -> None:
        super().__init__()
        self.terminals = terminals

    def compose(self) -> ComposeResult:
        with Vertical(id="console-list"):
            yield Static(f"Consoles ({len(self.terminals)})", id="console-list-title")
            yield OptionList(*[Option(describe(t), id=str(i))
                               for i, t in enumerate(self.terminals)])
            yield Static("[b]enter[/b] show    [b]esc[/b] close", id="console-list-keys")

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        self.dismiss(self.terminals[int(event.option.id)])
