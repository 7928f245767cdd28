"""KubeScreen: the dashboard over a Kubernetes cluster (a ``kube://CONTEXT`` connection), k9s-style:
Pods, Deployments and Events panes (1, 2, 3) of one namespace or all (n picks, 0 is all),
drawn from the cluster's watches (engine/kube/cache.py), never from polls; a cluster that drops
shows as disconnected in the header and is listed again when it answers.

berth's keys keep their meanings here: l logs, i the object as the inspect tree (k9s's
describe, with the events about it), d / ctrl+d delete and K kill (delete at once, no grace
period), each asking first, e / c an exec console in the pod; s scales a deployment (as k9s).
"""

from __future__ import annotations

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.message import Message
from textual.screen import Screen
from textual.widgets import Input, Static

from ..widgets import kube_rows as K
from ..widgets.footer import ScreenFooter
from ..widgets.resource_table import ResourceTable

PANES = ("pods", "deployments", "events")
AGES_EVERY = 5.0    # seconds between redraws for the ages alone
USAGE_EVERY = 3.0   # seconds between readings of the berth nodes' /stats/summary


class KubeScreen(Screen):
    """A cluster's pods, deployments and events; the keys act on the selected row."""

    DEFAULT_CSS = """
    KubeScreen #kube-header { height: 1; background: $panel; color: $text; padding: 0 1; }
    KubeScreen #kube-tabs { height: 1; padding: 0 1; }
    KubeScreen ResourceTable { height: 1fr; }
    """

    BINDINGS = [
        Binding("1", "pane('pods')", "Pods", id="kube.pods"),
        Binding("2", "pane('deployments')", "Deployments", id="kube.deployments"),
        Binding("3", "pane('events')", "Events", id="kube.events"),
        Binding("n", "namespace", "Namespace", id="kube.namespace"),
        Binding("0", "all_namespaces", "All namespaces", id="kube.all", show=False),
        Binding("l", "logs", "Logs", id="kube.logs"),
        Binding("i", "describe", "Describe", id="kube.describe"),
        Binding("d,ctrl+d", "delete", "Delete", id="kube.delete"),
        Binding("K", "kill", "Kill", id="kube.kill", show=False),
        Binding("s", "scale", "Scale", id="kube.scale"),
        Binding("e,c", "console", "Shell", id="kube.console"),
        Binding("g", "graphs", "Graphs", id="kube.graphs", show=False,
                tooltip="CPU and memory over time of the pods on berth nodes"),
        Binding("slash", "filter", "Filter", id="kube.filter",
                tooltip="Keep the rows that contain a text (~ for a regular expression)"),
        Binding("tab", "next_pane(1)", "Next pane", id="kube.next", show=False),
        Binding("shift+tab", "next_pane(-1)", "Previous pane", id="kube.prev", show=False),
        Binding("j,down", "cursor_down", "Down", show=False),
        Binding("k,up", "cursor_up", "Up", show=False),
    ]

    class Changed(Message):
        """The watch cache changed (posted from a watch thread; a burst draws once)."""

        def can_replace(self, message: Message) -> bool:
            return isinstance(message, KubeScreen.Changed)

    def __init__(self, cluster) -> None:
        super().__init__()
        self.cluster = cluster
        self.engine = cluster            # what the app's console and logs code call it
        self.pane_kind = "pods"
        self.namespace = ""              # "" shows every namespace
        self.filter_text = ""
        self.loaded = False
        self._scheduled = False
        self.usage: dict[str, dict] = {}
        """CPU and memory of the pods on berth nodes, by NAMESPACE/POD (the last reading)."""

    def compose(self) -> ComposeResult:
        yield Static(id="kube-header")
        yield Static(id="kube-tabs")
        for kind in PANES:
            table = ResourceTable(kind, K.COLUMNS[kind], id=f"kube-{kind}")
            table.sort_reverse = kind == "events"   # the newest first
            yield table
        yield Input(placeholder="filter: text, or ~regex (enter keeps it, esc clears it)",
                    id="kube-filter")
        yield ScreenFooter()

    def on_mount(self) -> None:
        self.query_one("#kube-filter").display = False
        self.cache = self.cluster.watch()
        self.cache.listen(self._heard)
        self._show_pane()
        self._draw()
        self._version()
        self.set_interval(AGES_EVERY, self._draw)
        if getattr(self.app, "live", True):
            self.sample_usage()
            self.set_interval(USAGE_EVERY, self._want_usage)

    def on_unmount(self) -> None:
        self.cache.unlisten(self._heard)

    @work(thread=True, group="kube-version", exit_on_error=False)
    def _version(self) -> None:
        try:
            self.cluster.version()
        except Exception:   # unreachable now: the header says so, the watches retry
            return
        self.app.call_from_thread(self._draw_header)

    def _want_usage(self) -> None:
        if self.pane_kind == "pods" and self.is_current:   # read only while it is shown
            self.sample_usage()

    @work(thread=True, group="kube-usage", exclusive=True, exit_on_error=False)
    def sample_usage(self) -> None:
        from engine.errors import BerthError
        try:
            usage = self.cluster.pod_usage()
        except BerthError:   # away: the header says so; the figures stay as they were
            return
        self.app.call_from_thread(self._got_usage, usage)

    def _got_usage(self, usage: dict) -> None:
        self.usage = usage
        if self.pane_kind == "pods":
            self._draw()

    # --- drawing --------------------------------------------------------------------------------

    def _heard(self, kind: str) -> None:
        """A watch thread's word of a change."""
        self.post_message(self.Changed())

    def on_kube_screen_changed(self, _message: Changed) -> None:
        if not self._scheduled:
            self._scheduled = True
            self.set_timer(0.05, self._draw)

    def table(self, kind: str | None = None) -> ResourceTable:
        return self.query_one(f"#kube-{kind or self.pane_kind}", ResourceTable)

    def _style(self, spec: str) -> str:
        variables = self.app.theme_variables
        return " ".join(variables.get(tok[1:], "") if tok.startswith("$") else tok
                        for tok in spec.split())

    def _in_namespace(self, objects: list[dict]) -> list[dict]:
        if not self.namespace:
            return objects
        return [o for o in objects if (o.get("metadata") or {}).get("namespace") == self.namespace]

    def rows(self, kind: str) -> list:
        now = self.app.clock() if hasattr(self.app, "clock") else __import__("time").time()
        objects = self._in_namespace(self.cache.items(kind))
        rows = self._rows(kind, objects, now)
        if not self.filter_text:
            return rows
        import re
        text = self.filter_text
        try:
            rx = re.compile(text[1:] if text.startswith("~") else re.escape(text), re.IGNORECASE)
        except re.error:
            return rows
        return [r for r in rows if rx.search(r.text)]

    def _rows(self, kind: str, objects: list[dict], now: float) -> list:
        if kind == "pods":
            return [K.pod_row(p, now, self._style, self.usage.get(
                f"{p['metadata'].get('namespace')}/{p['metadata'].get('name')}"))
                for p in objects]
        if kind == "deployments":
            return [K.deployment_row(d, now, self._style) for d in objects]
        return [K.event_row(e, now, self._style) for e in objects]

    def _draw(self) -> None:
        self._scheduled = False
        self.table().apply(self.rows(self.pane_kind))
        self._draw_header()
        if {"pods", "deployments", "events"} <= self.cache.loaded:
            self.loaded = True

    def _draw_header(self) -> None:
        c = self.cache
        t = Text()
        t.append(f" {self.cluster.label()} ", style="bold")
        if c.connected:
            t.append(" connected ", style=self._style("bold $success"))
        else:
            t.append(" DISCONNECTED, trying again ", style=self._style("bold reverse $error"))
            t.append(f" {c.error[:80]}", style="dim")
        if c.refused:
            t.append(f"  not allowed to list: {', '.join(sorted(c.refused))}",
                     style=self._style("$warning"))
        self.query_one("#kube-header", Static).update(t)
        tabs = Text()
        for i, kind in enumerate(PANES, 1):
            n = len(self._in_namespace(c.items(kind)))
            tabs.append(f" {i} {kind.capitalize()} ({n}) ",
                        style="reverse bold" if kind == self.pane_kind else "")
            tabs.append(" ")
        tabs.append(f"   namespace: {self.namespace or 'all'} (n)", style="dim")
        self.query_one("#kube-tabs", Static).update(tabs)

    def _show_pane(self) -> None:
        for kind in PANES:
            self.table(kind).display = kind == self.pane_kind
        self.table().focus()

    # --- keys -----------------------------------------------------------------------------------

    def action_pane(self, kind: str) -> None:
        self.pane_kind = kind
        self._show_pane()
        self._draw()

    def action_filter(self) -> None:
        box = self.query_one("#kube-filter", Input)
        box.display = True
        box.focus()

    def on_input_changed(self, event: Input.Changed) -> None:
        self.filter_text = event.value.strip()
        self._draw()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.input.display = bool(event.value.strip())
        self.table().focus()

    def on_key(self, event) -> None:
        box = self.query_one("#kube-filter", Input)
        if event.key == "escape" and box.has_focus:
            event.stop()
            box.value = ""
            box.display = False
            self.table().focus()

    def action_next_pane(self, step: int) -> None:
        self.action_pane(PANES[(PANES.index(self.pane_kind) + step) % len(PANES)])

    async def action_graphs(self) -> None:
        """The graphs screen over the pods on berth nodes (their kubelets' stats)."""
        from .graphs import open_graphs
        pushed = open_graphs(self.app, self.cluster)
        if pushed is not None:
            await pushed

    def action_cursor_down(self) -> None:
        self.table().action_cursor_down()

    def action_cursor_up(self) -> None:
        self.table().action_cursor_up()

    def action_namespace(self) -> None:
        from .kube_dialogs import NamespaceScreen
        names = sorted(ns.get("metadata", {}).get("name", "")
                       for ns in self.cache.items("namespaces"))

        def chosen(name: str | None) -> None:
            if name is not None:
                self.namespace = name
                self._draw()
        self.app.push_screen(NamespaceScreen(names, self.namespace), chosen)

    def action_all_namespaces(self) -> None:
        self.namespace = ""
        self._draw()

    def _selected(self, *kinds: str):
        """(namespace, name, object) of the cursor's row when the pane is one of ``kinds``."""
        row = self.table().selected() if self.pane_kind in kinds else None
        if row is None:
            self.app.bell()
            return None
        meta = row.model.get("metadata") or {}
        return meta.get("namespace", ""), meta.get("name", ""), row.model

    def action_logs(self) -> None:
        from .logs import LogsScreen
        picked = self._selected("pods")
        if picked:   # a pod of several containers: their logs merged, each line labelled
            ns, name, pod = picked
            names = [c.get("name", "") for c in (pod.get("spec") or {}).get("containers") or []]
            targets = ([(f"{ns}/{name}/{c}", f"{name}/{c}") for c in names] if len(names) > 1
                       else [(f"{ns}/{name}", name)])
            self.app.push_screen(LogsScreen(self.cluster, targets))

    def action_describe(self) -> None:
        from .inspect import InspectScreen
        picked = self._selected("pods", "deployments")
        if not picked:
            return
        ns, name, obj = picked
        screen = InspectScreen(self.pane_kind, f"{ns}/{name}", None)
        self.app.push_screen(screen)
        self._describe(screen, self.pane_kind, ns, name)

    @work(thread=True, group="describe", exit_on_error=False)
    def _describe(self, screen, kind: str, ns: str, name: str) -> None:
        from engine.errors import BerthError
        try:
            data = self.cluster.describe(kind, ns, name)
        except BerthError as e:
            self.app.call_from_thread(screen.set_data, error=str(e))
            return
        self.app.call_from_thread(screen.set_data, data)

    def action_delete(self, force: bool = False) -> None:
        from .confirm import ConfirmScreen
        picked = self._selected("pods", "deployments")
        if not picked:
            return
        ns, name, _ = picked
        kind = self.pane_kind[:-1]
        verb = "Kill" if force else "Delete"
        detail = ("At once, with no grace period: its containers are killed."
                  if force else "Its controller, if it has one, makes another."
                  if kind == "pod" else "Its pods go with it.")
        self.app.push_screen(ConfirmScreen(f"{verb} {kind} {ns}/{name}?", detail),
                             lambda yes: self._delete(kind, ns, name, force) if yes else None)

    def action_kill(self) -> None:
        self.action_delete(force=True)

    @work(thread=True, group="delete", exit_on_error=False)
    def _delete(self, kind: str, ns: str, name: str, force: bool) -> None:
        if kind == "pod":
            self.cluster.delete_pod(ns, name, grace=0 if force else None)
        else:
            self.cluster.delete_deployment(ns, name)
        self.app.call_from_thread(self.notify, f"{kind} {ns}/{name} deleted", timeout=3)

    def action_scale(self) -> None:
        from .kube_dialogs import ScaleDialog
        picked = self._selected("deployments")
        if picked:
            ns, name, dep = picked
            replicas = (dep.get("spec") or {}).get("replicas", 1)
            self.app.push_screen(ScaleDialog(self.cluster, ns, name, replicas))

    async def action_console(self) -> None:
        from .console import open_console
        picked = self._selected("pods")
        if not picked:
            return
        ns, name, pod = picked
        if (pod.get("status") or {}).get("phase") != "Running":
            self.notify("select a running pod for a console", severity="warning", timeout=3)
            return
        # the first container, as kubectl exec picks it (the API server asks for one)
        first = ((pod.get("spec") or {}).get("containers") or [{}])[0].get("name", "")
        await open_console(self.app, self.cluster, f"kube:{ns}/{name}/{first}", name)

    def on_worker_state_changed(self, event) -> None:
        self.app.on_worker_state_changed(event)
