"""Interop with a real tool: skopeo reads what berth save writes, and berth loads what skopeo copy
writes, with the same layer digests and config."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess

import pytest

from helpers import BUSYBOX_GLIBC, BUSYBOX_MUSL

pytestmark = pytest.mark.skipif(not shutil.which("skopeo"), reason="skopeo is not installed "
                                "(make test installs it)")

BUSYBOX_ID = "sha256:654fc8fd836e35f4a64586bddf8f59b9029b48cf80f520834c6c98ca8ab5def9"


def skopeo(*args: str, text: bool = True) -> str | bytes:
    p = subprocess.run(["skopeo", "--insecure-policy", *args], capture_output=True, text=text,
                       timeout=120)
    assert p.returncode == 0, p.stderr
    return p.stdout


def _sha(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def test_skopeo_reads_berths_oci_archive(cli, engine, busybox, alpine, tmp_path):
    for ref in (busybox, alpine):
        img = engine.image(ref)
        archive = str(tmp_path / f"{img.short_id}.oci.tar")
        cli("save", "-o", archive, ref)
        info = json.loads(skopeo("inspect", f"oci-archive:{archive}"))
        assert info["Layers"] == img.layers
        assert info["Architecture"] == "amd64" and info["Os"] == "linux"
        manifest = json.loads(skopeo("inspect", "--raw", f"oci-archive:{archive}"))
        assert manifest["config"]["digest"] == img.id
        config = skopeo("inspect", "--raw", "--config", f"oci-archive:{archive}", text=False)
        assert _sha(config) == img.id
        # a full copy verifies every blob's digest
        skopeo("copy", "-q", f"oci-archive:{archive}", f"oci:{tmp_path}/copy-{img.short_id}")


def test_skopeo_reads_berths_docker_archive(cli, engine, busybox, alpine, tmp_path):
    archive = str(tmp_path / "both.docker.tar")
    cli("save", "--format", "docker-archive", "-o", archive, busybox, "alpine:latest")
    for ref, name in ((busybox, "busybox:1.38.0-musl"), (alpine, "alpine:latest")):
        img = engine.image(ref)
        info = json.loads(skopeo("inspect", f"docker-archive:{archive}:{name}"))
        assert info["Layers"] == img.diff_ids  # docker archives hold uncompressed layers
        config = skopeo("inspect", "--raw", "--config", f"docker-archive:{archive}:{name}",
                        text=False)
        assert _sha(config) == img.id
    skopeo("copy", "-q", f"docker-archive:{archive}:busybox:1.38.0-musl",
           f"oci:{tmp_path}/from-docker")


def test_berth_loads_skopeos_docker_archive(cli, engine, tmp_path):
    archive = str(tmp_path / "sk.docker.tar")
    skopeo("copy", "-q", f"oci-archive:{BUSYBOX_MUSL}", f"docker-archive:{archive}:busybox:sk")
    assert cli("load", "-i", archive).stdout.strip() == "Loaded image: busybox:sk"
    img = engine.image("busybox:sk")
    assert img.id == BUSYBOX_ID
    assert img.diff_ids == [
        "sha256:0f8918d0fe4f272ce8acece89916a9ba0b240584d3c1dd1943f343f69b0d0ffb"]
    assert img.config["Cmd"] == ["sh"]
    (diff,) = engine.image_layer_dirs(img)
    assert os.path.isfile(os.path.join(diff, "bin", "busybox"))


@pytest.mark.parametrize("source", [BUSYBOX_MUSL, BUSYBOX_GLIBC], ids=["musl", "glibc"])
def test_berth_loads_skopeos_oci_layout(source, cli, engine, tmp_path):
    layout = tmp_path / "layout"
    skopeo("copy", "-q", f"oci-archive:{source}", f"oci:{layout}:quay.example/bb:copied")
    raw = json.loads(skopeo("inspect", "--raw", f"oci:{layout}:quay.example/bb:copied"))
    config = skopeo("inspect", "--raw", "--config", f"oci:{layout}:quay.example/bb:copied",
                    text=False)
    archive = str(tmp_path / "layout.tar")
    subprocess.run(["tar", "-cf", archive, "-C", str(layout), "."], check=True)
    cli("load", "-i", archive)
    (img,) = engine.images()
    assert img.id == raw["config"]["digest"] == _sha(config)
    assert img.layers == [l["digest"] for l in raw["layers"]]
    assert img.diff_ids == json.loads(config)["rootfs"]["diff_ids"]
    # a bare ref.name ("quay.example/bb:copied" names a repository and tag) becomes its tag
    assert img.repo_tags == ["quay.example/bb:copied"]
