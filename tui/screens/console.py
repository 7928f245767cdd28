"""ConsoleScreen: exec consoles (embedded terminals) in containers, one tab each.

The screen is installed on the app once, so leaving it (F12 or ctrl+]) keeps every console
running; opening a console for another container adds a tab. Every other key goes to the
terminal in the current tab.
"""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.screen import Screen
from textual.widgets import Footer, Static, TabbedContent, TabPane

from ..widgets.terminal import TerminalWidget, exec_argv

NAME = "berth-console"
MAX_CONSOLES = 8
"""Consoles open at once (each is a process and a pty)."""


class ConsoleScreen(Screen):
    """Tabs of exec consoles."""

    DEFAULT_CSS = """
    ConsoleScreen #console-title {
        height: 1;
        background: $panel;
        color: $primary;
    }
    ConsoleScreen #consoles {
        height: 1fr;
    }
    ConsoleScreen #consoles ContentSwitcher, ConsoleScreen #consoles TabPane {
        height: 1fr;
        padding: 0;
    }
    ConsoleScreen TerminalWidget {
        height: 1fr;
        width: 1fr;
    }
    """

    BINDINGS = [
        Binding("f12,ctrl+right_square_bracket", "leave", "Dashboard", priority=True,
                id="console_leave"),
        Binding("ctrl+pagedown,f8", "next_tab", "Next console", priority=True,
                id="console_next"),
        Binding("ctrl+pageup,f7", "prev_tab", "Previous console", priority=True,
                id="console_prev"),
        Binding("f9", "close_tab", "Close console", priority=True, id="console_close"),
        Binding("f6", "copy_screen", "Copy screen", priority=True, id="console_copy",
                tooltip="Copy the console's text to the clipboard"),
    ]
    """Priority keys: every other key belongs to the program in the console."""

    def __init__(self, engine) -> None:
        super().__init__(name=NAME)
        self.engine = engine
        self._serial = 0

    def compose(self) -> ComposeResult:
        yield Static("", id="console-title", markup=False)
        yield TabbedContent(id="consoles")
        yield Footer(show_command_palette=False)

    def on_mount(self) -> None:
        self._update_title()

    def terminals(self) -> list[TerminalWidget]:
        return list(self.query(TerminalWidget))

    def current(self) -> TerminalWidget | None:
        tabs = self.query_one(TabbedContent)
        pane = tabs.active_pane
        if pane is None:
            return None
        found = pane.query(TerminalWidget)
        return found.first() if found else None

    async def open(self, container_id: str, name: str, command: str = "sh") -> TerminalWidget | None:
        """Add a console running ``command`` in the container and show it."""
        if len(self.terminals()) >= MAX_CONSOLES:
            self.notify(f"{MAX_CONSOLES} consoles are open: close one first (F9)",
                        severity="warning")
            return None
        self._serial += 1
        pane_id = f"console-{self._serial}"
        env = {"BERTH_ROOT": self.engine.paths.root}
        term = TerminalWidget(exec_argv(container_id, command), env=env, title=name,
                              id=f"term-{self._serial}")
        tabs = self.query_one(TabbedContent)
        await tabs.add_pane(TabPane(f"{name} #{self._serial}", term, id=pane_id))
        tabs.active = pane_id
        term.focus()
        self._update_title()
        return term

    def _update_title(self) -> None:
        n = len(self.terminals())
        self.query_one("#console-title", Static).update(
            f" exec consoles: {n} open   F12 / ctrl+] dashboard   F7/F8 previous/next   "
            "F9 close   F6 copy the screen")

    def on_tabbed_content_tab_activated(self, event: TabbedContent.TabActivated) -> None:
        term = self.current()
        if term is not None:
            term.focus()

    def on_terminal_widget_exited(self, event: TerminalWidget.Exited) -> None:
        self._update_title()

    def on_screen_resume(self) -> None:
        term = self.current()
        if term is not None:
            term.focus()

    def action_copy_screen(self) -> None:
        term = self.current()
        if term is None:
            return
        text = term.text().rstrip("\n")
        self.app.copy_to_clipboard(text)
        self.notify(f"copied {len(text.splitlines())} lines", timeout=2)

    def action_leave(self) -> None:
        self.app.pop_screen()

    def _switch(self, step: int) -> None:
        tabs = self.query_one(TabbedContent)
        panes = [p.id for p in tabs.query(TabPane)]
        if not panes:
            return
        i = panes.index(tabs.active) if tabs.active in panes else 0
        tabs.active = panes[(i + step) % len(panes)]

    def action_next_tab(self) -> None:
        self._switch(1)

    def action_prev_tab(self) -> None:
        self._switch(-1)

    async def action_close_tab(self) -> None:
        tabs = self.query_one(TabbedContent)
        term = self.current()
        if term is None:
            return
        term.close()
        await tabs.remove_pane(tabs.active)
        self._update_title()
        if not self.terminals():
            self.app.pop_screen()


async def open_console(app, engine, container_id: str, name: str) -> TerminalWidget | None:
    """Show the console screen (installing it the first time) with a new tab for a container."""
    try:
        screen = app.get_screen(NAME)
    except KeyError:
        screen = ConsoleScreen(engine)
        app.install_screen(screen, NAME)
    if app.screen is not screen:
        await app.push_screen(screen)
    return await screen.open(container_id, name)
