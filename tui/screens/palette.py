"""berth's commands in Textual's command palette (`:`): themes, panes, prune actions and
system check."""

from __future__ import annotations

from functools import partial

from textual.command import DiscoveryHit, Hit, Hits, Provider

PRUNES = {
    "containers": ("prune_containers", "Prune: remove every stopped container", {}),
    "images": ("prune_images", "Prune: remove dangling images", {}),
    "images-all": ("prune_images", "Prune: remove every image no container uses", {"all": True}),
    "volumes": ("prune_volumes", "Prune: remove unused anonymous volumes", {}),
    "networks": ("prune_networks", "Prune: remove unused networks", {}),
}


class BerthCommands(Provider):
    """Themes, panes, the stopped-container toggle and the prune actions."""

    def _commands(self) -> list[tuple[str, object, str]]:
        from themes import THEMES
        from ..widgets.header import PANES
        app = self.app
        out: list[tuple[str, object, str]] = []
        for name in THEMES:
            out.append((f"Theme: {name}", partial(setattr, app, "theme", name),
                        "switch the dashboard's colours"))
        for kind in PANES:
            out.append((f"Pane: {kind}", partial(app.run_action, f"show_pane('{kind}')"),
                        f"show the {kind} pane"))
        out.append(("Toggle stopped containers", partial(app.run_action, "toggle_stopped"),
                    "show or hide containers that are not running"))
        for key, (_, title, _) in PRUNES.items():
            out.append((title, partial(app.prune, key), "asks first"))
        out.append(("System check", partial(app.system_check, False),
                    "find damaged records and what crashes left behind"))
        out.append(("System check and repair", partial(app.system_check, True),
                    "asks first; a container whose configuration is lost is removed"))
        out.append(("Help: keys", partial(app.run_action, "help"), "every key on every screen"))
        return out

    async def discover(self) -> Hits:
        for name, callback, help_text in self._commands():
            yield DiscoveryHit(name, callback, help=help_text)

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for name, callback, help_text in self._commands():
            score = matcher.match(name)
            if score > 0:
                yield Hit(score, matcher.highlight(name), callback, help=help_text)
