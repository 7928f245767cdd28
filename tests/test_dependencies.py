"""Every dependency pyproject.toml declares is imported by berth's own code (engine/, tui/,
themes/): none is installed for nothing (issue 23 dropped pyroute2 and aiofiles, which nothing
imported)."""

from __future__ import annotations

import re
import tomllib

from helpers import REPO

# distributions whose importable name is not their own
IMPORT_NAME = {"pyyaml": "yaml"}


def _imported() -> set[str]:
    names: set[str] = set()
    pattern = re.compile(r"^\s*(?:from\s+([A-Za-z_]\w*)[\w.]*\s+import|import\s+([A-Za-z_]\w*))",
                         re.M)
    for top in ("engine", "tui", "themes"):
        for path in (REPO / top).rglob("*.py"):
            for m in pattern.finditer(path.read_text()):
                names.add(m.group(1) or m.group(2))
    return names


def test_every_declared_dependency_is_imported():
    with open(REPO / "pyproject.toml", "rb") as f:
        deps = tomllib.load(f)["project"]["dependencies"]
    dists = [re.split(r"[<>=!~\[; ]", d, maxsplit=1)[0].lower() for d in deps]
    imported = _imported()
    unused = [d for d in dists if IMPORT_NAME.get(d, d.replace("-", "_")) not in imported]
    assert unused == [], f"declared in pyproject.toml but imported nowhere: {unused}"
