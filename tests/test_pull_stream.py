"""berth pull's one pass over the wire's bytes (issue 23): each layer is hashed, written to its
blob, decompressed and unpacked as it arrives, and never read back; a pull killed in the middle
of a layer leaves no partial layer and no image, and the next pull finishes the work."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

from helpers import ALPINE_ROOTFS, BERTH, REPO, berth
from registry_server import build_oci_image, registry


@pytest.fixture(scope="module")
def big():
    """A registry holding Alpine plus two random 8 MiB layers (built with umoci)."""
    d = Path(tempfile.mkdtemp(prefix="berth-pullstream-", dir="/var/tmp"))
    try:
        src = build_oci_image(d / "layout", "big", ALPINE_ROOTFS, (8 << 20, 8 << 20))
        with registry() as r:
            r.skopeo_copy_in(src, "test/big:1")
            yield f"{r.host}/test/big:1"
    finally:
        shutil.rmtree(d, ignore_errors=True)


async def test_pull_reads_no_blob_back(big, root, engine, monkeypatch):
    """The download's own hash is the blob's verification: no layer blob is hashed again from
    the file it was written to (a second pass over every byte)."""
    from engine.images import blobs
    hashed: list[str] = []
    real = blobs.sha256_file

    def spy(path):
        hashed.append(path)
        return real(path)
    monkeypatch.setattr(blobs, "sha256_file", spy)
    image = await engine.pull(big)
    assert len(image.chain_ids) == 3
    assert hashed == []
    # and what went in is what the registry has: every blob still matches its name
    for digest in image.layers:
        path = os.path.join(root, "blobs", "sha256", digest[7:])
        assert real(path) == digest


def _scratch(root: str) -> list[str]:
    return [n for n in os.listdir(os.path.join(root, "tmp")) if n.startswith("img-")]


def test_pull_killed_mid_layer_leaves_no_layer_and_the_next_pull_finishes(big, root):
    env = {**os.environ, "BERTH_ROOT": root}
    env.pop("BERTH_RUN", None)
    p = subprocess.Popen([*BERTH, "pull", "-q", big], env=env, cwd=REPO,
                         stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    tmp = os.path.join(root, "tmp")
    killed_in = None
    deadline = time.monotonic() + 60
    try:
        while p.poll() is None and time.monotonic() < deadline:
            # a layer being unpacked: a staging directory with files in its diff/
            for n in _scratch(root) if os.path.isdir(tmp) else []:
                diff = os.path.join(tmp, n, "diff")
                try:
                    if os.listdir(diff):
                        killed_in = n
                except OSError:
                    continue
                break
            if killed_in:
                p.send_signal(signal.SIGKILL)
                break
            time.sleep(0.002)
    finally:
        if p.poll() is None and not killed_in:
            p.kill()
        p.wait()
    assert killed_in, f"the pull ended before a layer was seen unpacking: {p.stderr.read()!r}"
    assert p.returncode == -signal.SIGKILL
    # nothing half-unpacked in place: a layer is renamed into layers/ whole, so what is there is
    # one the pull finished before the kill (Alpine's small layer can beat the 8 MiB ones)
    for name in os.listdir(os.path.join(root, "layers")):
        assert os.path.isfile(os.path.join(root, "layers", name, "meta.json")), name
    assert berth(root, "images", "-q").stdout.strip() == ""
    berth(root, "pull", "-q", big)
    out = berth(root, "run", "--rm", "--network", "none", big, "cat", "/etc/alpine-release")
    assert out.stdout.strip() == "3.20.3"
    assert _scratch(root) == []                                  # the dead pull's scratch went
    assert not [n for n in os.listdir(tmp) if n.startswith("pull-")]


def _flags(path: str) -> int | None:
    import array
    import fcntl
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        flags = array.array("i", [0])
        fcntl.ioctl(fd, 0x80086601, flags, True)
        return flags[0]
    except OSError:
        return None
    finally:
        os.close(fd)


async def test_layers_are_staged_below_a_top_directory(big, root, engine):
    """tmp/, where layers are unpacked before they are renamed into place, carries ext4's
    TOPDIR flag (chattr +T), so each layer goes to a block group of its own rather than into
    tmp/'s, whose recently deleted inodes cost every new one a scan (issue 23)."""
    if _flags(root) is None:
        pytest.skip("this filesystem has no inode flags")
    await engine.pull(big)
    assert _flags(os.path.join(root, "tmp")) & 0x00020000


async def test_a_plain_http_loopback_registry_costs_no_ca_bundle(big, root, engine, monkeypatch):
    """A loopback registry is tried with https first: a bare handshake tells that it speaks
    plain http, so the system's CA bundle (15-25 ms to read) is never loaded."""
    from engine.images import httpclient
    monkeypatch.setattr(httpclient, "_CONTEXTS", {})
    await engine.pull(big)
    assert True not in httpclient._CONTEXTS


def test_an_imported_layer_is_not_read_back(root, engine, monkeypatch):
    """`import` (as load, commit and build) keeps a new layer's blob hashed as it writes it:
    the blob is not hashed again from its file."""
    from engine.images import blobs
    hashed: list[str] = []
    real = blobs.sha256_file
    monkeypatch.setattr(blobs, "sha256_file", lambda path: hashed.append(path) or real(path))
    image = engine.import_image(str(ALPINE_ROOTFS), "imported:1")
    assert hashed == []
    blob = image.layers[0]
    assert real(os.path.join(root, "blobs", "sha256", blob[7:])) == blob


def test_a_pull_that_fills_the_disk_says_so_and_leaves_nothing(big, loop_device, tmp_path):
    """A root on a 64 MiB filesystem with room for less than the image: one line naming the
    full disk (not a registry failure), no layer, no image, no temporary file."""
    root = str(tmp_path / "root")
    os.mkdir(root)
    subprocess.run(["mkfs.ext4", "-q", "-F", "-m", "0", loop_device], check=True,
                   capture_output=True)
    subprocess.run(["mount", loop_device, root], check=True, capture_output=True)
    try:
        st = os.statvfs(root)
        with open(os.path.join(root, "filler"), "wb") as f:   # leave about 12 MiB
            f.truncate(0)
            f.write(b"\0" * (st.f_bavail * st.f_frsize - (12 << 20)))
        p = berth(root, "pull", "-q", big, check=False)
        assert p.returncode == 125, (p.returncode, p.stderr)
        lines = p.stderr.splitlines()
        assert len(lines) == 1 and lines[0].startswith("berth: no space left on device while"), \
            p.stderr
        assert os.listdir(os.path.join(root, "layers")) == []
        assert berth(root, "images", "-q").stdout.strip() == ""
        left = [os.path.join(d, f) for d, _, files in os.walk(os.path.join(root, "tmp"))
                for f in files if not f.startswith("pull-")]
        assert left == []
    finally:
        from helpers import cleanup_root, remove_root
        try:
            cleanup_root(root)
        finally:
            subprocess.run(["umount", root], capture_output=True)
            remove_root(root)
