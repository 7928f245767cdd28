"""Registry verbs: pull, push, login, logout, search (engine/images/registry.py)."""

from __future__ import annotations


class RegistryAPI:
    """Registry verbs: pull, push, login, logout, search (engine/images/registry.py)."""
