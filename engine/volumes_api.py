"""Volume verbs: volume create, ls, inspect, rm, prune; system df (engine/volumes.py)."""

from __future__ import annotations


class VolumesAPI:
    """Volume verbs: volume create, ls, inspect, rm, prune; system df (engine/volumes.py)."""
