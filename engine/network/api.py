"""Network verbs: network create, ls, inspect, rm, prune, connect, disconnect (engine/network)."""

from __future__ import annotations


class NetworksAPI:
    """Network verbs: network create, ls, inspect, rm, prune, connect, disconnect (engine/network)."""
