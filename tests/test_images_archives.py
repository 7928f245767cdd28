"""Archives berth must load beyond the shared ones: multi-layer images with whiteouts, zstd
layers, multi-platform indexes, and docker save archives of every era (Docker 25's blobs/
layout, the 1.10-24 ``<id>/layer.tar`` layout with shared layers as symlinks, and the v1 layout
of before 1.10 with only ``repositories``)."""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import os
import subprocess
import tarfile

import zstandard


def _sha(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def layer(*entries) -> bytes:
    """A layer tar: ("f", name, bytes) files, ("d", name) dirs, ("w", name) whiteout files."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as t:
        for kind, name, *rest in entries:
            ti = tarfile.TarInfo(name)
            ti.mtime = 1700000000
            if kind == "d":
                ti.type, ti.mode = tarfile.DIRTYPE, 0o755
                t.addfile(ti)
            else:
                data = rest[0] if rest else b""
                ti.size, ti.mode = len(data), 0o644
                t.addfile(ti, io.BytesIO(data))
    return buf.getvalue()


def _add(t, name, data=None, link=None):
    ti = tarfile.TarInfo(name)
    if link is not None:
        ti.type, ti.linkname = tarfile.SYMTYPE, link
        t.addfile(ti)
        return
    ti.size = len(data)
    t.addfile(ti, io.BytesIO(data))


def config_for(layers: list[bytes], cmd=("sh",), arch="amd64") -> bytes:
    return json.dumps({"architecture": arch, "os": "linux", "created": "2024-01-02T03:04:05Z",
                       "config": {"Cmd": list(cmd)},
                       "rootfs": {"type": "layers", "diff_ids": [_sha(l) for l in layers]},
                       "history": [{"created_by": f"layer {i}"} for i in range(len(layers))]
                       }).encode()


def oci_image(layers: list[bytes], compress, media_suffix: str, arch="amd64"):
    """(blobs {digest: bytes}, manifest bytes) of an OCI image."""
    blobs = {}
    descs = []
    for l in layers:
        b = compress(l)
        blobs[_sha(b)] = b
        descs.append({"mediaType": "application/vnd.oci.image.layer.v1.tar" + media_suffix,
                      "digest": _sha(b), "size": len(b)})
    config = config_for(layers, arch=arch)
    blobs[_sha(config)] = config
    manifest = json.dumps({"schemaVersion": 2,
                           "mediaType": "application/vnd.oci.image.manifest.v1+json",
                           "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                                      "digest": _sha(config), "size": len(config)},
                           "layers": descs}).encode()
    blobs[_sha(manifest)] = manifest
    return blobs, manifest


def write_oci(path, blobs: dict, index: dict) -> None:
    with tarfile.open(path, "w") as t:
        _add(t, "oci-layout", b'{"imageLayoutVersion":"1.0.0"}')
        _add(t, "index.json", json.dumps(index).encode())
        for d, data in blobs.items():
            _add(t, "blobs/sha256/" + d[7:], data)


BASE = layer(("d", "etc"), ("f", "etc/os", b"base\n"), ("d", "data"), ("f", "data/a", b"a"),
             ("f", "data/b", b"b"), ("f", "gone", b"x"))
TOP = layer(("d", "data"), ("f", "data/.wh..wh..opq"), ("f", "data/c", b"c"), ("f", ".wh.gone"),
            ("f", "etc/os", b"top\n"))


def test_multi_layer_zstd_image_with_whiteouts(cli, engine, tmp_path):
    blobs, manifest = oci_image([BASE, TOP], lambda d: zstandard.ZstdCompressor().compress(d),
                                "+zstd")
    path = str(tmp_path / "zstd.tar")
    write_oci(path, blobs, {"schemaVersion": 2, "manifests": [{
        "mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": _sha(manifest),
        "size": len(manifest), "annotations": {"io.containerd.image.name": "layered:zstd"}}]})
    assert cli("load", "-i", path).stdout.strip() == "Loaded image: layered:zstd"
    img = engine.image("layered:zstd")
    assert img.diff_ids == [_sha(BASE), _sha(TOP)]
    assert img.chain_ids[0] == _sha(BASE)
    assert img.chain_ids[1] == _sha(f"{_sha(BASE)} {_sha(TOP)}".encode())
    low, up = engine.image_layer_dirs(img)
    assert sorted(os.listdir(os.path.join(low, "data"))) == ["a", "b"]
    assert os.getxattr(os.path.join(up, "data"), "trusted.overlay.opaque") == b"y"
    assert os.stat(os.path.join(up, "gone")).st_rdev == 0
    assert open(os.path.join(up, "etc", "os")).read() == "top\n"
    (doc,) = json.loads(cli("image", "inspect", "layered:zstd").stdout)
    assert doc["RootFS"]["Layers"] == [_sha(BASE), _sha(TOP)]
    rows = cli("history", "layered:zstd").stdout.splitlines()[1:]
    assert "layer 1" in rows[0] and "layer 0" in rows[1]
    # the overlay of the two shows what the image means
    merged = tmp_path / "merged"
    work = tmp_path / "work"
    upper = tmp_path / "upper"
    for d in (merged, work, upper):
        d.mkdir()
    subprocess.run(["mount", "-t", "overlay", "overlay", "-o",
                    f"lowerdir={up}:{low},upperdir={upper},workdir={work}", str(merged)],
                   check=True)
    try:
        assert sorted(os.listdir(merged / "data")) == ["c"]
        assert not (merged / "gone").exists()
        assert (merged / "etc" / "os").read_text() == "top\n"
    finally:
        subprocess.run(["umount", str(merged)], check=True)


def test_multi_platform_index_picks_the_host(cli, engine, tmp_path):
    amd_blobs, amd = oci_image([BASE], gzip.compress, "+gzip", arch="amd64")
    arm_blobs, arm = oci_image([TOP], gzip.compress, "+gzip", arch="arm64")
    inner = json.dumps({"schemaVersion": 2,
                        "mediaType": "application/vnd.oci.image.index.v1+json",
                        "manifests": [
                            {"mediaType": "application/vnd.oci.image.manifest.v1+json",
                             "digest": _sha(arm), "size": len(arm),
                             "platform": {"architecture": "arm64", "os": "linux"}},
                            {"mediaType": "application/vnd.oci.image.manifest.v1+json",
                             "digest": _sha(amd), "size": len(amd),
                             "platform": {"architecture": "amd64", "os": "linux"}}]}).encode()
    blobs = {**amd_blobs, **arm_blobs, _sha(inner): inner}
    path = str(tmp_path / "multi.tar")
    write_oci(path, blobs, {"schemaVersion": 2, "manifests": [{
        "mediaType": "application/vnd.oci.image.index.v1+json", "digest": _sha(inner),
        "size": len(inner), "annotations": {"io.containerd.image.name": "multi:1"}}]})
    cli("load", "-i", path)
    img = engine.image("multi:1")
    assert img.architecture == "amd64" and img.diff_ids == [_sha(BASE)]


def test_docker_save_between_1_10_and_24_with_shared_layers(cli, engine, tmp_path):
    """Two images sharing their base layer; the second names it through a symlink."""
    c1, c2 = config_for([BASE], cmd=["one"]), config_for([BASE, TOP], cmd=["two"])
    manifest = [{"Config": _sha(c1)[7:] + ".json", "RepoTags": ["one:1"],
                 "Layers": ["aaa/layer.tar"]},
                {"Config": _sha(c2)[7:] + ".json", "RepoTags": ["two:1", "two:latest"],
                 "Layers": ["bbb/layer.tar", "ccc/layer.tar"]}]
    path = str(tmp_path / "docker.tar")
    with tarfile.open(path, "w") as t:
        _add(t, "manifest.json", json.dumps(manifest).encode())
        _add(t, _sha(c1)[7:] + ".json", c1)
        _add(t, _sha(c2)[7:] + ".json", c2)
        _add(t, "aaa/layer.tar", BASE)
        _add(t, "bbb/layer.tar", link="../aaa/layer.tar")
        _add(t, "ccc/layer.tar", TOP)
        _add(t, "repositories", b"{}")
    out = cli("load", "-i", path).stdout.splitlines()
    assert out == ["Loaded image: one:1", "Loaded image: two:1", "Loaded image: two:latest"]
    one, two = engine.image("one:1"), engine.image("two")
    assert one.id == _sha(c1) and two.id == _sha(c2)
    assert two.chain_ids[0] == one.chain_ids[0]
    assert len(os.listdir(os.path.join(engine.paths.root, "layers"))) == 2


def test_docker_25_layout_with_gzip_outer_compression(cli, engine, tmp_path):
    """Docker 25+ writes blobs/sha256 with a manifest.json; `docker save | gzip` is loadable."""
    cfg = config_for([BASE, TOP])
    manifest = [{"Config": "blobs/sha256/" + _sha(cfg)[7:], "RepoTags": ["new:25"],
                 "Layers": ["blobs/sha256/" + _sha(BASE)[7:], "blobs/sha256/" + _sha(TOP)[7:]]}]
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as t:
        for data in (cfg, BASE, TOP):
            _add(t, "blobs/sha256/" + _sha(data)[7:], data)
        _add(t, "manifest.json", json.dumps(manifest).encode())
    path = tmp_path / "docker25.tar.gz"
    path.write_bytes(gzip.compress(buf.getvalue()))
    cli("load", "-i", str(path))
    assert engine.image("new:25").id == _sha(cfg)


def test_docker_save_v1_before_1_10(cli, engine, tmp_path):
    base_json = {"id": "1" * 64, "created": "2015-01-01T00:00:00Z", "os": "linux",
                 "architecture": "amd64",
                 "container_config": {"Cmd": ["/bin/sh", "-c", "#(nop) ADD"]},
                 "config": {"Cmd": ["sh"]}}
    top_json = {"id": "2" * 64, "parent": "1" * 64, "created": "2015-01-02T00:00:00Z",
                "os": "linux", "architecture": "amd64",
                "container_config": {"Cmd": ["/bin/sh", "-c", "echo top"]},
                "config": {"Cmd": ["echo", "top"], "Env": ["A=1"]}}
    path = str(tmp_path / "v1.tar")
    with tarfile.open(path, "w") as t:
        _add(t, "repositories", json.dumps({"oldie": {"v1": "2" * 64}}).encode())
        for j, data in ((base_json, BASE), (top_json, TOP)):
            _add(t, f"{j['id']}/VERSION", b"1.0")
            _add(t, f"{j['id']}/json", json.dumps(j).encode())
            _add(t, f"{j['id']}/layer.tar", data)
    assert cli("load", "-i", path).stdout.strip() == "Loaded image: oldie:v1"
    img = engine.image("oldie:v1")
    assert img.diff_ids == [_sha(BASE), _sha(TOP)]
    assert img.config == {"Cmd": ["echo", "top"], "Env": ["A=1"]}
    assert [h["created_by"] for h in img.history] == ["/bin/sh -c #(nop) ADD",
                                                      "/bin/sh -c echo top"]
    up = engine.image_layer_dirs(img)[1]
    assert open(os.path.join(up, "etc", "os")).read() == "top\n"
