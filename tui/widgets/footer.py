"""KeyFooter: the dashboard's bottom line, the keys that matter for the pane on show; and
ScreenFooter, the other full screens' keys drawn as one line.

Textual's Footer lists every shown binding in declaration order and cuts the line wherever the
terminal ends (at 80 columns mid-word, "i Inspe"); this one lists the pane's keys in order of
how much they matter, as many as fit whole, and always ends with ``?`` for the rest. Keys are
read from the screen's active bindings, so a remapped key shows as remapped and a key that
does not apply here (False from check_action) is left out; one that applies to some other row
(None) is dimmed.
"""

from __future__ import annotations

from rich.style import Style
from rich.text import Text
from textual.widgets import Static

COMMON = ("filter", "run_dialog", "pull_dialog", "events", "graphs", "detail_next",
          "detail_toggle", "palette", "quit")
PRIORITY = {
    "containers": ("details", "logs", "shell", "console", "attach", "stop", "start", "restart",
                   "pause", "remove", "inspect", "graphs", "run_dialog", "pull_dialog", "events",
                   "update_limits", "top", "kill", "toggle_stopped"),
    "images": ("details", "run_dialog", "tag_image", "image_history", "save_image", "remove",
               "inspect", "build_dialog", "prune"),
    "volumes": ("details", "create", "remove", "inspect", "prune"),
    "networks": ("details", "create", "remove", "inspect", "prune"),
}
"""Binding ids per pane, most wanted first; COMMON follows; ``?`` (help) always ends the line."""
SHORT = {"details": "Details", "detail_next": "Tab", "detail_toggle": "Detail",
         "toggle_stopped": "All", "update_limits": "Limits", "run_dialog": "Run",
         "pull_dialog": "Pull", "palette": "Commands", "image_history": "History"}
GAP = " "


class KeyFooter(Static):
    """The pane's keys by priority, as many as fit, then ``? more``."""

    DEFAULT_CSS = """
    KeyFooter { height: 1; background: $panel; }
    """

    def __init__(self, pane: str = "containers", **kwargs) -> None:
        super().__init__(**kwargs)
        self.pane = pane
        self._drawn: tuple | None = None

    def on_mount(self) -> None:
        self.screen.bindings_updated_signal.subscribe(self, lambda _screen: self.refresh())

    def set_pane(self, pane: str) -> None:
        if pane != self.pane:
            self.pane = pane
            self.refresh()

    def keys(self) -> list[tuple[str, str, bool, str]]:
        """(key, label, enabled, action) for the pane's keys in order, without help."""
        by_id: dict[str, tuple] = {}
        # every binding of the chain, not active_bindings: that keeps one binding a key, and
        # the focused table's own enter would hide the screen's "enter: details"
        for node, bindings in self.screen._modal_binding_chain:
            for _key, b in bindings:
                ident = b.id or b.action
                if node is not self.screen and node is not self.app:
                    continue
                # one key per binding id; a plain key before a ctrl one (q before textual's ^q)
                if ident in by_id and not by_id[ident][0].startswith("^"):
                    continue
                state = self.app._check_action_state(b.action, node)
                if state is False:
                    continue
                ns = "app" if node is self.app else "screen"
                by_id[ident] = (self.app.get_key_display(b), SHORT.get(ident, b.description),
                                bool(state), f"{ns}.{b.action}")
        out, seen = [], set()
        for ident in PRIORITY.get(self.pane, ()) + COMMON:
            if ident in by_id and ident not in seen:
                seen.add(ident)
                out.append(by_id[ident])
        return out

    def render(self) -> Text:
        key_style = _key_style(self.app)
        keys, width = self.keys(), self.size.width or 80
        drawn = (keys, width, key_style)
        if self._drawn is not None and self._drawn[0] == drawn:
            return self._drawn[1]     # each focus change asks again, mostly for the same keys
        tail = Text()
        tail.append(" ? ", style=key_style)
        tail.append("more")
        text = key_line(keys, width, key_style, tail)
        self._drawn = (drawn, text)
        return text

    def on_resize(self) -> None:
        self.refresh()


def _key_style(app) -> Style:
    return Style(bold=True, color=app.theme_variables.get("accent") or None)


def key_line(keys, width: int, key_style: Style, tail: Text | None = None) -> Text:
    """``keys`` ((key, label, enabled, action), in order) as one line of ``width`` cells, as
    many as fit whole, then ``tail``; a label clicked runs its action."""
    dim = Style(dim=True)
    tail = tail or Text()
    t = Text(no_wrap=True, overflow="crop")
    for key, label, enabled, action in keys:
        piece = Text()
        piece.append(f" {key} ", style=key_style if enabled else dim)
        piece.append(label, style=Style.from_meta({"@click": action})
                     + (Style() if enabled else dim))
        piece.append(GAP)
        if t.cell_len + piece.cell_len + tail.cell_len > width:
            break
        t.append_text(piece)
    t.append_text(tail)
    return t


class ScreenFooter(Static):
    """A full screen's shown keys on one line, drawn as text.

    Textual's Footer mounts a widget per key again each time the screen's bindings change
    (the screen opening, every focus change): for the logs and inspect screens that was a
    good part of the time from the key to the screen. This draws the same keys as one Text
    and only repaints when the bindings change."""

    DEFAULT_CSS = """
    ScreenFooter { height: 1; background: $panel; }
    """

    def on_mount(self) -> None:
        self.screen.bindings_updated_signal.subscribe(self, lambda _screen: self.refresh())

    def on_unmount(self) -> None:
        self.screen.bindings_updated_signal.unsubscribe(self)

    def keys(self) -> list[tuple[str, str, bool, str]]:
        """(key, label, enabled, action) of each shown binding, one per action."""
        out, seen = [], set()
        for key, (_node, binding, enabled, _tip) in self.screen.active_bindings.items():
            if not binding.show or binding.action in seen:
                continue
            seen.add(binding.action)
            # a click presses the key, whichever widget's binding it is
            out.append((self.app.get_key_display(binding), binding.description, enabled,
                        f"app.simulate_key({key!r})"))
        return out

    def render(self) -> Text:
        return key_line(self.keys(), self.size.width or 80, _key_style(self.app))

    def on_resize(self) -> None:
        self.refresh()
