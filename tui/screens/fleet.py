"""FleetScreen: the containers of every engine at once (this machine and each connection), in
the dashboard's own container table with a HOST column first. The dashboard's container keys
work here on the selected row's host (start, stop, restart, pause, kill, remove, logs, shell,
inspect, details, top, limits, console, attach; marks act on the marked rows of the cursor's
host); ``enter`` opens that host's dashboard.

Each host is read in a worker thread of its own, so one that is slow or gone holds up neither
the screen nor the others: it shows as a row saying so, and the others are drawn as they come.
Every host's events are followed: a change anywhere reads the hosts again at once, and the
timer's reading (ages, a host gone slow) can be rare. Rows are diffed into the table (only
changed cells are drawn again), as the dashboard's are.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor, wait

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.message import Message
from textual.screen import Screen
from textual.widgets import Footer, Static

from ..widgets import rows as R
from ..widgets.resource_table import ResourceTable
from .dashboard_verbs import DashboardVerbs

REFRESH = 5.0          # seconds between readings of every host, besides their events
HOST_DEADLINE = 5.0    # a host slower than this is shown as slow, and read again next time
COLUMNS = (R.Column("host", "HOST"), *R.CONTAINER_COLUMNS)
# the dashboard's container keys that act on a row (DashboardScreen.BINDINGS' ids and keys)
ROW_KEYS = (("s", "start", "Start"), ("x", "stop", "Stop"), ("r", "restart", "Restart"),
            ("p", "pause", "Pause"), ("K", "kill", "Kill"), ("d", "remove", "Remove"),
            ("l", "logs", "Logs"), ("e", "shell", "Shell"), ("i", "inspect", "Inspect"),
            ("T", "top", "Top"), ("u", "update_limits", "Limits"), ("c", "console", "Console"),
            ("A", "attach", "Attach"), ("space", "mark", "Mark"))


def host_row(host: str, c, now: float, theme_style) -> R.Row:
    """A container's dashboard row with its host's name as the first cell; keyed by both."""
    base = R.container_row(c, None, (), now, theme_style)
    return R.Row(f"{host}/{c.id}", c.id, (Text(host, style="bold"), *base.cells),
                 (host, *base.sort), f"{host} {base.text}", c)


class FleetScreen(DashboardVerbs, Screen):
    """Every host's containers in one table; the row's host is the engine a key acts on."""

    DEFAULT_CSS = """
    #fleet-title { text-style: bold; color: $primary; padding: 0 1; }
    #fleet-table { height: 1fr; }
    """

    BINDINGS = [
        Binding("escape", "app.pop_screen", "Back", id="fleet.back"),
        *[Binding(key, action, label, id=f"fleet.{action}", show=action in ("stop", "remove",
                                                                         "logs", "start"))
          for key, action, label in ROW_KEYS],
        Binding("enter", "open_host", "Open host", id="fleet.open"),
        Binding("a", "toggle_stopped", "All", id="fleet.all"),
        Binding("j,down", "cursor_down", "Down", show=False),
        Binding("k,up", "cursor_up", "Up", show=False),
    ]

    class Changed(Message):
        """A verb went through: read the hosts again (DashboardVerbs posts it)."""

    def __init__(self) -> None:
        super().__init__()
        self.rows: dict[str, tuple[str, object]] = {}   # row key -> (host, container)
        self.show_all = True
        self.loaded = False
        self.pane_kind = "containers"
        self._inspects: dict = {}       # (what DashboardVerbs reads of the detail pane's)
        self._log_lines, self._log_cid = (), None
        self._pool = ThreadPoolExecutor(max_workers=8, thread_name_prefix="fleet")
        self._inflight: dict[str, object] = {}   # host -> its reading still under way
        self._followed: set[str] = set()          # hosts whose events are followed
        self._reread = False                      # an event asked for a reading, due soon

    def compose(self) -> ComposeResult:
        yield Static("all hosts: reading…", id="fleet-title")
        yield ResourceTable("containers", COLUMNS, id="fleet-table")
        yield Footer()

    def on_mount(self) -> None:
        self.table().focus()
        self.read_hosts()
        self.set_interval(REFRESH, self.read_hosts)

    def on_unmount(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)

    # --- what DashboardVerbs asks of its screen -----------------------------------------------

    def table(self, kind: str | None = None) -> ResourceTable:
        return self.query_one(ResourceTable)

    def targets(self) -> list[R.Row]:
        """The marked rows of the cursor's host (one engine per verb), or the cursor's row."""
        host = self._cursor_host()
        return [r for r in self.table().targets() if r.key.partition("/")[0] == host]

    @property
    def engine(self):
        """The engine of the cursor's row (the host the keys act on)."""
        return self._engine_of(self._cursor_host())

    def run_verb(self, *args, **kwargs):
        # the row's engine now, not whichever row the cursor is on once the worker runs
        return super().run_verb(*args, engine=self.engine, **kwargs)

    def _cursor_host(self) -> str:
        row = self.table().selected()
        return row.key.partition("/")[0] if row is not None else ""

    def _engine_of(self, host: str):
        engines = getattr(self.app, "engines", None)
        if engines and host in engines:
            return engines[host]
        return self.app.engine

    def theme_style(self, spec: str) -> str:
        variables = self.app.theme_variables
        return " ".join(variables.get(tok[1:], "") if tok.startswith("$") else tok
                        for tok in spec.split())

    def on_fleet_screen_changed(self, _message: Changed) -> None:
        self.read_hosts()

    def _follow(self, hosts) -> None:
        """Follow the events of the hosts not followed yet (each in a worker of its own)."""
        for host, engine in hosts:
            if host not in self._followed and getattr(engine, "follow_events", None):
                self._followed.add(host)
                self.run_worker(self._events(engine), group="fleet-events",
                                exit_on_error=False)

    async def _events(self, engine) -> None:
        async for ev in engine.follow_events():
            if ev.type == "container" and not self._reread:
                # a burst of events makes one reading
                self._reread = True
                self.set_timer(0.1, self._read_again)

    def _read_again(self) -> None:
        self._reread = False
        self.read_hosts()

    def action_mark(self) -> None:
        self.table().toggle_mark()

    def action_cursor_down(self) -> None:
        self.table().action_cursor_down()

    def action_cursor_up(self) -> None:
        self.table().action_cursor_up()

    # --- reading every host -------------------------------------------------------------------

    def _engines(self) -> list[tuple[str, object]]:
        """(name, engine) of every host: those the app has reached, then every connection."""
        from engine import connections
        app = self.app
        found = dict(getattr(app, "engines", {}))
        found.setdefault(getattr(app, "host", "local"), app.engine)
        try:
            for c in connections.all_connections():
                # a cluster's pods are its own screen's (h), not containers of a host
                if c.name not in found and not connections.is_kube(c.url):
                    found[c.name] = c.connect()
        except Exception as e:   # a damaged connections file: the hosts known so far
            self.app.call_from_thread(self.notify, str(e), severity="error")
        if hasattr(app, "engines"):
            app.engines.update(found)
        return list(found.items())

    @work(thread=True, group="fleet", exclusive=True, exit_on_error=False)
    def read_hosts(self) -> None:
        def read(e):
            return e.containers(all=self.show_all), e.engine_info().label()

        futures = {}
        hosts = self._engines()
        self.app.call_from_thread(self._follow, hosts)
        for name, e in hosts:
            # a host still answering the last reading is not asked again meanwhile
            pending = self._inflight.get(name)
            if pending is None or pending.done():
                pending = self._inflight[name] = self._pool.submit(read, e)
            futures[pending] = name
        done, _ = wait(futures, timeout=HOST_DEADLINE)
        result: list[tuple[str, object, str]] = []   # (host, container or None, problem)
        labels: dict[str, str] = {}
        for future, name in futures.items():
            if future not in done:
                result.append((name, None, "slow: no answer yet"))
            elif future.exception() is not None:
                result.append((name, None, f"disconnected: {future.exception()}"))
            else:
                containers, labels[name] = future.result()
                result += [(name, c, "") for c in containers]
        self.app.call_from_thread(self._draw, result, labels)

    def _draw(self, result, labels) -> None:
        now = self.app.clock() if hasattr(self.app, "clock") else __import__("time").time()
        rows, problems = [], []
        self.rows.clear()
        for host, c, problem in result:
            if c is None:
                problems.append(f"{host}: {problem}")
                continue
            row = host_row(host, c, now, self.theme_style)
            self.rows[row.key] = (host, c)
            rows.append(row)
        self.table().apply(rows)
        hosts = sorted({h for h, _, _ in result})
        title = "  ".join(f"{h} ({labels.get(h) or '?'})" for h in hosts)
        self.query_one("#fleet-title", Static).update(
            f"all hosts: {title}   ({len(self.rows)} containers; esc back)"
            + "".join(f"\n  {p}" for p in problems))
        self.loaded = True

    def _selected(self):
        """(host, engine, container) of the cursor's row, or None."""
        row = self.table().selected()
        if row is None:
            return None
        host = row.key.partition("/")[0]
        return host, self._engine_of(host), row.model

    def action_toggle_stopped(self) -> None:
        self.show_all = not self.show_all
        self.read_hosts()

    def action_open_host(self) -> None:
        picked = self._selected()
        if picked and hasattr(self.app, "switch_host"):
            self.app.pop_screen()
            self.app.switch_host(picked[0])

    def on_worker_state_changed(self, event) -> None:
        self.app.on_worker_state_changed(event)
