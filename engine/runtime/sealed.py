"""What berth starts as root, sealed off from whoever asked.

Python programs of berth's own (the container monitor, the network reaper, the API's helpers,
the dashboard's exec shells) start as ``python_command`` builds them: ``python -I`` ignores
every PYTHON* variable, the user's site directory and the caller's working directory (with -S
as well unless the program needs the virtualenv's packages), and boot.py puts berth's own
package first. Their environment is ``environment()``: built from nothing but the caller's
BERTH_* settings and a PATH without relative entries (a "." in root's PATH would find programs
in whatever directory berth was started from). A root process started from a user's directory
that holds a ``json.py`` must not import it.

"""

from __future__ import annotations

import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
BOOT = os.path.join(HERE, "boot.py")
DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


def safe_path(path: str | None = None) -> str:
    """``path`` (default: our PATH) without its empty and relative entries, or the default
    PATH when nothing is left."""
    if path is None:
        path = os.environ.get("PATH", "")
    kept = [p for p in path.split(":") if p.startswith("/")]
    return ":".join(dict.fromkeys(kept)) or DEFAULT_PATH


def environment(**settings: str) -> dict[str, str]:
    """The whole environment of a process berth starts: a safe PATH, the caller's BERTH_*
    settings, then ``settings``."""
    env = {"PATH": safe_path()}
    env.update((k, v) for k, v in os.environ.items() if k.startswith("BERTH_"))
    env.update(settings)
    return env


def python_command(module: str, *args: str, site: bool = False) -> list[str]:
    """The argv that runs ``python -m module args`` sealed off from the caller. ``site``: the
    program needs the virtualenv's packages (textual, aiohttp); -I still keeps the user's
    site directory and every PYTHON* variable out."""
    return [sys.executable, "-I", *(() if site else ("-S",)), BOOT, module, *args]
