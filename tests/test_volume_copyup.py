"""A new named volume is filled from the image once, whole, however many containers start on it
at once, and a copy cut short by a crash is not taken for a full one (issue 17, item 9).

The image has a /data of a few thousand files, so its copy-up takes a while. Each container
reports what it finds in the volume as it starts: the number of files, a digest of their
contents in path order, and the inode of one of them (the same for every container when the
tree was copied once and never replaced).
"""

from __future__ import annotations

import hashlib
import io
import os
import signal
import subprocess
import tarfile
import time

import pytest

from helpers import BERTH, REPO, _cgroup_dirs, _pids_in_cgroups, add_static_busybox

FILES = 4000
APPLETS = ("sh", "find", "sort", "xargs", "cat", "md5sum", "wc", "stat", "sleep", "head")
REPORT = ("n=$(find /data -type f | wc -l); "
          "sum=$(find /data -type f | sort | xargs cat | md5sum | cut -c1-32); "
          "ino=$(stat -c %i /data/d000/f0000); echo \"$n $sum $ino\"")


def _tree() -> dict[str, bytes]:
    return {f"data/d{i // 100:03d}/f{i:04d}": f"file {i}\n".encode() * (1 + i % 7)
            for i in range(FILES)}


@pytest.fixture
def image(cli, tmp_path):
    """A static-busybox image whose /data holds FILES files; (reference, expected report
    without the inode)."""
    tree = _tree()
    tar_path = tmp_path / "rootfs.tar"
    with tarfile.open(tar_path, "w") as tar:
        add_static_busybox(tar, ("bin", "tmp", "etc", "data"), APPLETS)
        for name, data in tree.items():
            info = tarfile.TarInfo(name)
            info.size, info.mode = len(data), 0o644
            tar.addfile(info, io.BytesIO(data))
    cli("import", str(tar_path), "copyup:test")
    digest = hashlib.md5(b"".join(tree[k] for k in sorted(tree))).hexdigest()
    return "copyup:test", f"{FILES} {digest}"


def _volume_dir(root: str, name: str) -> str:
    return os.path.join(root, "volumes", name)


def _copy_started(root: str, name: str) -> bool:
    """Something of the copy is on disk: files in _data, or a directory beside it."""
    vdir = _volume_dir(root, name)
    try:
        return bool(os.listdir(os.path.join(vdir, "_data"))) or any(
            e.is_dir() and e.name != "_data" for e in os.scandir(vdir))
    except FileNotFoundError:
        return False


def _start(root: str, *args: str) -> subprocess.Popen:
    env = {**os.environ, "BERTH_ROOT": root}
    env.pop("BERTH_RUN", None)
    return subprocess.Popen([*BERTH, *args], cwd=REPO, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def _reports(procs: list[subprocess.Popen]) -> list[str]:
    out = []
    for p in procs:
        stdout, stderr = p.communicate(timeout=120)
        assert p.returncode == 0, stderr
        out.append(stdout.strip())
    return out


def _check(reports: list[str], expected: str) -> None:
    inodes = set()
    for r in reports:
        assert r.rsplit(" ", 1)[0] == expected, f"a container saw an incomplete volume: {r}"
        inodes.add(r.rsplit(" ", 1)[1])
    assert len(inodes) == 1, f"the volume's tree was replaced while in use: {reports}"


def _run_args(image: str, volume: str) -> list[str]:
    return ["run", "--rm", "--network", "none", "-v", f"{volume}:/data", image, "sh", "-c",
            REPORT]


def test_containers_starting_at_once_see_one_complete_copy(root, image):
    ref, expected = image
    procs = [_start(root, *_run_args(ref, "shared")) for _ in range(4)]
    _check(_reports(procs), expected)
    assert "_data.copying" not in os.listdir(_volume_dir(root, "shared"))


def test_a_start_during_the_copy_waits_for_it(root, image):
    ref, expected = image
    first = _start(root, *_run_args(ref, "late"))
    deadline = time.monotonic() + 60
    while not _copy_started(root, "late"):
        assert first.poll() is None and time.monotonic() < deadline, "the copy never started"
        time.sleep(0.002)
    # the copy is under way: these decide about the volume now, and must wait for it
    others = [_start(root, *_run_args(ref, "late")) for _ in range(3)]
    _check(_reports([first, *others]), expected)
    assert "_data.copying" not in os.listdir(_volume_dir(root, "late"))


def test_a_copy_killed_halfway_is_done_again(root, image):
    from engine.paths import Paths
    ref, expected = image
    victim = _start(root, *_run_args(ref, "cut"))
    deadline = time.monotonic() + 60
    while not _copy_started(root, "cut"):
        assert victim.poll() is None and time.monotonic() < deadline, "the copy never started"
        time.sleep(0.002)
    # the copier is the container's first process, the only one in this root's cgroups yet
    pids = _pids_in_cgroups(_cgroup_dirs(Paths.from_env(root).cgroup_parent))
    assert pids
    for pid in pids:
        os.kill(pid, signal.SIGKILL)
    victim.communicate(timeout=60)
    assert victim.returncode != 0
    again = _start(root, *_run_args(ref, "cut"))
    _check(_reports([again]), expected)
