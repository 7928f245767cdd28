"""Opening the exec console, the graphs, the run and pull dialogs and the events pane from the
dashboard's selection (the dashboard's key handlers call these, one line each)."""

from __future__ import annotations


def _selected_container(dash):
    if dash.pane_kind != "containers":
        return None
    row = dash.table().selected()
    return row.model if row is not None else None


async def console(dash) -> None:
    """An exec console (a new tab) in the selected running container."""
    from .console import open_console
    c = _selected_container(dash)
    if c is None or c.state.status != "running":
        dash.app.bell()
        dash.notify("select a running container for a console", severity="warning", timeout=3)
        return
    await open_console(dash.app, dash.engine, c.id, c.name)


async def attach(dash) -> None:
    """A console tab attached to the selected running container's main process."""
    from .console import open_attach
    c = _selected_container(dash)
    if c is None or c.state.status != "running":
        dash.app.bell()
        dash.notify("select a running container to attach to", severity="warning", timeout=3)
        return
    await open_attach(dash.app, dash.engine, c.id, c.name)


async def graphs(dash) -> None:
    from .graphs import open_graphs
    pushed = open_graphs(dash.app, dash.engine)
    if pushed is not None:
        await pushed


def run(dash) -> None:
    """The run dialog, with the image of the selected image or container filled in."""
    from .run_dialog import open_run_dialog
    image = ""
    row = dash.table().selected()
    if row is not None and dash.pane_kind == "images":
        image = row.ref
    elif row is not None and dash.pane_kind == "containers":
        image = row.model.config.image
    open_run_dialog(dash.app, dash.engine, image)


def pull(dash) -> None:
    from .pull_dialog import open_pull_dialog
    open_pull_dialog(dash.app, dash.engine)


def events(dash) -> None:
    from .events import EventsScreen
    dash.app.push_screen(EventsScreen(dash.engine))
