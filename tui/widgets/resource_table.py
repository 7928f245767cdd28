"""ResourceTable: a DataTable that is diffed, never cleared.

Rows are keyed by the object's id. ``apply(rows)`` removes the rows that went away, adds the new
ones and calls ``update_cell`` only for cells whose value changed, all in one batch; it re-sorts
only when the order can have changed, and puts the cursor back on the row it was on (by key),
without scrolling, so selection and scroll survive every update. Rows can be marked (``space``)
to act on several at once.
"""

from __future__ import annotations

from typing import Any, Sequence

from rich.text import Text
from textual.binding import Binding
from textual.message import Message
from textual.widgets import DataTable

from .rows import DROP_ORDER, MARK, Column, Row
from .table_drawing import KeptDrawing


def _cell_key(cell: Any) -> Any:
    """What decides whether a cell changed (rich Text compares equal across styles)."""
    if isinstance(cell, Text):
        return (cell.plain, str(cell.style), tuple(cell.spans), cell.justify)
    return cell


def _state_of(model) -> tuple:
    """What a verb changes in a model: a container's status and its start and finish times
    (a restart changes only those); other kinds only go away."""
    state = getattr(model, "state", None)
    if state is None:
        return ()
    return (state.status, state.started_at, state.finished_at)


class ResourceTable(KeptDrawing):
    """One pane's table of containers, images, volumes or networks."""

    BINDINGS = [
        Binding("home,ctrl+home", "first_row", "First row", show=False),
        Binding("end,ctrl+end", "last_row", "Last row", show=False),
        Binding("pageup", "page_rows(-1)", "Page up", show=False),
        Binding("pagedown", "page_rows(1)", "Page down", show=False),
    ]
    """Home/End and PgUp/PgDn move the cursor over the rows (DataTable's scroll sideways)."""

    class SortChanged(Message):
        """The sort column or direction changed (the screen redraws the header arrow)."""

    def __init__(self, kind: str, columns: Sequence[Column], **kwargs):
        super().__init__(cursor_type="row", zebra_stripes=False, **kwargs)
        self.kind = kind
        self.columns_spec = tuple(columns)
        self.rows_by_key: dict[str, Row] = {}
        """The rows on screen, by key."""
        self.marked: set[str] = set()
        """Keys of the rows marked with space."""
        self.sort_index = 0
        """Which column (of ``columns_spec``) the rows are sorted by."""
        self.sort_reverse = False
        """Whether the sort is descending."""
        self._cell_keys: dict[str, tuple] = {}
        self.pending: dict[str, tuple[str, tuple]] = {}
        """Rows a verb is working on, by key: what their state cell says meanwhile
        ("stopping…") and the model's state when it began; shown until that state changes."""

        self.shown: tuple[int, ...] = tuple(range(len(self.columns_spec)))
        """Indexes (in ``columns_spec``) of the columns on screen: a narrow table drops some."""

    def on_mount(self) -> None:
        saved = getattr(getattr(self.app, "config", None), "sort", {}).get(self.kind)
        keys = [c.key for c in self.columns_spec]
        if saved and saved[0] in keys:   # the sort chosen last time (config file [sort])
            self.sort_index, self.sort_reverse = keys.index(saved[0]), saved[1]
        self._add_columns()

    def _add_columns(self) -> None:
        self.add_column(" ", width=1, key="_mark")
        for col in self._specs():
            self.add_column(self._header(col), width=col.width, key=col.key)

    def _specs(self) -> list[Column]:
        return [self.columns_spec[i] for i in self.shown]

    def _cells(self, row: Row) -> list:
        """The row's cells on screen: the columns shown, with a pending verb's word."""
        cells = self._with_pending(row)
        return [cells[i] for i in self.shown]

    # --- columns that fit -----------------------------------------------------------------------

    def natural_width(self, index: int) -> int:
        """Cells a column wants: its fixed width, or its widest cell or header; plus padding."""
        col = self.columns_spec[index]
        if col.width is not None:
            return col.width + 2 * self.cell_padding
        widest = len(col.label) + 2
        for row in self.rows_by_key.values():
            cell = row.cells[index]
            widest = max(widest, cell.cell_len if isinstance(cell, Text) else len(str(cell)))
        return widest + 2 * self.cell_padding

    def fit_columns(self, width: int | None = None) -> None:
        """Drop columns in the kind's DROP_ORDER until the rest fit ``width`` (the table's own
        width by default); bring them back when there is room again."""
        width = width if width is not None else self.size.width
        if width <= 0:
            return
        widths = [self.natural_width(i) for i in range(len(self.columns_spec))]
        keys = [c.key for c in self.columns_spec]
        shown = list(range(len(keys)))
        room = width - 1 - 2 * self.cell_padding - 1    # the mark column and the scrollbar
        for key in DROP_ORDER.get(self.kind, ()):
            if sum(widths[i] for i in shown) <= room:
                break
            if key in keys and keys.index(key) in shown and len(shown) > 1:
                shown.remove(keys.index(key))
        self.set_shown(tuple(shown))

    def set_shown(self, shown: tuple[int, ...]) -> None:
        """Show the columns ``shown`` (indexes of columns_spec), rebuilding the table if it
        changes: rows, marks, sort and cursor stay."""
        if shown == self.shown:
            return
        rows = self.rows_in_order()
        cursor_key, index = self.cursor_key(), self.cursor_row
        self.shown = shown
        with self.app.batch_update():
            self.clear(columns=True)
            self._add_columns()
            self.rows_by_key.clear()
            self._cell_keys.clear()
            for row in rows:
                mark = Text(MARK if row.key in self.marked else "", style="bold")
                self.add_row(mark, *self._cells(row), key=row.key)
                self.rows_by_key[row.key] = row
                self._cell_keys[row.key] = tuple(_cell_key(c) for c in self._cells(row))
            self._order()
            self._restore_cursor(cursor_key, index)

    def on_resize(self) -> None:
        self.fit_columns()

    def _header(self, col: Column) -> Text:
        label = col.label
        if self.columns_spec[self.sort_index].key == col.key:
            label += " ▼" if self.sort_reverse else " ▲"
        return Text(label, justify="right" if col.right else "left")

    def _refresh_headers(self) -> None:
        for col in self._specs():
            column = self.columns.get(col.key)  # type: ignore[call-overload]
            if column is not None:
                column.label = self._header(col)
                if col.width is None:
                    column.content_width = max(column.content_width, column.label.cell_len)
        self._require_update_dimensions = True
        self.refresh()

    # --- what is selected -----------------------------------------------------------------------

    def cursor_key(self) -> str | None:
        if not self.row_count or self.cursor_row < 0:
            return None
        try:
            key = self.coordinate_to_cell_key(self.cursor_coordinate).row_key
        except Exception:  # an empty or shrinking table: nothing is selected
            return None
        return key.value

    def selected(self) -> Row | None:
        key = self.cursor_key()
        return self.rows_by_key.get(key) if key else None

    def targets(self) -> list[Row]:
        """The marked rows in table order, or the selected row when none is marked."""
        # (asked for each key's check_action on every cursor move: no walk over the rows
        # unless something is marked)
        marked = [r for r in self.rows_in_order() if r.key in self.marked] if self.marked else []
        if marked:
            return marked
        row = self.selected()
        return [row] if row else []

    def rows_in_order(self) -> list[Row]:
        out = []
        for i in range(self.row_count):
            key = self._row_locations.get_key(i)
            if key is not None and key.value in self.rows_by_key:
                out.append(self.rows_by_key[key.value])
        return out

    def toggle_mark(self) -> None:
        key = self.cursor_key()
        if key is None:
            return
        if key in self.marked:
            self.marked.discard(key)
        else:
            self.marked.add(key)
        self.update_cell(key, "_mark", Text(MARK if key in self.marked else "",
                                            style="bold"))
        if self.cursor_row < self.row_count - 1:
            self.move_cursor(row=self.cursor_row + 1)

    def clear_marks(self) -> None:
        for key in list(self.marked):
            if key in self.rows_by_key:
                self.update_cell(key, "_mark", "")
        self.marked.clear()

    # --- moving ---------------------------------------------------------------------------------

    def action_first_row(self) -> None:
        if self.row_count:
            self.move_cursor(row=0)

    def action_last_row(self) -> None:
        if self.row_count:
            self.move_cursor(row=self.row_count - 1)

    def action_page_rows(self, direction: int) -> None:
        """A page of rows down (1) or up (-1): the rows on screen, less one kept in view."""
        if self.row_count:
            page = max(1, self.scrollable_content_region.height - 2)
            row = min(max(self.cursor_row + direction * page, 0), self.row_count - 1)
            self.move_cursor(row=row)

    # --- updates --------------------------------------------------------------------------------

    def apply(self, rows: Sequence[Row]) -> None:
        """Make the table show exactly ``rows``, touching only what changed."""
        new = {r.key: r for r in rows}
        cursor_key = self.cursor_key()
        cursor_index = self.cursor_row
        reorder = False
        auto = [c.key for c in self.columns_spec if c.width is None]
        specs = self._specs()
        with self.app.batch_update():
            for key in [k for k in self.rows_by_key if k not in new]:
                self.remove_row(key)
                del self.rows_by_key[key]
                self._cell_keys.pop(key, None)
                self.marked.discard(key)
                self.pending.pop(key, None)
                reorder = True
            for row in rows:
                cells = self._cells(row)
                keys = tuple(_cell_key(c) for c in cells)
                old = self.rows_by_key.get(row.key)
                if old is None:
                    mark = Text(MARK if row.key in self.marked else "", style="bold")
                    self.add_row(mark, *cells, key=row.key)
                    reorder = True
                else:
                    old_keys = self._cell_keys[row.key]
                    for col, a, b, cell in zip(specs, old_keys, keys, cells):
                        if a != b:
                            self.update_cell(row.key, col.key, cell, update_width=col.key in auto)
                    if old.sort[self.sort_index] != row.sort[self.sort_index]:
                        reorder = True
                self.rows_by_key[row.key] = row
                self._cell_keys[row.key] = keys
            if reorder:
                self._order()
            self._restore_cursor(cursor_key, cursor_index)
        if reorder:   # rows came or went: the columns that fit may have changed
            self.fit_columns()

    # --- rows a verb is working on ---------------------------------------------------------------

    def set_pending(self, keys, text: str) -> None:
        """Show ``text`` ("stopping…") in the state cell of these rows (after the name when
        the pane has no state) until their model's state changes, they go, or clear_pending."""
        for key in keys:
            row = self.rows_by_key.get(key)
            if row is not None:
                self.pending[key] = (text, _state_of(row.model))
        self.update_rows([self.rows_by_key[k] for k in keys if k in self.rows_by_key])

    def clear_pending(self, key: str) -> None:
        """The verb on this row is over without changing it (it failed): show it as it is."""
        if self.pending.pop(key, None) is not None and key in self.rows_by_key:
            self.update_rows([self.rows_by_key[key]])

    def _with_pending(self, row: Row) -> tuple:
        """The row's cells as drawn: with the pending verb's word while it works."""
        pending = self.pending.get(row.key)
        if pending is None:
            return row.cells
        text, state = pending
        if _state_of(row.model) != state:
            del self.pending[row.key]
            return row.cells
        keys = [c.key for c in self.columns_spec]
        cells = list(row.cells)
        if "state" in keys and keys.index("state") in self.shown:
            cells[keys.index("state")] = Text(text, style="bold italic")
        else:   # no state column here, or a narrow table dropped it: after the name
            at = keys.index("name") if "name" in keys else self.shown[0]
            first = cells[at].copy() if isinstance(cells[at], Text) else Text(str(cells[at]))
            cells[at] = first.append(f" {text}", style="italic")
        return tuple(cells)

    def update_rows(self, rows: Sequence[Row]) -> None:
        """Update rows already on screen (a stats tick): no rows come or go."""
        reorder = False
        auto = [c.key for c in self.columns_spec if c.width is None]
        cursor_key = self.cursor_key()
        specs = self._specs()
        for row in rows:
            old = self.rows_by_key.get(row.key)
            if old is None:
                continue
            cells = self._cells(row)
            keys = tuple(_cell_key(c) for c in cells)
            for col, a, b, cell in zip(specs, self._cell_keys[row.key], keys, cells):
                if a != b:
                    self.update_cell(row.key, col.key, cell, update_width=col.key in auto)
            if old.sort[self.sort_index] != row.sort[self.sort_index]:
                reorder = True
            self.rows_by_key[row.key] = row
            self._cell_keys[row.key] = keys
        if reorder:
            self._order()
            self._restore_cursor(cursor_key, self.cursor_row)

    def _order(self) -> None:
        i = self.sort_index

        def value(key) -> tuple:
            row = self.rows_by_key[key.value]
            v = row.sort[i]
            # None sorts first; the row key breaks ties so equal rows keep a stable order
            return (v is not None, v if v is not None else 0, row.sort[0], row.key)

        try:
            from textual._two_way_dict import TwoWayDict
            ordered = sorted(self._data.keys(), key=value, reverse=self.sort_reverse)
            self._row_locations = TwoWayDict({k: n for n, k in enumerate(ordered)})
            self._update_count += 1
            self.refresh()
        except (ImportError, AttributeError, TypeError):  # pragma: no cover - textual changed
            self.sort(self.columns_spec[i].key, reverse=self.sort_reverse)

    def _restore_cursor(self, key: str | None, index: int) -> None:
        if not self.row_count:
            return
        if key is not None and key in self.rows_by_key:
            target = self.get_row_index(key)
        else:
            target = min(max(index, 0), self.row_count - 1)
        if target != self.cursor_row:
            self.move_cursor(row=target, scroll=False)

    # --- sorting --------------------------------------------------------------------------------

    def sort_by(self, index: int, reverse: bool | None = None) -> None:
        """Sort by column ``index``; the same column again flips the direction."""
        if reverse is None:
            reverse = not self.sort_reverse if index == self.sort_index else False
        self.sort_index, self.sort_reverse = index, reverse
        key = self.cursor_key()
        self._order()
        self._refresh_headers()
        self._restore_cursor(key, self.cursor_row)
        self.post_message(self.SortChanged())
        save = getattr(self.app, "save_setting", None)
        if save is not None:
            save(sort=(self.kind, self.columns_spec[index].key, reverse))

    def on_data_table_header_selected(self, event: DataTable.HeaderSelected) -> None:
        event.stop()
        keys = [c.key for c in self.columns_spec]
        if event.column_key.value in keys:
            self.sort_by(keys.index(event.column_key.value))
