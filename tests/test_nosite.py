"""The berth command `make venv` writes (tui/berth.in) starts its interpreter without site
(python -S); tui/nosite.py runs site when an import first finds nothing, so the commands that
need the virtualenv's packages still get them."""

from __future__ import annotations

import subprocess
import sys

from helpers import REPO, remove_root


def _python(*code: str, args: tuple[str, ...] = ()) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-S", *code, *args], capture_output=True, text=True,
                          cwd="/", timeout=60)


def test_a_site_package_is_found_once_an_import_needs_it():
    find = f"import sys; sys.path.insert(0, {str(REPO)!r}); {{}}import textual, pyseccomp"
    assert _python("-c", find.format("")).returncode != 0   # -S alone: not on the path
    p = _python("-c", find.format("import tui.nosite; "))
    assert p.returncode == 0, p.stderr[-2000:]


def test_the_launcher_runs_ps_without_site(tmp_path):
    launcher = (REPO / "tui" / "berth.in").read_text()
    assert launcher.startswith("#!@PYTHON@ -S\n")
    body = launcher.replace("@TREE@", str(REPO))
    root = str(tmp_path / "root")
    try:
        p = _python("-X", "importtime", "-c", body, args=("--root", root, "ps", "-a"))
    finally:
        remove_root(root)   # with the run directory its store made under /run
    assert p.returncode == 0, p.stderr[-2000:]
    assert p.stdout.startswith("CONTAINER ID")
    mods = [line.rsplit("|", 1)[1].strip() for line in p.stderr.splitlines()
            if line.startswith("import time:")]
    assert "tui.cli" in mods and "site" not in mods


def test_the_collector_is_off_only_while_berth_run_starts(tmp_path):
    """The launcher turns the cycle collector off (tui/berth.in): every command but `run` has
    it back as soon as its word is known; `run` once its container runs, for the output's
    relay (which may last as long as an interactive shell), over what the relay makes."""
    root = str(tmp_path / "root")
    code = f"""
import gc, sys
sys.path.insert(0, {str(REPO)!r})
gc.disable()
from tui import cli
from tui.commands import containers
cli.main(["--root", {root!r}, "ps"])
print("ps", gc.isenabled())
gc.disable()
class Engine:
    def run(self, *args, **kwargs):
        print("starting", gc.isenabled())
containers._stream = lambda fd: print("relaying", gc.isenabled(),
                                      gc.get_freeze_count() > len(gc.get_objects())) or 0
containers._start_attached(Engine(), None, sig_proxy=False, create=(None, None, False))
"""
    try:
        p = _python("-c", code)
    finally:
        remove_root(root)
    assert p.returncode == 0, p.stderr[-2000:]
    # and what the start made is never traversed by the relay's collections: frozen (more
    # than the relay's own tracked objects)
    assert p.stdout.split("\n")[-4:-1] == ["ps True", "starting False", "relaying True True"], \
        p.stdout
