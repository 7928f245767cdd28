"""FleetScreen: the containers of every engine at once (this machine and each connection), with
a HOST column; ``x`` stops, ``d`` removes (asks), ``l`` shows the logs of the selected one,
``enter`` opens its host's dashboard.

Each host is read in a worker thread of its own, so one that is slow or gone holds up neither
the screen nor the others: it shows as a row saying so, and the others are drawn as they come.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor, wait

from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Static

from ..widgets.rows import container_status

REFRESH = 2.0          # seconds between readings of every host
HOST_DEADLINE = 5.0    # a host slower than this is shown as slow, and read again next time


class FleetScreen(Screen):
    """Every host's containers in one table."""

    DEFAULT_CSS = """
    #fleet-title { text-style: bold; color: $primary; padding: 0 1; }
    #fleet-table { height: 1fr; }
    """

    BINDINGS = [
        Binding("escape", "app.pop_screen", "Back", id="fleet.back"),
        Binding("x", "stop", "Stop", id="fleet.stop"),
        Binding("d", "remove", "Remove", id="fleet.remove"),
        Binding("l", "logs", "Logs", id="fleet.logs"),
        Binding("enter", "open_host", "Open host", id="fleet.open"),
        Binding("a", "toggle_stopped", "All", id="fleet.all"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.rows: dict[str, tuple[str, object]] = {}   # row key -> (host, container)
        self.show_all = True
        self.loaded = False
        self._pool = ThreadPoolExecutor(max_workers=8, thread_name_prefix="fleet")
        self._inflight: dict[str, object] = {}   # host -> its reading still under way

    def compose(self) -> ComposeResult:
        yield Static("all hosts: reading…", id="fleet-title")
        table = DataTable(id="fleet-table", cursor_type="row", zebra_stripes=True)
        table.add_columns("HOST", "NAME", "IMAGE", "STATE", "STATUS", "ID")
        yield table
        yield Footer()

    def on_mount(self) -> None:
        self.read_hosts()
        self.set_interval(REFRESH, self.read_hosts)

    def on_unmount(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)

    def _engines(self) -> list[tuple[str, object]]:
        """(name, engine) of every host: those the app has reached, then every connection."""
        from engine import connections
        app = self.app
        found = dict(getattr(app, "engines", {}))
        found.setdefault(getattr(app, "host", "local"), app.engine)
        try:
            for c in connections.all_connections():
                if c.name not in found:
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
        for name, e in self._engines():
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
        import time
        table = self.query_one(DataTable)
        keep = table.cursor_row
        table.clear()
        self.rows.clear()
        now = time.time()
        hosts = sorted({h for h, _, _ in result})
        for host, c, problem in sorted(result, key=lambda r: (r[0], r[1].name if r[1] else "")):
            if c is None:
                table.add_row(host, "—", problem, "", "", "", key=f"{host}/")
                continue
            key = f"{host}/{c.id}"
            self.rows[key] = (host, c)
            table.add_row(host, c.name, c.config.image, c.state.status, container_status(c, now),
                          c.id[:12], key=key)
        if table.row_count:
            table.move_cursor(row=min(keep, table.row_count - 1))
        title = "  ".join(f"{h} ({labels.get(h) or '?'})" for h in hosts)
        self.query_one("#fleet-title", Static).update(
            f"all hosts: {title}   ({len(self.rows)} containers; esc back)")
        self.loaded = True

    def _selected(self):
        table = self.query_one(DataTable)
        if not table.row_count:
            return None
        key = table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value
        if key not in self.rows:
            return None
        host, c = self.rows[key]
        return host, self.app.engines[host] if hasattr(self.app, "engines") else self.app.engine, c

    def action_toggle_stopped(self) -> None:
        self.show_all = not self.show_all
        self.read_hosts()

    def action_stop(self) -> None:
        picked = self._selected()
        if picked:
            self._verb(picked, "stop")

    def action_remove(self) -> None:
        picked = self._selected()
        if not picked:
            return
        from .confirm import ConfirmScreen
        host, _, c = picked
        self.app.push_screen(ConfirmScreen(f"Remove {c.name} on {host}?",
                                           "It is stopped first." if c.running else ""),
                             lambda yes: self._verb(picked, "remove") if yes else None)

    @work(thread=True, group="fleet verbs", exit_on_error=False)
    def _verb(self, picked, verb: str) -> None:
        host, engine, c = picked
        if verb == "stop":
            engine.stop(c.id)
        else:
            engine.remove(c.id, force=True)
        self.app.call_from_thread(self.notify, f"{verb}: {c.name} on {host}", timeout=3)
        self.read_hosts()

    def action_logs(self) -> None:
        picked = self._selected()
        if picked:
            from .logs import LogsScreen
            _, engine, c = picked
            self.app.push_screen(LogsScreen(engine, [(c.id, c.name)],
                                            max_lines=self.app.config.log_lines))

    def action_open_host(self) -> None:
        picked = self._selected()
        if picked and hasattr(self.app, "switch_host"):
            self.app.pop_screen()
            self.app.switch_host(picked[0])

    def on_worker_state_changed(self, event) -> None:
        self.app.on_worker_state_changed(event)
