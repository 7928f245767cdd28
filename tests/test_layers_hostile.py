"""Hostile layers (tests/hostile): refused with one line, nothing written outside the layer
directory, nothing half-imported, through import, load of an OCI layout and load of a docker
archive."""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import os
import tarfile

import pytest

from hostile import ESCAPE, NAMES, build


def _sha(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def _add(t: tarfile.TarFile, name: str, data: bytes) -> None:
    ti = tarfile.TarInfo(name)
    ti.size = len(data)
    t.addfile(ti, io.BytesIO(data))


def oci_archive(layer_tar: bytes, path: str, tag: str = "evil:1") -> None:
    """An OCI layout tar holding one image whose only layer is ``layer_tar`` (gzipped)."""
    blob = gzip.compress(layer_tar)
    config = json.dumps({"architecture": "amd64", "os": "linux",
                         "rootfs": {"type": "layers", "diff_ids": [_sha(layer_tar)]},
                         "config": {}}).encode()
    manifest = json.dumps({
        "schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                   "digest": _sha(config), "size": len(config)},
        "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip",
                    "digest": _sha(blob), "size": len(blob)}]}).encode()
    index = json.dumps({"schemaVersion": 2, "manifests": [{
        "mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": _sha(manifest),
        "size": len(manifest), "annotations": {"io.containerd.image.name": tag}}]}).encode()
    with tarfile.open(path, "w") as t:
        _add(t, "oci-layout", b'{"imageLayoutVersion":"1.0.0"}')
        _add(t, "index.json", index)
        for data in (blob, config, manifest):
            _add(t, "blobs/sha256/" + _sha(data)[7:], data)


def docker_archive(layer_tar: bytes, path: str, tag: str = "evil:1") -> None:
    """A docker save archive (the layout before Docker 25) holding ``layer_tar``."""
    config = json.dumps({"architecture": "amd64", "os": "linux",
                         "rootfs": {"type": "layers", "diff_ids": [_sha(layer_tar)]},
                         "config": {}}).encode()
    manifest = json.dumps([{"Config": _sha(config)[7:] + ".json", "RepoTags": [tag],
                            "Layers": ["abc/layer.tar"]}]).encode()
    with tarfile.open(path, "w") as t:
        _add(t, "manifest.json", manifest)
        _add(t, _sha(config)[7:] + ".json", config)
        _add(t, "abc/layer.tar", layer_tar)


def assert_nothing_left(root: str, outside: str) -> None:
    assert os.listdir(outside) == [], "the attack wrote outside the layer"
    for dirpath, dirs, files in os.walk(root):
        assert ESCAPE not in files and ESCAPE not in dirs, f"{ESCAPE} written in {dirpath}"
    assert os.listdir(os.path.join(root, "layers")) == []
    assert os.listdir(os.path.join(root, "blobs", "sha256")) == []
    assert [n for n in os.listdir(os.path.join(root, "images")) if n != "refs.json"] == []
    assert os.listdir(os.path.join(root, "tmp")) == []


def _refused(p, word: str) -> None:
    assert p.returncode in (1, 125), p
    lines = p.stderr.strip().splitlines()
    assert len(lines) == 1, p.stderr
    assert lines[0].startswith("berth: ") and word in lines[0], lines[0]
    assert "Traceback" not in p.stderr


@pytest.mark.parametrize("case", NAMES)
def test_import_refuses_hostile_layer(case, cli, root, tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    data, word = build(case, str(outside))
    src = tmp_path / "evil.tar"
    src.write_bytes(data)
    p = cli("import", str(src), "evil:1", check=False)
    _refused(p, word)
    assert_nothing_left(root, str(outside))


@pytest.mark.parametrize("case", ["symlink-dir-then-file", "dotdot", "hardlink-absolute",
                                  "dir-replaced-by-symlink"])
@pytest.mark.parametrize("fmt", ["oci", "docker"])
def test_load_refuses_hostile_layer(case, fmt, cli, root, tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    data, word = build(case, str(outside))
    archive = str(tmp_path / "evil-archive.tar")
    (oci_archive if fmt == "oci" else docker_archive)(data, archive)
    p = cli("load", "-i", archive, check=False)
    _refused(p, word)
    assert_nothing_left(root, str(outside))
    assert "evil" not in cli("images").stdout


def test_hostile_layer_does_not_disturb_existing_images(busybox, cli, engine, root, tmp_path):
    """A refused load removes only what it added: the image already there keeps its blobs."""
    blobs_before = sorted(os.listdir(os.path.join(root, "blobs", "sha256")))
    layers_before = sorted(os.listdir(os.path.join(root, "layers")))
    outside = tmp_path / "outside"
    outside.mkdir()
    data, word = build("symlink-dir-then-file", str(outside))
    archive = str(tmp_path / "evil.tar")
    oci_archive(data, archive)
    _refused(cli("load", "-i", archive, check=False), word)
    assert sorted(os.listdir(os.path.join(root, "blobs", "sha256"))) == blobs_before
    assert sorted(os.listdir(os.path.join(root, "layers"))) == layers_before
    assert os.listdir(outside) == []
    assert engine.image(busybox).id == busybox.id


def test_layer_not_matching_its_diff_id_is_refused(cli, root, tmp_path):
    """A layer that unpacks to other bytes than the config says is an integrity error."""
    good = tarfile.TarInfo("ok")
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as t:
        good.size = 2
        t.addfile(good, io.BytesIO(b"ok"))
    archive = str(tmp_path / "lie.tar")
    oci_archive(buf.getvalue(), archive)
    # rewrite the config's diff_id: re-pack with a config that lies
    with tarfile.open(archive) as t:
        members = {m.name: t.extractfile(m).read() for m in t if m.isfile()}
    index = json.loads(members["index.json"])
    manifest = json.loads(members["blobs/sha256/" + index["manifests"][0]["digest"][7:]])
    config = json.loads(members["blobs/sha256/" + manifest["config"]["digest"][7:]])
    config["rootfs"]["diff_ids"] = ["sha256:" + "0" * 64]
    cbytes = json.dumps(config).encode()
    manifest["config"].update(digest=_sha(cbytes), size=len(cbytes))
    mbytes = json.dumps(manifest).encode()
    index["manifests"][0].update(digest=_sha(mbytes), size=len(mbytes))
    members["index.json"] = json.dumps(index).encode()
    members["blobs/sha256/" + _sha(cbytes)[7:]] = cbytes
    members["blobs/sha256/" + _sha(mbytes)[7:]] = mbytes
    with tarfile.open(archive, "w") as t:
        for name, data in members.items():
            _add(t, name, data)
    p = cli("load", "-i", archive, check=False)
    _refused(p, "diff_id")
    assert os.listdir(os.path.join(root, "layers")) == []
    assert os.listdir(os.path.join(root, "blobs", "sha256")) == []


def test_blob_not_matching_its_digest_is_refused(cli, root, tmp_path):
    archive = str(tmp_path / "bad.tar")
    layer = io.BytesIO()
    with tarfile.open(fileobj=layer, mode="w") as t:
        _add(t, "f", b"data")
    oci_archive(layer.getvalue(), archive)
    with tarfile.open(archive) as t:
        members = {m.name: t.extractfile(m).read() for m in t if m.isfile()}
    for name, data in members.items():
        if data[:2] == b"\x1f\x8b":  # the layer: same name, other bytes
            members[name] = gzip.compress(b"not the layer")
    with tarfile.open(archive, "w") as t:
        for name, data in members.items():
            _add(t, name, data)
    p = cli("load", "-i", archive, check=False)
    _refused(p, "does not match its digest")
    assert os.listdir(os.path.join(root, "blobs", "sha256")) == []


def test_hostile_member_names_in_the_archive_itself_are_never_paths(cli, engine, root,
                                                                       tmp_path):
    """The outer archive's own member names ('..', absolute, symlinks) only name blobs: a load
    writes nothing where they point, and loads the image they accompany."""
    outside = tmp_path / "outside"
    outside.mkdir()
    good = io.BytesIO()
    with tarfile.open(fileobj=good, mode="w") as t:
        _add(t, "hello", b"hi")
    archive = str(tmp_path / "sneaky.tar")
    oci_archive(good.getvalue(), archive, tag="sneaky:1")
    with tarfile.open(archive, "a") as t:
        _add(t, f"../../{ESCAPE}", b"x")
        _add(t, f"{outside}/{ESCAPE}", b"x")
        link = tarfile.TarInfo("blobs/sha256/evil-link")
        link.type, link.linkname = tarfile.SYMTYPE, str(outside)
        t.addfile(link)
        _add(t, f"blobs/sha256/evil-link/{ESCAPE}", b"x")
    assert cli("load", "-i", archive).stdout.strip() == "Loaded image: sneaky:1"
    assert os.listdir(outside) == []
    for dirpath, dirs, files in os.walk(root):
        assert ESCAPE not in files and ESCAPE not in dirs
    assert os.listdir(os.path.join(root, "tmp")) == []
    (diff,) = engine.image_layer_dirs(engine.image("sneaky:1"))
    assert os.listdir(diff) == ["hello"]
