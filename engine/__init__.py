"""berth's container engine: a library with no terminal code. Start with ``Engine``."""

from .errors import BerthError, Conflict, HostError, InvalidArgument, NotFound

__all__ = ["Engine", "BerthError", "Conflict", "HostError", "InvalidArgument", "NotFound"]


def __getattr__(name: str):
    # Engine is loaded on first use, so a container's monitor (python -m engine.runtime.monitor)
    # imports only the runtime modules it needs, not every verb's models and stores.
    if name == "Engine":
        from .engine import Engine
        return Engine
    raise AttributeError(f"module 'engine' has no attribute {name!r}")
