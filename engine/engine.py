"""Engine: the one facade that the CLI, the dashboard, the API server and the tests call.

It is assembled from one mixin per area, each in the module that owns the area, over what they
all stand on (engine_base.EngineBase: the root's paths, store, events and warnings); the mixins
import their heavy machinery inside the methods, so ``import engine`` stays cheap and
``berth ps`` never loads pyroute2, aiohttp or textual. ``berth run`` and ``create`` take
engine_base.ContainerEngine, the image and container verbs alone.
"""

from __future__ import annotations

from .build.api import BuildAPI
from .check_api import CheckAPI
from .containers_api import ContainersAPI
from .containers_files import ContainerFilesAPI
from .containers_io import ContainerIOAPI
from .engine_base import EngineBase
from .images.api import ImagesAPI
from .network.api import NetworksAPI
from .registry_api import RegistryAPI
from .stats_api import StatsAPI
from .volumes_api import VolumesAPI


class Engine(EngineBase, ImagesAPI, RegistryAPI, ContainersAPI, ContainerIOAPI, ContainerFilesAPI,
             NetworksAPI, VolumesAPI, StatsAPI, CheckAPI, BuildAPI):
    """A berth root and every verb on it.

    Local verbs are plain synchronous methods (fast to call from the CLI, run in worker threads
    by the dashboard); those that stream or talk to the network (pull, push, stats, events) are
    async.
    """
