"""SIGKILL at random points of load, tag, rmi, import, commit and image prune (seeded; the
seed is printed on failure and BERTH_CRASH_SEED repeats a run): after every kill each image
keeps its tags, every record's layers and blobs exist, `images` and `run` work, and prune
leaves nothing behind. bench/images_crash/run is the long soak of the same thing."""

from __future__ import annotations

import os
import random

from images_crash import CrashRun


def test_sigkill_anywhere_in_the_image_verbs_loses_nothing(root, tmp_path):
    seed = int(os.environ.get("BERTH_CRASH_SEED") or random.randrange(1 << 30))
    rounds = int(os.environ.get("BERTH_CRASH_ROUNDS", "32"))
    counts = CrashRun(root, seed, str(tmp_path)).run(rounds)
    # the invariants are checked after every round; this is that the run did kill
    assert counts.get("killed", 0) >= rounds // 4, f"seed {seed}: {counts}"
