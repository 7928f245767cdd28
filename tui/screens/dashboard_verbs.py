"""The dashboard's verbs: what its keys do to the selected (or marked) rows. Container verbs
run in thread workers and report failures together; the console, graphs, dialogs and the
image, volume and network actions live in launch.py and resource_actions.py, and are reached
from here. A mixin of DashboardScreen, which provides targets(), table(), engine and Changed.
"""

from __future__ import annotations

from textual import work

from ..widgets import rows as R
from .confirm import ConfirmScreen
from .fetch import Unavailable, verb


class DashboardVerbs:
    """Actions on the selected rows (DashboardScreen's key bindings)."""

    # --- container verbs ------------------------------------------------------------------------

    @work(thread=True, group="actions", exit_on_error=False)
    def run_verb(self, name: str, refs: list[str], label: str, keys: list[str] | None = None,
                 names: list[str] | None = None, engine=None, **kwargs) -> None:
        """Call Engine.<name>(ref) for every ref at once (thread; at most PARALLEL at a time,
        tui/commands/parallel.py); each row's state shows ``label`` until it changes, and
        failures, each naming its row, are raised together at the end. ``engine``: another
        than the screen's (the all-hosts list's row's host)."""
        from ..commands.parallel import each, naming
        fn = verb(engine or self.engine, name, f"{label}")
        keys = keys or refs
        names = names or refs
        by_ref = dict(zip(refs, zip(keys, names)))
        errors = []
        for ref, error in each(refs, lambda r: fn(r, **kwargs)):
            key, shown = by_ref[ref]
            if error is not None:
                errors.append(naming(shown, error))
                self.app.call_from_thread(self._clear_pending, key)
            self.post_message(self.Changed())
        if errors:
            raise ActionFailed("; ".join(errors))

    def _begin(self, rows: list, word: str) -> tuple[list[str], list[str]]:
        """Mark ``rows`` as being worked on (their state cell says ``word``); their keys and
        names, for run_verb."""
        keys = [r.key for r in rows]
        self.table().set_pending(keys, word)
        return keys, [_name_of(self.pane_kind, r) for r in rows]

    def _clear_pending(self, key: str) -> None:
        for kind in R.COLUMNS:
            self.table(kind).clear_pending(key)

    def _act(self, name: str, check, label: str, word: str, **kwargs) -> None:
        rows = [r for r in self.targets() if check(r.model)]
        if not rows:
            self.app.bell()
            return
        keys, names = self._begin(rows, word)
        self.run_verb(name, [r.model.id for r in rows], label, keys=keys, names=names,
                      **kwargs)
        self.table().clear_marks()

    def action_start(self) -> None:
        self._act("start", lambda c: c.can_start(), "start", "starting…")

    def action_stop(self) -> None:
        self._act("stop", lambda c: c.can_stop(), "stop", "stopping…")

    def action_restart(self) -> None:
        self._act("restart", lambda c: c.can_stop() or c.can_start(), "restart", "restarting…")

    def action_pause(self) -> None:
        rows = self.targets()
        pause = [r for r in rows if r.model.can_pause()]
        unpause = [r for r in rows if r.model.can_unpause()]
        if not pause and not unpause:
            self.app.bell()
            return
        for name, chosen, word in (("pause", pause, "pausing…"),
                                   ("unpause", unpause, "unpausing…")):
            if chosen:
                keys, names = self._begin(chosen, word)
                self.run_verb(name, [r.model.id for r in chosen], name, keys=keys, names=names)
        self.table().clear_marks()

    def action_kill(self) -> None:
        rows = [r for r in self.targets() if r.model.can_stop()]
        if not rows:
            self.app.bell()
            return
        names = ", ".join(r.model.name for r in rows)

        def answered(yes: bool | None) -> None:
            if yes:
                keys, shown = self._begin(rows, "killing…")
                self.run_verb("kill", [r.model.id for r in rows], "kill", keys=keys,
                              names=shown)
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
                keys, shown = self._begin(rows, "removing…")
                self.run_verb(verb_name, [r.ref for r in rows], f"remove {singular}", keys=keys,
                              names=shown, **kwargs)
                self.table().clear_marks()
        self.app.push_screen(ConfirmScreen(f"Remove {noun} {names}?", detail), answered)

    # --- logs, shell, inspect -------------------------------------------------------------------

    def action_logs(self) -> None:
        from .logs import LogsScreen
        containers = [r.model for r in self.targets()]
        if not containers:
            return
        # the detail pane's tail of the same container shows at once; the reader then reads
        # the rest and follows
        seed = list(self._log_lines) if len(containers) == 1 and \
            self._log_cid == containers[0].id else None
        self.app.push_screen(LogsScreen(self.engine, [(c.id, c.name) for c in containers],
                                        max_lines=self.app.config.log_lines, seed=seed))

    def action_shell(self) -> None:
        row = self.table().selected()
        c = row.model if row else None
        if c is None or c.state.status != "running":
            self.app.bell()
            return
        from .shell import run_shell
        run_shell(self.app, self.engine, c)

    def action_top(self) -> None:
        """The selected running container's processes (screens/top.py)."""
        from .top import TopScreen
        row = self.table().selected()
        c = row.model if row else None
        if self.pane_kind != "containers" or c is None or not c.running:
            self.app.bell()
            return
        self.app.push_screen(TopScreen(self.engine, c.id, c.name))

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
        """Open the inspect screen at once, with the detail pane's inspect of the row if it
        read one, and read it afresh in a worker that fills the screen in."""
        row = self.table().selected()
        if row is None:
            return
        kind = self.pane_kind
        known = self._inspects.get((kind, row.ref, id(row.model)))
        screen = self._inspect_screen_for(kind, row, known, focus)
        ticket = screen.show(kind, _name_of(kind, row), known, focus=focus)
        self.app.push_screen(screen)
        # the read after the screen's first frame: its thread would take turns with drawing it
        screen.call_after_refresh(self.fetch_inspect, kind, row.ref, screen, ticket)

    _inspect_screen = None

    def _inspect_screen_for(self, kind: str, row, data, focus: str):
        """The dashboard's one InspectScreen, made on first use: kept (installed), it opens
        again without a compose."""
        from .inspect import InspectScreen
        screen = self._inspect_screen
        if screen is None:
            screen = self._inspect_screen = InspectScreen(kind, _name_of(kind, row), data,
                                                          focus=focus)
            self.app.install_screen(screen, f"inspect-{id(screen)}")   # (alive: unique)
        return screen

    def prepare_inspect(self, kind: str, row, data) -> None:
        """The inspect of the row the cursor rests on was read: the inspect screen draws it
        ahead, so `i` there shows it at once (InspectScreen.prepare); the first time, the
        screen is made and composed off-screen with it, so that not even the session's first
        `i` composes (InspectScreen.compose_ahead)."""
        if kind != self.pane_kind:
            return
        if self._inspect_screen is None:
            self._inspect_screen_for(kind, row, data, "json").compose_ahead()
        else:
            self._inspect_screen.prepare(kind, _name_of(kind, row), data)

    @work(thread=True, group="inspect", exclusive=True, exit_on_error=False)
    def fetch_inspect(self, kind: str, ref: str, screen, ticket: int) -> None:
        """Read the Docker-shaped inspect JSON (thread) into the inspect screen."""
        from engine.errors import BerthError
        name = {"containers": "container_inspect", "images": "image_inspect",
                "volumes": "volume_inspect", "networks": "network_inspect"}[kind]
        try:
            data = verb(self.engine, name, f"{kind[:-1]} inspect")(ref)
        except (BerthError, Unavailable) as e:     # said on the screen
            self.app.call_from_thread(screen.set_data, None, str(e), ticket)
            return
        self.app.call_from_thread(screen.set_data, data, "", ticket)


class ActionFailed(Exception):
    """One or more engine verbs failed; the message is the engine's, joined."""


def _name_of(kind: str, row: R.Row) -> str:
    m = row.model
    if kind == "containers":
        return m.name
    if kind == "images":
        return R.short_image(row.ref) if row.ref != m.id else m.short_id
    return m.name
