"""What every area's verbs stand on (a root's paths and store, its events and warnings), and
the smallest engine that creates and starts a container.

``Engine`` (engine/engine.py) is this base with every area's mixin. ``ContainerEngine`` is the
base with only the container and image verbs: what ``berth run`` and ``berth create`` call. The
CLI takes it for those two (tui/commands/common.py), so the start of every container does not
load the network, volume, stats, registry, build, check and file verbs' modules (~1 ms of the
CLI before it hands the container to its monitor: bench/start).
"""

from __future__ import annotations

import os

from .containers_api import ContainersAPI
from .images.api import ImagesAPI
from .paths import Paths, connections_file
from .store import Store


class EngineBase:
    """A berth root: its paths, its store, its event log, the warnings its verbs collect."""

    def __init__(self, root: str | None = None, run: str | None = None):
        warning = _enter_user_namespace() if os.geteuid() != 0 else ""
        self.paths = Paths.from_env(root, run)
        self.store = Store(self.paths)
        if warning:
            self.store.warn(warning)

    def engine_info(self):
        """This engine as the dashboard's header names it: berth, on this machine, at its root."""
        from . import __version__
        from .models import EngineInfo
        return EngineInfo("berth", __version__, "local", self.paths.root)

    def client_environment(self) -> dict[str, str]:
        """What a berth process started for this engine (a console's ``berth exec``) needs in
        its environment to reach it: this root, and no connection named elsewhere."""
        env = {"BERTH_ROOT": self.paths.root, "BERTH_RUN": self.paths.run}
        if os.environ.get("BERTH_HOST") or os.environ.get("BERTH_CONNECTION") or \
                os.path.exists(connections_file()):
            env.update(BERTH_HOST="", BERTH_CONNECTION="local")
        return env

    def take_warnings(self) -> list[str]:
        """What the verbs so far let pass but left out (``Store.warn``) and the one line naming
        the damaged records they skipped; each said once (the CLI prints them after its output)."""
        lines = [w for w in [*self.store.warnings, self.store.damaged_summary()] if w]
        self.store.warnings.clear()
        self.store.damaged.clear()
        return lines

    def emit(self, type: str, action: str, id: str = "", **attributes: str) -> None:
        from .events import emit
        emit(self.paths, type, action, id, {k: str(v) for k, v in attributes.items()})


class ContainerEngine(EngineBase, ImagesAPI, ContainersAPI):
    """The image and container verbs of a root, alone (see the module doc)."""


def _enter_user_namespace() -> str:
    """Without root, every engine works inside the user's own user namespace
    (engine/rootless/userns.py); returns the warning to show when it maps a single id."""
    from .rootless.userns import enter
    return enter()
