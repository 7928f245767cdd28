"""Shared by the runtime tests: the test images in a root, and host-state probes."""

from __future__ import annotations

import os
import time

from helpers import ALPINE_ROOTFS, BUSYBOX_MUSL


def load_images(root: str) -> dict:
    """busybox (the shared OCI image, tagged ``busybox``) and alpine (imported from the shared
    minirootfs) in the root ``root``; returns the extra env for ``berth`` (none needed)."""
    from engine import Engine
    engine = Engine(root)
    try:
        engine.image("busybox")
        engine.image("alpine")
        return {}
    except Exception:  # noqa: BLE001 - not there yet
        pass
    loaded = engine.load(str(BUSYBOX_MUSL))
    engine.tag(loaded[0].id, "busybox")
    engine.import_image(str(ALPINE_ROOTFS), "alpine")
    return {}


def wait_for(predicate, timeout: float = 20.0, what: str = "condition"):
    """Poll until ``predicate()`` is truthy; fails the test (not a timing assertion: a bound on
    a hang) when it never becomes so."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.02)
    raise AssertionError(f"timed out waiting for {what}")


def berth_mounts(root: str) -> list[str]:
    from engine.paths import Paths
    paths = Paths.from_env(root)
    with open("/proc/self/mountinfo") as f:
        points = [line.split()[4] for line in f]
    return [m for m in points if m.startswith((paths.root + "/", paths.run + "/"))]


def berth_cgroups(root: str) -> list[str]:
    from engine.paths import Paths
    parent = Paths.from_env(root).cgroup_parent
    return [os.path.join("/sys/fs/cgroup", c, parent) for c in os.listdir("/sys/fs/cgroup")
            if os.path.isdir(os.path.join("/sys/fs/cgroup", c, parent))]
