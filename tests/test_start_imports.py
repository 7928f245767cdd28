"""The import budget of the start path: what `berth run`'s CLI process and a container's
monitor load (issue 23). Each module is a file to find, read and execute on every start, and the
monitor keeps what it loads for its container's whole life; so the lists are checked by name
(modules that only cost there) and by count, never by timing. A change that needs one of these
must load it inside the function that uses it (see fastjson, the TYPE_CHECKING blocks)."""

from __future__ import annotations

import os
import subprocess
import sys

from helpers import REPO

# what `berth run --rm --network none IMAGE true` loads: measured 114 when this was written, 96
# once argparse and re were off the path (93 from the launcher `make venv` writes, which starts
# without site: tests/test_nosite.py); 97 since it forks the monitor itself
# (engine/runtime/monitor_fork.py), which spares every start the monitor's interpreter start;
# 86 since it takes engine_base.ContainerEngine, without the other areas' verbs (OTHER_AREAS)
CLI_BUDGET = 86
# argparse (and gettext): the hot verbs' plain lines are read by tui/commands/fastparse.py; re
# (and enum, functools, collections): image references are checked without it
CLI_NEVER = {"argparse", "gettext", "re", "enum", "functools", "collections", "ctypes", "typing", "json", "datetime", "shutil", "hashlib", "_hashlib",
             "ipaddress", "subprocess", "asyncio", "socket", "selectors", "threading", "locale",
             "signal", "tempfile", "dataclasses", "inspect", "logging", "uuid", "textual", "rich",
             "pyroute2", "aiohttp"}
OTHER_AREAS = {"engine.engine", "engine.network.api", "engine.volumes_api", "engine.stats_api",
               "engine.registry_api", "engine.build.api", "engine.check_api",
               "engine.containers_files", "engine.containers_io"}
# what a monitor has loaded when it waits for its container's id: measured 63 (87 with the
# network's modules, loaded when `berth run` will join a network); 68 and 93 since ctypes (with
# types) and the oom watch, which every start loads right after, load while it waits instead.
# Never engine.stats (the dashboard's readings, 440 lines): a monitor keeps what it loads for
# its container's whole life (engine/runtime/oomwatch.py). 61 and 86 since what only pid 1 needs
# (init, security, seccomp, caps, users, idmap) is the prestart's (engine/runtime/prestart.py)
MONITOR_BUDGET = 61
MONITOR_NETWORK_BUDGET = 86
MONITOR_NEVER = {"typing", "json", "subprocess", "threading", "asyncio", "socket", "selectors",
                 "signal", "hashlib", "_hashlib", "datetime", "argparse", "runpy",
                 "importlib.util", "dataclasses", "inspect", "logging", "engine.stats"}
MONITOR_PLAIN_NEVER = {"re", "enum", "collections", "contextlib", "functools", "ipaddress"}
PID1_ONLY = {"engine.runtime.init", "engine.runtime.security", "engine.runtime.seccomp",
             "engine.runtime.caps", "engine.runtime.users", "engine.rootless.idmap"}


def _imported(stderr: str) -> list[str]:
    """The module names in ``python -X importtime``'s report, in the order they were loaded."""
    out = []
    for line in stderr.splitlines():
        if line.startswith("import time:") and "imported package" not in line:
            out.append(line.rsplit("|", 1)[1].strip())
    return out


def test_berth_run_cli_imports_within_its_budget(root, busybox):
    env = {**os.environ, "BERTH_ROOT": root}
    env.pop("BERTH_RUN", None)
    # as the console script runs it (python -m would add runpy's own imports); the second
    # start, as every start after a root's first (which compiles the seccomp profile)
    argv = [sys.executable, "-X", "importtime", "-c", "import sys; from tui.cli import run; run()",
            "run", "--rm", "--network", "none", busybox, "true"]
    subprocess.run(argv, capture_output=True, env=env, cwd=REPO, timeout=60, check=True)
    p = subprocess.run(argv, capture_output=True, text=True, env=env, cwd=REPO, timeout=60)
    assert p.returncode == 0, p.stderr[-2000:]
    mods = _imported(p.stderr)
    assert "engine.runtime.monitor" not in mods   # the monitor is its own process
    assert not set(mods) & CLI_NEVER, sorted(set(mods) & CLI_NEVER)
    assert not set(mods) & OTHER_AREAS, sorted(set(mods) & OTHER_AREAS)
    assert len(mods) <= CLI_BUDGET, (len(mods), mods)


def _monitor_imports(*flags: str) -> list[str]:
    """What a monitor launched as `berth run` launches it (sealed.python_command, boot.py) has
    loaded when it reads its container's id: here EOF, on which it exits."""
    from engine.runtime.sealed import BOOT
    p = subprocess.run(["sh", "-c", 'exec "$@" 5</dev/null', "sh", sys.executable, "-I", "-S",
                        "-X", "importtime", BOOT, "engine.runtime.monitor", "-", *flags],
                       capture_output=True, text=True, timeout=60, cwd="/")
    mods = _imported(p.stderr)
    assert "engine.runtime.oomwatch" in mods, p.stderr[-2000:]   # it got as far as its preload
    # what only pid 1 needs is loaded by the prestart (its own stderr is /dev/null), never by
    # the monitor, which would keep it for the container's life (engine/runtime/prestart.py)
    assert not set(mods) & PID1_ONLY, sorted(set(mods) & PID1_ONLY)
    return mods


def test_monitor_imports_within_its_budget():
    mods = _monitor_imports()
    assert not set(mods) & (MONITOR_NEVER | MONITOR_PLAIN_NEVER), \
        sorted(set(mods) & (MONITOR_NEVER | MONITOR_PLAIN_NEVER))
    assert len(mods) <= MONITOR_BUDGET, (len(mods), mods)


def test_monitor_of_a_networked_container_imports_within_its_budget():
    mods = _monitor_imports("--network")
    assert "engine.network.endpoints" in mods
    assert not set(mods) & MONITOR_NEVER, sorted(set(mods) & MONITOR_NEVER)
    assert len(mods) <= MONITOR_NETWORK_BUDGET, (len(mods), mods)
