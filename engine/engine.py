"""Engine: the one facade that the CLI, the dashboard, the API server and the tests call.

It is assembled from one mixin per area, each in the module that owns the area; the mixins
import their heavy machinery inside the methods, so ``import engine`` stays cheap and
``berth ps`` never loads pyroute2, aiohttp or textual.
"""

from __future__ import annotations

import os

from .build.api import BuildAPI
from .check_api import CheckAPI
from .containers_api import ContainersAPI
from .containers_files import ContainerFilesAPI
from .containers_io import ContainerIOAPI
from .images.api import ImagesAPI
from .models import EngineInfo
from .network.api import NetworksAPI
from .paths import Paths
from .registry_api import RegistryAPI
from .stats_api import StatsAPI
from .store import Store
from .volumes_api import VolumesAPI


class Engine(ImagesAPI, RegistryAPI, ContainersAPI, ContainerIOAPI, ContainerFilesAPI, NetworksAPI,
             VolumesAPI, StatsAPI, CheckAPI, BuildAPI):
    """A berth root and every verb on it.

    Local verbs are plain synchronous methods (fast to call from the CLI, run in worker threads
    by the dashboard); those that stream or talk to the network (pull, push, stats, events) are
    async.
    """

    def __init__(self, root: str | None = None, run: str | None = None):
        warning = _enter_user_namespace() if os.geteuid() != 0 else ""
        self.paths = Paths.from_env(root, run)
        self.store = Store(self.paths)
        if warning:
            self.store.warn(warning)

    def engine_info(self) -> EngineInfo:
        """This engine as the dashboard's header names it: berth, on this machine, at its root."""
        from . import __version__
        return EngineInfo("berth", __version__, "local", self.paths.root)

    def client_environment(self) -> dict[str, str]:
        """What a berth process started for this engine (a console's ``berth exec``) needs in
        its environment to reach it: this root, and no connection named elsewhere."""
        import os
        env = {"BERTH_ROOT": self.paths.root, "BERTH_RUN": self.paths.run}
        if os.environ.get("BERTH_HOST") or os.environ.get("BERTH_CONNECTION") or \
                os.path.exists(os.path.join(os.environ.get("XDG_CONFIG_HOME") or
                                            os.path.expanduser("~/.config"),
                                            "berth", "connections.json")):
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


def _enter_user_namespace() -> str:
    """Without root, every engine works inside the user's own user namespace
    (engine/rootless/userns.py); returns the warning to show when it maps a single id."""
    from .rootless.userns import enter
    return enter()
