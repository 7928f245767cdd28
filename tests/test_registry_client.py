"""The distribution protocol against a real docker-registry: auth schemes, TLS, manifests and
platform choice, digest checks, Range resumption, retries, redirects and uploads."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tarfile
import tempfile

import pytest

from helpers import BUSYBOX_GLIBC, BUSYBOX_MUSL
from registry_server import FaultProxy, oci_archive_manifest, push_multiplatform, registry

from engine.errors import AuthError, IntegrityError, NotFound, RegistryError
from engine.images.manifests import OCI_INDEX, choose_manifest, parse_platform
from engine.images.registry_client import RegistryClient

USER, PASSWORD = "alice", "wonderland"


@pytest.fixture(scope="module")
def anon():
    with registry() as r:
        push_multiplatform(r, "library/multi", "latest", BUSYBOX_MUSL, BUSYBOX_GLIBC)
        r.skopeo_copy_in(f"oci-archive:{BUSYBOX_MUSL}", "library/busybox:musl")
        yield r


@pytest.fixture
def tmp():
    d = tempfile.mkdtemp(prefix="berth-regclient-", dir="/var/tmp")
    try:
        yield d
    finally:
        shutil.rmtree(d, ignore_errors=True)


def archive_blob(archive, digest) -> bytes:
    with tarfile.open(archive) as tf:
        return tf.extractfile(f"blobs/sha256/{digest.partition(':')[2]}").read()


def fetch_all(client, repo, ref, want="linux/amd64", tmpdir="/var/tmp"):
    """Manifest (through the index when there is one) and every blob; returns digests."""
    body, mt, digest = client.get_manifest(repo, ref)
    if mt == OCI_INDEX:
        desc = choose_manifest(json.loads(body), parse_platform(want))
        body, mt, digest = client.get_manifest(repo, desc["digest"])
    m = json.loads(body)
    got = []
    for d in [m["config"], *m["layers"]]:
        path = client.fetch_blob(repo, d["digest"], d["size"],
                                 os.path.join(tmpdir, d["digest"][7:]))
        with open(path, "rb") as f:
            assert "sha256:" + hashlib.sha256(f.read()).hexdigest() == d["digest"]
        got.append(d["digest"])
    return digest, got


def test_index_platform_choice(anon, tmp):
    musl, _ = oci_archive_manifest(BUSYBOX_MUSL)
    glibc, _ = oci_archive_manifest(BUSYBOX_GLIBC)
    with RegistryClient(anon.host) as c:
        assert c.base.startswith("http://")          # loopback without TLS falls back to http
        assert (fetch_all(c, "library/multi", "latest", "linux/amd64", tmp))[0] == musl
        assert (fetch_all(c, "library/multi", "latest", "linux/arm64", tmp))[0] == glibc
        assert (fetch_all(c, "library/multi", "latest", "linux/arm64/v8", tmp))[0] == glibc
        body, _, _ = c.get_manifest("library/multi", "latest")
    with pytest.raises(NotFound, match=r"linux/s390x.*linux/amd64, linux/arm64/v8"):
        choose_manifest(json.loads(body), parse_platform("linux/s390x"))


def test_unknown_repository_and_tag(anon):
    with RegistryClient(anon.host) as c:
        with pytest.raises(NotFound, match="repository library/nope not found"):
            c.get_manifest("library/nope", "latest")
        with pytest.raises(NotFound, match="tag nope not found in 127.0.0.1:[0-9]+/library/busybox"):
            c.get_manifest("library/busybox", "nope")


def test_unreachable_registry():
    from registry_server import free_port
    with pytest.raises(RegistryError, match="cannot reach registry 127.0.0.1"):
        with RegistryClient(f"127.0.0.1:{free_port()}"):
            pass


def test_range_resume_continues_a_partial_blob(anon, tmp):
    musl, body = oci_archive_manifest(BUSYBOX_MUSL)
    layer = json.loads(body)["layers"][0]
    data = archive_blob(BUSYBOX_MUSL, layer["digest"])
    partial = os.path.join(tmp, "partial")
    half = len(data) // 2
    with open(partial, "wb") as f:
        f.write(data[:half])
    seen = []
    with FaultProxy(anon) as proxy:
        with RegistryClient(proxy.host) as c:
            c.fetch_blob("library/busybox", layer["digest"], layer["size"], partial,
                         lambda cur, tot: seen.append(cur))
    assert [r for r in proxy.requests if "/blobs/" in r[1]] == \
        [("GET", f"/v2/library/busybox/blobs/{layer['digest']}", f"bytes={half}-")]
    assert seen[0] > half
    with open(partial, "rb") as f:
        assert f.read() == data


def test_junk_partial_is_thrown_away(anon, tmp):
    _, body = oci_archive_manifest(BUSYBOX_MUSL)
    layer = json.loads(body)["layers"][0]
    partial = os.path.join(tmp, "partial")
    with open(partial, "wb") as f:
        f.write(b"\0" * 1000)
    with RegistryClient(anon.host) as c:
        c.fetch_blob("library/busybox", layer["digest"], layer["size"], partial)
    with open(partial, "rb") as f:
        assert f.read() == archive_blob(BUSYBOX_MUSL, layer["digest"])


def test_cut_connection_is_resumed_with_range(anon, tmp):
    _, body = oci_archive_manifest(BUSYBOX_MUSL)
    layer = json.loads(body)["layers"][0]
    with FaultProxy(anon, cut_after=100_000) as proxy:
        with RegistryClient(proxy.host) as c:
            c.fetch_blob("library/busybox", layer["digest"], layer["size"],
                         os.path.join(tmp, "p"))
    ranges = [r[2] for r in proxy.requests if "/blobs/" in r[1]]
    assert ranges[0] == "" and ranges[-1].startswith("bytes=") and \
        int(ranges[-1][6:-1]) >= 100_000 - 65536, ranges


def test_5xx_and_429_are_retried(anon, tmp):
    for status in (503, 429):
        with FaultProxy(anon, fail_first=2, fail_status=status) as proxy:
            with RegistryClient(proxy.host) as c:
                fetch_all(c, "library/busybox", "musl", tmpdir=tmp)
        assert proxy.fail_first == 0


def test_persistent_5xx_is_an_error(anon):
    with FaultProxy(anon, fail_first=100) as proxy:
        with RegistryClient(proxy.host) as c:
            with pytest.raises(RegistryError, match="HTTP 503"):
                c.get_manifest("library/busybox", "musl")


def test_blob_redirects_are_followed(anon, tmp):
    with FaultProxy(anon, redirect_blobs=True) as proxy:
        with RegistryClient(proxy.host) as c:
            fetch_all(c, "library/busybox", "musl", tmpdir=tmp)
    assert any("/blobs/" in r[1] for r in proxy.requests)


def test_tampered_blob_and_manifest_are_refused(tmp):
    with registry() as r:
        r.skopeo_copy_in(f"oci-archive:{BUSYBOX_MUSL}", "library/busybox:musl")
        digest, body = oci_archive_manifest(BUSYBOX_MUSL)
        layer = json.loads(body)["layers"][0]
        path = r.blob_data(layer["digest"])
        data = bytearray(path.read_bytes())
        data[len(data) // 2] ^= 0xFF
        path.write_bytes(bytes(data))
        partial = os.path.join(tmp, "p")
        with RegistryClient(r.host) as c:
            with pytest.raises(IntegrityError, match="does not match its digest"):
                c.fetch_blob("library/busybox", layer["digest"], layer["size"], partial)
            assert not os.path.exists(partial)
            m = r.blob_data(digest)
            m.write_bytes(m.read_bytes().replace(b'"schemaVersion"', b'"schemaVersion" '))
            with pytest.raises(IntegrityError, match="manifest"):
                c.get_manifest("library/busybox", "musl")
            with pytest.raises(IntegrityError, match="manifest"):
                c.get_manifest("library/busybox", digest)


def test_basic_auth():
    with registry(auth="htpasswd") as r:
        r.skopeo_copy_in(f"oci-archive:{BUSYBOX_MUSL}", "library/busybox:musl")
        with RegistryClient(r.host) as c:
            assert c._challenge[0] == "basic"
            with pytest.raises(AuthError, match="requires a login"):
                c.get_manifest("library/busybox", "musl")
        with RegistryClient(r.host, (USER, "wrong")) as c:
            with pytest.raises(AuthError, match="wrong username or password"):
                c.get_manifest("library/busybox", "musl")
        with RegistryClient(r.host, (USER, PASSWORD)) as c:
            c.get_manifest("library/busybox", "musl")


def test_tls_with_certs_d(tmp, monkeypatch):
    with registry(tls=True) as r:
        r.skopeo_copy_in(f"oci-archive:{BUSYBOX_MUSL}", "library/busybox:musl")
        monkeypatch.setenv("BERTH_CERTS_DIR", tmp)
        with pytest.raises(RegistryError, match=f"not trusted.*{r.host}/ca.crt"):
            with RegistryClient(r.host):
                pass
        with RegistryClient(r.host, insecure=True) as c:
            assert c.base.startswith("https://")
            c.get_manifest("library/busybox", "musl")
        os.makedirs(os.path.join(tmp, r.host))
        shutil.copy(r.cert, os.path.join(tmp, r.host, "ca.crt"))
        with RegistryClient(r.host) as c:
            assert c.base.startswith("https://")
            fetch_all(c, "library/busybox", "musl", tmpdir=tmp)


def test_token_auth_flow(tmp):
    with registry(auth="token", anonymous_pull=False) as r:
        r.skopeo_copy_in(f"oci-archive:{BUSYBOX_MUSL}", "library/busybox:musl")
        with RegistryClient(r.host) as c:
            assert c._challenge[0] == "bearer"
            with pytest.raises(AuthError, match="requires a login"):
                c.get_manifest("library/busybox", "musl")
        with RegistryClient(r.host, (USER, "wrong")) as c:
            with pytest.raises(AuthError, match="wrong username or password"):
                c.get_manifest("library/busybox", "musl")
        issued = len(r.token.issued)
        with RegistryClient(r.host, (USER, PASSWORD)) as c:
            fetch_all(c, "library/busybox", "musl", tmpdir=tmp)
            # one token for the repository's pull scope, reused for manifest and blobs
            assert c.tokens_fetched == 1
            assert r.token.issued[issued:] == [
                {"user": USER, "scopes": ["repository:library/busybox:pull"]}]
            # an expired token is not reused
            for k, (tok, _) in list(c._tokens.items()):
                c._tokens[k] = (tok, 0.0)
            c.get_manifest("library/busybox", "musl")
            assert c.tokens_fetched == 2


def test_anonymous_token_flow(tmp):
    with registry(auth="token", anonymous_pull=True) as r:
        r.skopeo_copy_in(f"oci-archive:{BUSYBOX_MUSL}", "library/busybox:musl")
        with RegistryClient(r.host) as c:
            fetch_all(c, "library/busybox", "musl", tmpdir=tmp)
        assert r.token.issued[-1]["user"] is None


@pytest.mark.parametrize("chunk", [1 << 30, 300_000])
def test_upload_monolithic_chunked_and_mount(anon, chunk, tmp):
    from registry_server import run_skopeo
    digest, body = oci_archive_manifest(BUSYBOX_GLIBC)
    m = json.loads(body)
    repo = f"pushed/chunk{chunk}"
    with RegistryClient(anon.host) as c:
        for d in [m["config"], *m["layers"]]:
            path = os.path.join(tmp, d["digest"][7:])
            with open(path, "wb") as f:
                f.write(archive_blob(BUSYBOX_GLIBC, d["digest"]))
            assert not c.blob_exists(repo, d["digest"])
            c.upload_blob(repo, d["digest"], path, d["size"], chunk_size=chunk)
            assert c.blob_exists(repo, d["digest"])
        got = c.put_manifest(repo, "v1", body, m["mediaType"])
        assert got == digest
        # the same blobs linked into another repository without uploading them again
        for d in [m["config"], *m["layers"]]:
            assert c.mount_blob(f"{repo}-mounted", d["digest"], repo)
        c.put_manifest(f"{repo}-mounted", "v1", body, m["mediaType"])
    for name in (repo, f"{repo}-mounted"):
        out = json.loads(run_skopeo(["inspect", "--tls-verify=false",
                                     f"docker://{anon.host}/{name}:v1"]))
        assert out["Digest"] == digest
