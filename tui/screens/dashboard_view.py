"""The dashboard's view: rows drawn into the pane tables, the footer's keys, panes, cursor,
sort and filter. A mixin of DashboardScreen; what the verb keys do is in dashboard_verbs.py.
"""

from __future__ import annotations

import re

from textual.widgets import ContentSwitcher, Input, Static

from ..rowfilter import compile_row_filter
from ..widgets import rows as R
from ..widgets.footer import KeyFooter
from ..widgets.header import PANES, HostHeader, PaneTabs

CONTAINER_ACTIONS = {"start", "stop", "restart", "pause", "kill", "logs", "shell",
                     "update_limits", "attach"}
IMAGE_ACTIONS = {"tag_image", "save_image", "image_history"}
CREATE_PANES = ("volumes", "networks")


class DashboardView:
    """Drawing the panes and the keys that move around them (not the verbs)."""

    # --- drawing --------------------------------------------------------------------------------

    def theme_style(self, spec: str) -> str:
        variables = self.app.theme_variables
        return " ".join(variables.get(tok[1:], "") if tok.startswith("$") else tok
                        for tok in spec.split())

    def rows_for(self, kind: str) -> list[R.Row] | None:
        listing = self.snap.listings.get(kind)
        if listing is None or listing.items is None:
            return None
        now = self._now
        containers = self.snap.items("containers")
        if kind == "containers":
            items = listing.items
            if self.hide_stopped:
                items = [c for c in items if c.running]
            cache = self._row_cache
            rows = []
            for c in items:
                row = cache.get(c.id)
                if row is None or row.model is not c:
                    row = cache[c.id] = R.container_row(c, self.samples.get(c.id),
                                                        self.history.get(c.id, ()), now,
                                                        self.theme_style)
                rows.append(row)
        elif kind == "images":
            users = R.image_users(containers)
            rows = [r for img in listing.items for r in R.image_rows(img, users.get(img.id, 0), now)]
        elif kind == "volumes":
            users = R.volume_users(containers)
            rows = [R.volume_row(v, users.get(v.name, 0), now) for v in listing.items]
        else:
            rows = [R.network_row(n, now) for n in listing.items]
        return rows

    def redraw(self, only: str | None = None) -> None:
        """Diff every pane (or one) against the current snapshot."""
        counts = {}
        for kind in PANES:
            table = self.table(kind)
            if only is not None and kind != only:
                counts[kind] = len(table.rows_by_key) if table.display else None
                continue
            rows = self.rows_for(kind)
            message = self.query_one(f"#msg-{kind}", Static)
            if rows is None:
                listing = self.snap.listings.get(kind)
                error = listing.error if listing else ""
                counts[kind] = None
                message.update(error or f"{kind}: loading…")
                message.display = True
                table.display = False
                continue
            message.display = False
            table.display = True
            try:
                keep = compile_row_filter(self.filters[kind], kind)
            except re.error:
                keep = None
            if keep is not None:
                rows = [r for r in rows if keep(r)]
            table.apply(rows)
            counts[kind] = len(rows)
            total = len(self.rows_for(kind) or ()) if keep is not None else len(rows)
            pane = self.query_one(f"#pane-{kind}")
            scope = ("running" if self.hide_stopped else "all") if kind == "containers" else "all"
            shown = f"{len(rows)}/{total}" if keep is not None else f"{len(rows)}"
            pane.border_title = f" {kind}({scope})[{shown}] "
        tabs = self.query_one(PaneTabs)
        tabs.counts = counts
        header = self.query_one(HostHeader)
        cont = self.snap.listings.get("containers")
        if cont is not None and cont.items is not None:
            header.counts = {"containers": (sum(c.running for c in cont.items), len(cont.items))}
        self._update_extra()
        self.refresh_keys()
        self.detail_follow()

    def refresh_keys(self) -> None:
        """Redraw the footer only when which keys apply changed: rebuilding it restyles every
        key, which is most of an idle dashboard's CPU if done on every stats tick."""
        state = (self.pane_kind,) + tuple(self.check_action(b.action, ()) for b in self.BINDINGS
                                          if b.show)
        if state != self._keys_state:
            self._keys_state = state
            self.refresh_bindings()

    def _update_extra(self) -> None:
        table = self.table()
        parts = []
        col = table.columns_spec[table.sort_index]
        parts.append(f"sort: {col.label.lower()} {'▼' if table.sort_reverse else '▲'}")
        if self.filters[self.pane_kind]:
            parts.append(f"filter: {self.filters[self.pane_kind]}")
        if self.pane_kind == "containers":
            parts.append("running only" if self.hide_stopped else "all containers")
        if table.marked:
            parts.append(f"{len(table.marked)} marked")
        self.query_one(PaneTabs).extra = "   ".join(parts)

    # --- keys: which apply to the selected row --------------------------------------------------

    def targets(self) -> list[R.Row]:
        return self.table().targets()

    def check_action(self, action: str, parameters: tuple) -> bool | None:
        if action in CONTAINER_ACTIONS:
            if self.pane_kind != "containers":
                return False
            rows = self.targets()
            containers = [r.model for r in rows]
            if not containers:
                return None
            ok = {
                "start": lambda c: c.can_start(),
                "stop": lambda c: c.can_stop(),
                "restart": lambda c: c.can_stop() or c.can_start(),
                "pause": lambda c: c.can_pause() or c.can_unpause(),
                "kill": lambda c: c.can_stop(),
                "logs": lambda c: True,
                "shell": lambda c: c.state.status == "running",
                "attach": lambda c: c.state.status == "running",
                "update_limits": lambda c: c.state.status != "removing",
            }[action]
            return True if any(ok(c) for c in containers) else None
        if action in ("remove", "inspect", "details", "mark"):
            return True if self.table().selected() is not None else None
        if action in IMAGE_ACTIONS:
            if self.pane_kind != "images":
                return False
            return True if self.table().selected() is not None else None
        if action == "create":
            return self.pane_kind in CREATE_PANES
        if action == "toggle_stopped":
            return self.pane_kind == "containers"
        return True

    def on_data_table_row_highlighted(self, _event) -> None:
        self.refresh_keys()
        self.detail_follow()

    def on_data_table_row_selected(self, _event) -> None:
        # the table takes enter for itself before the screen's binding sees it
        self.action_details()

    def on_resource_table_sort_changed(self, _event) -> None:
        self._update_extra()

    # --- panes ----------------------------------------------------------------------------------

    def action_pane(self, kind: str) -> None:
        if kind not in PANES:
            return
        self.pane_kind = kind
        self.query_one(ContentSwitcher).current = f"pane-{kind}"
        self.query_one(PaneTabs).current = kind
        self.query_one(KeyFooter).set_pane(kind)
        filt = self.query_one("#filter", Input)
        filt.value = self.filters[kind]
        filt.display = bool(self.filters[kind])
        self.table().focus()
        self._update_extra()
        self.refresh_bindings()
        self.detail_follow()

    def select_when_listed(self, kind: str, key_prefix: str, tries: int = 100) -> None:
        """Show the ``kind`` pane with the row whose key starts with ``key_prefix`` selected,
        once the list has it (what was just built or run: the list refreshes on its event),
        looking every 0.1 s, ``tries`` times at most."""
        if self.pane_kind != kind:
            self.action_pane(kind)
        self.post_message(self.Changed())
        left = [tries]

        def look() -> None:
            table = self.table(kind)
            for index, row in enumerate(table.rows_in_order()):
                if row.key.startswith(key_prefix):
                    table.move_cursor(row=index)
                    return
            left[0] -= 1
            if left[0] > 0:
                self.set_timer(0.1, look)
        look()

    def action_next_pane(self) -> None:
        self.action_pane(PANES[(PANES.index(self.pane_kind) + 1) % len(PANES)])

    def action_prev_pane(self) -> None:
        self.action_pane(PANES[(PANES.index(self.pane_kind) - 1) % len(PANES)])

    def action_cursor_down(self) -> None:
        self.table().action_cursor_down()

    def action_cursor_up(self) -> None:
        self.table().action_cursor_up()

    def action_mark(self) -> None:
        self.table().toggle_mark()
        self._update_extra()
        self.refresh_bindings()

    def action_sort(self) -> None:
        table = self.table()
        table.sort_by((table.sort_index + 1) % len(table.columns_spec), reverse=False)

    def action_sort_reverse(self) -> None:
        table = self.table()
        table.sort_by(table.sort_index, reverse=not table.sort_reverse)

    def action_toggle_stopped(self) -> None:
        self.hide_stopped = not self.hide_stopped
        self.redraw()

    # --- filter ---------------------------------------------------------------------------------

    def action_filter(self) -> None:
        filt = self.query_one("#filter", Input)
        filt.display = True
        filt.value = self.filters[self.pane_kind]
        filt.focus()

    def on_input_changed(self, event: Input.Changed) -> None:
        if event.input.id != "filter":
            return
        try:
            compile_row_filter(event.value, self.pane_kind)
            event.input.remove_class("-invalid")
        except re.error:
            event.input.add_class("-invalid")
            return
        self.filters[self.pane_kind] = event.value
        self.redraw(only=self.pane_kind)

    def on_input_submitted(self, event: Input.Submitted) -> None:
        if event.input.id != "filter":
            return
        event.input.display = bool(event.value)
        self.table().focus()

    def action_clear(self) -> None:
        filt = self.query_one("#filter", Input)
        if filt.has_focus or self.filters[self.pane_kind]:
            filt.value = ""
            self.filters[self.pane_kind] = ""
            filt.display = False
            self.table().focus()
            self.redraw(only=self.pane_kind)
        else:
            self.table().clear_marks()
            self._update_extra()

    def on_key(self, event) -> None:
        # escape inside the filter input clears it (the input would swallow the binding)
        filt = self.query_one("#filter", Input)
        if event.key == "escape" and filt.has_focus:
            event.stop()
            self.action_clear()
