"""The build cache: a rebuild with nothing changed runs nothing and writes nothing, a changed
file invalidates from its COPY on only, --no-cache, --cache-from of a local image, builder
prune (dangling and all) and system df's Build Cache row."""

from __future__ import annotations

import json
import os

import pytest

from build_support import build, build_root, run_in, write_tree  # noqa: F401
from helpers import berth

# one root and one build for the module, its tests in order on one worker
pytestmark = pytest.mark.xdist_group("build-cache")

DOCKERFILE = """FROM busybox
COPY a.txt /a.txt
RUN cat /proc/sys/kernel/random/uuid > /first-run
COPY b.txt /b.txt
RUN cat /b.txt /proc/sys/kernel/random/uuid > /second-run
"""


def _store(root: str) -> tuple[list[str], list[str], int]:
    """Layers, blobs, and how many containers were ever created in ``root``."""
    with open(os.path.join(root, "events.jsonl")) as f:
        created = sum(1 for line in f if '"create"' in line and '"container"' in line)
    return (sorted(os.listdir(os.path.join(root, "layers"))),
            sorted(os.listdir(os.path.join(root, "blobs", "sha256"))), created)


def _image(root: str, ref: str) -> dict:
    return json.loads(berth(root, "image", "inspect", ref).stdout)[0]


def _cached_steps(out: str) -> list[int]:
    steps, step = [], 0
    for line in out.splitlines():
        if line.startswith("Step "):
            step = int(line.split()[1].split("/")[0])
        elif line == " ---> Using cache":
            steps.append(step)
    return steps


@pytest.fixture(scope="module")
def series(build_root, tmp_path_factory):
    """Builds 1 (fresh), 2 (nothing changed), 3 (b.txt changed) of one context."""
    root = build_root
    ctx = write_tree(str(tmp_path_factory.mktemp("ctx")), {
        "Dockerfile": DOCKERFILE, "a.txt": "a\n", "b.txt": "b\n"})
    first = build(root, ctx, "-t", "c:1")
    before = _store(root)
    second = build(root, ctx, "-t", "c:2")
    after = _store(root)
    with open(os.path.join(ctx, "b.txt"), "w") as f:
        f.write("b changed\n")
    third = build(root, ctx, "-t", "c:3")
    return root, ctx, (first, second, third), (before, after)


def test_a_rebuild_with_nothing_changed_runs_nothing_and_writes_nothing(series):
    root, _, (first, second, _), (before, after) = series
    assert _cached_steps(first.stdout) == []
    assert _cached_steps(second.stdout) == [2, 3, 4, 5]
    assert "Running in" not in second.stdout
    assert before == after      # no layer, no blob, no container
    assert _image(root, "c:1")["Id"] == _image(root, "c:2")["Id"]


def test_a_changed_file_invalidates_from_its_copy_on(series):
    root, _, (_, _, third), _ = series
    assert _cached_steps(third.stdout) == [2, 3]
    old = run_in(root, "c:1", "cat /first-run /second-run").splitlines()
    new = run_in(root, "c:3", "cat /first-run /second-run").splitlines()
    assert new[0] == old[0]            # the RUN before the change was not run again
    assert new[1] == "b changed" and new[2] != old[2]


def test_system_df_and_builder_prune(series, tmp_path):
    root, ctx, _, _ = series
    df = berth(root, "system", "df").stdout
    row = next(line for line in df.splitlines() if line.startswith("Build Cache"))
    assert int(row.split()[2]) == 6   # steps 2-5, and 4-5 again for the changed b.txt
    usage = json.loads(berth(root, "system", "df", "--format", "json").stdout)["BuildCache"]
    assert usage and all(u["Type"] == "regular" for u in usage)
    # dangling: what no image shares any more (c:1's and c:2's last steps once they're gone)
    berth(root, "rmi", "c:1", "c:2")
    p = berth(root, "builder", "prune", "-f")
    assert "Deleted build cache objects:" in p.stdout
    assert "Total reclaimed space:" in p.stdout
    again = build(root, ctx, "-t", "c:3again")
    assert _cached_steps(again.stdout) == [2, 3, 4, 5]   # what c:3 uses was kept
    berth(root, "builder", "prune", "-a", "-f")
    row = next(line for line in berth(root, "system", "df").stdout.splitlines()
               if line.startswith("Build Cache"))
    assert row.split()[2:4] == ["0", "0"]
    assert run_in(root, "c:3", "cat /b.txt") == "b changed\n"   # images keep their layers


def test_cache_from_a_local_image(series):
    root, ctx, _, _ = series
    berth(root, "builder", "prune", "-a", "-f")
    p = build(root, ctx, "--cache-from", "c:3", "-t", "c:from")
    assert _cached_steps(p.stdout) == [2, 3, 4, 5]
    assert "Running in" not in p.stdout
    assert _image(root, "c:from")["RootFS"] == _image(root, "c:3")["RootFS"]


def test_no_cache_builds_every_step(series):
    root, ctx, _, _ = series
    p = build(root, ctx, "--no-cache", "-t", "c:nocache")
    assert _cached_steps(p.stdout) == [] and p.stdout.count("Running in") == 2
    assert _image(root, "c:nocache")["Id"] != _image(root, "c:3")["Id"]


def test_system_prune_reclaims_the_build_cache(series):
    root, _, _, _ = series
    assert berth(root, "system", "df", "--format", "json").stdout.count('"regular"') > 0
    p = berth(root, "system", "prune", "-a", "-f")
    assert "Deleted build cache objects:" in p.stdout
    row = next(line for line in berth(root, "system", "df").stdout.splitlines()
               if line.startswith("Build Cache"))
    assert row.split()[2:] == ["0", "0", "0B", "0B"]
