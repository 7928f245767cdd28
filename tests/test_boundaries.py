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


# the engine as the dashboard and the CLI may see it: the facade, the ground, and the helpers a
# client of any engine needs (engine/public.py). Anything else would tie them to a local root,
# where a remote engine (engine/client/) must stand in.
CLIENT_SURFACE = {"engine", "engine.errors", "engine.models", "engine.clock", "engine.options",
                  "engine.resource_options",
                  "engine.public"}


def test_tui_imports_only_the_engines_public_surface():
    import ast
    import pathlib
    offenders = []
    for path in sorted(pathlib.Path(REPO, "tui").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            elif isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            else:
                continue
            for name in names:
                if (name == "engine" or name.startswith("engine.")) \
                        and name not in CLIENT_SURFACE:
                    offenders.append(f"{path.relative_to(REPO)}:{node.lineno} {name}")
    assert offenders == [], offenders


def test_public_names_all_resolve():
    """Every name engine/public.py promises loads (a renamed function breaks here, not in a
    user's command)."""
    out = subprocess.run([sys.executable, "-c",
                          "import engine.public as p\nfor n in p.__all__: getattr(p, n)"],
                         capture_output=True, text=True, cwd=REPO)
    assert out.returncode == 0, out.stderr
