"""HelpScreen: every key of every screen, generated from the bindings so it can't drift."""

from __future__ import annotations

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static


def effective_keys(binding: Binding, keymap: dict[str, str]) -> str:
    """The keys that trigger ``binding`` once the user's keymap is applied."""
    if binding.id and binding.id in keymap:
        return keymap[binding.id]
    return binding.key


def sections(app) -> list[tuple[str, list[tuple[str, str, str]]]]:
    """(title, [(keys, description, binding id)]) for each screen's bindings."""
    from .console import ConsoleScreen
    from .dashboard import DashboardScreen
    from .events import EventsScreen
    from .graphs import GraphsScreen
    from .inspect import InspectScreen
    from .logs import LogsScreen
    keymap = dict(getattr(app, "user_keymap", {}) or {})
    out = []
    panes = ("Panes", DashboardScreen.BINDINGS)
    if getattr(app.engine, "kube", False):   # a cluster's panes are pods, deployments, events
        from .kube import KubeScreen
        panes = ("Kubernetes panes", KubeScreen.BINDINGS)
    for title, bindings in (("Everywhere", app.BINDINGS), panes,
                            ("Logs console", LogsScreen.BINDINGS),
                            ("Inspect and details", InspectScreen.BINDINGS),
                            ("Exec console", ConsoleScreen.BINDINGS),
                            ("Graphs", GraphsScreen.BINDINGS),
                            ("Events", EventsScreen.BINDINGS)):
        rows, seen = [], {}
        for b in bindings:
            if isinstance(b, tuple):
                b = Binding(*b)
            keys = ", ".join(display(app, k.strip())
                             for k in effective_keys(b, keymap).split(","))
            desc = b.tooltip or b.description or b.action
            if desc in seen:   # two bindings for one action: one line, both keys
                i = seen[desc]
                rows[i] = (rows[i][0] + ", " + keys, desc, rows[i][2])
                continue
            seen[desc] = len(rows)
            rows.append((keys, desc, b.id or ""))
        out.append((title, rows))
    return out


def display(app, key: str) -> str:
    try:
        return app.get_key_display(Binding(key, ""))
    except Exception:  # an odd key name in a user's keymap: show it as written
        return key


class HelpScreen(ModalScreen[None]):
    """A modal listing every key; escape, q or ? closes it."""

    BINDINGS = [Binding("escape,q,question_mark", "dismiss", "Close", show=False)]
    """Any of these closes the help."""

    def compose(self) -> ComposeResult:
        grid = Table.grid(padding=(0, 4))
        columns = sections(self.app)
        for _ in range(3):
            grid.add_column(vertical="top")
        cells = []
        for title, rows in columns:
            t = Table(title=Text(title, style="bold"), title_justify="left", box=None,
                      show_header=False, padding=(0, 1))
            t.add_column(style="bold", no_wrap=True)
            t.add_column()
            for keys, desc, _ in rows:
                t.add_row(keys, desc)
            cells.append(t)
        def stack(first, *rest):
            column = Table.grid()
            column.add_row(first)
            for table in rest:
                column.add_row("")
                column.add_row(table)
            return column
        # panes | logs, graphs, events | everywhere, inspect, console
        grid.add_row(cells[1], stack(cells[2], cells[5], cells[6]),
                     stack(cells[0], cells[3], cells[4]))
        with VerticalScroll(id="help"):
            yield Static(Text("Keys  (remap them in ~/.config/berth/config.toml [keys])",
                              style="bold"), id="help-title")
            yield Static(grid, id="help-body")

    def action_dismiss(self) -> None:  # type: ignore[override]
        self.dismiss(None)
