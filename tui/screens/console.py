"""ConsoleScreen: consoles (embedded terminals) in containers, one tab each: an exec console
(``berth exec -it``: a new shell) or an attached one (the container's main process, as
``berth attach`` / ``run -it``; ctrl-p ctrl-q detaches and closes the tab).

The screen is installed on the app once, so leaving it (F12 or ctrl+]) keeps every console
running; opening a console for another container adds a tab, and `c` on a container that has
one goes back to it (F2 opens another). F11 here, or `C` anywhere else, lists the consoles open.
Every other key goes to the terminal in the current tab; the mouse selects text there and
copies it; shift+PgUp/PgDn and the wheel scroll back.
"""

from __future__ import annotations

import os

from textual.app import ComposeResult
from textual.binding import Binding
from textual.screen import Screen
from textual.widgets import Static, TabbedContent, TabPane

from ..widgets.footer import ScreenFooter
from ..widgets.terminal import (AttachSession, PtySession, TerminalWidget, exec_argv,
                                kube_exec_argv)
from .screen_size import LaidOutOnce

NAME = "berth-console"
MAX_CONSOLES = 8
"""Consoles open at once (each is a process and a pty)."""


class ConsoleScreen(LaidOutOnce, Screen):
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
        Binding("f6", "copy", "Copy", priority=True, id="console_copy",
                tooltip="Copy the selected text (the mouse selects), or else the whole screen"),
        Binding("f2", "another", "Another console", priority=True, id="console_another",
                tooltip="Another exec console in this tab's container"),
        Binding("f11", "app.consoles", "Consoles", priority=True, id="console_list",
                tooltip="The open consoles, to pick one"),
    ]
    """Priority keys: every other key belongs to the program in the console."""

    RESERVED_KEYS = frozenset(k.strip() for b in BINDINGS for k in b.key.split(","))
    """The keys the terminals leave to these bindings."""

    def __init__(self, engine) -> None:
        super().__init__(name=NAME)
        self.engine = engine
        self._serial = 0

    def compose(self) -> ComposeResult:
        yield Static("", id="console-title", markup=False)
        yield TabbedContent(id="consoles")
        yield ScreenFooter()

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

    def full(self) -> bool:
        """As many consoles as allowed are open (and the user was told)."""
        if len(self.terminals()) < MAX_CONSOLES:
            return False
        self.notify(f"{MAX_CONSOLES} consoles are open: close one first (F9)",
                    severity="warning")
        return True

    async def open(self, container_id: str, name: str, command: str = "sh",
                   engine=None) -> TerminalWidget | None:
        """Add an exec console running ``command`` in the container (of ``engine``, else the
        engine the screen was opened for) and show it; a ``kube:NAMESPACE/POD`` id is a pod
        of a cluster (``berth kube exec``)."""
        if self.full():
            return None
        engine = engine or self.engine
        env = engine.client_environment()
        argv = kube_exec_argv(container_id, command) if container_id.startswith("kube:") \
            else exec_argv(container_id, command)
        term = await self._add(PtySession(argv, env), name, container_id)
        term.engine = engine
        return term

    def existing(self, container_id: str) -> TerminalWidget | None:
        """The container's exec console still running, when it has one."""
        for term in self.terminals():
            if term.container_id == container_id and term.verb == "exec" and not term.ended:
                return term
        return None

    def show(self, term: TerminalWidget) -> None:
        """Make ``term``'s tab the current one."""
        pane = self.pane_of(term)
        if pane is not None:
            self.query_one(TabbedContent).active = pane.id
            term.focus()
            self._update_title()

    async def action_another(self) -> None:
        """Another exec console in the container of the current tab."""
        term = self.current()
        if term is None or not term.container_id:
            self.app.bell()
            return
        await self.open(term.container_id, term.title, engine=getattr(term, "engine", None))

    async def attach(self, sock: int, name: str,
                     detach_keys: bytes = b"\x10\x11",
                     container_id: str = "") -> TerminalWidget | None:
        """Add a console attached to a container's main process through ``sock`` (the frames
        socket of ``Engine.attach``, or of ``Engine.run``'s ``attach_fd``); the console owns
        the socket from here, even when it refuses (too many consoles)."""
        if self.full():
            os.close(sock)
            return None
        return await self._add(AttachSession(sock, detach_keys), name, container_id)

    async def _add(self, session, name: str, container_id: str = "") -> TerminalWidget:
        self._serial += 1
        pane_id = f"console-{self._serial}"
        term = TerminalWidget(session=session, title=name, reserved_keys=self.RESERVED_KEYS,
                              id=f"term-{self._serial}")
        term.container_id = container_id
        tabs = self.query_one(TabbedContent)
        await tabs.add_pane(TabPane(self._label(term), term, id=pane_id))
        tabs.active = pane_id
        term.focus()
        self._update_title()
        return term

    def _label(self, term: TerminalWidget, state: str = "") -> str:
        serial = (term.id or "").rpartition("-")[2]
        return f"{term.verb} {term.title} #{serial}{f' ({state})' if state else ''}"

    def pane_of(self, term: TerminalWidget) -> TabPane | None:
        for pane in self.query(TabPane):
            if term in pane.query(TerminalWidget):
                return pane
        return None

    def tab_label(self, term: TerminalWidget) -> str:
        """The text of the terminal's tab."""
        pane = self.pane_of(term)
        if pane is None:
            return ""
        return str(self.query_one(TabbedContent).get_tab(pane.id).label)

    def _update_title(self) -> None:
        """The keys of the current tab: detaching only where it is attached."""
        n = len(self.terminals())
        term = self.current()
        detach = "   ctrl-p ctrl-q: detach" if term is not None and term.verb == "attach" else ""
        # what matters first, as 80 columns cut it: back, scrolling back, another console
        self.query_one("#console-title", Static).update(
            f" consoles: {n}{detach}   F12 dashboard   shift+PgUp/PgDn scroll   F2 another"
            "   F7/F8 tabs   F11 list   F9 close   F6 copy   ctrl+] dashboard   mouse: select"
            " (shift+mouse if the program takes it)")

    def on_tabbed_content_tab_activated(self, event: TabbedContent.TabActivated) -> None:
        term = self.current()
        if term is not None:
            term.focus()
        self._update_title()

    async def on_terminal_widget_exited(self, event: TerminalWidget.Exited) -> None:
        term = event.terminal
        pane = self.pane_of(term)
        if pane is None:
            return
        tabs = self.query_one(TabbedContent)
        if event.detached:
            # Docker's detach: the user leaves the container running and the tab goes
            self.notify(f"detached from {term.title}: it runs on", timeout=3)
            await tabs.remove_pane(pane.id)
            self._update_title()
            if not self.terminals() and self.app.screen is self:
                self.app.pop_screen()
            return
        tabs.get_tab(pane.id).label = self._label(term, f"exited {event.code}")
        self._update_title()

    def on_screen_resume(self) -> None:
        term = self.current()
        if term is not None:
            term.focus()

    def action_copy(self) -> None:
        """Copy the selection, or the whole screen when nothing is selected."""
        term = self.current()
        if term is None:
            return
        text = term.selected_text()
        what = "the selection"
        if not text:
            text, what = term.text().rstrip("\n"), "the screen"
        term.copy_text(text)
        self.notify(f"copied {what}: {len(text.splitlines())} lines", timeout=2)

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


CHROME_ROWS = 4
"""Rows of the console screen that are not the terminal: title, tabs (two) and footer."""


def pane_size(app) -> tuple[int, int] | None:
    """(rows, cols) a new console's terminal will have: what a container started for it
    (``run -it``) gets as its terminal size from the first instant."""
    try:
        term = app.get_screen(NAME).current()
    except KeyError:
        term = None
    if term is not None and term.size.width and term.size.height:
        return term.size.height, term.size.width
    rows, cols = app.size.height - CHROME_ROWS, app.size.width
    return (rows, cols) if rows > 1 and cols > 1 else None


async def _show(app, engine) -> ConsoleScreen:
    """The console screen on top (installed the first time)."""
    try:
        screen = app.get_screen(NAME)
    except KeyError:
        screen = ConsoleScreen(engine)
        app.install_screen(screen, NAME)
    if app.screen is not screen:
        await app.push_screen(screen)
    return screen


async def hang_up_all(app, timeout: float = 1.0) -> None:
    """Hang up every console's program and give them ``timeout`` seconds to go, so that none
    is still running when the event loop closes (its child watcher then reports it lost)."""
    import asyncio
    try:
        screen = app.get_screen(NAME)
    except KeyError:
        return
    waits = []
    for term in screen.terminals():
        proc = term.session.proc
        term.close()
        if proc is not None and proc.returncode is None:
            waits.append(proc.wait())
    if waits:
        await asyncio.wait([asyncio.ensure_future(w) for w in waits], timeout=timeout)


async def open_console(app, engine, container_id: str, name: str,
                       another: bool = False) -> TerminalWidget | None:
    """Show the console screen with the container's exec console: the one already running
    (unless ``another`` is asked for), or a new shell."""
    screen = await _show(app, engine)
    term = None if another else screen.existing(container_id)
    if term is not None:
        screen.show(term)
        return term
    return await screen.open(container_id, name, engine=engine)


def consoles(app) -> list[TerminalWidget]:
    """Every open console, in tab order (none before the first is opened)."""
    try:
        return app.get_screen(NAME).terminals()
    except KeyError:
        return []


async def show_console(app, engine, term: TerminalWidget) -> None:
    """Bring the console screen up on ``term``'s tab."""
    screen = await _show(app, engine)
    screen.show(term)


async def open_attach(app, engine, container_id: str, name: str,
                      sock: int | None = None) -> TerminalWidget | None:
    """Show the console screen with a new tab attached to the container's main process.
    ``sock``: a frames socket already connected to its monitor (a foreground run's); without
    it, ``Engine.attach`` connects one (the engine's message when it refuses)."""
    from engine.errors import BerthError
    from engine.public import pty
    try:
        keys = pty.parse_detach_keys(engine.container(container_id).config.detach_keys or "")
    except (BerthError, ValueError):
        keys = pty.parse_detach_keys("")
    if sock is None:
        try:
            sock = engine.attach(container_id)
        except BerthError as e:
            app.notify(str(e), title="attach", severity="error")
            return None
    screen = await _show(app, engine)
    return await screen.attach(sock, name, keys, container_id)
