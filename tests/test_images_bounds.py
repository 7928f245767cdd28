"""What the image store leaves on disk and how far it goes: prune removes what a killed berth
left (orphan blobs and layers, scratch, partial downloads) but never a live one's work; import
keeps no uncompressed tarball; save refuses a damaged blob; a layer nested 1500 deep is unpacked,
measured and removed without a traceback."""

from __future__ import annotations

import gzip
import io
import json
import os
import subprocess
import tarfile

import pytest


def _tar(entries: list[tuple[str, bytes | None]], gz: bool = True) -> bytes:
    """A tarball of (name, content) entries; None content makes a directory, a str one a
    symlink to it."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as t:
        for name, data in entries:
            ti = tarfile.TarInfo(name)
            if isinstance(data, str):
                ti.type, ti.linkname = tarfile.SYMTYPE, data
                t.addfile(ti)
            elif data is None:
                ti.type, ti.mode = tarfile.DIRTYPE, 0o755
                t.addfile(ti)
            else:
                ti.size = len(data)
                t.addfile(ti, io.BytesIO(data))
    return gzip.compress(buf.getvalue(), 6) if gz else buf.getvalue()


def _disk_use(root: str) -> int:
    """Bytes of disk the root takes (allocated blocks, hardlinks once)."""
    return int(subprocess.run(["du", "-s", "-B1", root], capture_output=True, text=True,
                              check=True).stdout.split()[0])


def _leftovers(root: str, busybox) -> dict[str, str]:
    """What a berth killed while adding an image leaves: an orphan blob and layer, its scratch,
    a partial download, temporary records; name -> path."""
    out = {}
    out["blob"] = os.path.join(root, "blobs", "sha256", "cd" * 32)
    with open(out["blob"], "wb") as f:
        f.write(os.urandom(1 << 16))
    layer = os.path.join(root, "layers", busybox.image.chain_ids[0][7:])
    out["layer"] = os.path.join(root, "layers", "ef" * 32)
    subprocess.run(["cp", "-a", layer, out["layer"]], check=True)
    out["scratch"] = os.path.join(root, "tmp", "img-999999999.7-layer-abc")
    os.makedirs(os.path.join(out["scratch"], "diff", "etc"))
    out["partial"] = os.path.join(root, "tmp", "pull-" + "12" * 32 + ".partial")
    with open(out["partial"], "wb") as f:
        f.write(b"half a layer")
    out["record-tmp"] = os.path.join(root, "images", busybox.id[7:] + ".json.tmp.999999999.1")
    with open(out["record-tmp"], "w") as f:
        f.write("{")
    out["blob-tmp"] = os.path.join(root, "blobs", "sha256", "34" * 32 + ".tmp.999999999.2")
    with open(out["blob-tmp"], "wb") as f:
        f.write(b"x")
    return out


def test_prune_removes_what_killed_berths_left(cli, root, engine, busybox):
    cid = cli("create", "--network", "none", busybox, "true").stdout.strip()
    left = _leftovers(root, busybox)
    # a berth adding images right now: its work is not garbage yet (the scratch of a process
    # that is gone is, whenever a berth starts)
    with engine.image_store.busy():
        cli("image", "prune", "-a", "-f")
        assert [n for n, p in left.items() if not os.path.exists(p)] == ["scratch"]
    out = cli("image", "prune", "-a", "-f").stdout
    assert [n for n, p in left.items() if os.path.exists(p)] == []
    assert "Total reclaimed space: 0B" not in out
    # what the container's image needs is all there
    assert cli("start", "-a", cid).returncode == 0
    left = _leftovers(root, busybox)
    cli("system", "prune", "-a", "-f")
    assert [n for n, p in left.items() if os.path.exists(p)] == []
    assert os.listdir(os.path.join(root, "blobs", "sha256")) == []
    assert os.listdir(os.path.join(root, "layers")) == []


def test_import_keeps_no_uncompressed_tarball(cli, root, tmp_path):
    size = 48 << 20
    archive = tmp_path / "zeros.tar.gz"
    archive.write_bytes(_tar([("big/zeros", bytes(size)), ("etc/hello", b"hi\n")]))
    assert archive.stat().st_size < 1 << 20
    before = _disk_use(root)
    image_id = cli("import", str(archive), "zeros:1").stdout.strip()
    grown = _disk_use(root) - before
    # the unpacked layer, the gzip as it came, records: not the 48 MiB tarball a second time
    assert size <= grown < size * 1.2, f"the root grew by {grown} for {size} unpacked"
    (doc,) = json.loads(cli("image", "inspect", "zeros:1").stdout)
    assert doc["Id"] == image_id and doc["Size"] == size + 3
    # the kept blob still saves and loads back as the same image
    cli("save", "-o", str(tmp_path / "z.tar"), "zeros:1")
    cli("rmi", "zeros:1")
    cli("load", "-i", str(tmp_path / "z.tar"))
    assert cli("images", "-q", "--no-trunc").stdout.split() == [image_id]


@pytest.mark.parametrize("fmt", ["oci-archive", "docker-archive"])
@pytest.mark.parametrize("which", ["layer", "config"])
def test_save_refuses_a_damaged_blob(fmt, which, cli, root, tmp_path, busybox):
    digest = busybox.image.layers[0] if which == "layer" else busybox.id
    blob = os.path.join(root, "blobs", "sha256", digest[7:])
    data = bytearray(open(blob, "rb").read())
    data[len(data) // 2] ^= 0x55
    os.unlink(blob)   # a link shared with other tests' roots: a new file of its own
    with open(blob, "wb") as f:
        f.write(data)
    out = tmp_path / "out.tar"
    p = cli("save", "--format", fmt, "-o", str(out), busybox, check=False)
    assert p.returncode == 125
    lines = p.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("berth: "), p.stderr
    assert "damaged" in lines[0] or "corrupt" in lines[0], p.stderr
    assert os.listdir(tmp_path) == []   # no archive, whole or partial
    p = cli("save", "--format", fmt, busybox, check=False)   # to stdout
    assert p.returncode == 125 and p.stdout == ""


def test_a_layer_1500_deep_is_unpacked_measured_and_removed(cli, root, tmp_path):
    try:
        _deep(cli, root, tmp_path)
    finally:
        # shutil.rmtree (the fixture's) recurses: remove what a failure may have left here
        from engine.images.scratch import remove_tree
        for sub in ("layers", "tmp"):
            remove_tree(os.path.join(root, sub))


def _deep(cli, root, tmp_path) -> None:
    depth = 1500
    dirs = ["/".join(["d"] * i) for i in range(1, depth + 1)]
    deepest = dirs[-1] + "/bottom.txt"
    archive = tmp_path / "deep.tar.gz"
    victim = tmp_path / "victim"
    victim.mkdir()
    (victim / "keep").write_text("mine")
    # a symlink out of the layer (to the host's victim/): removing the layer must not follow it
    archive.write_bytes(_tar([*[(d, None) for d in dirs], (deepest, b"down here\n"),
                              ("d/d/out", str(victim))]))
    cli("import", str(archive), "deep:1")
    (layer,) = os.listdir(os.path.join(root, "layers"))
    diff = os.path.join(root, "layers", layer, "diff")
    fd = os.open(diff, os.O_RDONLY | os.O_DIRECTORY)
    try:
        for _ in range(depth):
            nfd = os.open("d", os.O_RDONLY | os.O_DIRECTORY, dir_fd=fd)
            os.close(fd)
            fd = nfd
        assert open(os.open("bottom.txt", os.O_RDONLY, dir_fd=fd), "rb").read() == \
            b"down here\n"
    finally:
        os.close(fd)
    assert cli("images", "-q").stdout.strip()
    # the size of a layer whose record was lost is counted from the layer itself
    with open(os.path.join(root, "layers", layer, "meta.json"), "w") as f:
        f.write("{torn")
    p = cli("system", "df")
    assert "Traceback" not in p.stderr and layer[:12] in p.stderr
    # "down here\n" counted 1500 levels down, and the symlink
    assert f"{10 + len(str(victim))}B" in p.stdout.splitlines()[1]
    from engine.images.check import check_images
    from engine.store import Store
    from engine.paths import Paths
    assert all(f.repaired for f in check_images(Store(Paths.from_env(root)), repair=True))
    p = cli("rmi", "deep:1")
    assert p.stderr == "" and os.listdir(os.path.join(root, "layers")) == []
    assert (victim / "keep").read_text() == "mine"
    assert [n for n in os.listdir(os.path.join(root, "tmp")) if n.startswith("img-")] == []
