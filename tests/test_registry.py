"""berth pull, push, login, logout and search against a real docker-registry, as a user runs
them, and the faults: a registry that dies mid-pull, a tampered blob, bad names and passwords."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import stat
import tempfile
from pathlib import Path

import pytest

from helpers import ALPINE_ROOTFS, BERTH, BUSYBOX_GLIBC, BUSYBOX_MUSL, REPO, berth
from registry_server import (build_oci_image, config_digest, oci_archive_manifest,
                             push_multiplatform, registry, run_skopeo)

USER, PASSWORD = "alice", "wonderland"


@pytest.fixture(scope="module")
def workdir():
    d = Path(tempfile.mkdtemp(prefix="berth-regtest-", dir="/var/tmp"))
    try:
        yield d
    finally:
        shutil.rmtree(d, ignore_errors=True)


@pytest.fixture(scope="module")
def alpine_src(workdir):
    """Alpine 3.20.3's minirootfs as an OCI image, built with umoci (not with berth)."""
    return build_oci_image(workdir / "layout", "3.20", ALPINE_ROOTFS)


@pytest.fixture(scope="module")
def reg(alpine_src):
    with registry() as r:
        r.skopeo_copy_in(alpine_src, "library/alpine:3.20")
        r.skopeo_copy_in(f"oci-archive:{BUSYBOX_MUSL}", "library/busybox:musl")
        r.skopeo_copy_in(f"oci-archive:{BUSYBOX_GLIBC}", "library/busybox:glibc")
        r.multi = push_multiplatform(r, "library/multi", "latest", BUSYBOX_MUSL, BUSYBOX_GLIBC)
        yield r


@pytest.fixture(autouse=True)
def auth_file(root, monkeypatch):
    """Each test keeps its credentials in its own root, never in the host's files."""
    path = os.path.join(root, "auth.json")
    monkeypatch.setenv("BERTH_AUTH_FILE", path)
    return path


def assert_one_line_error(p, *words):
    assert p.returncode in (1, 125), (p.returncode, p.stdout, p.stderr)
    assert "Traceback" not in p.stderr
    lines = [line for line in p.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, p.stderr
    for w in words:
        assert w in lines[0], lines[0]


# --- pull ----------------------------------------------------------------------------------

def test_pull_shows_progress_and_lands_a_runnable_image(reg, root, engine):
    ref = f"{reg.host}/library/alpine:3.20"
    p = berth(root, "pull", ref)
    lines = p.stdout.splitlines()
    assert lines[0] == "3.20: Pulling from library/alpine"
    layer = reg.skopeo_inspect("library/alpine:3.20")["Layers"][0].partition(":")[2][:12]
    for status in ("Pulling fs layer", "Verifying Checksum", "Download complete",
                   "Pull complete"):
        assert f"{layer}: {status}" in lines, p.stdout
    digest = reg.skopeo_inspect("library/alpine:3.20")["Digest"]
    assert f"Digest: {digest}" in lines
    assert f"Status: Downloaded newer image for {ref}" in lines
    assert lines[-1] == ref
    image = engine.image(ref)
    assert f"{reg.host}/library/alpine@{digest}" in image.repo_digests
    assert ref in image.repo_tags

    again = berth(root, "pull", ref).stdout.splitlines()
    assert f"{layer}: Already exists" in again
    assert f"Status: Image is up to date for {ref}" in again

    out = berth(root, "run", "--rm", "--network", "none", ref, "cat", "/etc/alpine-release")
    assert out.stdout.strip() == "3.20.3"


def test_pull_progress_bars_on_a_terminal(reg, root):
    pexpect = pytest.importorskip("pexpect")
    env = {**os.environ, "BERTH_ROOT": root, "COLUMNS": "120"}
    child = pexpect.spawn(BERTH[0], [*BERTH[1:], "pull", f"{reg.host}/library/busybox:glibc"],
                          env=env, cwd=str(REPO), timeout=60, encoding="utf-8")
    try:
        child.expect(r"Downloading \[[=> ]{51}\]\s+\S+/\S+")
        child.expect("Pull complete")
        child.expect(pexpect.EOF)
    finally:
        child.close()
    assert child.exitstatus == 0


def test_pull_quiet_and_by_digest(reg, root, engine):
    digest = reg.skopeo_inspect("library/busybox:musl")["Digest"]
    ref = f"{reg.host}/library/busybox@{digest}"
    p = berth(root, "pull", "-q", ref)
    assert p.stdout == ref + "\n"
    image = engine.image(ref)
    assert image.id == config_digest(BUSYBOX_MUSL)
    assert image.repo_tags == []
    assert image.repo_digests == [f"{reg.host}/library/busybox@{digest}"]


def test_pull_chooses_the_platform(reg, root, engine):
    ref = f"{reg.host}/library/multi:latest"
    berth(root, "pull", "-q", ref)
    assert engine.image(ref).id == config_digest(BUSYBOX_MUSL)     # the host's: amd64
    berth(root, "pull", "-q", "--platform", "linux/arm64", ref)
    image = engine.image(ref)
    assert image.id == config_digest(BUSYBOX_GLIBC)
    # RepoDigests name the index, as Docker's do
    assert image.repo_digests == [f"{reg.host}/library/multi@{reg.multi['index']}"]
    p = berth(root, "pull", "--platform", "linux/s390x", ref, check=False)
    assert_one_line_error(p, "linux/s390x", "linux/amd64")


def test_pull_all_tags(reg, root, engine):
    berth(root, "pull", "-q", "--all-tags", f"{reg.host}/library/busybox")
    assert engine.image(f"{reg.host}/library/busybox:musl").id == config_digest(BUSYBOX_MUSL)
    assert engine.image(f"{reg.host}/library/busybox:glibc").id == config_digest(BUSYBOX_GLIBC)


@pytest.mark.parametrize("ref, words", [
    ("{host}/library/nope:1", ["repository library/nope not found"]),
    ("{host}/library/busybox:nope", ["tag nope not found"]),
    ("{host}/Bad Name:x", ["Bad Name"]),
    ("{host}/library/busybox:a:b:c", ["a:b:c"]),
    ("127.0.0.1:1/library/busybox:x", ["cannot reach registry 127.0.0.1:1"]),
])
def test_pull_bad_input_is_one_line(reg, root, ref, words):
    p = berth(root, "pull", ref.format(host=reg.host), check=False)
    assert_one_line_error(p, *words)


# --- faults --------------------------------------------------------------------------------

async def test_registry_dies_mid_pull_then_the_next_pull_resumes(workdir, root, engine):
    from engine.errors import RegistryError
    # layers bigger than what loopback's socket buffers hold in flight (~10 MiB) past the
    # kill: with 12 MiB a fast client sometimes received a whole blob after the kill
    src = build_oci_image(workdir / "layout", "big", ALPINE_ROOTFS, (24 << 20, 24 << 20))
    with registry() as r:
        r.skopeo_copy_in(src, "test/big:1")
        ref = f"{r.host}/test/big:1"
        killed = []

        def progress(msg):
            detail = msg.get("progressDetail") or {}
            current, total = detail.get("current", 0), detail.get("total", 0)
            if not killed and total > 16 << 20 and 0 < current < total:
                killed.append(msg["id"])
                r.kill()

        # The registry dies at the first report of a random layer part-way down, in that
        # blob's own thread (pull_sync calls progress there). It used to die at the first
        # report past 2 MiB, through engine.pull's event loop: that report could be the
        # Alpine layer's (3.7 MiB compressed, all of it in flight when the registry died), or
        # come late on a loaded machine, after a blob was stored and before the other's first
        # byte (CI: no partial left), or after all of them (no error at all).
        with pytest.raises(RegistryError) as err:
            await asyncio.to_thread(engine.pull_sync, ref, progress=progress)
        assert killed
        assert r.host in str(err.value) and "\n" not in str(err.value)
        assert engine.images() == []
        assert os.listdir(os.path.join(root, "layers")) == []     # no layer without an image
        partials = {f: os.path.getsize(os.path.join(root, "tmp", f))
                    for f in os.listdir(os.path.join(root, "tmp")) if f.endswith(".partial")}
        assert partials, "an interrupted blob keeps its bytes for a Range request"

        r.start()
        first: dict[str, int] = {}

        def progress2(msg):
            detail = msg.get("progressDetail")
            if detail and msg["id"] not in first:
                first[msg["id"]] = detail["current"]

        image = await engine.pull(ref, progress=progress2)
        assert image.repo_tags == [ref]
        resumed = [f for f, size in partials.items()
                   if size > 0 and first.get(f.removeprefix("pull-")[:12], 0) > size]
        assert resumed, (partials, first)
        assert not [f for f in os.listdir(os.path.join(root, "tmp")) if f.startswith("pull-")]


async def test_tampered_blob_is_refused_and_nothing_stored(root, engine):
    from engine.errors import IntegrityError
    with registry() as r:
        r.skopeo_copy_in(f"oci-archive:{BUSYBOX_GLIBC}", "test/busybox:1")
        _, body = oci_archive_manifest(BUSYBOX_GLIBC)
        layer = json.loads(body)["layers"][0]["digest"]
        path = r.blob_data(layer)
        data = bytearray(path.read_bytes())
        data[1000] ^= 0x55
        path.write_bytes(bytes(data))
        with pytest.raises(IntegrityError, match="does not match its digest"):
            await engine.pull(f"{r.host}/test/busybox:1")
        assert engine.images() == []
        assert os.listdir(os.path.join(root, "layers")) == []
        assert not os.path.exists(os.path.join(root, "blobs", "sha256", layer[7:]))
        assert not [f for f in os.listdir(os.path.join(root, "tmp")) if f.startswith("pull-")]
        p = berth(root, "pull", f"{r.host}/test/busybox:1", check=False)
        assert_one_line_error(p, "does not match its digest")


# --- login, token auth, TLS ------------------------------------------------------------------

def test_login_then_pull_from_a_token_registry(alpine_src, root, auth_file, engine):
    with registry(auth="token", anonymous_pull=False) as r:
        r.skopeo_copy_in(alpine_src, "library/alpine:3.20")
        ref = f"{r.host}/library/alpine:3.20"
        assert_one_line_error(berth(root, "pull", ref, check=False), "berth login")
        p = berth(root, "login", "-u", USER, "--password-stdin", r.host, input="wrong\n",
                  check=False)
        assert_one_line_error(p, "wrong username or password")
        assert not os.path.exists(auth_file)
        p = berth(root, "login", "-u", USER, "--password-stdin", r.host, input=PASSWORD + "\n")
        assert "Login Succeeded" in p.stdout
        assert stat.S_IMODE(os.stat(auth_file).st_mode) == 0o600
        import base64
        saved = json.load(open(auth_file))["auths"][r.host]["auth"]
        assert base64.b64decode(saved).decode() == f"{USER}:{PASSWORD}"

        p = berth(root, "pull", ref)
        assert p.stdout.splitlines()[-1] == ref
        assert {"user": USER, "scopes": ["repository:library/alpine:pull"]} in r.token.issued
        out = berth(root, "run", "--rm", "--network", "none", ref, "cat", "/etc/alpine-release")
        assert out.stdout.strip() == "3.20.3"

        assert f"Removing login credentials for {r.host}" in berth(root, "logout", r.host).stdout
        assert r.host not in json.load(open(auth_file))["auths"]
        assert "Not logged in" in berth(root, "logout", r.host).stdout
        berth(root, "rmi", ref, check=False)
        assert_one_line_error(berth(root, "pull", ref, check=False), "berth login")


def test_basic_auth_login_and_tls(root, monkeypatch, workdir):
    with registry(auth="htpasswd", tls=True) as r:
        r.skopeo_copy_in(f"oci-archive:{BUSYBOX_MUSL}", "library/busybox:musl")
        certs = workdir / "certs.d"
        monkeypatch.setenv("BERTH_CERTS_DIR", str(certs))
        p = berth(root, "login", "-u", USER, "--password-stdin", r.host, input=PASSWORD,
                  check=False)
        assert_one_line_error(p, "not trusted", f"{r.host}/ca.crt")
        (certs / r.host).mkdir(parents=True)
        shutil.copy(r.cert, certs / r.host / "ca.crt")
        assert "Login Succeeded" in berth(root, "login", "-u", USER, "--password-stdin", r.host,
                                          input=PASSWORD).stdout
        berth(root, "pull", "-q", f"{r.host}/library/busybox:musl")
        shutil.rmtree(certs / r.host)
        # --tls-verify=false: the certificate is no longer checked
        berth(root, "pull", "-q", "--tls-verify=false", f"{r.host}/library/busybox:musl")


# --- push and search ---------------------------------------------------------------------------

def _local_image(root, reg, target):
    """An image in the root to push: imported from the Alpine rootfs when `berth import` exists,
    else pulled from the test registry and tagged."""
    p = berth(root, "import", str(ALPINE_ROOTFS), target, check=False)
    if p.returncode == 0:
        return "import"
    berth(root, "pull", "-q", f"{reg.host}/library/busybox:musl")
    berth(root, "tag", f"{reg.host}/library/busybox:musl", target)
    return "pull"


def test_push_then_skopeo_inspects_it(reg, root, engine, monkeypatch):
    target = f"{reg.host}/pushed/alpine:imported"
    how = _local_image(root, reg, target)
    monkeypatch.setenv("BERTH_PUSH_CHUNK_SIZE", str(512 * 1024))    # chunked uploads too
    p = berth(root, "push", target)
    assert p.stdout.splitlines()[0] == f"The push refers to repository [{reg.host}/pushed/alpine]"
    assert "Pushed" in p.stdout or how == "pull"
    last = p.stdout.splitlines()[-1]
    assert last.startswith("imported: digest: sha256:"), p.stdout
    digest = last.split()[2]
    info = reg.skopeo_inspect("pushed/alpine:imported")
    assert info["Digest"] == digest
    image = engine.image(target)
    assert info["Layers"] == image.layers
    assert f"{reg.host}/pushed/alpine@{digest}" in image.repo_digests
    # what berth pushed, skopeo copies out whole (every blob checked against its digest)
    out = Path(root) / "skopeo-out"
    run_skopeo(["copy", "--src-tls-verify=false", f"docker://{target}", f"dir:{out}"])
    assert (out / "manifest.json").exists()

    # a second push: every blob is already there
    again = berth(root, "push", target).stdout
    assert "Layer already exists" in again and "Pushed" not in again
    # another repository of the same registry: blobs mounted, not uploaded
    other = f"{reg.host}/other/alpine:copy"
    berth(root, "tag", target, other)
    p = berth(root, "push", other)
    assert "Mounted from pushed/alpine" in p.stdout, p.stdout
    assert reg.skopeo_inspect("other/alpine:copy")["Digest"] == digest
    # podman's form: push IMAGE DESTINATION, with no tag made locally
    third = f"{reg.host}/third/alpine:dest"
    assert berth(root, "push", "-q", target, third).stdout.strip() == digest
    assert reg.skopeo_inspect("third/alpine:dest")["Digest"] == digest
    assert third not in engine.image(target).repo_tags


def test_push_needs_login_on_a_token_registry(reg, root):
    with registry(auth="token", anonymous_pull=True) as r:
        berth(root, "pull", "-q", f"{reg.host}/library/busybox:musl")
        target = f"{r.host}/mine/busybox:1"
        berth(root, "tag", f"{reg.host}/library/busybox:musl", target)
        assert_one_line_error(berth(root, "push", target, check=False), "berth login")
        berth(root, "login", "-u", USER, "--password-stdin", r.host, input=PASSWORD)
        digest = berth(root, "push", "-q", target).stdout.strip()
        assert r.skopeo_inspect("mine/busybox:1")["Digest"] == digest


def test_search_the_catalog(reg, root):
    p = berth(root, "search", f"{reg.host}/busy")
    lines = p.stdout.splitlines()
    assert lines[0].split() == ["NAME", "DESCRIPTION", "STARS", "OFFICIAL"]
    assert [line.split()[0] for line in lines[1:]] == [f"{reg.host}/library/busybox"]
    p = berth(root, "search", "--limit", "1", f"{reg.host}/library")
    assert len(p.stdout.splitlines()) == 2
    # the registry alone, as the README shows it: everything it has, never Docker Hub
    # (other tests of this module push to the same registry: what they pushed may be listed too)
    p = berth(root, "search", f"{reg.host}/")
    names = {line.split()[0] for line in p.stdout.splitlines()[1:]}
    assert {f"{reg.host}/library/{n}" for n in ("alpine", "busybox", "multi")} <= names
    assert all(n.startswith(f"{reg.host}/") for n in names), names


async def test_wrong_diff_id_is_refused(root, engine):
    """A config whose diff_ids do not describe its layers (the layer blob itself is intact)."""
    import hashlib
    import tarfile

    from engine.errors import IntegrityError
    from engine.images.registry_client import RegistryClient
    _, body = oci_archive_manifest(BUSYBOX_MUSL)
    manifest = json.loads(body)
    with tarfile.open(BUSYBOX_MUSL) as tf:
        def blob(d):
            return tf.extractfile(f"blobs/sha256/{d.partition(':')[2]}").read()
        config = json.loads(blob(manifest["config"]["digest"]))
        layer = blob(manifest["layers"][0]["digest"])
    config["rootfs"]["diff_ids"] = ["sha256:" + "ab" * 32]
    config_bytes = json.dumps(config).encode()
    config_digest = "sha256:" + hashlib.sha256(config_bytes).hexdigest()
    manifest["config"] = {**manifest["config"], "digest": config_digest,
                          "size": len(config_bytes)}
    with registry() as r:
        with RegistryClient(r.host) as c:
            for digest, data in ((config_digest, config_bytes),
                                 (manifest["layers"][0]["digest"], layer)):
                path = os.path.join(root, "tmp", "upload")
                Path(path).write_bytes(data)
                c.upload_blob("test/lying", digest, path, len(data))
            c.put_manifest("test/lying", "1", json.dumps(manifest).encode(),
                           manifest["mediaType"])
        with pytest.raises(IntegrityError, match="diff_id"):
            await engine.pull(f"{r.host}/test/lying:1")
        assert engine.images() == []
        assert os.listdir(os.path.join(root, "layers")) == []


@pytest.mark.parametrize("buffer", [0, 1000])
async def test_layers_unpack_from_the_store_when_streaming_is_off_or_falls_behind(
        reg, root, engine, monkeypatch, buffer):
    """0 turns unpacking-while-downloading off; a tiny buffer makes the feed give up at the
    first chunk. Either way the layer is unpacked from the verified blob."""
    from engine.images import pull as client
    monkeypatch.setattr(client, "STREAM_BUFFER", buffer)
    image = await engine.pull(f"{reg.host}/library/alpine:3.20")
    dirs = engine.image_layer_dirs(image)
    assert len(dirs) == 1
    with open(os.path.join(dirs[0], "etc", "alpine-release")) as f:
        assert f.read().strip() == "3.20.3"
    assert not [f for f in os.listdir(os.path.join(root, "tmp")) if f.startswith(("pull-", "layer-"))]


def test_pull_without_a_tag_uses_latest(reg, root):
    p = berth(root, "pull", f"{reg.host}/library/busybox", check=False)
    assert p.stdout == "Using default tag: latest\n"
    assert_one_line_error(p, "tag latest not found")


def test_two_pulls_of_the_same_image_at_once(reg, root, engine):
    import subprocess
    ref = f"{reg.host}/library/alpine:3.20"
    env = {**os.environ, "BERTH_ROOT": root}
    procs = [subprocess.Popen([*BERTH, "pull", "-q", ref], cwd=REPO, env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for _ in range(2)]
    results = [p.communicate(timeout=60) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], results
    assert engine.image(ref).repo_tags == [ref]
    assert not [f for f in os.listdir(os.path.join(root, "tmp")) if f.startswith("pull-")]


async def test_pull_docker_schema2_and_a_docker_manifest_list(root, engine):
    from engine.images.manifests import DOCKER_LIST, DOCKER_MANIFEST
    from engine.images.registry_client import RegistryClient
    with registry() as r:
        r.skopeo_copy_in(f"oci-archive:{BUSYBOX_MUSL}", "test/docker:musl", "--format", "v2s2")
        r.skopeo_copy_in(f"oci-archive:{BUSYBOX_GLIBC}", "test/docker:glibc", "--format", "v2s2")
        entries = []
        with RegistryClient(r.host) as c:
            for tag, arch in (("musl", "amd64"), ("glibc", "arm64")):
                body, media_type, digest = c.get_manifest("test/docker", tag)
                assert media_type == DOCKER_MANIFEST
                entries.append({"mediaType": media_type, "digest": digest, "size": len(body),
                                "platform": {"architecture": arch, "os": "linux"}})
            listing = json.dumps({"schemaVersion": 2, "mediaType": DOCKER_LIST,
                                  "manifests": entries}).encode()
            list_digest = c.put_manifest("test/docker", "list", listing, DOCKER_LIST)
        ref = f"{r.host}/test/docker:list"
        image = await engine.pull(ref)
        assert image.id == config_digest(BUSYBOX_MUSL)
        assert image.repo_digests == [f"{r.host}/test/docker@{list_digest}"]
        image = await engine.pull(ref, platform="linux/arm64")
        assert image.id == config_digest(BUSYBOX_GLIBC)
        assert engine.image(ref).id == config_digest(BUSYBOX_GLIBC)
        plain = await engine.pull(f"{r.host}/test/docker:musl")
        assert plain.layer_media_types == [
            "application/vnd.docker.image.rootfs.diff.tar.gzip"]


async def test_pull_zstd_layers(root, engine):
    with registry() as r:
        r.skopeo_copy_in(f"oci-archive:{BUSYBOX_MUSL}", "test/comp:1", "--dest-compress",
                         "--dest-compress-format", "zstd")
        image = await engine.pull(f"{r.host}/test/comp:1")
        assert image.layer_media_types == ["application/vnd.oci.image.layer.v1.tar+zstd"]
        assert image.id == config_digest(BUSYBOX_MUSL)
        (diff,) = engine.image_layer_dirs(image)
        assert os.path.exists(os.path.join(diff, "bin", "busybox"))


async def test_pull_uncompressed_layers(root, engine):
    """A layer pushed as a plain tar (its blob digest is then its diff_id)."""
    import gzip
    import hashlib
    import tarfile

    from engine.images.registry_client import RegistryClient
    _, body = oci_archive_manifest(BUSYBOX_MUSL)
    manifest = json.loads(body)
    with tarfile.open(BUSYBOX_MUSL) as tf:
        def blob(d):
            return tf.extractfile(f"blobs/sha256/{d.partition(':')[2]}").read()
        config = blob(manifest["config"]["digest"])
        plain = gzip.decompress(blob(manifest["layers"][0]["digest"]))
    digest = "sha256:" + hashlib.sha256(plain).hexdigest()
    manifest["layers"] = [{"mediaType": "application/vnd.oci.image.layer.v1.tar",
                           "digest": digest, "size": len(plain)}]
    with registry() as r:
        with RegistryClient(r.host) as c:
            for d, data in ((manifest["config"]["digest"], config), (digest, plain)):
                path = os.path.join(root, "tmp", "upload")
                Path(path).write_bytes(data)
                c.upload_blob("test/plain", d, path, len(data))
            c.put_manifest("test/plain", "1", json.dumps(manifest).encode(),
                           manifest["mediaType"])
        image = await engine.pull(f"{r.host}/test/plain:1")
        assert image.layer_media_types == ["application/vnd.oci.image.layer.v1.tar"]
        assert image.id == config_digest(BUSYBOX_MUSL)
        (diff,) = engine.image_layer_dirs(image)
        assert os.path.exists(os.path.join(diff, "bin", "busybox"))
