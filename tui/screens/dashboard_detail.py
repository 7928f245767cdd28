"""The dashboard's detail pane, following the cursor: what it shows and the workers that read it.

A mixin of DashboardScreen. Moving the cursor draws at once what the row's model already says
(the tab bar, a container's facts, env, a volume's users); a thread worker then reads what
costs a read (inspect, top, an image's layers) and fills it in, unless the cursor moved on.
The logs tab follows the container's log in a thread of its own, stopped when the cursor
leaves. Everything kept is bounded: LOG_TAIL lines, INSPECT_CACHE inspects.
"""

from __future__ import annotations

import threading
from collections import OrderedDict, deque

from textual import work
from textual.message import Message

from ..widgets import detail as D
from .fetch import verb

LOG_TAIL = 200          # log lines kept for the pane (it shows the newest that fit)
INSPECT_CACHE = 16      # inspect results kept, newest first out last
TOP_INTERVAL = 2.0      # the top tab reads the processes again this often
PREFETCH_DELAY = 0.25   # the cursor rests this long on a row: its inspect is read for `i`
TAIL_DRAW_INTERVAL = 0.25   # a chatty container's tail is drawn at most this often
SIDE_MIN_WIDTH = 140    # from this many columns the pane sits beside the list, else under it


class DetailLogs(Message):
    """New log lines for the pane's follower; coalesces (the handler draws the tail)."""

    def __init__(self, cid: str) -> None:
        super().__init__()
        self.cid = cid

    def can_replace(self, message: Message) -> bool:
        return isinstance(message, DetailLogs) and message.cid == self.cid


class DashboardDetail:
    """The detail pane's state, drawing and workers."""

    detail_on = True
    """Whether the pane is shown (v toggles it)."""

    def _detail_init(self) -> None:
        self.detail_tabs = {kind: tabs[0] for kind, tabs in D.TABS.items()}
        self._detail_key: tuple | None = None
        self._detail_data: dict = {}
        self._inspects: OrderedDict = OrderedDict()
        self._log_lines: deque = deque(maxlen=LOG_TAIL)
        self._log_stop: threading.Event | None = None
        self._tail = {"added": 0, "posted": False, "drawn": 0}
        """The pane's log follower and the screen: lines added, drawn, and whether a
        DetailLogs is on its way (follow_detail_logs)."""
        self._log_cid = ""
        self._top_timer = None
        self._prefetch_timer = None

    def _detail(self):
        return self.query_one("#detail", D.DetailPane)

    # --- layout and keys ------------------------------------------------------------------------

    def on_resize(self, event) -> None:
        body = self.query_one("#body")
        side = event.size.width >= SIDE_MIN_WIDTH
        if body.has_class("-side") != side:
            body.set_class(side, "-side")

    def action_detail_toggle(self) -> None:
        self.detail_on = not self.detail_on
        self._detail().display = self.detail_on
        if self.detail_on:
            self.detail_follow(force=True)
        else:
            self._stop_detail_workers()

    def action_detail_tab(self, step: int = 1) -> None:
        tabs = D.TABS[self.pane_kind]
        tab = tabs[(tabs.index(self.detail_tabs[self.pane_kind]) + step) % len(tabs)]
        self.detail_tabs[self.pane_kind] = tab
        if not self.detail_on:
            self.action_detail_toggle()
        else:
            self.detail_follow(force=True)

    # --- following the cursor -------------------------------------------------------------------

    def detail_follow(self, force: bool = False) -> None:
        """Show the selected row's current tab; a new row or tab draws afresh, the same one
        only redraws what its model says (a state change, a new sample)."""
        if not self.detail_on or not self.is_mounted:
            return
        row = self.table().selected()
        kind, tab = self.pane_kind, self.detail_tabs[self.pane_kind]
        key = (kind, row.key, tab) if row is not None else (kind, None, tab)
        pane = self._detail()
        if key == self._detail_key and not force:
            if row is not None and row.model is not self._detail_data.get("model"):
                self._detail_data["model"] = row.model
                self._draw_detail(row, tab, fetched=False)
            return
        self._detail_key = key
        self._detail_data = {"model": row.model if row else None}
        width, _ = pane.body_size()
        title = _title(kind, row) if row is not None else ""
        pane.tabs(D.tab_bar(kind, tab, title, width))
        if row is None:
            self._stop_detail_workers()
            pane.show(D.Text(f"no {kind[:-1]} selected", style="dim"))
            return
        if tab != "logs" or kind != "containers" or row.key != self._log_cid:
            self._stop_logs()
        if tab != "top":
            self._stop_top()
        self._draw_detail(row, tab, fetched=False)
        self._prefetch_inspect(kind, row, read=tab != "inspect")
        if kind == "containers" and tab == "logs":
            self._start_logs(row.model.id)
        elif tab == "inspect":
            cached = self._inspects.get((kind, row.ref, id(row.model)))
            if cached is not None:
                self._detail_data["inspect"] = cached
                self._draw_detail(row, tab, fetched=True)
            else:
                self.detail_fetch(key, kind, row.ref, tab, id(row.model))
        elif tab in ("top", "layers"):
            self.detail_fetch(key, kind, row.ref, tab, id(row.model))

    def _draw_detail(self, row, tab: str, fetched: bool) -> None:
        pane = self._detail()
        width, height = pane.body_size()
        m = row.model
        data = self._detail_data
        if tab == "stats":
            pane.show(None, graphs=True, facts=D.container_facts(m, self.samples.get(m.id)),
                      history=self.book.by_id.get(m.id))
        elif tab == "logs":
            if data.get("logs_error"):
                pane.show(D.Text(data["logs_error"], style="dim"))
            else:
                pane.show(D.log_text(self._log_lines, height, width))
        elif tab == "env":
            pane.show(D.env_text(m))
        elif tab == "users":
            users = [c for c in self.snap.items("containers")
                     if any(x.type == "volume" and x.source == m.name for x in c.config.mounts)]
            pane.show(D.users_text(users, "uses it"))
        elif tab == "containers":
            on = [c for c in self.snap.items("containers")
                  if m.name in c.state.networks or m.name in (c.config.networks or ())]
            pane.show(D.users_text(on, "is on it"))
        elif "error" in data:
            pane.show(D.Text(data["error"], style="dim"))
        elif tab == "inspect" and "inspect" in data:
            pane.show(D.json_text(data["inspect"]))
        elif tab == "top" and "top" in data:
            pane.show(D.top_text(*data["top"], width))
        elif tab == "layers" and "layers" in data:
            pane.show(D.layers_text(data["layers"], width))
        elif not fetched:
            pane.show(D.Text(f"{tab}: reading…", style="dim"))

    def detail_stats_moved(self) -> None:
        """A stats tick: the stats tab's graphs and facts follow it."""
        if not self.detail_on or self._detail_key is None or self._detail_key[2] != "stats":
            return
        row = self.table().selected()
        if row is not None and self.pane_kind == "containers":
            self._draw_detail(row, "stats", fetched=True)

    # --- workers --------------------------------------------------------------------------------

    @work(thread=True, group="detail", exit_on_error=False)
    def detail_fetch(self, key: tuple, kind: str, ref: str, tab: str, model_id: int) -> None:
        """Read what a tab shows that the row's model doesn't say (thread)."""
        from engine.errors import BerthError
        try:
            if tab == "top":
                data = verb(self.engine, "top", "top")(ref)
            elif tab == "layers":
                data = verb(self.engine, "history", "image history")(ref)
            else:
                name = {"containers": "container_inspect", "images": "image_inspect",
                        "volumes": "volume_inspect", "networks": "network_inspect"}[kind]
                data = verb(self.engine, name, f"{kind[:-1]} inspect")(ref)
        except BerthError as e:    # Unavailable is one too: shown in the pane, not a toast
            self.app.call_from_thread(self._detail_fetched, key, "error", str(e), None)
            return
        self.app.call_from_thread(self._detail_fetched, key, tab, data,
                                  (kind, ref, model_id) if tab == "inspect" else None)

    def _detail_fetched(self, key: tuple, what: str, data, cache_key) -> None:
        if cache_key is not None:
            self._inspects[cache_key] = data
            while len(self._inspects) > INSPECT_CACHE:
                self._inspects.popitem(last=False)
            row = self.table().selected()
            if row is not None and cache_key == self._rested_on \
                    and cache_key == (self.pane_kind, row.ref, id(row.model)):
                self.prepare_inspect(cache_key[0], row, data)
        if key is None or key != self._detail_key:
            return    # a read for `i` only (_prefetch_inspect), or the cursor moved on
        self._detail_data[what] = data
        row = self.table().selected()
        if row is not None:
            self._draw_detail(row, key[2], fetched=True)
        if key[2] == "top" and not self.covered:
            self._stop_top()
            self._top_timer = self.set_timer(TOP_INTERVAL, lambda: self._top_again(key))

    def _prefetch_inspect(self, kind: str, row, read: bool = True) -> None:
        """Once the cursor rests on the row (not on every row it passes), have its inspect
        read (unless ``read`` is False: the inspect tab reads it) and the inspect screen draw
        it ahead, so that `i` opens with it at once."""
        if self._prefetch_timer is not None:
            self._prefetch_timer.stop()
            self._prefetch_timer = None
        key = (kind, row.ref, id(row.model))
        self._rested_on = None

        def rested() -> None:
            self._prefetch_timer = None
            self._rested_on = key
            known = self._inspects.get(key)
            if known is not None:
                self.prepare_inspect(kind, row, known)
            elif read:
                self.detail_fetch(None, kind, row.ref, "inspect", id(row.model))
        self._prefetch_timer = self.set_timer(PREFETCH_DELAY, rested)

    _rested_on: tuple | None = None
    """The (kind, ref, model) the cursor rested on: its inspect, once read, is drawn ahead."""

    def _top_again(self, key: tuple) -> None:
        self._top_timer = None
        row = self.table().selected()
        if key == self._detail_key and row is not None and self.detail_on:
            self.detail_fetch(key, key[0], row.ref, "top", id(row.model))

    def _stop_top(self) -> None:
        if self._top_timer is not None:
            self._top_timer.stop()
            self._top_timer = None

    def _start_logs(self, cid: str) -> None:
        if cid == self._log_cid and self._log_stop is not None:
            return
        self._stop_logs()
        self._log_cid = cid
        self._log_lines = deque(maxlen=LOG_TAIL)
        self._log_stop = threading.Event()
        self._tail = {"added": 0, "posted": False, "drawn": 0}
        # a plain daemon thread, as the logs screen's readers (screens/logs.py says why): a
        # worker blocked on a quiet log would hold one of the executor's few threads
        threading.Thread(target=self.follow_detail_logs, name=f"berth-detail-logs-{cid[:12]}",
                         args=(cid, self._log_lines, self._log_stop, self._tail),
                         daemon=True).start()

    def _stop_logs(self) -> None:
        if self._log_stop is not None:
            self._log_stop.set()
        self._log_stop = None
        self._log_cid = ""

    def on_unmount(self) -> None:
        self._stop_logs()   # its thread would otherwise outlive the app, blocked on the log

    def _stop_detail_workers(self) -> None:
        self._stop_logs()
        self._stop_top()
        if self._prefetch_timer is not None:
            self._prefetch_timer.stop()
            self._prefetch_timer = None
        self._detail_key = None

    def follow_detail_logs(self, cid: str, lines: deque, stop: threading.Event,
                           tail: dict) -> None:
        """The container's last LOG_TAIL lines, then new ones as they come, until ``stop``.

        It posts DetailLogs only when the screen has drawn what it posted last (``tail``'s
        "posted" flag, cleared by the screen): a container printing a hundred lines a second
        makes a few draws a second, not a hundred messages."""
        from engine.errors import BerthError
        try:
            for line in self.engine.logs(cid, follow=True, tail=LOG_TAIL, stop=stop):
                if stop.is_set():
                    return
                lines.append((line.stream, line.text, line.time))
                tail["added"] += 1
                if not tail["posted"]:
                    tail["posted"] = True
                    self.post_message(DetailLogs(cid))
        except BerthError as e:
            if not stop.is_set():
                self.app.call_from_thread(self._logs_failed, cid, str(e))
            return
        except RuntimeError:   # the app closed under us
            return
        if not stop.is_set():
            self.post_message(DetailLogs(cid))

    def on_detail_logs(self, message: DetailLogs) -> None:
        if message.cid != self._log_cid:
            return
        self._draw_tail()
        # what comes within the interval is drawn once at its end (_tail_due)
        self.set_timer(TAIL_DRAW_INTERVAL, lambda: self._tail_due(message.cid))

    def _tail_due(self, cid: str) -> None:
        if cid != self._log_cid:
            return
        tail = self._tail
        tail["posted"] = False            # (first: a line appended from here on posts again)
        if tail["added"] != tail["drawn"]:
            tail["posted"] = True
            self._draw_tail()
            self.set_timer(TAIL_DRAW_INTERVAL, lambda: self._tail_due(cid))

    def _draw_tail(self) -> None:
        self._tail["drawn"] = self._tail["added"]
        if self.covered:
            return
        row = self.table().selected()
        if row is not None and self._detail_key and self._detail_key[2] == "logs":
            self._draw_detail(row, "logs", fetched=True)

    def _logs_failed(self, cid: str, error: str) -> None:
        if cid == self._log_cid:
            self._detail_data["logs_error"] = error
            row = self.table().selected()
            if row is not None:
                self._draw_detail(row, "logs", fetched=True)


def _title(kind: str, row) -> str:
    m = row.model
    if kind == "images":
        return D.short_image(row.ref) if row.ref != m.id else m.short_id
    return m.name
