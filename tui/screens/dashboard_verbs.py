"""The dashboard's verbs: what its keys do to the selected (or marked) rows. Container verbs
run in thread workers and report failures together; the console, graphs, dialogs and the
image, volume and network actions live in launch.py and resource_actions.py, and are reached
from here. A mixin of DashboardScreen, which provides targets(), table(), engine and Changed.
"""

from __future__ import annotations

from textual import work

from ..widgets import rows as R
from .confirm import ConfirmScreen
from .fetch import verb


class DashboardVerbs:
    """Actions on the selected rows (DashboardScreen's key bindings)."""

    # --- container verbs ------------------------------------------------------------------------

    def _containers(self, check) -> list:
        return [r.model for r in self.targets() if check(r.model)]

    @work(thread=True, group="actions", exit_on_error=False)
    def run_verb(self, name: str, refs: list[str], label: str, **kwargs) -> None:
        """Call Engine.<name>(ref) for each ref (thread); failures are raised together."""
        from engine.errors import BerthError
        fn = verb(self.engine, name, f"{label}")
        errors = []
        for ref in refs:
            try:
                fn(ref, **kwargs)
            except BerthError as e:
                errors.append(str(e))
        self.post_message(self.Changed())
        if errors:
            raise ActionFailed("; ".join(errors))

    def _act(self, name: str, check, label: str, **kwargs) -> None:
        targets = self._containers(check)
        if not targets:
            self.app.bell()
            return
        self.notify(f"{label} {', '.join(c.name for c in targets)}", timeout=2)
        self.run_verb(name, [c.id for c in targets], label, **kwargs)
        self.table().clear_marks()

    def action_start(self) -> None:
        self._act("start", lambda c: c.can_start(), "starting")

    def action_stop(self) -> None:
        self._act("stop", lambda c: c.can_stop(), "stopping")

    def action_restart(self) -> None:
        self._act("restart", lambda c: c.can_stop() or c.can_start(), "restarting")

    def action_pause(self) -> None:
        targets = [r.model for r in self.targets()]
        pause = [c for c in targets if c.can_pause()]
        unpause = [c for c in targets if c.can_unpause()]
        if pause:
            self.run_verb("pause", [c.id for c in pause], "pause")
        if unpause:
            self.run_verb("unpause", [c.id for c in unpause], "unpause")
        if not pause and not unpause:
            self.app.bell()
        self.table().clear_marks()

    def action_kill(self) -> None:
        targets = self._containers(lambda c: c.can_stop())
        if not targets:
            self.app.bell()
            return
        names = ", ".join(c.name for c in targets)

        def answered(yes: bool | None) -> None:
            if yes:
                self.run_verb("kill", [c.id for c in targets], "kill")
                self.table().clear_marks()
        self.app.push_screen(ConfirmScreen(f"Kill {names}?", "SIGKILL: the processes get no "
                                           "chance to clean up."), answered)

    def action_remove(self) -> None:
        rows = self.targets()
        if not rows:
            return
        kind = self.pane_kind
        names = ", ".join(_name_of(kind, r) for r in rows)
        force = False
        detail = "This can't be undone."
        if kind == "containers":
            running = [r.model for r in rows if not r.model.can_remove()]
            if running:
                force = True
                detail = (f"{', '.join(c.name for c in running)} "
                          f"{'is' if len(running) == 1 else 'are'} running: y kills and removes "
                          "(force).")
        singular = kind[:-1]
        noun = kind if len(rows) > 1 else singular
        verb_name = {"containers": "remove", "images": "remove_image",
                     "volumes": "remove_volume", "networks": "remove_network"}[kind]
        kwargs = {"force": True} if force else {}

        def answered(yes: bool | None) -> None:
            if yes:
                self.run_verb(verb_name, [r.ref for r in rows], f"remove {singular}", **kwargs)
                self.table().clear_marks()
        self.app.push_screen(ConfirmScreen(f"Remove {noun} {names}?", detail), answered)

    # --- logs, shell, inspect -------------------------------------------------------------------

    def action_logs(self) -> None:
        from .logs import LogsScreen
        containers = [r.model for r in self.targets()]
        if not containers:
            return
        self.app.push_screen(LogsScreen(self.engine, [(c.id, c.name) for c in containers],
                                        max_lines=self.app.config.log_lines))

    def action_shell(self) -> None:
        row = self.table().selected()
        c = row.model if row else None
        if c is None or c.state.status != "running":
            self.app.bell()
            return
        from .shell import run_shell
        run_shell(self.app, self.engine, c)

    def action_inspect(self) -> None:
        self._open_inspect("json")

    def action_update_limits(self) -> None:
        """The selected container's limits as a form; saving applies them (Engine.update)."""
        from .update_limits import UpdateLimitsScreen
        row = self.table().selected()
        if row is None:
            self.app.bell()
            return
        c = row.model

        def saved(result) -> None:
            if result:
                changes, restart = result
                self.notify(f"updating the limits of {c.name}", timeout=2)
                self.run_verb("update", [c.id], "update limits", resources=changes,
                              restart_policy=restart)
        self.app.push_screen(UpdateLimitsScreen(c), saved)

    def action_details(self) -> None:
        self._open_inspect("summary")

    # --- console, graphs, run and pull dialogs, events (screens/launch.py) ----------------------

    async def action_console(self) -> None:
        from . import launch
        await launch.console(self)

    async def action_attach(self) -> None:
        from . import launch
        await launch.attach(self)

    async def action_graphs(self) -> None:
        from . import launch
        await launch.graphs(self)

    def action_run_dialog(self) -> None:
        from . import launch
        launch.run(self)

    def action_pull_dialog(self) -> None:
        from . import launch
        launch.pull(self)

    def action_build_dialog(self) -> None:
        if self.pane_kind == "images":   # b builds from the images pane only
            from .build_dialog import open_build_dialog
            open_build_dialog(self)

    def action_events(self) -> None:
        from . import launch
        launch.events(self)

    # --- tag, save, history, create, prune (screens/resource_actions.py) ------------------------

    def action_tag_image(self) -> None:
        from . import resource_actions
        resource_actions.tag(self)

    def action_save_image(self) -> None:
        from . import resource_actions
        resource_actions.save(self)

    def action_image_history(self) -> None:
        from . import resource_actions
        resource_actions.history(self)

    def action_create(self) -> None:
        from . import resource_actions
        resource_actions.create(self)

    def action_prune(self) -> None:
        from . import resource_actions
        resource_actions.prune(self)

    def _open_inspect(self, focus: str) -> None:
        row = self.table().selected()
        if row is None:
            return
        self.fetch_inspect(self.pane_kind, row.ref, _name_of(self.pane_kind, row), focus)

    @work(thread=True, group="inspect", exclusive=True, exit_on_error=False)
    def fetch_inspect(self, kind: str, ref: str, title: str, focus: str) -> None:
        """Read the Docker-shaped inspect JSON (thread) and open the inspect screen."""
        name = {"containers": "container_inspect", "images": "image_inspect",
                "volumes": "volume_inspect", "networks": "network_inspect"}[kind]
        data = verb(self.engine, name, f"{kind[:-1]} inspect")(ref)
        self.app.call_from_thread(self._show_inspect, kind, title, data, focus)

    def _show_inspect(self, kind: str, title: str, data, focus: str) -> None:
        from .inspect import InspectScreen
        self.app.push_screen(InspectScreen(kind, title, data, focus=focus))


class ActionFailed(Exception):
    """One or more engine verbs failed; the message is the engine's, joined."""


def _name_of(kind: str, row: R.Row) -> str:
    m = row.model
    if kind == "containers":
        return m.name
    if kind == "images":
        return R.short_image(row.ref) if row.ref != m.id else m.short_id
    return m.name
