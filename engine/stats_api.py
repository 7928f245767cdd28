"""Stats and events: the stats stream, host totals, the event log (engine/stats.py, engine/events.py)."""

from __future__ import annotations


class StatsAPI:
    """Stats and events: the stats stream, host totals, the event log (engine/stats.py, engine/events.py)."""
