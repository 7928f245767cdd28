"""Container verbs: create, start, stop, kill, rm, ps, logs, wait, pause (engine/runtime)."""

from __future__ import annotations


class ContainersAPI:
    """Container verbs: create, start, stop, kill, rm, ps, logs, wait, pause (engine/runtime)."""
