"""Layer unpacking: what a tarball holds is what lands in the diff dir, in overlay form, from
plain, gzip, zstd and xz streams; and an Alpine unpacked by berth equals one unpacked by GNU tar."""

from __future__ import annotations

import gzip
import hashlib
import io
import lzma
import os
import stat
import subprocess
import tarfile

import pytest
import zstandard

from helpers import ALPINE_ROOTFS
from engine.images.unpack import unpack_file

MTIME = 1600000000


def _ti(name, **kw) -> tarfile.TarInfo:
    ti = tarfile.TarInfo(name)
    ti.mtime = MTIME
    for k, v in kw.items():
        setattr(ti, k, v)
    return ti


def rich_tar() -> bytes:
    """A tarball with every kind of entry and attribute a layer carries."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as t:
        t.addfile(_ti("./", type=tarfile.DIRTYPE, mode=0o755))
        t.addfile(_ti("bin", type=tarfile.DIRTYPE, mode=0o755, mtime=MTIME + 1))
        data = b"#!/bin/sh\necho hi\n"
        t.addfile(_ti("bin/su", size=len(data), mode=0o4755, uid=1000, gid=1001), io.BytesIO(data))
        t.addfile(_ti("bin/su-again", type=tarfile.LNKTYPE, linkname="bin/su"))
        t.addfile(_ti("bin/sh", type=tarfile.SYMTYPE, linkname="/bin/su", uid=7, gid=8))
        t.addfile(_ti("tmp", type=tarfile.DIRTYPE, mode=0o1777, mtime=MTIME + 2))
        t.addfile(_ti("dev", type=tarfile.DIRTYPE, mode=0o755))
        t.addfile(_ti("dev/null", type=tarfile.CHRTYPE, devmajor=1, devminor=3, mode=0o666))
        t.addfile(_ti("dev/loop9", type=tarfile.BLKTYPE, devmajor=7, devminor=9, mode=0o660,
                      gid=6))
        t.addfile(_ti("dev/fifo", type=tarfile.FIFOTYPE, mode=0o600))
        x = _ti("caps", size=1, mode=0o755)
        x.pax_headers = {"SCHILY.xattr.user.note": "hello",
                         "SCHILY.xattr.trusted.overlay.redirect": "/etc"}
        t.addfile(x, io.BytesIO(b"c"))
        t.addfile(_ti(".wh.gone", size=0))
        t.addfile(_ti("opaque", type=tarfile.DIRTYPE, mode=0o750))
        t.addfile(_ti("opaque/.wh..wh..opq", size=0))
        t.addfile(_ti("opaque/kept", size=1), io.BytesIO(b"k"))
        t.addfile(_ti("dup", size=3), io.BytesIO(b"old"))
        t.addfile(_ti("dup", size=3), io.BytesIO(b"new"))
        t.addfile(_ti("was-dir", type=tarfile.DIRTYPE))
        t.addfile(_ti("was-dir/child", size=1), io.BytesIO(b"c"))
        t.addfile(_ti("was-dir", size=4), io.BytesIO(b"file"))
        long = "deep/" + "d" * 120 + "/file"
        t.addfile(_ti(long, size=4), io.BytesIO(b"long"))
        t.addfile(_ti("implicit/parent/file", size=2), io.BytesIO(b"ip"))
        t.addfile(_ti(".wh..wh.plnk", type=tarfile.DIRTYPE))
    return buf.getvalue()


def _unpack(data: bytes, dest: str, compress=None):
    raw = compress(data) if compress else data
    return unpack_file(io.BufferedReader(io.BytesIO(raw)), dest)


@pytest.mark.parametrize("compress", [None, gzip.compress, lzma.compress,
                                      lambda d: zstandard.ZstdCompressor().compress(d)],
                         ids=["plain", "gzip", "xz", "zstd"])
def test_every_entry_kind_is_kept(compress, tmp_path):
    data = rich_tar()
    d = str(tmp_path / "diff")
    os.mkdir(d)
    diff_id, size = _unpack(data, d, compress)
    assert diff_id == "sha256:" + hashlib.sha256(data).hexdigest()
    su = os.lstat(f"{d}/bin/su")
    assert stat.S_IMODE(su.st_mode) == 0o4755 and (su.st_uid, su.st_gid) == (1000, 1001)
    assert su.st_mtime == MTIME and su.st_nlink == 2
    assert os.lstat(f"{d}/bin/su-again").st_ino == su.st_ino
    sh = os.lstat(f"{d}/bin/sh")
    assert stat.S_ISLNK(sh.st_mode) and os.readlink(f"{d}/bin/sh") == "/bin/su"
    assert (sh.st_uid, sh.st_gid) == (7, 8) and sh.st_mtime == MTIME
    assert stat.S_IMODE(os.lstat(f"{d}/tmp").st_mode) == 0o1777
    assert os.lstat(f"{d}/tmp").st_mtime == MTIME + 2
    assert os.lstat(f"{d}/bin").st_mtime == MTIME + 1  # set after its children were made
    null = os.lstat(f"{d}/dev/null")
    assert stat.S_ISCHR(null.st_mode) and null.st_rdev == os.makedev(1, 3)
    assert stat.S_IMODE(null.st_mode) == 0o666
    loop = os.lstat(f"{d}/dev/loop9")
    assert stat.S_ISBLK(loop.st_mode) and loop.st_rdev == os.makedev(7, 9) and loop.st_gid == 6
    assert stat.S_ISFIFO(os.lstat(f"{d}/dev/fifo").st_mode)
    assert os.getxattr(f"{d}/caps", "user.note") == b"hello"
    assert "trusted.overlay.redirect" not in os.listxattr(f"{d}/caps")
    gone = os.lstat(f"{d}/gone")
    assert stat.S_ISCHR(gone.st_mode) and gone.st_rdev == 0
    assert not os.path.lexists(f"{d}/.wh.gone")
    assert os.getxattr(f"{d}/opaque", "trusted.overlay.opaque") == b"y"
    assert sorted(os.listdir(f"{d}/opaque")) == ["kept"]
    assert stat.S_IMODE(os.lstat(f"{d}/opaque").st_mode) == 0o750
    assert open(f"{d}/dup", "rb").read() == b"new"
    assert open(f"{d}/was-dir", "rb").read() == b"file"
    assert open(f"{d}/deep/{'d' * 120}/file", "rb").read() == b"long"
    assert open(f"{d}/implicit/parent/file", "rb").read() == b"ip"
    assert not os.path.lexists(f"{d}/.wh..wh.plnk")
    # content of the files that remain, each inode once
    assert size == len(b"#!/bin/sh\necho hi\n") + 1 + 1 + 3 + 4 + 4 + 2


def test_many_directories_and_hardlinks_across_them(tmp_path):
    """More directories than the unpacker keeps open, hardlinks reaching back to early ones."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as t:
        for i in range(600):
            t.addfile(_ti(f"d{i}", type=tarfile.DIRTYPE, mode=0o755))
            t.addfile(_ti(f"d{i}/f", size=len(str(i))), io.BytesIO(str(i).encode()))
        for i in range(600):
            t.addfile(_ti(f"d{599 - i}/link", type=tarfile.LNKTYPE, linkname=f"d{i}/f"))
    d = str(tmp_path / "diff")
    os.mkdir(d)
    _unpack(buf.getvalue(), d)
    for i in range(600):
        assert open(f"{d}/d{599 - i}/link").read() == str(i)
        assert os.stat(f"{d}/d{i}/f").st_nlink == 2


def test_truncated_layer_is_refused(tmp_path):
    from engine.errors import IntegrityError
    data = rich_tar()
    d = str(tmp_path / "diff")
    os.mkdir(d)
    with pytest.raises(IntegrityError, match="truncated"):
        _unpack(data[:1200], d)


@pytest.mark.parametrize("magic", [b"\x1f\x8b", b"\x28\xb5\x2f\xfd", b"\xfd7zXZ\x00"],
                         ids=["gzip", "zstd", "xz"])
def test_corrupt_compressed_stream_is_one_integrity_error(magic, tmp_path):
    from engine.errors import IntegrityError
    d = str(tmp_path / "diff")
    os.mkdir(d)
    with pytest.raises(IntegrityError, match="corrupt") as e:
        _unpack(magic + b"junk" * 100, d)
    assert "\n" not in str(e.value) and str(e.value).count("corrupt") == 1


def test_malformed_pax_value_is_an_integrity_error(tmp_path):
    from engine.errors import IntegrityError
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as t:
        ti = _ti("a")
        ti.pax_headers = {"uid": "abc"}
        t.addfile(ti)
    d = str(tmp_path / "diff")
    os.mkdir(d)
    with pytest.raises(IntegrityError, match="not a valid tar"):
        _unpack(buf.getvalue(), d)


def test_garbage_is_not_a_tar(tmp_path):
    from engine.errors import IntegrityError
    d = str(tmp_path / "diff")
    os.mkdir(d)
    with pytest.raises(IntegrityError, match="not a tar"):
        _unpack(b"hello world, this is not a tarball" * 40, d)


def _tree(root: str) -> dict:
    """Everything a layer keeps, per path (hardlink groups as sets of names)."""
    out, inodes = {}, {}
    for dirpath, dirs, files in os.walk(root):
        for name in dirs + files:
            p = os.path.join(dirpath, name)
            st = os.lstat(p)
            rel = os.path.relpath(p, root)
            entry = (st.st_mode, st.st_uid, st.st_gid, int(st.st_mtime),
                     st.st_size if not stat.S_ISDIR(st.st_mode) else 0, st.st_rdev,
                     os.readlink(p) if stat.S_ISLNK(st.st_mode) else None)
            if stat.S_ISREG(st.st_mode):
                inodes.setdefault(st.st_ino, []).append(rel)
                with open(p, "rb") as f:
                    entry += (hashlib.sha256(f.read()).hexdigest(),)
            out[rel] = entry
    groups = sorted(sorted(g) for g in inodes.values() if len(g) > 1)
    return {"entries": out, "hardlinks": groups}


def test_alpine_unpacks_as_gnu_tar_does(tmp_path):
    mine, theirs = tmp_path / "berth", tmp_path / "tar"
    mine.mkdir()
    theirs.mkdir()
    with open(ALPINE_ROOTFS, "rb") as f:
        unpack_file(f, str(mine))
    subprocess.run(["tar", "-xzf", str(ALPINE_ROOTFS), "-C", str(theirs), "--numeric-owner",
                    "--same-permissions", "--xattrs"], check=True)
    a, b = _tree(str(mine)), _tree(str(theirs))
    assert a["entries"].keys() == b["entries"].keys()
    assert a == b
    assert (mine / "etc" / "alpine-release").read_text().strip() == "3.20.3"
