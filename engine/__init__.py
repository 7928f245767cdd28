"""berth's container engine: a library with no terminal code. Start with ``Engine``."""

from .errors import BerthError, Conflict, HostError, InvalidArgument, NotFound

__version__ = "0.1.0"
__all__ = ["Engine", "ContainerEngine", "connect", "connections", "BerthError", "Conflict", "HostError", "InvalidArgument", "NotFound"]


def __getattr__(name: str):
    # Engine is loaded on first use, so a container's monitor (python -m engine.runtime.monitor)
    # imports only the runtime modules it needs, not every verb's models and stores.
    if name == "Engine":
        from .engine import Engine
        return Engine
    if name == "ContainerEngine":   # Engine's image and container verbs alone (run, create)
        from .engine_base import ContainerEngine
        return ContainerEngine
    if name == "connect":
        from .client import connect
        return connect
    if name == "connections":
        from .client import connections
        return connections
    raise AttributeError(f"module 'engine' has no attribute {name!r}")
