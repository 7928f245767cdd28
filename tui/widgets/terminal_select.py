"""The embedded terminal's mouse and selection (a mixin of TerminalWidget): once the program
asks for mouse reports (xterm modes 1000/1002/1003) the mouse is the program's and shift+drag
selects, as in xterm; otherwise press, drag and release select (a double click a word, a triple
click a row) and the selection goes to the clipboard on release (OSC 52), and the wheel
scrolls through the scrollback."""

from __future__ import annotations

from textual import events

from .vt import MOUSE_ANY, MOUSE_DRAG, MOUSE_MODES, MOUSE_SGR, mouse_bytes

WHEEL_LINES = 3
"""Lines of scrollback one notch of the wheel moves (the program's when it takes the mouse)."""


class MouseAndSelection:
    """Mouse reports for the program, or a selection of cells; needs the widget's
    ``screen_buffer``, ``fd``, ``selection``, ``write``, ``scroll_history`` and ``refresh``."""

    # --- mouse: the program's when it asks for reports, else a selection -------------------------

    def _reporting(self, event: events.MouseEvent) -> bool:
        """The program wants this mouse event (shift keeps the mouse for selecting)."""
        return (self.fd is not None and not event.shift
                and not MOUSE_MODES.isdisjoint(self.screen_buffer.mode))

    def _cell(self, event: events.MouseEvent) -> tuple[int, int]:
        offset = event.get_content_offset_capture(self)
        scr = self.screen_buffer
        return (min(max(offset.y, 0), scr.lines - 1), min(max(offset.x, 0), scr.columns - 1))

    def _report(self, event: events.MouseEvent, button: int, release: bool = False) -> None:
        y, x = self._cell(event)
        button |= (4 if event.shift else 0) | (8 if event.meta else 0) | (16 if event.ctrl else 0)
        self.write(mouse_bytes(button, x, y, release, MOUSE_SGR in self.screen_buffer.mode))

    def on_mouse_down(self, event: events.MouseDown) -> None:
        if self._reporting(event):
            event.stop()
            if 1 <= event.button <= 3:
                self._mouse_button = event.button
                self.capture_mouse()
                self._report(event, event.button - 1)
            return
        if event.button != 1:
            return
        event.stop()
        self.clear_selection()
        cell = self._cell(event)
        self.selection = (cell, cell)
        self._selecting = True
        self.capture_mouse()

    def on_mouse_move(self, event: events.MouseMove) -> None:
        if self._mouse_button or (self._reporting(event) and not self._selecting):
            mode = self.screen_buffer.mode
            if (self._mouse_button and MOUSE_DRAG in mode) or MOUSE_ANY in mode:
                self._report(event, 32 + (self._mouse_button - 1 if self._mouse_button else 3))
            return
        if self._selecting and self.selection is not None:
            anchor, head = self.selection
            cell = self._cell(event)
            if cell != head:
                self.selection = (anchor, cell)
                self.refresh()

    def on_mouse_up(self, event: events.MouseUp) -> None:
        if self._mouse_button:
            button, self._mouse_button = self._mouse_button, 0
            self.release_mouse()
            if not MOUSE_MODES.isdisjoint(self.screen_buffer.mode):
                self._report(event, button - 1, release=True)
            event.stop()
            return
        if not self._selecting:
            return
        self._selecting = False
        self.release_mouse()
        event.stop()
        if self.selection is not None:
            anchor, head = self.selection
            if anchor == head:   # a click, not a selection
                self.selection = None
                self.refresh()
            else:
                self.copy_selection()

    def on_click(self, event: events.Click) -> None:
        if self._reporting(event) or event.chain < 2:
            return
        event.stop()
        y, x = self._cell(event)
        scr = self.screen_buffer
        if event.chain == 2:   # a word: the run of non-blank cells under the pointer
            row = scr.buffer[y]
            if row[x].data.isspace():
                return
            x0 = x1 = x
            while x0 > 0 and not row[x0 - 1].data.isspace():
                x0 -= 1
            while x1 < scr.columns - 1 and not row[x1 + 1].data.isspace():
                x1 += 1
            self.selection = ((y, x0), (y, x1))
        else:                  # the whole row
            self.selection = ((y, 0), (y, scr.columns - 1))
        self.refresh()
        self.copy_selection()

    def on_mouse_scroll_up(self, event: events.MouseScrollUp) -> None:
        event.stop()
        if self._reporting(event):
            self._report(event, 64)
        else:
            self.scroll_history(WHEEL_LINES)

    def on_mouse_scroll_down(self, event: events.MouseScrollDown) -> None:
        event.stop()
        if self._reporting(event):
            self._report(event, 65)
        else:
            self.scroll_history(-WHEEL_LINES)

    # --- selection and copying ------------------------------------------------------------------

    def _ordered(self) -> tuple[tuple[int, int], tuple[int, int]]:
        a, b = self.selection
        return (a, b) if a <= b else (b, a)

    def selected_text(self) -> str:
        """The selected cells as text: rows joined with newlines, trailing blanks dropped."""
        if self.selection is None:
            return ""
        scr = self.screen_buffer
        (y0, x0), (y1, x1) = self._ordered()
        rows = []
        for y in range(y0, min(y1, scr.lines - 1) + 1):
            line = scr.buffer[y]
            start = x0 if y == y0 else 0
            end = x1 + 1 if y == y1 else scr.columns
            rows.append("".join(line[x].data for x in range(start, min(end, scr.columns)))
                        .rstrip())
        return "\n".join(rows)

    def copy_selection(self) -> str:
        """Put the selected text on the clipboard (OSC 52); the text copied."""
        text = self.selected_text()
        if text:
            self.copy_text(text)
        return text

    def copy_text(self, text: str) -> None:
        self.last_copied = text
        self.app.copy_to_clipboard(text)

    def clear_selection(self) -> None:
        if self.selection is not None:
            self.selection = None
            self.refresh()

    def _selected_span(self, y: int) -> tuple[int, int] | None:
        """Columns [start, end) of row ``y`` that are selected."""
        if self.selection is None or self.selection[0] == self.selection[1]:
            return None
        (y0, x0), (y1, x1) = self._ordered()
        if not y0 <= y <= y1:
            return None
        return (x0 if y == y0 else 0, x1 + 1 if y == y1 else self.screen_buffer.columns)

