"""What the dashboard reads from the engine, and how a missing verb shows.

The dashboard is built against the Engine contract (docs/API.md) while other areas are still
being written; a verb this build lacks is reported once, here, as "<kind>: not available in this
build", and the pane says so instead of showing nothing or something made up.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

KINDS = ("containers", "images", "volumes", "networks")


class Unavailable(Exception):
    """The engine in this build has no such verb."""

    def __init__(self, what: str):
        super().__init__(f"{what}: not available in this build")


def verb(engine, name: str, what: str | None = None):
    """The engine's bound method ``name``, or Unavailable naming ``what`` it was for."""
    fn = getattr(engine, name, None)
    if fn is None:
        raise Unavailable(what or name)
    return fn


@dataclass
class Listing:
    """One kind's objects, or why they could not be listed."""

    items: list[Any] | None
    error: str = ""


@dataclass
class Snapshot:
    """Every list the panes show, read in one go by a worker."""

    listings: dict[str, Listing] = field(default_factory=dict)

    def items(self, kind: str) -> list[Any]:
        listing = self.listings.get(kind)
        return (listing.items or []) if listing else []


def _call(engine, kind: str) -> Listing:
    from engine.errors import BerthError
    calls = {
        "containers": ("containers", {"all": True}),
        "images": ("images", {}),
        "volumes": ("volumes", {}),
        "networks": ("networks", {}),
    }
    name, kwargs = calls[kind]
    try:
        return Listing(list(verb(engine, name, kind)(**kwargs)))
    except Unavailable as e:
        return Listing(None, str(e))
    except BerthError as e:
        return Listing(None, f"{kind}: {e}")
    except Exception as e:  # another area's bug must not take the whole dashboard down
        return Listing(None, f"{kind}: {type(e).__name__}: {e}")


def snapshot(engine, kinds=KINDS) -> Snapshot:
    """Read the listed kinds from the engine (in a worker thread)."""
    return Snapshot({kind: _call(engine, kind) for kind in kinds})
