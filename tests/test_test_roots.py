"""The suite's own hygiene: a root whose test run was killed is removed by the next run, with
the bridge and route it held; a root whose run is alive is left alone."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from helpers import REPO, claim_root, release_root, root_links, sweep_abandoned_roots

KILLED_RUN = """
import os, sys
sys.path[:0] = [{tests!r}, {repo!r}]
from helpers import claim_root
from engine import Engine
d = claim_root("berth-test-killed-")
Engine(d).create_network("left", subnet="10.201.240.0/24")
print(d, flush=True)
os._exit(0)      # as a SIGKILL would: no fixture teardown
"""


def _routes() -> str:
    return subprocess.run(["ip", "route"], capture_output=True, text=True).stdout


def test_a_killed_runs_root_is_swept_with_its_bridge_and_a_live_one_is_kept():
    live = claim_root("berth-test-live-")
    dead = ""
    try:
        out = subprocess.run([sys.executable, "-c", KILLED_RUN.format(
            tests=str(REPO / "tests"), repo=str(REPO))], capture_output=True, text=True,
            timeout=60, cwd=REPO)
        assert out.returncode == 0, out.stderr
        dead = out.stdout.strip()
        assert root_links(dead) and "10.201.240.0/24" in _routes()
        swept = sweep_abandoned_roots()
        assert dead in swept and live not in swept
        assert not os.path.exists(dead) and not os.path.exists(dead + ".owner")
        assert not root_links(dead) and "10.201.240.0/24" not in _routes()
        assert os.path.isdir(live) and os.path.exists(live + ".owner")
    finally:
        release_root(live)
        if dead and os.path.exists(dead):
            release_root(dead)
    assert not os.path.exists(live + ".owner")


@pytest.mark.parametrize("how", ["release_root", "remove_root"])
def test_a_run_directory_made_again_after_cleanup_goes_with_the_root(monkeypatch, how):
    """A berth process that opens the root after cleanup_root removed its run directory (a
    monitor's teardown, a network reaper) makes it anew; releasing a claimed root removes it
    too, and so does remove_root, which roots made otherwise (the snapshots' fixed root,
    screenshots, benches) are deleted with."""
    import tempfile

    import helpers
    from engine import Engine
    from engine.paths import Paths
    if how == "release_root":
        d = claim_root("berth-test-late-")
    else:
        d = tempfile.mkdtemp(prefix="berth-test-late-", dir="/var/tmp")
    run = Paths.from_env(d).run
    real = helpers.cleanup_root

    def cleanup_then_a_late_opener(root):
        found = real(root)
        Engine(root)   # the store makes the run directory again, as after a reboot
        return found
    monkeypatch.setattr(helpers, "cleanup_root", cleanup_then_a_late_opener)
    try:
        (release_root if how == "release_root" else helpers.remove_root)(d)
        assert not os.path.exists(d)
        assert not os.path.exists(run)
    finally:
        import shutil
        shutil.rmtree(run, ignore_errors=True)
        shutil.rmtree(d, ignore_errors=True)


def test_a_run_directory_made_after_the_release_goes_at_the_session_end():
    """What comes back later still (a worker thread of a finished test opening its root) is
    swept by the session's end, by name."""
    from engine.paths import Paths
    from helpers import sweep_released_runs
    d = claim_root("berth-test-later-")
    run = Paths.from_env(d).run
    release_root(d)
    os.makedirs(os.path.join(run, "c"))
    try:
        assert run in sweep_released_runs()
        assert not os.path.exists(run)
    finally:
        import shutil
        shutil.rmtree(run, ignore_errors=True)
