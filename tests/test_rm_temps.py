"""A writer SIGKILLed mid-save leaves ``networks/<name>.json.tmp.<pid>.<tid>``, a create or rm
killed half-way a directory ``volumes/<name>.tmp.<pid>.<tid>`` or ``containers/<id>.tmp...``.
Removing a network, volume or container sweeps what dead writers left in its directory, so once
everything is removed `system check` finds nothing (bench/crash's soak and the fault-injection
test: a `create -v sv2:/data` killed after 45 ms, then every volume removed)."""

from __future__ import annotations

import os
import subprocess

import pytest


@pytest.fixture
def dead_pid() -> int:
    p = subprocess.Popen(["true"])   # a writer that has exited
    p.wait()
    return p.pid


def _plant(stray: str, live: str, directory: bool) -> None:
    for path in (stray, live):
        if directory:
            os.makedirs(os.path.join(path, "_data"))
        else:
            with open(path, "w") as f:
                f.write('{"half": ')


def _unplant(path: str) -> None:
    if os.path.isdir(path):
        import shutil
        shutil.rmtree(path)
    elif os.path.exists(path):
        os.unlink(path)


@pytest.mark.parametrize("kind", ["network", "volume", "container"])
def test_rm_sweeps_the_temporaries_of_killed_writers(cli, root, busybox, dead_pid, kind):
    area, make = {"network": ("networks", ["network", "create", "tempobj"]),
                  "volume": ("volumes", ["volume", "create", "tempobj"]),
                  "container": ("containers", ["create", "--name", "tempobj", str(busybox)])}[kind]
    cli(*make)
    name = "tempobj.json" if kind == "network" else "cd" * 32 if kind == "container" else "sv2"
    stray = os.path.join(root, area, f"{name}.tmp.{dead_pid}.140000000000")
    live = os.path.join(root, area, f"other.tmp.{os.getpid()}.1")
    _plant(stray, live, directory=kind != "network")
    try:
        assert "temporary" in cli("system", "check", check=False).stdout
        cli(*(["rm"] if kind == "container" else [kind, "rm"]), "tempobj")
        assert not os.path.exists(stray)
        assert os.path.exists(live)   # its writer (this test) is alive: not ours to take
        _unplant(live)
        assert "temporary" not in cli("system", "check").stdout
    finally:
        _unplant(stray)
        _unplant(live)
