"""KeptDrawing: a DataTable that renders a cell, a row or a line again only when it changed.

DataTable keys everything it drew on one table-wide update count, on where the cursor is and,
on any style update (each focus change), drops it all: a stats tick that replaced a few cells,
one step of the cursor or a pane switch rendered every row on screen again through Rich. This
mixin keeps what was drawn by what it was drawn from (the cell's value object, the row's
cells, its place and look) and checks the look once per paint. ResourceTable uses it.
"""

from __future__ import annotations

from itertools import chain
from typing import Any

from textual._segment_tools import line_crop
from textual.strip import Strip
from textual.widget import Widget
from textual.widgets import DataTable


class KeptDrawing(DataTable):
    """DataTable's drawing with caches that survive what doesn't change the drawing."""

    def __init__(self, *args, **kwargs):
        self._cells_drawn: dict[tuple, tuple[Any, Any]] = {}
        """Rendered cells by position and look, each with the value it was rendered from."""
        self._looks: dict = {}
        """The styles each pseudo-class state (focused, blurred) was drawn with (_check_look)."""
        self._look_checked = False
        self._base_style = None
        self._shape_now: tuple | None = None
        self._painted: tuple | None = None
        """The shape and header labels of the last paint (render_lines)."""
        self._rows_drawn: dict[tuple, tuple] = {}
        """Rendered row lines by row, place and look, each with the cells it was drawn from."""
        self._strips: dict[tuple, tuple] = {}
        """The finished line of each row (by row key and line), with what it was cut from."""
        super().__init__(*args, **kwargs)

    CELLS_DRAWN_MAX = 20000
    ROWS_DRAWN_MAX = 4000

    def _render_cell(self, row_index: int, column_index: int, base_style, width: int,
                     cursor: bool = False, hover: bool = False):
        """A rendered cell, reused while the cell holds the same value.

        DataTable keys its cell cache on one table-wide update count, so a single changed cell
        renders every cell on screen again: with 50 running containers the stats tick changes
        a few cells a row, and rendering 500 cells through Rich was most of the idle dashboard's
        CPU. Here a cell is rendered again only when its value object, its place or its look
        changed (update_rows always puts in new objects, never edits one in place)."""
        try:
            row_key = self._row_locations.get_key(row_index) if row_index >= 0 else None
            column_key = self._column_locations.get_key(column_index)
            value = self._data[row_key][column_key] if row_key is not None else None
        except (AttributeError, KeyError, TypeError):   # header, labels or textual changed
            row_key = None
        if row_key is None:
            return super()._render_cell(row_index, column_index, base_style, width, cursor, hover)
        key = (row_key, column_key, row_index, column_index, base_style, width, cursor, hover,
               self._show_hover_cursor, self.show_cursor, self._pseudo_class_state)
        hit = self._cells_drawn.get(key)
        if hit is not None and hit[0] is value:
            return hit[1]
        lines = super()._render_cell(row_index, column_index, base_style, width, cursor, hover)
        if len(self._cells_drawn) >= self.CELLS_DRAWN_MAX:
            self._cells_drawn.clear()
        self._cells_drawn[key] = (value, lines)
        return lines

    def _render_line_in_row(self, row_key, line_no: int, base_style, cursor_location,
                            hover_location):
        """A row's line, reused while the row's cells and its look are the same.

        DataTable keys its rows on the table-wide update count and on where the cursor is,
        so one changed cell (a stats tick) or one step of the cursor rendered every row on
        screen again. Here a row renders again only when one of its own cells was replaced,
        it moved, the cursor or the mouse came or left, or the columns changed."""
        if self.cursor_type != "row" or row_key not in self._row_locations:
            return super()._render_line_in_row(row_key, line_no, base_style, cursor_location,
                                               hover_location)
        index = self._row_locations.get(row_key)
        key = (row_key, line_no, index, base_style, cursor_location.row == index,
               hover_location.row == index, self.show_cursor, self._show_hover_cursor,
               self._pseudo_class_state, self._shape())
        values = tuple(self._data[row_key].values())
        hit = self._rows_drawn.get(key)
        if hit is not None and len(hit[0]) == len(values) \
                and all(a is b for a, b in zip(hit[0], values)):
            return hit[1]
        pair = super()._render_line_in_row(row_key, line_no, base_style, cursor_location,
                                           hover_location)
        if len(self._rows_drawn) >= self.ROWS_DRAWN_MAX:
            self._rows_drawn.clear()
        self._rows_drawn[key] = (values, pair)
        return pair

    def _shape(self) -> tuple:
        """What every row's rendering depends on besides its cells: the columns' widths (kept
        for the paint under way only: outside one they may change at any time)."""
        shape = self._shape_now
        if shape is None:
            shape = (tuple(c.get_render_width(self) for c in self.ordered_columns),
                     self.size.width, self.fixed_columns, self._labelled_row_exists,
                     self.show_row_labels, self._row_label_column_width)
            if self._base_style is not None:   # painting
                self._shape_now = shape
        return shape

    def _render_line(self, y: int, x1: int, x2: int, base_style):
        """DataTable's, with the finished line kept while its row's rendering is the same
        object (_render_line_in_row) and the crop is the same."""
        if self.fixed_columns:
            return super()._render_line(y, x1, x2, base_style)
        width = self.size.width
        try:
            row_key, line_no = self._get_offsets(y)
        except LookupError:
            return Strip.blank(width, base_style)
        _fixed, scrollable = pair = self._render_line_in_row(
            row_key, line_no, base_style, self.cursor_coordinate, self.hover_coordinate)
        hit = self._strips.get((row_key, line_no))
        if hit is not None and hit[0] is pair and hit[1] == (x1, x2, width, base_style):
            return hit[2]
        segments = line_crop(list(chain.from_iterable(scrollable)), x1, x2, width)
        strip = Strip(segments).adjust_cell_length(width, base_style).simplify()
        self._strips[(row_key, line_no)] = (pair, (x1, x2, width, base_style), strip)
        return strip

    def _clear_caches(self) -> None:
        super()._clear_caches()
        self._cells_drawn.clear()
        self._rows_drawn.clear()
        self._strips.clear()
        self._looks.clear()

    def notify_style_update(self) -> None:
        """Keep what was drawn when only the focus (or hover) changed.

        DataTable drops every rendered row and line on any style update, and a table gains
        or loses focus with each pane switch: the containers pane came back rendering all its
        rows from nothing (most of the time from `1` to the screen). Its caches are keyed on
        the pseudo classes already, so what was drawn while focused stays right for the next
        time it is focused, as long as that state still looks the same: render_lines checks."""
        Widget.notify_style_update(self)
        self._styles_cache.clear()
        self._get_styles_to_render_cell.cache_clear()
        self._look_checked = False
        self.refresh()

    def _check_look(self) -> None:
        """Drop the drawn rows if this pseudo-class state's styles changed since they were
        drawn (a theme change, new CSS); what was drawn in other states is kept until then."""
        state = self.get_pseudo_class_state()
        look = (self._rich_style(), tuple(self.get_component_rich_style(name)
                                          for name in sorted(self.COMPONENT_CLASSES)))
        known = self._looks.get(state)
        if known is not None and known != look:
            self._clear_caches()
        self._looks[state] = look
        self._look_checked = True

    def render_lines(self, crop):
        if not self._look_checked:
            self._check_look()
        # DataTable asks for rich_style (a walk up every ancestor's styles) once per line
        self._base_style = self._rich_style()
        self._shape_now = None
        # DataTable measures changed cells on idle and keys what it drew on its update count
        # alone, which the measuring leaves as it was: a paint between a change and the idle
        # (a busy machine) kept its rows, and the header, at the old widths, beside rows
        # drawn at the new ones. A new shape or header is a new count here.
        painted = (self._shape(), tuple(str(c.label) for c in self.ordered_columns))
        if painted != self._painted:
            self._painted = painted
            self._update_count += 1
        try:
            return super().render_lines(crop)
        finally:
            self._base_style = self._shape_now = None

    def _rich_style(self):
        return DataTable.rich_style.fget(self)

    @property
    def rich_style(self):
        return self._base_style if self._base_style is not None else self._rich_style()
