"""The monitor's way into the network: the container's record as plain JSON (``config.json``),
without the models or engine.store's heavier imports, which would cost every start."""

from __future__ import annotations

import os


class RecordView:
    """A container as attach reads it, straight from the record on disk (``config.json``: the
    ContainerConfig's fields with ``id``, ``name`` at the top level), with ContainerConfig's
    defaults for what is missing."""

    class _Config:
        DEFAULTS = {"network_mode": "bridge", "networks": [], "aliases": [], "ip_address": "",
                    "mac_address": "", "hostname": "", "extra_hosts": [], "ports": [],
                    "publish_all": False, "exposed_ports": [], "links": []}

        def __init__(self, record: dict):
            from .ports import PortSpec
            for key, default in self.DEFAULTS.items():
                setattr(self, key, record.get(key, default) or default)
            self.ports = [PortSpec(**p) for p in self.ports]

    class _State:
        def __init__(self):
            self.ports: list = []

    def __init__(self, record: dict):
        self.id = record["id"]
        self.name = (record.get("name") or "").lstrip("/")
        self.config = self._Config(record)
        self.state = self._State()


def attach_record(root: str, run: str, record: dict, pid: int) -> tuple[dict, list[dict]]:
    """attach for the monitor: the container's ``config.json`` as read, without the models.
    Returns (endpoints for ContainerState.networks, ports as bound for ContainerState.ports)."""
    view = RecordView(record)
    from .endpoints import attach
    endpoints = attach(_store(root, run), view, pid)
    return endpoints, [p.to_dict() for p in view.state.ports]


def detach_record(root: str, run: str, cid: str) -> None:
    """detach for the monitor: by container id, without the models."""
    from .endpoints import detach
    detach(_store(root, run), cid)


def _store(root: str, run: str):
    from ..paths import Paths
    from ..store import Store
    return Store(Paths(os.path.abspath(root), os.path.abspath(run)), create=False)
