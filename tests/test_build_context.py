"""Build contexts onto disk (engine/build/context.py): tars in every compression, hostile tars
refused, a Dockerfile alone on stdin, ``-f -``, URLs served by a local http server in the test,
local git repositories with ``#ref:subdir``. No containers."""

from __future__ import annotations

import bz2
import gzip
import http.server
import io
import lzma
import os
import subprocess
import tarfile
import threading

import pytest

from engine.build.context import from_source, from_tar, is_git_url
from engine.errors import IntegrityError, InvalidArgument


def make_tar(entries: list[tuple[str, str, object]]) -> bytes:
    """A tar of (name, kind, data): kind "file" (data: bytes), "dir", "symlink"/"link" (data:
    target), "fifo", "chr"; modes as given by a (kind, mode) tuple for kind."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for name, kind, data in entries:
            mode = None
            if isinstance(kind, tuple):
                kind, mode = kind
            info = tarfile.TarInfo(name)
            if kind == "file":
                info.size = len(data)
                info.mode = mode or 0o644
                tar.addfile(info, io.BytesIO(data))
                continue
            info.type = {"dir": tarfile.DIRTYPE, "symlink": tarfile.SYMTYPE,
                         "link": tarfile.LNKTYPE, "fifo": tarfile.FIFOTYPE,
                         "chr": tarfile.CHRTYPE}[kind]
            info.mode = mode or 0o755
            if kind in ("symlink", "link"):
                info.linkname = data
            tar.addfile(info)
    return buf.getvalue()


CONTEXT = [("Dockerfile", "file", b"FROM busybox\nCOPY . /app\n"),
           ("src", ("dir", 0o775), None),
           ("src/run.sh", ("file", 0o4755), b"#!/bin/sh\necho hi\n"),
           ("src/link", "symlink", "/nonexistent/target"),
           ("src/hard", ("link", 0o4755), "src/run.sh")]


@pytest.mark.parametrize("compress", [lambda b: b, gzip.compress, bz2.compress, lzma.compress],
                         ids=["identity", "gzip", "bzip2", "xz"])
def test_from_tar_any_compression_keeps_modes_and_links(tmp_path, compress):
    dest = str(tmp_path / "ctx")
    os.mkdir(dest)
    assert from_tar(io.BytesIO(compress(make_tar(CONTEXT))), dest) == dest
    with open(os.path.join(dest, "Dockerfile")) as f:
        assert f.read().startswith("FROM busybox")
    assert os.stat(os.path.join(dest, "src")).st_mode & 0o7777 == 0o775
    assert os.stat(os.path.join(dest, "src/run.sh")).st_mode & 0o7777 == 0o4755
    assert os.readlink(os.path.join(dest, "src/link")) == "/nonexistent/target"  # as written
    assert os.path.samefile(os.path.join(dest, "src/hard"), os.path.join(dest, "src/run.sh"))


def test_empty_body_is_an_empty_context(tmp_path):
    assert from_tar(io.BytesIO(b""), str(tmp_path)) == str(tmp_path)
    assert os.listdir(tmp_path) == []


@pytest.mark.parametrize("entries", [
    [("../escape", "file", b"x")],
    [("a/../../escape", "file", b"x")],
    [("up", "symlink", "VICTIM_DIR"), ("up/escape", "file", b"x")],
    [("evil", "symlink", "../.."), ("evil/escape", "file", b"x")],
    [("victim", "symlink", "VICTIM"), ("victim", "file", b"overwritten")],
    [("h", ("link", 0o777), "VICTIM")],
    [("h", ("link", 0o777), "../victim")],
    [("d", "dir", None), ("h", ("link", 0o777), "d")],
    [("dev", "chr", None)],
    [("pipe", "fifo", None)],
], ids=["dotdot", "nested-dotdot", "through-abs-symlink", "through-rel-symlink",
        "file-over-symlink", "hardlink-abs", "hardlink-out", "hardlink-dir", "device", "fifo"])
def test_hostile_tars_are_refused(tmp_path, entries):
    # the victim is the test's own file beside the context, never a file of the host
    victim = tmp_path / "victim"
    victim.write_bytes(b"precious")
    victim.chmod(0o600)
    entries = [(n, k, d.replace("VICTIM_DIR", str(tmp_path)).replace("VICTIM", str(victim))
                if isinstance(d, str) else d) for n, k, d in entries]
    dest = tmp_path / "ctx"
    dest.mkdir()
    with pytest.raises(IntegrityError):
        from_tar(io.BytesIO(make_tar(entries)), str(dest))
    assert not (tmp_path / "escape").exists()
    st = victim.stat()
    assert (victim.read_bytes(), st.st_mode & 0o7777, st.st_nlink) == (b"precious", 0o600, 1)


def test_not_a_tar(tmp_path):
    with pytest.raises(InvalidArgument) as e:
        from_tar(io.BytesIO(gzip.compress(b"hello, not a tar" * 100)), str(tmp_path))
    assert "not a valid tar archive" in str(e.value)


def test_directory_in_place_and_missing(tmp_path):
    assert from_source(str(tmp_path), str(tmp_path / "unused")) == (str(tmp_path), None)
    assert not (tmp_path / "unused").exists()
    with pytest.raises(InvalidArgument) as e:
        from_source(str(tmp_path / "nope"), str(tmp_path / "d"))
    assert str(e.value) == f'unable to prepare context: path "{tmp_path / "nope"}" not found'
    (tmp_path / "file").write_text("x")
    with pytest.raises(InvalidArgument) as e:
        from_source(str(tmp_path / "file"), str(tmp_path / "d"))
    assert "context must be a directory" in str(e.value)


def test_stdin_tar_or_dockerfile(tmp_path):
    ctx, text = from_source("-", str(tmp_path / "a"), io.BytesIO(gzip.compress(make_tar(CONTEXT))))
    assert text is None and os.path.isfile(os.path.join(ctx, "src/run.sh"))
    ctx, text = from_source("-", str(tmp_path / "b"), io.BytesIO(b"FROM busybox\nRUN true\n"))
    assert text == "FROM busybox\nRUN true\n" and os.listdir(ctx) == []
    # once decompressed, a first file named like bzip2's magic is a tar's first file
    ctx, text = from_source("-", str(tmp_path / "bz"), io.BytesIO(gzip.compress(make_tar(
        [("BZh9-notes", "file", b"x"), ("Dockerfile", "file", b"FROM x\n")]))))
    assert text is None and sorted(os.listdir(ctx)) == ["BZh9-notes", "Dockerfile"]
    # a gzip-compressed Dockerfile is still a Dockerfile
    ctx, text = from_source("-", str(tmp_path / "c"), io.BytesIO(gzip.compress(b"FROM x\n")))
    assert text == "FROM x\n"


def test_dockerfile_on_stdin_beside_a_directory(tmp_path):
    ctx, text = from_source(str(tmp_path), str(tmp_path / "d"), io.BytesIO(b"FROM scratch\n"),
                            dockerfile="-")
    assert (ctx, text) == (str(tmp_path), "FROM scratch\n")
    with pytest.raises(InvalidArgument) as e:
        from_source("-", str(tmp_path / "d"), io.BytesIO(b""), dockerfile="-")
    assert str(e.value) == ("invalid argument: can't use stdin for both build context and "
                            "dockerfile")


@pytest.fixture
def http_server(tmp_path):
    served = tmp_path / "served"
    served.mkdir()

    class Handler(http.server.SimpleHTTPRequestHandler):
        def __init__(self, *a, **kw):
            super().__init__(*a, directory=str(served), **kw)

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield served, f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


def test_url_of_a_tar_and_of_a_dockerfile(tmp_path, http_server):
    served, base = http_server
    (served / "ctx.tar.gz").write_bytes(gzip.compress(make_tar(CONTEXT)))
    (served / "Dockerfile").write_text("FROM busybox\nCMD [\"true\"]\n")
    ctx, text = from_source(f"{base}/ctx.tar.gz", str(tmp_path / "a"))
    assert text is None and os.path.isfile(os.path.join(ctx, "Dockerfile"))
    ctx, text = from_source(f"{base}/Dockerfile", str(tmp_path / "b"))
    assert text == "FROM busybox\nCMD [\"true\"]\n" and os.listdir(ctx) == []
    with pytest.raises(InvalidArgument) as e:
        from_source(f"{base}/missing.tar", str(tmp_path / "c"))
    assert "unable to download remote context" in str(e.value)


def test_remote_hosts_are_refused(tmp_path):
    for url in ("https://example.com/ctx.tar", "https://github.com/docker/x.git",
                "git@github.com:docker/x.git"):
        with pytest.raises(InvalidArgument) as e:
            from_source(url, str(tmp_path / "d"))
        assert "only from this machine" in str(e.value)


def _git(cwd, *args):
    env = {**os.environ, "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@x",
           "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@x"}
    subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, env=env)


def test_local_git_repository_with_ref_and_subdir(tmp_path):
    repo = tmp_path / "repo"
    (repo / "sub").mkdir(parents=True)
    (repo / "Dockerfile").write_text("FROM busybox\n")
    (repo / "sub" / "Dockerfile").write_text("FROM scratch\n")
    _git(repo, "init", "-q", "-b", "main")
    _git(repo, "add", ".")
    _git(repo, "commit", "-q", "-m", "one")
    _git(repo, "checkout", "-q", "-b", "other")
    (repo / "other.txt").write_text("other")
    _git(repo, "add", ".")
    _git(repo, "commit", "-q", "-m", "two")
    _git(repo, "checkout", "-q", "main")
    url = f"file://{repo}"
    assert is_git_url(url) and is_git_url("https://127.0.0.1/x.git#main")
    ctx, text = from_source(url, str(tmp_path / "a"))
    assert text is None and sorted(os.listdir(ctx)) == [".git", "Dockerfile", "sub"]
    ctx, _ = from_source(f"{url}#other", str(tmp_path / "b"))
    assert os.path.isfile(os.path.join(ctx, "other.txt"))
    ctx, _ = from_source(f"{url}#main:sub", str(tmp_path / "c"))
    assert ctx.endswith("/sub") and os.listdir(ctx) == ["Dockerfile"]
    with pytest.raises(InvalidArgument) as e:
        from_source(f"{url}#main:../..", str(tmp_path / "d"))
    assert "outside the repository" in str(e.value)
    with pytest.raises(InvalidArgument) as e:
        from_source(f"{url}#nosuchref", str(tmp_path / "e"))
    assert "unable to 'git clone'" in str(e.value)


def test_tar_without_trailer_as_the_docker_cli_sends_with_f_dash(tmp_path):
    # Go's tar writer pads the last file and writes the trailer only on Close, which the CLI's
    # -f - path loses: the stream ends right after the last file's bytes
    whole = make_tar([("a", "file", b"first"), ("Dockerfile", "file", b"FROM x\n" * 7)])
    cut = whole[:512 + 512 + 512 + 49]
    dest = tmp_path / "ok"
    from_tar(io.BytesIO(cut), str(dest))
    assert (dest / "Dockerfile").read_bytes() == b"FROM x\n" * 7
    # but a file cut short is an error
    with pytest.raises(InvalidArgument):
        from_tar(io.BytesIO(cut[:-10]), str(tmp_path / "short"))
