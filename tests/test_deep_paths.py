"""Trees nested 1500 deep, in an image's layer or made inside a running container: every verb that
walks a container's or an image's tree works on them (issue 17, item 8: no recursion on deep
paths), and removing them leaves nothing behind.

The chain is named ``dd/dd/…``: 1500 levels make paths of 4500 bytes, past PATH_MAX (4096), so
a walk that recurses (Python's limit is 1000 frames) or that stats by full path fails on it.
Inside the container the chain is made and descended in steps of 100 levels with ``cd -P``
(busybox's shell keeps a logical path, which stops at PATH_MAX).
"""

from __future__ import annotations

import errno
import io
import os
import tarfile
import time

import pytest

from helpers import add_static_busybox, cleanup_root

DEPTH = 1500
NAME = "dd"
APPLETS = ("sh", "cat", "mkdir", "sleep", "test", "[", "touch", "echo")
# $p: 100 levels of the chain
STEP = 'p=dd; i=1; while [ $i -lt 100 ]; do p=$p/dd; i=$((i+1)); done'
# prints how deep the chain under the current directory goes, then its bottom file
DESCEND = (STEP + '; n=0; while cd -P $p 2>/dev/null; do n=$((n+100)); done; '
           'while cd -P dd 2>/dev/null; do n=$((n+1)); done; echo $n; cat bottom.txt')
MAKE = (STEP + '; cd /tmp; i=0; while [ $i -lt 15 ]; do mkdir -p $p && cd -P $p; '
        'i=$((i+1)); done; echo made > bottom.txt; touch /tmp/made')


def _ok(p) -> str:
    assert p.returncode == 0 and "Traceback" not in p.stderr, \
        f"exit {p.returncode}: {p.stderr[-1500:]}"
    return p.stdout


def _chain(path: str) -> tuple[int, list[str], bytes]:
    """How many ``dd`` levels the host directory ``path`` holds, what the bottom one holds, and
    the bottom file's bytes; walked by descriptor."""
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    depth = 0
    try:
        while True:
            try:
                nfd = os.open(NAME, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW, dir_fd=fd)
            except FileNotFoundError:
                break
            os.close(fd)
            fd, depth = nfd, depth + 1
        names = sorted(os.listdir(fd))
        with open(os.open("bottom.txt", os.O_RDONLY, dir_fd=fd), "rb") as f:
            return depth, names, f.read()
    finally:
        os.close(fd)


def _make_chain(path: str, depth: int, content: bytes) -> None:
    """``path``/dd/…/dd (``depth`` levels) with ``bottom.txt`` at the bottom, made on the host."""
    os.mkdir(path)
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        for _ in range(depth):
            os.mkdir(NAME, dir_fd=fd)
            nfd = os.open(NAME, os.O_RDONLY | os.O_DIRECTORY, dir_fd=fd)
            os.close(fd)
            fd = nfd
        with open(os.open("bottom.txt", os.O_WRONLY | os.O_CREAT, 0o644, dir_fd=fd), "wb") as f:
            f.write(content)
    finally:
        os.close(fd)


def _df(cli, kind: str) -> str:
    """The SIZE column of ``system df`` for ``kind`` (Images, Containers, Local Volumes)."""
    for line in _ok(cli("system", "df", check=False)).splitlines():
        if line.startswith(kind + " "):
            return line[len(kind):].split()[2]
    raise AssertionError(f"no {kind} row in system df")


def _remove_deep(*paths: str) -> None:
    """What a failing test may leave: shutil.rmtree (pytest's, the root fixture's) recurses."""
    from engine.fswalk import remove_tree
    for p in paths:
        remove_tree(p, ignore_errors=True)


@pytest.fixture
def deep_root(root, tmp_path):
    """The test's root, with its deep trees (and the test's own) removed however it ends."""
    try:
        yield root
    finally:
        cleanup_root(root)
        _remove_deep(*(os.path.join(root, d) for d in ("containers", "layers", "volumes", "tmp")),
                     *(str(p) for p in tmp_path.iterdir()))


@pytest.fixture
def deep_image(cli, deep_root, tmp_path):
    """deep:1: the host's static busybox and /deep holding the chain DEPTH levels down, its
    bottom file "down here", and a symlink to a host directory (``victim``) on the way, which
    nothing may follow. Returns the victim's path."""
    victim = tmp_path / "victim"
    victim.mkdir()
    (victim / "keep").write_text("mine")
    archive = tmp_path / "deep.tar"
    with tarfile.open(archive, "w", format=tarfile.PAX_FORMAT) as tar:
        add_static_busybox(tar, ("bin", "tmp", "etc", "deep"), APPLETS)
        path = "deep"
        for level in range(DEPTH):
            path += "/" + NAME
            info = tarfile.TarInfo(path)
            info.type, info.mode = tarfile.DIRTYPE, 0o755
            tar.addfile(info)
            if level == 700:
                info = tarfile.TarInfo(path + "/victim")
                info.type, info.linkname = tarfile.SYMTYPE, str(victim)
                tar.addfile(info)
        info = tarfile.TarInfo(path + "/bottom.txt")
        info.size = 10
        tar.addfile(info, io.BytesIO(b"down here\n"))
    _ok(cli("import", str(archive), "deep:1", check=False))
    archive.unlink()
    return victim


def _left_in(root: str) -> dict[str, list[str]]:
    out = {}
    for sub in ("containers", "layers", "volumes"):
        out[sub] = sorted(os.listdir(os.path.join(root, sub)))
    out["tmp"] = sorted(os.listdir(os.path.join(root, "tmp")))
    return out


def test_an_image_nested_1500_deep(cli, deep_root, tmp_path, deep_image):
    root, victim = deep_root, deep_image
    out = _ok(cli("run", "--rm", "--network", "none", "deep:1", "sh", "-c",
                  f"cd /deep && {DESCEND}", check=False))
    assert out == f"{DEPTH}\ndown here\n"
    # a named volume copied up from the image's deep directory
    out = _ok(cli("run", "--rm", "--network", "none", "-v", "deepvol:/deep", "deep:1", "sh",
                  "-c", f"cd /deep && {DESCEND}", check=False))
    assert out == f"{DEPTH}\ndown here\n"
    assert _df(cli, "Local Volumes") == f"{10 + len(str(victim))}B"
    cid = _ok(cli("run", "-d", "--network", "none", "deep:1", "sleep", "600",
                  check=False)).strip()
    # cp out of the running container onto the host
    _ok(cli("cp", f"{cid}:/deep", str(tmp_path / "out"), check=False))
    depth, names, data = _chain(str(tmp_path / "out"))
    assert (depth, names, data) == (DEPTH, ["bottom.txt"], b"down here\n")
    assert os.readlink(str(tmp_path / "out") + "/dd" * 701 + "/victim") == str(victim)
    # cp in a tar whose /deep is a file: the directory 1500 deep is replaced, as Docker does
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        info = tarfile.TarInfo("deep")
        info.size = 5
        tar.addfile(info, io.BytesIO(b"flat\n"))
    _ok(cli("cp", "-", f"{cid}:/", input=buf.getvalue().decode(), check=False))
    assert _ok(cli("exec", cid, "cat", "/deep", check=False)) == "flat\n"
    assert ("C", "/deep") in [tuple(line.split(" ", 1))
                              for line in _ok(cli("diff", cid, check=False)).splitlines()]
    _ok(cli("rm", "-f", cid, check=False))
    _ok(cli("volume", "rm", "deepvol", check=False))
    _ok(cli("rmi", "deep:1", check=False))
    _ok(cli("system", "prune", "-af", check=False))
    assert _left_in(root) == {"containers": [], "layers": [], "volumes": [], "tmp": []}
    assert (victim / "keep").read_text() == "mine"
    assert cleanup_root(root) == []


def test_a_tree_made_1500_deep_inside_a_container(cli, deep_root, tmp_path, deep_image):
    root = deep_root
    cid = _ok(cli("run", "-d", "--network", "none", "deep:1", "sh", "-c",
                  f"{MAKE}; exec sleep 600", check=False)).strip()
    deadline = time.monotonic() + 60
    while cli("exec", cid, "test", "-f", "/tmp/made", check=False).returncode != 0:
        assert time.monotonic() < deadline, "the container never made its tree"
        time.sleep(0.2)
    bottom = "/tmp" + "/dd" * DEPTH + "/bottom.txt"
    changes = _ok(cli("diff", cid, check=False)).splitlines()
    assert "A /tmp/dd" in changes and f"A {bottom}" in changes
    assert len(changes) == DEPTH + 3   # C /tmp, A /tmp/made, the chain and its bottom file
    # the container's size counts the file 1500 levels down ("made\n")
    assert _df(cli, "Containers") == "5B"
    _ok(cli("cp", f"{cid}:/tmp/dd", str(tmp_path / "out"), check=False))
    # /tmp/dd copied as out: the first level renamed
    assert _chain(str(tmp_path / "out")) == (DEPTH - 1, ["bottom.txt"], b"made\n")
    # cp in of a host tree as deep
    _make_chain(str(tmp_path / "host"), DEPTH, b"from the host\n")
    _ok(cli("cp", str(tmp_path / "host"), f"{cid}:/etc/", check=False))
    out = _ok(cli("exec", cid, "sh", "-c", f"cd /etc/host && {DESCEND}", check=False))
    assert out == f"{DEPTH}\nfrom the host\n"
    _ok(cli("export", "-o", str(tmp_path / "running.tar"), cid, check=False))
    committed = _ok(cli("commit", cid, "deep:made", check=False)).strip()
    _ok(cli("stop", "-t", "0", cid, check=False))
    # a stopped container's files are read in a private mount: the same walks, another process
    _ok(cli("export", "-o", str(tmp_path / "stopped.tar"), cid, check=False))
    for name in ("running.tar", "stopped.tar"):
        with tarfile.open(tmp_path / name) as tar:
            member = tar.getmember(bottom[1:])
            assert tar.extractfile(member).read() == b"made\n"
        (tmp_path / name).unlink()
    out = _ok(cli("run", "--rm", "--network", "none", committed, "sh", "-c",
                  f"cd /tmp && {DESCEND} && cd /etc/host && {DESCEND}", check=False))
    assert out == f"{DEPTH}\nmade\n{DEPTH}\nfrom the host\n"
    _ok(cli("rm", "-f", cid, check=False))
    _ok(cli("rmi", "deep:made", check=False))
    _ok(cli("system", "prune", "-af", check=False))
    assert _left_in(root) == {"containers": [], "layers": [], "volumes": [], "tmp": []}
    assert cleanup_root(root) == []


def test_walks_hold_few_descriptors_and_stop_where_a_directory_moved(tmp_path):
    from engine import fswalk
    top = str(tmp_path / "t")
    _make_chain(top, DEPTH, b"x" * 1000)
    try:
        # measured past PATH_MAX, symlinks not followed
        os.symlink("/", os.path.join(top, NAME, "root"))
        assert fswalk.tree_size(top) == 1000 + 1
        fds = []

        def visit(fd, name, is_dir, where):
            fds.append(len(os.listdir("/proc/self/fd")))
            return fswalk.open_dir(name, fd) if is_dir else None
        tfd = os.open(top, os.O_RDONLY | os.O_DIRECTORY)
        try:
            fswalk.walk(tfd, visit)
        finally:
            os.close(tfd)
        # the walk holds KEEP_OPEN ancestors, the current directory and its listing at most
        assert max(fds) - min(fds) <= fswalk.KEEP_OPEN + 2 and len(fds) == DEPTH + 2
        # a directory moved to another parent while walked: the walk stops rather than climb
        # into the wrong parent
        fd = os.open(top, os.O_RDONLY | os.O_DIRECTORY)
        mover = os.open(top + "/dd" * 300, os.O_RDONLY | os.O_DIRECTORY)
        moved = []

        def visit_and_move(dfd, name, is_dir, where):
            if where.count("/") == 999 and not moved:
                # the level-600 directory (an ancestor, its descriptor long closed) goes under
                # the top: climbing back through its ".." would reach the top, not level 599
                os.rename("dd" + "/dd" * 299, "moved", src_dir_fd=mover, dst_dir_fd=fd)
                moved.append(name)
            return fswalk.open_dir(name, dfd) if is_dir else None
        try:
            with pytest.raises(OSError) as e:
                fswalk.walk(fd, visit_and_move)
            assert e.value.errno == errno.ESTALE
        finally:
            os.close(mover)
            os.close(fd)
        assert moved and os.path.isdir(os.path.join(top, "moved"))
        fswalk.remove_tree(top)
        assert not os.path.exists(top)
    finally:
        _remove_deep(top)
