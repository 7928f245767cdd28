"""SIGKILL at random instants of berth commands (create, run, start, stop, rm, network
connect/disconnect, volume create/rm), of monitors and of containers' pid 1s, seeded; after each round: ps matches the
processes, a stopped container holds nothing; at the end every container is removable and
nothing is left on the host. bench/crash/run is the long soak of the same."""

from __future__ import annotations

import os
import random

from crash_support import Soak

ROUNDS, STEPS = 12, 3


def test_random_sigkills_leave_a_consistent_root(run, root):
    seed = int(os.environ.get("BERTH_CRASH_SEED") or random.randrange(1 << 32))
    soak = Soak(root, seed)
    try:
        for i in range(ROUNDS):
            for _ in range(STEPS):
                soak.step()
            if i % 2:
                soak.kill_monitor()   # at the end of a round too, so every check sees one
            soak.check()
        assert soak.finish() == [], soak._why("left on the host after rm of everything")
    except AssertionError as e:
        if f"seed {seed}" in str(e):
            raise
        raise AssertionError(soak._why(str(e))) from None
    print(f"seed {seed}: {sorted(soak.counts.items())}")
