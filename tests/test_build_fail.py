"""A build that fails or is cancelled: the failing step named with its exit code and last
lines, docker build's exit codes, and nothing left behind (no container, no layer, no scratch,
and after a cancel not even the cache of the steps it made)."""

from __future__ import annotations

import os
import signal
import subprocess
import threading

import pytest

from build_support import build, build_root, leftovers, write_tree  # noqa: F401
from helpers import BERTH, REPO

# one root and one build for the module, its tests in order on one worker
pytestmark = pytest.mark.xdist_group("build-fail")


def _snapshot(root: str) -> dict:
    out = leftovers(root)
    for sub in ("layers", "build-cache"):
        try:
            out[sub] = sorted(os.listdir(os.path.join(root, sub)))
        except FileNotFoundError:
            out[sub] = []
    out["tmp"] = [n for n in out["tmp"] if n.startswith(("build-", "img-"))]
    return out


def test_a_failing_run_names_its_step_code_and_output(build_root, tmp_path):
    ctx = write_tree(str(tmp_path), {"Dockerfile": (
        "FROM busybox\nENV A=1\n"
        "RUN echo line-one && echo before-fail >&2 && exit 3\nRUN echo never\n")})
    before = _snapshot(build_root)
    p = build(build_root, ctx, "-t", "fails:1", check=False)
    assert p.returncode == 3
    assert "before-fail" in p.stdout
    assert "berth: The command '/bin/sh -c echo line-one && echo before-fail >&2 && exit 3' " \
           "returned a non-zero code: 3" in p.stderr
    assert "never" not in p.stdout
    after = _snapshot(build_root)
    assert after["containers"] == [] and after["tmp"] == [] and after["layers"] == \
        before["layers"]

    from engine import Engine
    from engine.build.options import BuildOptions
    from engine.errors import BuildError
    with pytest.raises(BuildError) as e:
        Engine(build_root).build(ctx, BuildOptions())
    assert (e.value.step, e.value.exit_code) == (3, 3)
    assert e.value.tail.splitlines() == ["line-one", "before-fail"]


def test_a_cancelled_build_leaves_nothing(build_root, tmp_path):
    from engine import Engine
    from engine.build.options import BuildOptions
    from engine.errors import Cancelled
    ctx = write_tree(str(tmp_path), {"Dockerfile": (
        "FROM busybox\nCOPY f /f\nRUN echo started; sleep 30\n"), "f": "cancel-test\n"})
    before = _snapshot(build_root)
    cancel = threading.Event()
    seen = []

    def progress(event):
        seen.append(event)
        if event.kind == "output" and "started" in event.text:
            cancel.set()

    with pytest.raises(Cancelled):
        Engine(build_root).build(ctx, BuildOptions(tags=["cancelled:1"]), progress=progress,
                                 cancel=cancel)
    assert any(e.kind == "layer" and e.step == 2 for e in seen)   # the COPY had made its layer
    assert _snapshot(build_root) == before
    assert not any(t.endswith("cancelled:1") for img in Engine(build_root).images()
                   for t in img.repo_tags)


def test_ctrl_c_cancels_the_cli_build(build_root, tmp_path):
    ctx = write_tree(str(tmp_path), {"Dockerfile": (
        "FROM busybox\nRUN echo started-cli; sleep 30\n")})
    before = _snapshot(build_root)
    p = subprocess.Popen([*BERTH, "build", ctx], cwd=REPO, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True,
                         env={**os.environ, "BERTH_ROOT": build_root})
    try:
        for line in p.stdout:
            if "started-cli" in line:
                break
        p.send_signal(signal.SIGINT)
        out, err = p.communicate(timeout=30)
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
    assert p.returncode == 130
    assert "berth: the build was cancelled" in err
    assert _snapshot(build_root) == before


@pytest.mark.parametrize("flags, dockerfile, message", [
    (("--platform", "linux/s390x"), "FROM busybox\n",
     "--platform linux/s390x: berth builds only for this machine's platform"),
    (("--target", "nope"), "FROM busybox AS one\n",
     "failed to reach build target nope in Dockerfile"),
    ((), "FROM busybox\nFOO bar\n", "Dockerfile:2: unknown instruction: FOO"),
    ((), "FROM --platform=linux/s390x busybox\n", "FROM --platform linux/s390x: berth"),
    ((), "FROM busybox\nCOPY missing.txt /x\n", "missing.txt: file does not exist"),
    ((), "FROM busybox\nCOPY ../outside /x\n", "Forbidden path outside the build context"),
    (("-f", "nothere"), "FROM busybox\n", "Cannot locate specified Dockerfile: nothere"),
])
def test_bad_input_is_one_line_and_exit_125(build_root, tmp_path, flags, dockerfile, message):
    ctx = write_tree(str(tmp_path), {"Dockerfile": dockerfile})
    p = build(build_root, ctx, *flags, check=False)
    assert p.returncode == 125, p.stderr
    assert message in p.stderr
    assert _snapshot(build_root)["containers"] == []


def test_a_command_that_cannot_start_fails_its_step_with_127(build_root, tmp_path):
    ctx = write_tree(str(tmp_path), {"Dockerfile": 'FROM busybox\nRUN ["/nonexistent", "x"]\n'})
    p = build(build_root, ctx, check=False)
    assert p.returncode == 127
    assert "berth: The command '/nonexistent x' returned a non-zero code: 127" in p.stderr
    assert _snapshot(build_root)["containers"] == []


def test_system_reset_removes_a_root_with_a_build_cache(_image_templates, tmp_path):
    from conftest import _seed_image
    from helpers import berth, claim_root, release_root
    d = claim_root("berth-build-reset-")
    try:
        _seed_image(d, "busybox", "busybox:1.38.0-musl")
        ctx = write_tree(str(tmp_path), {"Dockerfile": "FROM busybox:1.38.0-musl\n"
                                                       "RUN echo cached\n"})
        build(d, ctx, "-t", "r:1")
        assert os.listdir(os.path.join(d, "build-cache"))
        out = berth(d, "system", "reset", "-f").stdout
        assert f"directory {d}\n" in out and "kept" not in out
        assert not os.path.exists(d)
    finally:
        release_root(d)
