"""BerthApp: the Textual app of the dashboard: themes, the keymap, screens and error reporting.

Every failure of a worker (an engine verb refusing, a verb this build lacks) lands in one
Worker.StateChanged handler that shows the engine's one-line message as a notification; the
screen never shows a traceback.
"""

from __future__ import annotations

import os
import time
from typing import Callable

from textual import work
from textual.app import App
from textual.binding import Binding
from textual.worker import Worker, WorkerState

from themes import DEFAULT, THEMES, register_all

from .config import Config
from .screens.palette import PRUNES, BerthCommands


class BerthApp(App):
    """The dashboard over one Engine."""

    CSS_PATH = "berth.tcss"
    TITLE = "berth"
    COMMANDS = App.COMMANDS | {BerthCommands}
    COMMAND_PALETTE_BINDING = "ctrl+p"
    ENABLE_COMMAND_PALETTE = True
    BINDINGS = [
        Binding("q", "quit", "Quit", id="quit"),
        Binding("question_mark", "help", "Help", id="help"),
        Binding("colon", "command_palette", "Commands", id="palette"),
        Binding("ctrl+p", "command_palette", "Commands", id="palette2", show=False),
        Binding("C", "consoles", "Consoles", id="consoles", show=False,
                tooltip="The open consoles, to go back to one"),
    ]
    """Keys that work on every screen."""

    def get_driver_class(self):
        """Textual's terminal driver, with an input thread that sleeps until there is input
        (tui/driver.py) where Textual would pick its Linux driver."""
        from textual.drivers.linux_driver import LinuxDriver
        chosen = super().get_driver_class()
        if chosen is LinuxDriver and not os.environ.get("TEXTUAL_DRIVER"):
            from .driver import QuietDriver
            return QuietDriver
        return chosen

    def __init__(self, engine, theme: str | None = None, config: Config | None = None,
                 clock: Callable[[], float] = time.time, live: bool = True):
        super().__init__()
        self.engine = engine
        self.config = config or Config()
        self.clock = clock
        """Where "now" comes from for uptimes and ages (tests freeze it)."""
        self.live = live
        """Sample stats and host totals (snapshot tests turn it off)."""
        self.user_keymap = dict(self.config.keys)
        """The user's key remapping: binding id -> keys."""
        register_all(self)
        self._problems = list(self.config.problems)
        name = theme or self.config.theme or DEFAULT
        if name not in THEMES and name not in self.available_themes:
            self._problems.append(f"no theme named {name!r}; themes: {', '.join(THEMES)}")
            name = DEFAULT
        self.theme = name

    def get_theme(self, theme_name: str):
        """Textual's get_theme, without its two copies of every theme's entry a call: it
        is asked for the current theme for every line drawn (the ANSI colours), and those
        copies were a tenth of drawing a full screen."""
        if "," not in theme_name:
            return self._registered_themes.get(theme_name.strip())
        return super().get_theme(theme_name)

    keys_stale_before: float = 0.0
    """Key events made before this (textual's clock) are dropped: set when the dashboard comes
    back from a shell, so keys typed ahead for the shell never act on the dashboard."""

    async def on_event(self, event) -> None:
        from textual import events
        if isinstance(event, events.Key) and event.time < self.keys_stale_before:
            event.stop()
            event.prevent_default()
            return
        if isinstance(event, events.Paste) and "\t" in event.text:
            # an Input would take a paste whole, Tabs and all, into one field
            from .screens.dialog_fit import FitsTheTerminal
            if isinstance(self.screen, FitsTheTerminal):
                self.screen.paste_fields(event.text)
                return
        await super().on_event(event)

    async def action_quit(self) -> None:
        """Quit, the consoles' programs hung up first."""
        from .screens.console import hang_up_all
        await hang_up_all(self)
        self.exit()

    def on_mount(self) -> None:
        if self.user_keymap:
            self.set_keymap(self.user_keymap)
        self.push_screen(self.dashboard_for(self.engine))
        for problem in self._problems:
            self.notify(problem, severity="warning", timeout=10)
        self.theme_changed_signal.subscribe(self, self._theme_chosen)

    def dashboard_for(self, engine):
        """The dashboard screen of an engine: the containers' panes, or a cluster's pods."""
        if getattr(engine, "kube", False):
            from .screens.kube import KubeScreen
            return KubeScreen(engine)
        from .screens.dashboard import DashboardScreen
        return DashboardScreen(engine, hide_stopped=self.config.hide_stopped, live=self.live)

    def _theme_chosen(self, theme) -> None:
        """A theme picked in the dashboard is kept in the config file for the next start."""
        if theme.name != self.config.theme:
            self.save_setting(theme=theme.name)

    def save_setting(self, **kwargs) -> None:
        """Write a choice (theme=…, sort=(pane, column, descending)) into the config file."""
        from .config import save
        problem = save(self.config, **kwargs)
        if problem:
            self.notify(problem, severity="warning", timeout=5)

    @property
    def dashboard(self):
        from .screens.dashboard import DashboardScreen
        for screen in self.screen_stack:
            if isinstance(screen, DashboardScreen):
                return screen
        return None

    # --- errors ---------------------------------------------------------------------------------

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        """The one place a failed worker becomes a notification (screens forward theirs:
        Worker.StateChanged does not bubble)."""
        if event.state != WorkerState.ERROR:
            return
        error = event.worker.error
        message = str(error) if error is not None else "failed"
        from engine.errors import BerthError
        if not isinstance(error, BerthError) and type(error).__name__ not in (
                "ActionFailed", "Unavailable"):
            message = f"{type(error).__name__}: {message}"
        self.notify(message, title=event.worker.group or event.worker.name, severity="error",
                    timeout=8)

    # --- actions on every screen ----------------------------------------------------------------

    def action_help(self) -> None:
        from .screens.help import HelpScreen
        if not isinstance(self.screen, HelpScreen):
            self.push_screen(HelpScreen())

    def action_consoles(self) -> None:
        """List the open consoles; the one picked comes up in the console screen."""
        from .screens.console import consoles, show_console
        from .screens.console_list import ConsoleList
        if isinstance(self.screen, ConsoleList):
            return
        terminals = consoles(self)
        if not terminals:
            self.notify("no console is open: c opens one in the selected container",
                        timeout=3)
            return

        async def picked(term) -> None:
            if term is not None:
                await show_console(self, self.engine, term)
        self.push_screen(ConsoleList(terminals), picked)

    def action_show_pane(self, kind: str) -> None:
        dash = self.dashboard
        if dash is not None:
            while self.screen is not dash:
                self.pop_screen()
            dash.action_pane(kind)

    def action_toggle_stopped(self) -> None:
        if self.dashboard is not None:
            self.dashboard.action_toggle_stopped()

    def prune(self, key: str) -> None:
        """Ask, then run one of the prune actions."""
        from .screens.confirm import ConfirmScreen
        _, title, _ = PRUNES[key]

        def answered(yes: bool | None) -> None:
            if yes:
                self.run_prune(key)
        self.push_screen(ConfirmScreen(title.replace("Prune: r", "R") + "?",
                                       "This can't be undone."), answered)

    def system_check(self, repair: bool) -> None:
        """``berth system check`` (asking first with ``repair``); what it found, as a
        notification."""
        if not repair:
            self.run_system_check(False)
            return
        from .screens.confirm import ConfirmScreen
        self.push_screen(ConfirmScreen("Check and repair this root?",
                                       "Containers whose configuration is lost are removed."),
                         lambda yes: self.run_system_check(True) if yes else None)

    @work(thread=True, group="system check", exit_on_error=False)
    def run_system_check(self, repair: bool) -> None:
        from .screens.fetch import verb
        found = verb(self.engine, "system_check", "system check")(repair=repair)
        self.engine.store.damaged.clear()   # named below; repaired ones must not linger
        if not found:
            text, severity = "no problems found", "information"
        else:
            lines = [f"{f.kind} {f.id}: {f.problem}" + (" (repaired)" if f.repaired else "")
                     for f in found[:6]]
            more = f"\n… and {len(found) - 6} more" if len(found) > 6 else ""
            text, severity = "\n".join(lines) + more, "information" if repair else "warning"
        self.call_from_thread(self.notify, text, title="System check" + (" and repair"
                              if repair else ""), severity=severity, timeout=12)
        dash = self.dashboard
        if dash is not None and repair:   # anything may have changed: read every list again
            self.call_from_thread(lambda: (dash._dirty.add(("*", "")), dash.request_refresh()))

    @work(thread=True, group="prune", exit_on_error=False)
    def run_prune(self, key: str) -> None:
        """Call the engine's prune verb (thread) and report what it removed."""
        from .screens.fetch import verb
        from .widgets.rows import human_size
        name, title, kwargs = PRUNES[key]
        result = verb(self.engine, name, title.split(": ", 1)[1])(**kwargs)
        if isinstance(result, tuple):
            removed, reclaimed = result
            text = f"removed {len(removed)}, reclaimed {human_size(reclaimed)}"
        else:
            text = f"removed {len(result or [])}"
        self.call_from_thread(self.notify, text, title=title.split(": ", 1)[1])
        dash = self.dashboard
        if dash is not None:
            dash.post_message(dash.Changed())
