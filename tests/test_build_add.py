"""COPY and ADD from every kind of source (a local tar extracted, a URL from a server in the
test, globs, several sources, the whole context through .dockerignore, --chown by name,
--chmod), RUN's --mount (cache, bind) and --network, --add-host; and the CLI's context forms
(-f -, a tar on stdin, -q, --iidfile). One build on Alpine, read by the tests."""

from __future__ import annotations

import functools
import hashlib
import http.server
import io
import json
import os
import tarfile
import threading

import pytest

from build_support import build, build_root, run_in, write_tree  # noqa: F401
from helpers import berth

# one root and one build for the module, its tests in order on one worker
pytestmark = pytest.mark.xdist_group("build-add")

DOCKERFILE = """FROM alpine:3.20
ADD files.tar.gz /opt/extracted/
ADD --checksum=sha256:{digest} http://127.0.0.1:{port}/remote.txt /opt/remote/
ADD --chown=nobody:nobody plain.txt /opt/plain.txt
COPY --chown=nobody --chmod=750 tree/ /opt/tree/
COPY one.txt t?o.txt /opt/multi/
COPY . /ctx/
RUN --mount=type=cache,target=/var/cache/t echo run >> /var/cache/t/runs && wc -l < /var/cache/t/runs > /opt/cache-count
RUN --mount=type=bind,source=tree,target=/mnt/tree cat /mnt/tree/t.txt > /opt/bound.txt
RUN --network=none ls /sys/class/net > /opt/netdevs
RUN grep -c myhost /etc/hosts > /opt/hosts-count
"""


REMOTE = "fetched over http\n"
REMOTE_DIGEST = hashlib.sha256(REMOTE.encode()).hexdigest()


def _tarball() -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as t:
        d = tarfile.TarInfo("x")
        d.type, d.mode = tarfile.DIRTYPE, 0o755
        t.addfile(d)
        data = b"from the tar\n"
        f = tarfile.TarInfo("x/y.txt")
        f.size, f.mode, f.uid, f.gid = len(data), 0o700, 42, 42
        t.addfile(f, io.BytesIO(data))
        link = tarfile.TarInfo("x/link")
        link.type, link.linkname = tarfile.SYMTYPE, "y.txt"
        t.addfile(link)
    return buf.getvalue()


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    served = tmp_path_factory.mktemp("served")
    (served / "remote.txt").write_text(REMOTE)
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(served))
    handler.log_message = lambda *a: None
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    t = threading.Thread(target=httpd.serve_forever, daemon=True)
    t.start()
    try:
        yield httpd.server_address[1]
    finally:
        httpd.shutdown()
        httpd.server_close()


@pytest.fixture(scope="module")
def built(build_root, server, tmp_path_factory):
    ctx = write_tree(str(tmp_path_factory.mktemp("ctx")), {
        "Dockerfile": DOCKERFILE.format(port=server, digest=REMOTE_DIGEST),
        ".dockerignore": "*.log\n!keep.log\nsecret/\n",
        "app.log": "excluded\n", "keep.log": "kept\n", "secret/key": "hidden\n",
        "tree/t.txt": "tree file\n", "tree/sub/u.txt": "u\n",
        "one.txt": "1\n", "two.txt": "2\n", "plain.txt": "plain\n",
        "files.tar.gz": _tarball(),
    })
    p = build(build_root, ctx, "-t", "adds:1", "--add-host", "myhost:10.1.2.3")
    return build_root, ctx, p


def test_add_extracts_a_local_tar_and_fetches_a_url(built):
    root, _, _ = built
    out = run_in(root, "adds:1", "cd /opt && stat -c '%n %a %u %g' extracted/x/y.txt "
                 "remote/remote.txt && readlink extracted/x/link && cat extracted/x/y.txt "
                 "remote/remote.txt").splitlines()
    assert out == ["extracted/x/y.txt 700 42 42", "remote/remote.txt 600 0 0", "y.txt",
                   "from the tar", "fetched over http"]


def test_add_refuses_a_url_whose_checksum_differs(build_root, server, tmp_path):
    ctx = write_tree(str(tmp_path), {"Dockerfile": (
        f"FROM busybox\nADD --checksum=sha256:{'0' * 64} http://127.0.0.1:{server}/remote.txt "
        "/r.txt\n")})
    p = build(build_root, ctx, check=False)
    assert p.returncode == 125 and "digest mismatch" in p.stderr
    assert [n for n in os.listdir(os.path.join(build_root, "tmp"))
            if n.startswith("build-")] == []


def test_chown_by_name_chmod_globs_and_several_sources(built):
    root, _, _ = built
    out = run_in(root, "adds:1", "cd /opt && stat -c '%n %a %u %g' plain.txt tree tree/t.txt "
                 "tree/sub tree/sub/u.txt && ls multi").splitlines()
    assert out == ["plain.txt 644 65534 65534", "tree 755 65534 65534",
                   "tree/t.txt 750 65534 65534", "tree/sub 750 65534 65534",
                   "tree/sub/u.txt 750 65534 65534", "one.txt", "two.txt"]


def test_dockerignore_decides_what_copy_sees(built):
    root, _, _ = built
    assert run_in(root, "adds:1", "ls -A /ctx").split() == [
        ".dockerignore", "Dockerfile", "files.tar.gz", "keep.log", "one.txt", "plain.txt",
        "tree", "two.txt"]


def test_run_mounts_network_and_hosts(built):
    root, ctx, _ = built
    out = run_in(root, "adds:1", "cd /opt && cat cache-count bound.txt netdevs hosts-count; "
                 "for p in /var/cache/t /mnt/tree; do test -e $p && echo $p is left; done; true"
                 ).splitlines()
    # the mounts, and the mount points made for them, are not in the image
    assert out == ["1", "tree file", "lo", "1"]
    # the cache mount outlives the build: a rebuild that runs the step again sees its file
    build(root, ctx, "--no-cache", "-t", "adds:2", "--add-host", "myhost:10.1.2.3")
    assert run_in(root, "adds:2", "cat /opt/cache-count") == "2\n"


def test_context_and_dockerfile_from_stdin_quiet_and_iidfile(build_root, tmp_path):
    ctx = write_tree(str(tmp_path / "ctx"), {"a.txt": "from the context\n"})
    iid = str(tmp_path / "iid")
    p = build(build_root, ctx, "-q", "--iidfile", iid, "-f", "-", "-t", "stdin:1",
              input="FROM busybox\nCOPY a.txt /a.txt\n")
    with open(iid) as f:
        image_id = f.read()
    assert p.stdout == image_id + "\n" and image_id.startswith("sha256:")
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as t:
        for name, data in (("Dockerfile", b"FROM busybox\nCOPY b.txt /b.txt\n"),
                           ("b.txt", b"from a tar on stdin\n")):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            t.addfile(info, io.BytesIO(data))
    import subprocess
    from helpers import BERTH, REPO
    p = subprocess.run([*BERTH, "build", "-t", "stdin:2", "-"], input=buf.getvalue(),
                       capture_output=True, cwd=REPO, env={**os.environ, "BERTH_ROOT": build_root},
                       timeout=120)
    assert p.returncode == 0, p.stderr
    assert run_in(build_root, "stdin:2", "cat /b.txt") == "from a tar on stdin\n"
    assert run_in(build_root, "stdin:1", "cat /a.txt") == "from the context\n"
    assert json.loads(berth(build_root, "image", "inspect", "stdin:1").stdout)[0]["Id"] == \
        image_id


def test_saved_layers_unpack_to_their_diff_ids(build_root, tmp_path):
    """A step's blob (gzip with stored blocks where the bytes won't compress) is what any
    gzip reader takes, and unpacks to the layer's diff_id."""
    import gzip
    text = b"".join(b"line %d of some text\n" % i for i in range(50000))
    ctx = write_tree(str(tmp_path / "ctx"), {
        "Dockerfile": "FROM busybox\nCOPY . /d/\nRUN head -c 300000 /dev/urandom > /r\n",
        "random.bin": os.urandom(3 << 20), "text.txt": text, "mixed.bin": os.urandom(1 << 19) + text})
    build(build_root, ctx, "-t", "blobs:1")
    out = str(tmp_path / "img.tar")
    berth(build_root, "save", "-o", out, "blobs:1")   # an OCI layout: the blobs as stored
    with tarfile.open(out) as t:
        def blob(digest):
            return t.extractfile("blobs/sha256/" + digest.partition(":")[2]).read()
        index = json.load(t.extractfile("index.json"))
        manifest = json.loads(blob(index["manifests"][0]["digest"]))
        config = json.loads(blob(manifest["config"]["digest"]))
        diff_ids = config["rootfs"]["diff_ids"]
        for layer, diff_id in zip(manifest["layers"][-2:], diff_ids[-2:]):
            data = blob(layer["digest"])
            assert layer["mediaType"].endswith("+gzip") and data[:2] == b"\x1f\x8b"
            assert "sha256:" + hashlib.sha256(gzip.decompress(data)).hexdigest() == diff_id
