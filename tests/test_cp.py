"""berth cp: both ways, with tar streams, for running and stopped containers; and never through
a symlink out of the container (the CVE-2018-15664 family)."""

from __future__ import annotations

import io
import os
import stat
import subprocess
import tarfile

import pytest

from helpers import BERTH, REPO


def _tar_of(cli_result_bytes: bytes) -> dict[str, tarfile.TarInfo]:
    with tarfile.open(fileobj=io.BytesIO(cli_result_bytes)) as t:
        return {m.name: m for m in t.getmembers()}


def _raw(root: str, *args: str, input: bytes | None = None) -> subprocess.CompletedProcess:
    env = {**os.environ, "BERTH_ROOT": root}
    env.pop("BERTH_RUN", None)
    return subprocess.run([*BERTH, *args], input=input, capture_output=True, env=env,
                          cwd=REPO, timeout=60)


@pytest.fixture(params=["running", "stopped"])
def box(request, cli, busybox):
    """A busybox container, running or stopped (cp works on both)."""
    cli("run", "-d", "--name", "box", "--network", "none", busybox, "sleep", "1000")
    if request.param == "stopped":
        cli("stop", "-t", "0", "box")
    return "box"


def test_file_round_trips_bytes_and_mode(cli, box, tmp_path):
    src = tmp_path / "blob"
    data = os.urandom(300_000)
    src.write_bytes(data)
    os.chmod(src, 0o741)
    cli("cp", str(src), f"{box}:/tmp/")
    cli("cp", f"{box}:/tmp/blob", str(tmp_path / "back"))
    assert (tmp_path / "back").read_bytes() == data
    assert stat.S_IMODE(os.stat(tmp_path / "back").st_mode) == 0o741
    # to a new name, and into an existing directory on the host
    cli("cp", str(src), f"{box}:/renamed")
    out = tmp_path / "outdir"
    out.mkdir()
    cli("cp", f"{box}:/renamed", str(out))
    assert (out / "renamed").read_bytes() == data


def test_directories_and_tar_streams(cli, root, box, tmp_path):
    tree = tmp_path / "tree"
    (tree / "sub").mkdir(parents=True)
    (tree / "sub" / "a").write_text("alpha")
    os.symlink("sub/a", tree / "link")
    cli("cp", str(tree), f"{box}:/tmp")          # into an existing directory
    cli("cp", str(tree), f"{box}:/opt")          # as a new name (busybox has no /opt)
    assert set(_tar_of(_raw(root, "cp", f"{box}:/opt", "-").stdout)) == {
        "opt", "opt/sub", "opt/sub/a", "opt/link"}
    got = _raw(root, "cp", f"{box}:/tmp/tree", "-")
    assert got.returncode == 0, got.stderr
    members = _tar_of(got.stdout)
    assert set(members) == {"tree", "tree/sub", "tree/sub/a", "tree/link"}
    assert members["tree/link"].issym() and members["tree/link"].linkname == "sub/a"
    # a tar on stdin goes into an existing directory
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as t:
        info = tarfile.TarInfo("from-stdin")
        info.size, info.mode = 3, 0o600
        t.addfile(info, io.BytesIO(b"abc"))
    p = _raw(root, "cp", "-", f"{box}:/tmp", input=buf.getvalue())
    assert p.returncode == 0, p.stderr
    cli("cp", f"{box}:/tmp/from-stdin", str(tmp_path / "fs"))
    assert (tmp_path / "fs").read_bytes() == b"abc"
    assert stat.S_IMODE(os.stat(tmp_path / "fs").st_mode) == 0o600


def test_missing_paths(cli, box, tmp_path):
    p = cli("cp", f"{box}:/no/such", str(tmp_path), check=False)
    assert p.returncode != 0 and "/no/such" in p.stderr
    p = cli("cp", str(tmp_path / "nothing"), f"{box}:/tmp", check=False)
    assert p.returncode != 0


def test_symlinks_never_lead_out_of_the_container(cli, root, box, busybox, tmp_path):
    canary_dir = tmp_path / "host"
    canary_dir.mkdir()
    canary = canary_dir / "shadow"
    canary.write_text("host secret\n")
    # the container's symlinks point at the host's canary, as a file and as a directory
    src = tmp_path / "links"
    src.mkdir()
    os.symlink(str(canary), src / "shadowlink")
    os.symlink(str(canary_dir), src / "dirlink")
    os.symlink("../../../../../../../../" + str(canary)[1:], src / "dotdot")
    for name in ("shadowlink", "dirlink", "dotdot"):
        cli("cp", str(src / name), f"{box}:/")
    # read: the link itself (a symlink entry), or with -L its target inside the container
    for name in ("shadowlink", "dotdot"):
        got = _raw(root, "cp", f"{box}:/{name}", "-")
        assert got.returncode == 0
        assert b"host secret" not in got.stdout
        members = _tar_of(got.stdout)
        assert members[name].issym()
        got = _raw(root, "cp", "-L", f"{box}:/{name}", "-")
        assert b"host secret" not in got.stdout
    got = _raw(root, "cp", f"{box}:/dirlink/shadow", "-")
    assert got.returncode != 0 and b"host secret" not in got.stdout
    # write through each link: lands inside the container, the host's file is untouched
    payload = tmp_path / "payload"
    payload.write_text("overwritten\n")
    for target in ("/shadowlink", "/dotdot", "/dirlink/shadow"):
        cli("cp", str(payload), f"{box}:{target}", check=False)
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as t:
        info = tarfile.TarInfo("dirlink/shadow")
        info.size = 3
        t.addfile(info, io.BytesIO(b"owned"[:3]))
    _raw(root, "cp", "-", f"{box}:/", input=buf.getvalue())
    assert canary.read_text() == "host secret\n"
    assert os.listdir(canary_dir) == ["shadow"]


def test_volumes_of_a_stopped_container(cli, root, busybox, tmp_path):
    cli("run", "--name", "vol", "--network", "none", "-v", "keep:/data", busybox, "sh", "-c",
        "echo in-volume > /data/f")
    got = _raw(root, "cp", "vol:/data/f", "-")
    assert got.returncode == 0, got.stderr
    with tarfile.open(fileobj=io.BytesIO(got.stdout)) as t:
        assert t.extractfile("f").read() == b"in-volume\n"
    (tmp_path / "new").write_text("copied\n")
    cli("cp", str(tmp_path / "new"), "vol:/data/")
    out = cli("run", "--rm", "--network", "none", "-v", "keep:/data", busybox, "cat",
              "/data/new").stdout
    assert out == "copied\n"


def test_the_whole_root_without_the_runtime_mounts(cli, root, box):
    """``cp CONTAINER:/ -``: the container's files; /proc and /sys as empty directories (their
    contents are the kernel's, and reading them fails or never ends)."""
    p = _raw(root, "cp", f"{box}:/", "-")
    assert p.returncode == 0, p.stderr.decode()
    names = _tar_of(p.stdout)
    assert "bin/busybox" in names and "etc/passwd" in names
    assert not [n for n in names if n.startswith(("proc/", "sys/"))]
