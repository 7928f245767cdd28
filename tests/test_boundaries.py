"""The engine is reachable without the dashboard, and the hot CLI paths stay light."""

from __future__ import annotations

import json
import subprocess
import sys

from helpers import REPO

HEAVY = ("textual", "rich", "pyroute2", "aiohttp", "psutil", "pyseccomp", "asyncio")


def _modules_after(code: str, env: dict | None = None) -> set[str]:
    out = subprocess.run(
        [sys.executable, "-c", code + "\nimport sys, json; print(json.dumps(sorted(sys.modules)))"],
        capture_output=True, text=True, cwd=REPO, env=env, check=True).stdout
    return set(json.loads(out.splitlines()[-1]))


def _top(mods: set[str]) -> set[str]:
    return {m.split(".")[0] for m in mods}


def test_import_engine_pulls_in_no_terminal_or_network_stack():
    loaded = _top(_modules_after("import engine; engine.Engine"))
    assert not loaded & set(HEAVY), loaded & set(HEAVY)


def test_engine_never_imports_tui():
    offenders = subprocess.run(["grep", "-rlE", r"^\s*(from|import) tui", "engine"],
                               capture_output=True, text=True, cwd=REPO).stdout.split()
    assert offenders == []


def test_berth_ps_imports_neither_textual_nor_pyroute2(root):
    import os
    env = {**os.environ, "BERTH_ROOT": root}
    code = ("import sys, io, contextlib\nsys.argv=['berth','ps','-a']\nfrom tui import cli\n"
            "with contextlib.redirect_stdout(io.StringIO()): cli.main(['ps', '-a'])")
    loaded = _top(_modules_after(code, env))
    assert not loaded & {"textual", "rich", "pyroute2", "aiohttp", "asyncio"}, loaded & set(HEAVY)
