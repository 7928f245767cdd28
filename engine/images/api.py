"""Image verbs: load, save, import, images, tag, rmi, inspect, history, prune (engine/images)."""

from __future__ import annotations


class ImagesAPI:
    """Image verbs: load, save, import, images, tag, rmi, inspect, history, prune (engine/images)."""
