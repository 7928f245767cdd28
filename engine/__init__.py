"""berth's container engine: a library with no terminal code. Start with ``Engine``."""

from .engine import Engine
from .errors import BerthError, Conflict, HostError, InvalidArgument, NotFound

__all__ = ["Engine", "BerthError", "Conflict", "HostError", "InvalidArgument", "NotFound"]
