"""The images, volumes and networks panes' own actions: tag, save and history of an image,
volume and network create (forms in resource_dialogs.py, history in image_history.py), and
prune of whatever the pane lists. The dashboard's key handlers call the functions at the
bottom, one line each.
"""

from __future__ import annotations

import re

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.widgets import Checkbox, Static

from .confirm import ConfirmScreen


class PruneScreen(ConfirmScreen):
    """The confirmation of a prune, with the CLI's --all as a checkbox (``a`` toggles it);
    dismisses with {"all": bool}, or None when cancelled."""

    BINDINGS = [Binding("a", "toggle_all", "All", id="prune.all")]
    """a toggles --all (the y, n and escape of ConfirmScreen answer)."""

    def __init__(self, question: str, detail: str, all_label: str = "") -> None:
        super().__init__(question, detail)
        self.all_label = all_label

    def compose(self) -> ComposeResult:
        with Vertical(id="confirm", classes="danger"):
            yield Static(self.question, id="confirm-question", markup=False)
            yield Static(self.detail, id="confirm-detail", markup=False)
            if self.all_label:
                yield Checkbox(self.all_label, id="prune-all")
            yield Static("[b]y[/b] yes    [b]n[/b] no    [b]esc[/b] cancel" +
                         ("    [b]a[/b] all" if self.all_label else ""), id="confirm-keys")

    def action_toggle_all(self) -> None:
        for box in self.query("#prune-all").results(Checkbox):
            box.toggle()

    def action_answer(self, value: bool) -> None:
        everything = any(b.value for b in self.query("#prune-all").results(Checkbox))
        self.dismiss({"all": everything} if value else None)


# kind -> (engine verb, what it removes, what --all adds or "")
PRUNES = {
    "containers": ("prune_containers", "every stopped container", ""),
    "images": ("prune_images", "dangling images (no name, no container)",
               "every image no container uses"),
    "volumes": ("prune_volumes", "anonymous volumes no container uses",
                "named volumes too"),
    "networks": ("prune_networks", "every network no container uses", ""),
}


# --- what the dashboard's keys call -------------------------------------------------------------

def _label(dash, rows) -> str:
    from .dashboard_verbs import _name_of
    return ", ".join(_name_of("images", r) for r in rows)


def tag(dash) -> None:
    from .resource_dialogs import TagDialog
    row = dash.table().selected()
    if row is None:
        return
    dash.app.push_screen(TagDialog(dash.engine, row.ref, _label(dash, [row])))


def default_archive(ref: str, image_id: str) -> str:
    """./<repo>-<tag>.tar for a name (the repository's last part), ./<short id>.tar without."""
    from ..widgets.rows import split_tag
    if ref == image_id or not ref:
        return f"./{image_id.removeprefix('sha256:')[:12]}.tar"
    repo, tag_ = split_tag(ref)
    name = f"{repo.rsplit('/', 1)[-1]}-{tag_}"
    return "./" + re.sub(r"[^A-Za-z0-9_.-]", "_", name) + ".tar"


def save(dash) -> None:
    rows = dash.targets()
    if not rows:
        return
    from .resource_dialogs import SaveDialog
    path = (default_archive(rows[0].ref, rows[0].model.id) if len(rows) == 1 else "./images.tar")
    dash.app.push_screen(SaveDialog(dash.engine, [r.ref for r in rows], _label(dash, rows),
                                    path))
    dash.table().clear_marks()


def history(dash) -> None:
    from .image_history import HistoryScreen
    row = dash.table().selected()
    if row is not None:
        dash.app.push_screen(HistoryScreen(dash.engine, row.ref, _label(dash, [row])))


def create(dash) -> None:
    from .resource_dialogs import NetworkDialog, VolumeDialog
    if dash.pane_kind == "volumes":
        dash.app.push_screen(VolumeDialog(dash.engine, "New volume"))
    elif dash.pane_kind == "networks":
        dash.app.push_screen(NetworkDialog(dash.engine, "New network"))


def prune(dash) -> None:
    """Ask, then remove what the pane's prune removes and say what was reclaimed."""
    kind = dash.pane_kind
    _, what, all_label = PRUNES[kind]

    def answered(answer: dict | None) -> None:
        if answer is not None:
            dash.run_worker(lambda: _prune(dash, kind, answer["all"]), thread=True,
                            group="prune", exit_on_error=False)
    dash.app.push_screen(PruneScreen(f"Prune {kind}?", f"Removes {what}. This can't be undone.",
                                     all_label), answered)


def _prune(dash, kind: str, everything: bool) -> None:
    """The engine's prune (thread); failures reach the app's one error handler."""
    from ..widgets.rows import human_size
    from .fetch import verb
    name = PRUNES[kind][0]
    fn = verb(dash.engine, name, f"{kind} prune")
    result = fn(all=True) if everything else fn()
    removed, reclaimed = result if isinstance(result, tuple) else (result or [], None)
    noun = kind if len(removed) != 1 else kind[:-1]
    text = f"removed {len(removed)} {noun}"
    if reclaimed is not None:
        text += f", reclaimed {human_size(reclaimed)}"
    dash.app.call_from_thread(dash.notify, text, title=f"{kind} prune", timeout=5)
    dash.post_message(dash.Changed())
