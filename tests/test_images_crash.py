"""SIGKILL at random points of load, tag, rmi, import, commit and image prune (seeded; the
seed is printed on failure and BERTH_CRASH_SEED repeats a run): after every kill each image
keeps its tags, every record's layers and blobs exist, `images` and `run` work, and prune
leaves nothing behind. bench/images_crash/run is the long soak of the same thing."""

from __future__ import annotations

import os
import random
import shutil
import subprocess

import pytest
from images_crash import CrashRun


def test_sigkill_anywhere_in_the_image_verbs_loses_nothing(root, tmp_path):
    seed = int(os.environ.get("BERTH_CRASH_SEED") or random.randrange(1 << 30))
    rounds = int(os.environ.get("BERTH_CRASH_ROUNDS", "32"))
    counts = CrashRun(root, seed, str(tmp_path)).run(rounds, min_killed=rounds // 4)
    # the invariants are checked after every round; this is that the run did kill
    assert counts.get("killed", 0) >= rounds // 4, f"seed {seed}: {counts}"


@pytest.mark.skipif(not shutil.which("strace"), reason="needs strace (in SYSTEM_PACKAGES)")
def test_kill_at_each_rename_of_loading_a_present_image_keeps_its_tags(cli, root, busybox):
    """Issue 17's case, at every step: `load` of an image already there (with another tag
    too), killed at its 1st, 2nd, ... rename; the image keeps both tags and prune keeps it."""
    from helpers import BERTH, BUSYBOX_MUSL, REPO
    cli("tag", busybox, "mine:1")
    env = {**os.environ, "BERTH_ROOT": root}
    for n in range(1, 9):
        p = subprocess.run(["strace", "-f", "-qq", "-o", "/dev/null", "-e",
                            "trace=rename,renameat,renameat2", "-e",
                            f"inject=rename,renameat,renameat2:signal=KILL:when={n}",
                            *BERTH, "load", "-i", str(BUSYBOX_MUSL)],
                           env=env, cwd=REPO, capture_output=True)
        cli("image", "prune", "-f")
        rows = cli("images", "--format", "{{.Repository}}:{{.Tag}} {{.ID}}").stdout.split("\n")
        assert sorted(r for r in rows if r) == [f"busybox:1.38.0-musl {busybox.id[7:19]}",
                                                 f"mine:1 {busybox.id[7:19]}"], \
            f"killed at rename {n} (exit {p.returncode})"
        if p.returncode == 0:
            break   # fewer renames than n: every kill point was tried
    else:
        raise AssertionError("load made more renames than expected")
