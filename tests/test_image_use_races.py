"""An image removed (rmi, image prune -a) at the instant a container is created from it, or
committed on top of: the new container or image either names layers that are all there, or
the verb fails in one line. The race is made certain rather than waited for: the test holds the
root's lock, lets the verb run until it waits for that lock, removes the image and lets go."""

from __future__ import annotations

import os
import subprocess
import time

from helpers import BERTH, REPO


def _waiting_for_lock(pid: int, lock: str) -> bool:
    """Whether process ``pid`` waits for a flock on the file ``lock`` (/proc/locks marks a
    waiter with ``->``)."""
    ino = os.stat(lock).st_ino
    with open("/proc/locks") as f:
        for line in f:
            fields = line.split()
            if "->" in fields and fields[fields.index("->") + 4] == str(pid) \
                    and fields[fields.index("->") + 5].endswith(f":{ino}"):
                return True
    return False


def _while_it_waits(root: str, argv: list[str], meanwhile) -> subprocess.CompletedProcess:
    """Run ``berth argv`` while holding the root's lock; once it waits for the lock, call
    ``meanwhile(engine)`` (under the same lock), then let it go on."""
    from engine import Engine
    engine = Engine(root)
    with engine.store.lock():
        p = subprocess.Popen([*BERTH, *argv], cwd=REPO, env={**os.environ, "BERTH_ROOT": root},
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        deadline = time.monotonic() + 30
        while not _waiting_for_lock(p.pid, os.path.join(root, ".lock")):
            assert p.poll() is None, p.communicate()
            assert time.monotonic() < deadline, "the verb never waited for the root's lock"
            time.sleep(0.01)
        meanwhile(engine)
    out, err = p.communicate(timeout=60)
    return subprocess.CompletedProcess(argv, p.returncode, out, err)


def test_create_never_records_layers_that_prune_removed_meanwhile(root, cli, busybox):
    cli("rm", cli("create", str(busybox), "true").stdout.strip())   # the default network made
    got = _while_it_waits(root, ["create", str(busybox), "true"],
                          lambda engine: engine.prune_images(all=True))
    assert not os.listdir(os.path.join(root, "layers"))   # prune -a took the image
    # the image is looked up once create holds the lock: it is gone, and create says so
    # (before, create went on with the image it had resolved, and its container could never
    # start: its config named layers that were gone)
    assert got.returncode == 125 and got.stderr.startswith("berth: No such image"), got
    assert cli("ps", "-aq").stdout == ""


def test_run_never_starts_from_an_image_rmi_removed_meanwhile(root, cli, busybox):
    cli("rm", cli("create", str(busybox), "true").stdout.strip())
    got = _while_it_waits(root, ["run", "--rm", str(busybox), "true"],
                          lambda engine: engine.remove_image(str(busybox)))
    assert got.returncode == 125 and got.stderr.startswith("berth: No such image"), got
    assert "Traceback" not in got.stderr and cli("ps", "-aq").stdout == ""


def test_commit_records_a_whole_image_or_fails_when_its_parent_goes_meanwhile(root, cli,
                                                                             busybox):
    """commit's image is recorded under the lock, after checking that every layer and blob it
    names is there (images/store.py add_image): when the container and its image go while it
    works, the commit fails in one line and no image names a missing layer or blob."""
    cid = cli("run", "-d", str(busybox), "sh", "-c", "echo x > /x; sleep 1000").stdout.strip()

    def meanwhile(engine):
        engine.remove(cid, force=True)
        engine.prune_images(all=True)
    got = _while_it_waits(root, ["commit", cid, "mine:1"], meanwhile)
    if got.returncode != 0:
        assert got.returncode == 125 and got.stderr.count("\n") == 1, got
        assert "Traceback" not in got.stderr
    check = cli("system", "check", check=False)
    assert "missing" not in check.stdout, check.stdout
