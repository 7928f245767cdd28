"""InspectScreen: the Docker-shaped inspect JSON as a foldable tree, beside a summary of what
people look for first (env, mounts, ports, networks for a container)."""

from __future__ import annotations

import json
from typing import Any

from rich.console import Group
from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, VerticalScroll
from textual.screen import Screen
from textual.widgets import Static, Tree
from textual.widgets.tree import TreeNode

from ..widgets.footer import ScreenFooter
from .screen_size import LaidOutOnce


PREPARE_STEP = 0.03   # seconds between the steps of drawing a screen ahead (prepare)
PALETTE = {"string": "green", "bool": "magenta", "number": "cyan"}


def palette_for(theme_variables: dict[str, str]) -> dict[str, str]:
    """Leaf colours from the theme, so the tree follows the theme like everything else."""
    return {"string": theme_variables.get("success", "green"),
            "bool": theme_variables.get("secondary", "magenta"),
            "number": theme_variables.get("accent", "cyan")}


def _leaf_label(key: str, value: Any, palette: dict[str, str] = PALETTE) -> Text:
    t = Text()
    t.append(f"{key}: ", style="bold")
    if isinstance(value, str):
        t.append(json.dumps(value), style=palette["string"])
    elif value is None:
        t.append("null", style="dim")
    elif isinstance(value, bool):
        t.append(str(value).lower(), style=palette["bool"])
    else:
        t.append(str(value), style=palette["number"])
    return t


def fill(node: TreeNode, value: Any, depth: int = 0, palette: dict[str, str] = PALETTE,
         lazy: bool = False) -> None:
    """Add ``value`` under ``node``: dicts and lists as branches, the rest as leaves. ``lazy``
    leaves a folded branch empty, its value in ``data``, for fill_folded when it opens: a
    container's whole inspect is hundreds of nodes, and building them was most of ``i``."""
    items = value.items() if isinstance(value, dict) else enumerate(value)
    for key, child in items:
        key = str(key)
        if isinstance(child, (dict, list)) and child:
            n = len(child)
            label = Text.assemble((key, "bold"), (f"  {'{…}' if isinstance(child, dict) else '[…]'} {n}", "dim"))
            branch = node.add(label, expand=depth < 1)
            if lazy and depth >= 1:
                branch.data = (child, depth + 1)
            else:
                fill(branch, child, depth + 1, palette, lazy)
        else:
            if isinstance(child, (dict, list)):
                child = "{}" if isinstance(child, dict) else "[]"
                node.add_leaf(Text.assemble((f"{key}: ", "bold"), (child, "dim")))
            else:
                node.add_leaf(_leaf_label(key, child, palette))


def fill_folded(node: TreeNode, palette: dict[str, str] = PALETTE) -> None:
    """Fill a branch ``fill(lazy=True)`` left empty, one level (its folded branches stay
    lazy)."""
    if isinstance(node.data, tuple) and not node.children:
        value, depth = node.data
        node.data = None
        fill(node, value, depth, palette, lazy=True)


def _section(title: str, rows: list[tuple[str, str]] | list[str]) -> Table:
    t = Table(title=Text(title, style="bold"), title_justify="left", box=None,
              show_header=False, padding=(0, 1), expand=True)
    if rows and isinstance(rows[0], tuple):
        t.add_column(style="bold", no_wrap=True)
        t.add_column(overflow="fold")
        for k, v in rows:
            t.add_row(k, v)
    else:
        t.add_column(overflow="fold")
        for v in rows or ["(none)"]:
            t.add_row(Text(str(v), style="dim" if v == "(none)" else ""))
    return t


def _health_section(health: dict, theme_variables: dict[str, str]) -> Table:
    """A container's State.Health: its status in the theme's colour, the streak, the log."""
    colour = {"healthy": "success", "unhealthy": "error", "starting": "warning"}
    status = str(health.get("Status", ""))
    rows: list[tuple[str, Any]] = [
        ("status", Text(status, style=f"bold {theme_variables.get(colour.get(status, ''), '')}")),
        ("failing streak", str(health.get("FailingStreak", 0)))]
    for entry in reversed(health.get("Log") or []):
        code = entry.get("ExitCode")
        output = " ".join(str(entry.get("Output") or "").split())
        line = Text(f"exit {code}", style=theme_variables.get(
            "success" if code == 0 else "error", ""))
        line.append(f"  {output[:200]}" if output else "")
        rows.append((str(entry.get("Start", ""))[11:19], line))
    return _section("Health", rows)


def summary(kind: str, data: dict, theme_variables: dict[str, str] | None = None) -> list[Table]:
    """The summary sections for one object's inspect JSON."""
    out = []
    if kind == "containers":
        cfg, host, state = data.get("Config") or {}, data.get("HostConfig") or {}, data.get("State") or {}
        out.append(_section("Container", [
            ("name", str(data.get("Name", "")).lstrip("/")), ("id", str(data.get("Id", ""))[:12]),
            ("image", str(cfg.get("Image", ""))), ("state", str(state.get("Status", ""))),
            ("pid", str(state.get("Pid", ""))), ("exit code", str(state.get("ExitCode", ""))),
            ("started", str(state.get("StartedAt", ""))),
            ("command", " ".join((cfg.get("Entrypoint") or []) + (cfg.get("Cmd") or []))),
            ("restart", str((host.get("RestartPolicy") or {}).get("Name", ""))),
        ]))
        if state.get("Health"):
            out.append(_health_section(state["Health"], theme_variables or {}))
        out.append(_section("Env", list(cfg.get("Env") or [])))
        mounts = [f"{m.get('Type', '')}  {m.get('Source') or m.get('Name', '')} → "
                  f"{m.get('Destination', '')}{'' if m.get('RW', True) else '  (ro)'}"
                  for m in data.get("Mounts") or []]
        out.append(_section("Mounts", mounts))
        ports = []
        for cport, binds in ((data.get("NetworkSettings") or {}).get("Ports") or {}).items():
            for b in binds or [None]:
                ports.append(f"{b.get('HostIp') or '0.0.0.0'}:{b.get('HostPort')} → {cport}"
                             if b else f"{cport} (not published)")
        out.append(_section("Ports", ports))
        nets = [f"{name}  {ep.get('IPAddress') or '-'}  gw {ep.get('Gateway') or '-'}  "
                f"mac {ep.get('MacAddress') or '-'}"
                for name, ep in ((data.get("NetworkSettings") or {}).get("Networks") or {}).items()]
        out.append(_section("Networks", nets or [f"mode: {host.get('NetworkMode', '-')}"]))
    elif kind == "images":
        cfg = data.get("Config") or {}
        out.append(_section("Image", [
            ("id", str(data.get("Id", ""))[7:19]), ("tags", ", ".join(data.get("RepoTags") or [])),
            ("size", str(data.get("Size", ""))), ("created", str(data.get("Created", ""))),
            ("platform", f"{data.get('Os', '')}/{data.get('Architecture', '')}"),
            ("command", " ".join((cfg.get("Entrypoint") or []) + (cfg.get("Cmd") or []))),
            ("workdir", str(cfg.get("WorkingDir") or "")),
            ("layers", str(len((data.get("RootFS") or {}).get("Layers") or []))),
        ]))
        out.append(_section("Env", list(cfg.get("Env") or [])))
        out.append(_section("Exposed ports", list((cfg.get("ExposedPorts") or {}).keys())))
        out.append(_section("Volumes", list((cfg.get("Volumes") or {}).keys())))
    else:
        flat = [(k, json.dumps(v) if not isinstance(v, str) else v)
                for k, v in data.items() if not isinstance(v, (dict, list))]
        out.append(_section(kind[:-1].capitalize(), flat))
        for k, v in data.items():
            if isinstance(v, dict) and v:
                out.append(_section(k, [(str(a), json.dumps(b) if not isinstance(b, str) else b)
                                        for a, b in v.items()]))
    return out


class InspectTree(Tree):
    """The inspect JSON's Tree, laid out once when it opens.

    A Tree's lines don't depend on its size (it scrolls sideways), yet Textual's Tree threw
    its drawn lines away and asked for a new layout of the whole screen on every Resize, the
    first one included (its first layout sends it one); here a Resize only repaints. Its
    vertical scrollbar is there from the start (overflow-y: scroll), so a tree longer than
    the screen doesn't lay the screen out again to add it."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.set_reactive(Tree.show_vertical_scrollbar, True)

    def _on_resize(self, event) -> None:
        event.prevent_default()      # (Tree's own handler would run after this one)
        self._line_cache.grow(event.size.height)
        self.refresh()


class InspectScreen(LaidOutOnce, Screen):
    """One object's inspect: summary on the left, the whole JSON as a tree on the right.

    It opens at once: with what the caller already has (the detail pane's inspect of the same
    object), or saying it is reading; ``set_data`` fills it in when the read is done."""

    BINDINGS = [
        Binding("escape,q", "close", "Back", id="inspect.back"),
        Binding("tab", "switch", "Summary/Tree", id="inspect.switch"),
        Binding("E", "expand_all", "Expand all", id="inspect.expand"),
        Binding("C", "collapse_all", "Collapse all", id="inspect.collapse"),
    ]
    """Keys of the inspect view (space or enter folds a node)."""

    def __init__(self, kind: str, title: str, data: Any, focus: str = "json"):
        super().__init__()
        self.kind = kind
        self.title_text = title
        self.data = _one(data)
        """The inspect shown, None while it is being read."""
        self.error = ""
        self.ticket = 0
        """Counts the objects shown (``show``): a read for an earlier one is not drawn."""
        self._palette = {}
        self.AUTO_FOCUS = _focus_target(focus)
        """Focused as the screen is composed, so its first layout is drawn with the focus
        where it stays (focusing in on_mount restyled both boxes and laid the screen out
        again)."""

    def compose(self) -> ComposeResult:
        yield Static(self._title(), id="inspect-title")
        with Horizontal(id="inspect-body"):
            with VerticalScroll(id="inspect-summary"):
                yield Static(self._summary(), id="inspect-sections")
            tree: Tree = InspectTree(Text(self.title_text, style="bold"), id="inspect-tree")
            tree.root.expand()
            self._fill_tree(tree)
            yield tree
        yield ScreenFooter()

    def show(self, kind: str, title: str, data: Any, focus: str = "json") -> int:
        """Show an object in this screen again, before it is pushed: the dashboard keeps one
        InspectScreen (installed, so closing it doesn't take it apart), and `i` then neither
        composes, mounts nor styles its widgets anew; the same object again keeps even the
        drawn lines. Returns the ticket ``set_data`` takes for this object's read."""
        self.ticket += 1
        data = _one(data)
        same = (kind, title, data) == (self.kind, self.title_text, self.data) \
            and self._palette == palette_for(self.app.theme_variables)
        self.kind, self.title_text, self.data, self.error = kind, title, data, ""
        self.AUTO_FOCUS = _focus_target(focus)
        if not self.is_mounted:
            return self.ticket       # (not composed yet: compose draws it)
        if not same:
            self._redraw()
            self.query_one("#inspect-summary", VerticalScroll).scroll_home(animate=False)
        self.set_focus(self.query_one(self.AUTO_FOCUS))
        return self.ticket

    def prepare(self, kind: str, title: str, data: Any) -> None:
        """Draw an object ahead, while this screen is not shown: the dashboard calls it when
        the cursor has rested on a row and its inspect was read, so that `i` there finds the
        screen laid out and its lines drawn (show() then sees the same object and keeps them),
        as it is for the object shown last. Without it `i` on a new row filled the tree and
        summary, laid the screen out and drew every line between the key and the screen
        (125 ms median at 100 containers, 56 ms with it). Textual lays out and draws only the
        screen shown, so this does it in steps a moment apart (_ahead), each after the
        widgets took what the last one sent them; what it needs of Textual's screen
        internals is looked up, and without them `i` simply does the work itself."""
        if self.is_mounted and not self.is_current and data is not None:
            # a new object is filled in by _redraw, which then lays out and draws ahead
            self.show(kind, title, data, focus="summary" if self.AUTO_FOCUS ==
                      "#inspect-summary" else "json")

    def compose_ahead(self) -> None:
        """Compose and mount this screen while it is not shown, as pushing it first would (the
        session's first `i` paid that: 190-280 ms at 100 containers), so that the first `i`
        only lays it out and draws it. Textual's own steps for a screen about to be pushed,
        looked up: without them, `i` composes it as before."""
        if self.is_running:
            return
        try:
            self.app._get_screen(self)
            self.app._load_screen_css(self)
        except AttributeError:
            pass

    _ahead_steps = 0

    def _ahead(self) -> None:
        """One step of prepare: lay the screen out, again while widgets ask for it (at most
        three times), then draw every widget's lines, which each keeps until it changes."""
        if self.is_current or not self.is_attached or self._size != self.app.size:
            return
        try:
            if (self._layout_required or not self._ahead_steps) and self._ahead_steps < 3:
                self._ahead_steps += 1
                self._refresh_layout(self.app.size)   # (not current: nothing is drawn)
                self._layout_required = False
                self._dirty_widgets.clear()
                self.set_timer(PREPARE_STEP, self._ahead)
                return
            self._compositor.render_update(full=True)
        except AttributeError:
            pass

    def _on_screen_resume(self, event) -> None:
        # Textual styles every widget of a resumed screen again, which also throws away what
        # they drew: for this screen shown again in the theme it was styled in, with its
        # focus moved by show() (which restyles what the focus touches), that is all undone
        # work. (Textual's own handler runs after this one and reads the flag.)
        styled_for = (self.app.theme, self.app.size)
        if styled_for == self._styled_for:
            event.refresh_styles = False
        self._styled_for = styled_for

    _styled_for: tuple = ()

    def _title(self) -> Text:
        return Text.assemble((f" {self.kind[:-1]} ", "reverse bold"),
                             (f"  {self.title_text}", "bold"))

    def _summary(self) -> Group | Text:
        """The summary's sections as one renderable, a blank line after each: one widget to
        lay out and draw rather than one a section."""
        if self.data is None:
            return Text(self.error or "reading…", style="dim")
        sections = summary(self.kind, self.data if isinstance(self.data, dict) else {},
                           self.app.theme_variables)
        return Group(*(part for section in sections for part in (section, Text())))

    def _fill_tree(self, tree: Tree) -> None:
        self._palette = palette_for(self.app.theme_variables)
        if self.data is not None:
            fill(tree.root, self.data if isinstance(self.data, (dict, list))
                 else {"value": self.data}, palette=self._palette, lazy=True)

    def set_data(self, data: Any = None, error: str = "", ticket: int | None = None) -> None:
        """What the read found (or why it failed): drawn again unless it is what is shown.
        A read for an object shown before (``ticket`` from ``show``) is dropped."""
        if not self.is_attached or (ticket is not None and ticket != self.ticket):
            return      # closed before the read ended, or showing another object now
        data = _one(data)
        if error:
            if self.data is None:
                self.error = error
                self._redraw()
            else:   # keep what is shown, and say it may be old
                self.notify(f"inspect: {error}", severity="warning")
            return
        if data == self.data:
            return
        self.data = data
        self._redraw()

    def _redraw(self) -> None:
        if not self.is_current and self._size == self.app.size:
            # filled while hidden (prepare): laid out and drawn ahead, in steps. (Laid out for
            # another terminal size, its resume lays it out anyway.)
            self._ahead_steps = 0
            self.set_timer(PREPARE_STEP, self._ahead)
        self.query_one("#inspect-title", Static).update(self._title())
        self.query_one("#inspect-sections", Static).update(self._summary())
        tree = self.query_one("#inspect-tree", Tree)
        tree.clear()
        tree.root.set_label(Text(self.title_text, style="bold"))
        tree.root.expand()
        self._fill_tree(tree)
        tree.scroll_home(animate=False)

    def action_close(self) -> None:
        self.app.pop_screen()

    def action_switch(self) -> None:
        tree = self.query_one("#inspect-tree")
        (self.query_one("#inspect-summary") if tree.has_focus else tree).focus()

    def on_tree_node_expanded(self, event: Tree.NodeExpanded) -> None:
        fill_folded(event.node, palette_for(self.app.theme_variables))

    def action_expand_all(self) -> None:
        root = self.query_one(Tree).root
        palette = palette_for(self.app.theme_variables)
        todo = [root]
        while todo:   # every folded branch filled first, then all of them opened
            node = todo.pop()
            fill_folded(node, palette)
            todo.extend(node.children)
        root.expand_all()

    def action_collapse_all(self) -> None:
        root = self.query_one(Tree).root
        for child in root.children:
            child.collapse_all()


def _focus_target(focus: str) -> str:
    return "#inspect-summary" if focus == "summary" else "#inspect-tree"


def _one(data: Any) -> Any:
    """An inspect of one object comes as a list of one; show the object."""
    return data[0] if isinstance(data, list) and len(data) == 1 else data
