"""The same Dockerfile built by berth and by Debian's buildah (chroot isolation, its storage
under the test's own tmp dir) gives images with the same config (env, user, workdir,
entrypoint, cmd, labels, exposed ports, volumes, healthcheck) and the same files (modes,
owners, links, contents)."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import stat
import subprocess
import tarfile

from build_support import build, build_root, write_tree  # noqa: F401
from helpers import BUSYBOX_MUSL, berth

DOCKERFILE = """ARG BASE
FROM $BASE AS base
ENV APP=/app MODE=test
WORKDIR $APP
COPY files/ ./files/
COPY --chown=12:34 one.txt ./owned.txt
COPY --chmod=600 one.txt ./private.txt
COPY one.txt two.txt ./multi/
RUN echo run > run.txt && ln -s run.txt link && mkdir -p /opt/made && chmod 750 /opt/made \\
    && touch /opt/made/f && chown 5:6 /opt/made/f && rm -f /etc/motd-none
ADD archive.tar /opt/archive/
FROM $BASE
COPY --from=base /app /app
COPY --from=base /opt /opt
USER 1000:1000
WORKDIR /app/files
EXPOSE 8080 53/udp
VOLUME ["/data"]
LABEL org.example.a="one" org.example.b="two words"
HEALTHCHECK --interval=5s --timeout=3s --retries=2 CMD test -f /app/run.txt
STOPSIGNAL SIGINT
ENTRYPOINT ["/bin/sh", "-c"]
CMD ["cat /app/run.txt"]
"""



def _archive() -> bytes:
    import io
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as t:
        data = b"in the archive\n"
        info = tarfile.TarInfo("sub/file.txt")
        info.size, info.mode, info.uid, info.gid = len(data), 0o640, 7, 8
        t.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def _entry(kind: str, mode: int, uid: int, gid: int, extra: str) -> tuple:
    return (kind, oct(mode), uid, gid, extra)


def _tree_of_dir(top: str, subtrees: tuple[str, ...]) -> dict[str, tuple]:
    out = {}
    for sub in subtrees:
        for dirpath, dirs, files in os.walk(top + sub):
            for name in [*dirs, *files, ""]:
                path = os.path.join(dirpath, name) if name else dirpath
                st = os.lstat(path)
                rel = "/" + os.path.relpath(path, top)
                if stat.S_ISLNK(st.st_mode):
                    e = _entry("l", 0, st.st_uid, st.st_gid, os.readlink(path))
                elif stat.S_ISDIR(st.st_mode):
                    e = _entry("d", stat.S_IMODE(st.st_mode), st.st_uid, st.st_gid, "")
                else:
                    with open(path, "rb") as f:
                        digest = hashlib.sha256(f.read()).hexdigest()
                    e = _entry("f", stat.S_IMODE(st.st_mode), st.st_uid, st.st_gid, digest)
                out[rel] = e
    return out


def _tree_of_tar(path: str, subtrees: tuple[str, ...]) -> dict[str, tuple]:
    out = {}
    with tarfile.open(path) as t:
        for m in t:
            rel = "/" + m.name.strip("./").rstrip("/")
            if not any(rel == s or rel.startswith(s + "/") for s in subtrees):
                continue
            if m.issym():
                e = _entry("l", 0, m.uid, m.gid, m.linkname)
            elif m.isdir():
                e = _entry("d", m.mode & 0o7777, m.uid, m.gid, "")
            else:
                e = _entry("f", m.mode & 0o7777, m.uid, m.gid,
                           hashlib.sha256(t.extractfile(m).read()).hexdigest())
            out[rel] = e
    return out


def _config_subset(c: dict) -> dict:
    keys = ("Env", "User", "WorkingDir", "Entrypoint", "Cmd", "Labels", "ExposedPorts",
            "Volumes", "Healthcheck", "StopSignal")
    out = {k: c.get(k) or None for k in keys}
    out["Env"] = sorted(out["Env"] or [])
    return out


def test_berth_and_buildah_build_the_same_image(build_root, tmp_path):
    ctx = write_tree(str(tmp_path / "ctx"), {
        "Dockerfile": DOCKERFILE, "files/a.txt": ("a\n", 0o644),
        "files/x.sh": ("#!/bin/sh\n", 0o755), "files/deep/b.txt": "b\n",
        "files/rel-link": ("->", "a.txt"), "one.txt": "1\n", "two.txt": "2\n",
        "archive.tar": _archive()})
    build(build_root, ctx, "--build-arg", "BASE=busybox:1.38.0-musl", "-t", "cmp:berth")
    berth_cfg = json.loads(berth(build_root, "image", "inspect", "cmp:berth").stdout)[0]["Config"]
    cid = berth(build_root, "create", "cmp:berth").stdout.strip()
    exported = str(tmp_path / "berth.tar")
    berth(build_root, "export", "-o", exported, cid)
    berth(build_root, "rm", cid)

    store = tmp_path / "buildah"
    bah = ["buildah", "--root", str(store / "root"), "--runroot", str(store / "run"),
           "--storage-driver", "vfs"]
    try:
        subprocess.run([*bah, "bud", "--isolation", "chroot", "--format", "docker",
                        "--build-arg", f"BASE=oci-archive:{BUSYBOX_MUSL}", "-t", "cmp:buildah",
                        ctx], check=True, capture_output=True, timeout=300)
        info = json.loads(subprocess.run([*bah, "inspect", "--type", "image", "cmp:buildah"],
                                         check=True, capture_output=True).stdout)
        ctr = subprocess.run([*bah, "from", "--pull-never", "cmp:buildah"], check=True,
                             capture_output=True, text=True).stdout.strip()
        mnt = subprocess.run([*bah, "mount", ctr], check=True, capture_output=True,
                             text=True).stdout.strip()
        theirs = _tree_of_dir(mnt, ("/app", "/opt"))
        subprocess.run([*bah, "umount", ctr], capture_output=True)
        subprocess.run([*bah, "rm", ctr], capture_output=True)
    finally:
        subprocess.run([*bah, "rmi", "--all", "--force"], capture_output=True)
        shutil.rmtree(store, ignore_errors=True)

    theirs_cfg = dict(info["Docker"]["config"])
    theirs_cfg["Labels"] = {k: v for k, v in (theirs_cfg.get("Labels") or {}).items()
                            if k != "io.buildah.version"}   # buildah's own
    assert _config_subset(berth_cfg) == _config_subset(theirs_cfg)
    ours = _tree_of_tar(exported, ("/app", "/opt"))
    assert ours == theirs
    assert ours["/app/owned.txt"][2:4] == (12, 34) and ours["/app/private.txt"][1] == "0o600"
