"""What makes a dialog fit the terminal: below COMPACT_BELOW rows its inputs, selects and
checkboxes drop their borders (one row each instead of three), and its frame is a scrolling
container at most the screen's height (set in each dialog's CSS), so whatever doesn't fit
scrolls and the focused field is scrolled into view.

A mixin of the modal dialogs (run, limits, pull and the resource forms); ``-compact`` is set
on the screen so each dialog's CSS can tighten its own grid (compact_css: checkboxes, which
have no compact style of their own).
"""

from __future__ import annotations

from textual.containers import VerticalScroll

COMPACT_BELOW = 40
"""Terminal rows under which dialogs go compact (80×24 must show a whole run dialog)."""


def focus_keys():
    """Tab and shift+tab as priority bindings of a dialog. A key not bound at priority goes to
    the focused field first and reaches the screen's bindings only when it bubbles up, after
    the keys that followed it in the same burst (a paste) were already given to that field:
    the Tabs of a pasted "web\tbusybox" would land after the text. At priority the app moves
    the focus before it hands on the next key."""
    from textual.binding import Binding
    return [Binding("tab", "app.focus_next", "Next field", show=False, priority=True),
            Binding("shift+tab", "app.focus_previous", "Previous field", show=False, priority=True)]


def compact_css(screen: str) -> str:
    """CSS for ``screen``'s checkboxes when compact (a screen's CSS is scoped to its type)."""
    return f"{screen}.-compact Checkbox {{ border: none; height: 1; padding: 0 1; }}"


class FitsTheTerminal:
    """Compact fields on short terminals; keeps the focused field visible."""

    def on_mount(self) -> None:
        self.fit_to(self.app.size.height)

    def on_resize(self, event) -> None:
        self.fit_to(event.size.height)

    def fit_to(self, height: int) -> None:
        """Compact (or not) every field for a terminal ``height`` rows tall."""
        from textual.widgets import Input, Select
        compact = height < COMPACT_BELOW
        self.set_class(compact, "-compact")
        for widget in self.query(Input).results():
            widget.compact = compact
        for widget in self.query(Select).results():
            widget.compact = compact
        focused = self.focused
        if focused is not None:
            self.call_after_refresh(focused.scroll_visible, animate=False)

    def paste_fields(self, text: str) -> None:
        """A pasted text with Tabs, as a terminal's bracketed paste delivers it in one piece:
        each part into a field, from the focused one on, as typing it with its Tabs would."""
        from textual.widgets import Input
        for i, part in enumerate(text.split("\t")):
            if i:
                self.focus_next()
            field = self.focused
            line = part.splitlines()[0] if part.splitlines() else ""
            if isinstance(field, Input) and line:
                field.insert_text_at_cursor(line)



class DialogFrame(VerticalScroll, can_focus=False):
    """A dialog's frame: scrolls when the dialog is taller than the screen, never takes the
    focus itself (the first field gets it when the dialog opens)."""
