"""The order of what `berth run --rm` does after its container exits (issue 23: nothing the
user waits for that isn't needed): the exit code goes to the CLI as soon as the container is
gone for every reader (its directory renamed away); the directory's bytes are deleted after."""

from __future__ import annotations

import os
import time

from helpers import BERTH, REPO
from runtime_support import wait_for


def test_run_rm_tells_the_exit_code_before_deleting_the_directory(root, busybox, tmp_path):
    trace = tmp_path / "trace"
    env = {**os.environ, "BERTH_ROOT": root, "BERTH_TRACE": str(trace)}
    env.pop("BERTH_RUN", None)
    import subprocess
    p = subprocess.run([*BERTH, "run", "--rm", "--network", "none", str(busybox), "sh", "-c",
                        "exit 3"], env=env, cwd=REPO, capture_output=True, text=True, timeout=60)
    assert p.returncode == 3, p.stderr
    containers = os.path.join(root, "containers")
    assert [n for n in os.listdir(containers) if ".tmp." not in n] == []
    wait_for(lambda: os.listdir(containers) == [], what="the removed container's directory")
    deadline = time.monotonic() + 20
    while "--rm's directory deleted" not in trace.read_text() and time.monotonic() < deadline:
        time.sleep(0.02)
    steps = [line.split(" ", 3)[3] for line in trace.read_text().splitlines()
             if line.split(" ", 3)[2] == "monitor"]
    assert steps.index("teardown: EXIT sent to attachers") \
        < steps.index("teardown: --rm's directory deleted"), steps
