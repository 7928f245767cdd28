"""cgroups: one backend per hierarchy version, picked once by ``detect``; nothing else asks which
version the host has.

Both backends answer the same operations (create with limits, add a process, freeze and thaw,
list and kill the processes, read the OOM-kill counter, remove) and ``path(cid, controller)``,
which the stats readers use. A container's cgroup is ``<parent>/<container id>`` under every
controller (v1) or under the unified mount (v2); ``parent`` is derived from the berth root so two
roots never share one. The mount points are parameters so the v2 backend can be tested against
a directory tree shaped like a v2 hierarchy on this v1 host.
"""

from __future__ import annotations

import os

from .cgroup_common import (DEFAULT_DEVICE_RULES, NO_BLKIO_WEIGHT, NO_BLKIO_WEIGHT_DEVICE,
                            NO_OOM_KILL_DISABLE, NO_THROTTLE, V1_CONTROLLERS, _parent_name,
                            _read, blkio_to_io_weight, cpu_quota, memory_swap_limit, nested,
                            shares_to_weight)  # noqa: F401 - re-exported: cgroups' public names
from .cgroup_v1 import V1
from .cgroup_v2 import V2


def _v1_mounts(mountinfo: str = "/proc/self/mountinfo") -> dict[str, str]:
    mounts: dict[str, str] = {}
    with open(mountinfo) as f:
        for line in f:
            left, _, right = line.partition(" - ")
            fstype, _, superopts = right.split()[:3]
            if fstype != "cgroup":
                continue
            for opt in superopts.split(","):
                if opt in V1_CONTROLLERS and opt not in mounts:
                    mounts[opt] = left.split()[4]
    return mounts


def _v2_mount(mountinfo: str = "/proc/self/mountinfo") -> str | None:
    with open(mountinfo) as f:
        for line in f:
            left, _, right = line.partition(" - ")
            if right.split()[0] == "cgroup2":
                point = left.split()[4]
                try:
                    if _read(os.path.join(point, "cgroup.controllers")).split():
                        return point
                except OSError:
                    pass
    return None


_backend = None


def of_spec(spec: dict, parent: str | None = None) -> V1 | V2:
    """The backend of a container's cgroup: under the root's parent (``parent``, or the
    monitor's BERTH_CGROUP_PARENT), nested by the spec's --cgroup-parent. The CLI, the monitor
    and the prestart each take it from the same spec."""
    return detect(nested(os.environ["BERTH_CGROUP_PARENT"] if parent is None else parent,
                         spec.get("cgroup_parent") or ""))


def detect(paths_or_parent) -> V1 | V2:
    """The host's backend for this root: v1 when controllers are mounted as v1 hierarchies,
    otherwise the cgroup2 mount that has controllers."""
    global _backend
    parent = _parent_name(paths_or_parent)
    from ..paths import rootless
    if rootless():
        return _rootless_backend(paths_or_parent, parent)
    if _backend is None:
        v1 = _v1_mounts()
        if "memory" in v1:
            _backend = ("v1", v1)
        else:
            mount = _v2_mount()
            if mount is None:
                from ..errors import HostError
                raise HostError("no usable cgroup hierarchy: mount cgroup v1 controllers or "
                                "cgroup2 with controllers enabled at /sys/fs/cgroup")
            _backend = ("v2", mount)
    kind, where = _backend
    return V1(parent, where) if kind == "v1" else V2(parent, where)


def _rootless_backend(paths_or_parent, parent: str):
    """[rootless] Without root: the user's delegated v2 subtree, or no cgroup at all
    (engine/rootless/cgroups.py)."""
    from ..paths import Paths, _host_uid
    from ..rootless.cgroups import backend
    root = paths_or_parent.root if isinstance(paths_or_parent, Paths) else Paths.from_env().root
    v2 = None if "memory" in _v1_mounts() else _v2_mount()
    return backend(parent, v2, _host_uid(), root)
