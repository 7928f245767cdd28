"""Many engines in one dashboard: which one it draws (the header's words for it), a switcher
(``h``, or "Host: …" in the ``:`` palette) between this machine's berth and every connection,
and a host that drops shown as disconnected until its engine's event stream finds it again
(engine/client/remote.py retries with backoff).

Every call to another engine runs in a worker thread: the header is built from what the engine
already knows, and a switch connects in a worker before the new dashboard replaces the old.
"""

from __future__ import annotations

from functools import partial

from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import OptionList, Static
from textual.widgets.option_list import Option

from .app import BerthApp
from .host_label import where
from .screens.palette import BerthCommands


class HostsScreen(ModalScreen[str | None]):
    """The engines to choose from: this machine and every connection (berth's own, docker's
    contexts, DOCKER_HOST, CONTAINER_HOST); the current one marked."""

    DEFAULT_CSS = """
    HostsScreen { align: center middle; background: $background 60%; }
    #hosts { width: 96; max-width: 100%; height: auto; max-height: 100%;
             border: round $primary; background: $surface; padding: 0 1; }
    #hosts-title { text-style: bold; color: $primary; }
    #hosts OptionList { height: auto; max-height: 20; }
    """

    BINDINGS = [Binding("escape", "dismiss(None)", "Cancel", show=False)]

    def __init__(self, connections, current: str):
        super().__init__()
        self.connections = connections
        self.current = current

    def compose(self) -> ComposeResult:
        with Vertical(id="hosts"):
            yield Static("Switch to which engine?  (enter picks, esc cancels)", id="hosts-title")
            yield OptionList(*[Option(f"{'●' if c.name == self.current else ' '} {c.name:<16} "
                                      f"{c.url or '(this machine)'}   {c.source}", id=c.name)
                               for c in self.connections], id="hosts-list")

    def on_mount(self) -> None:
        names = [c.name for c in self.connections]
        if self.current in names:   # the cursor starts on the host on show
            self.query_one(OptionList).highlighted = names.index(self.current)

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        self.dismiss(event.option.id)


class HostCommands(BerthCommands):
    """"Host: NAME" for every engine, in the command palette (BerthCommands' matching)."""

    def _commands(self):
        from engine import connections
        try:
            found = connections.all_connections()
        except Exception:   # a damaged connections file: the switcher says so when opened
            return []
        return [(f"Host: {c.name}", partial(self.app.switch_host, c.name),
                 f"show {c.url or 'this machine'}") for c in found]


class HostsApp(BerthApp):
    """The dashboard, able to change the engine it draws."""

    COMMANDS = BerthApp.COMMANDS | {HostCommands}
    BINDINGS = [*BerthApp.BINDINGS,
                Binding("h", "hosts", "Hosts", id="hosts",
                        tooltip="Switch to another engine: this machine or a connection"),
                Binding("F", "fleet", "All hosts", id="fleet",
                        tooltip="The containers of every host in one list")]

    def __init__(self, engine, host: str = "local", **kwargs):
        super().__init__(engine, **kwargs)
        self.host = host
        self.engines = {host: engine}

    def on_mount(self) -> None:
        # (Textual runs BerthApp's on_mount too, as for every class that defines one)
        self.set_interval(1.0, self._show_host_state)

    def _show_host_state(self) -> None:
        """A remote host's header follows its connection (disconnected, back)."""
        if not getattr(self.engine, "remote", False):
            return
        from .widgets.header import HostHeader
        text = where(self.engine)
        for header in self.screen.query(HostHeader):
            if header.root != text:
                header.root = text
                header.refresh()

    def action_fleet(self) -> None:
        from .screens.fleet import FleetScreen
        if not isinstance(self.screen, FleetScreen):
            self.push_screen(FleetScreen())

    def action_hosts(self) -> None:
        from engine import connections
        from engine.errors import BerthError
        if isinstance(self.screen, HostsScreen):
            return
        try:
            found = connections.all_connections()
        except BerthError as e:
            self.notify(str(e), severity="error")
            return
        self.push_screen(HostsScreen(found, self.host),
                         lambda name: self.switch_host(name) if name else None)

    def switch_host(self, name: str) -> None:
        if name == self.host:
            return
        self.notify(f"connecting to {name}…", timeout=3)
        self._connect(name)

    @work(thread=True, group="hosts", exclusive=True, exit_on_error=False)
    def _connect(self, name: str) -> None:
        """Reach the engine (in this worker: a slow host never holds the screen), then show it."""
        from engine import connections
        engine = self.engines.get(name)
        if engine is None:
            engine = connections.find(name).connect()
        if getattr(engine, "kube", False):
            engine.version()   # a cluster that can't be reached is said here, as a host is
        else:
            engine.engine_info()
        if getattr(engine, "remote", False):
            engine.ping()
        self.engines[name] = engine
        self.call_from_thread(self._show, name, engine)

    def _show(self, name: str, engine) -> None:
        self.engine, self.host = engine, name
        dash = self.dashboard
        while len(self.screen_stack) > 1 and self.screen is not dash:
            self.pop_screen()
        self.switch_screen(self.dashboard_for(engine))
        kube = getattr(engine, "kube", False)
        self.notify(f"now on {engine.label() if kube else where(engine)}", timeout=4)
