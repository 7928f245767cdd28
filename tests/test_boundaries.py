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


# what a dial-stdio process must not load before its first answers: aiohttp and what comes with
# it (asyncio, its parsers, the SSL context aiohttp.connector makes at import), and the parsers
# argparse and time.strptime bring. Each is tens of ms of every first list over ssh.
DIAL_STDIO_HEAVY = {"aiohttp", "asyncio", "multidict", "yarl", "attr", "ssl", "http", "email",
                    "concurrent", "argparse", "_strptime", "datetime", "textual", "rich",
                    "pyroute2"}


def test_dial_stdio_answers_the_first_look_without_aiohttp(root, busybox):
    """`berth system dial-stdio` (what every ssh connection to this host starts) answers ping,
    version, the container list and an inspect, as `berth -H ssh://… ps` and the dashboard's
    first table ask them, having loaded none of DIAL_STDIO_HEAVY."""
    import os
    from helpers import berth
    berth(root, "create", "--name", "box", "--network", "none", "busybox:1.38.0-musl")
    env = {**{k: v for k, v in os.environ.items() if not k.startswith("BERTH_")},
           "BERTH_ROOT": root}
    requests = "".join(f"{m} {p} HTTP/1.1\r\nHost: x\r\n\r\n" for m, p in (
        ("HEAD", "/_ping"), ("GET", "/v1.41/version"), ("GET", "/v1.41/containers/json?all=1"),
        ("GET", "/v1.41/containers/box/json"), ("GET", "/v1.41/containers/nope/json")))
    # its modules as it ends (dial_stdio leaves by os._exit, after the client's end of stdin)
    code = ("import os, sys\nreal = os._exit\n"
            "def leave(code):\n"
            "    sys.stderr.write('MODULES ' + ' '.join(sorted(sys.modules)) + '\\n')\n"
            "    sys.stderr.flush()\n    real(code)\n"
            "os._exit = leave\nfrom tui import cli\ncli.main(['system', 'dial-stdio'])\n")
    p = subprocess.run([sys.executable, "-c", code], input=requests.encode(),
                       capture_output=True, cwd=REPO, env=env, timeout=60)
    import re
    statuses = re.findall(rb"HTTP/1\.1 (\d+) [A-Za-z ]+\r\n", p.stdout)
    assert statuses == [b"200", b"200", b"200", b"200", b"404"], p
    loaded = p.stderr.decode().split("MODULES ", 1)[1].split()
    assert not _top(set(loaded)) & DIAL_STDIO_HEAVY, _top(set(loaded)) & DIAL_STDIO_HEAVY
