"""A generated corpus of hostile layer tarballs: each case is a tarball that tries to write
outside the directory it is unpacked into (the CVE-2014-9356 / CVE-2018-15664 family and
friends), with the words berth's refusal must contain.

``build(name, outside)`` returns the tar bytes of a case; ``outside`` is an absolute directory
the attack aims at (a test checks it stays empty)."""

from __future__ import annotations

import io
import tarfile

ESCAPE = "escape-marker"


def _tar(entries, fmt=tarfile.PAX_FORMAT) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=fmt) as t:
        for e in entries:
            kind, name = e[0], e[1]
            ti = tarfile.TarInfo(name)
            ti.mtime = 1700000000
            if kind == "file":
                data = e[2] if len(e) > 2 else b"pwned\n"
                ti.size = len(data)
                t.addfile(ti, io.BytesIO(data))
                continue
            if kind == "dir":
                ti.type, ti.mode = tarfile.DIRTYPE, 0o755
            elif kind == "sym":
                ti.type, ti.linkname = tarfile.SYMTYPE, e[2]
            elif kind == "hard":
                ti.type, ti.linkname = tarfile.LNKTYPE, e[2]
            elif kind == "pax-file":
                ti.name = "innocent"
                ti.pax_headers = {"path": name}
                ti.size = 6
                t.addfile(ti, io.BytesIO(b"pwned\n"))
                continue
            t.addfile(ti)
    return buf.getvalue()


def _cases(outside: str) -> dict:
    o = outside.rstrip("/")
    return {
        "dotdot": ([("file", f"../{ESCAPE}")], "'..'"),
        "dotdot-deep": ([("dir", "a"), ("file", f"a/../../../{ESCAPE}")], "'..'"),
        "absolute": ([("file", f"{o}/{ESCAPE}")], "absolute"),
        "symlink-dir-then-file": ([("sym", "link", o), ("file", f"link/{ESCAPE}")], "symlink"),
        "symlink-chain-then-file": ([("sym", "a", "b"), ("sym", "b", o),
                                     ("file", f"a/{ESCAPE}")], "symlink"),
        "symlink-relative-escape": ([("dir", "d"), ("sym", "d/up", "../../../../../../../../.."),
                                     ("file", f"d/up/{ESCAPE}")], "outside"),
        "dir-replaced-by-symlink": ([("dir", "d"), ("file", "d/ok"), ("sym", "d", o),
                                     ("file", f"d/{ESCAPE}")], "symlink"),
        "hardlink-dotdot": ([("hard", ESCAPE, "../../../../../etc/passwd")], "'..'"),
        "hardlink-absolute": ([("hard", ESCAPE, "/etc/passwd")], "absolute"),
        "hardlink-through-symlink": ([("sym", "l", "/etc"), ("hard", ESCAPE, "l/passwd")],
                                     "nothing in the layer"),
        "hardlink-to-missing": ([("hard", ESCAPE, "not/there")], "nothing in the layer"),
        "pax-path-dotdot": ([("pax-file", f"../../{ESCAPE}")], "'..'"),
        "gnu-longname-dotdot": ([("file", "../" + "x" * 120 + ESCAPE)], "'..'"),
        "whiteout-dotdot": ([("dir", "a"), ("file", "a/.wh..")], "whiteout"),
    }


NAMES = sorted(_cases("/x"))


def build(name: str, outside: str) -> tuple[bytes, str]:
    """(tar bytes, a word the refusal must contain) of the case ``name``."""
    entries, word = _cases(outside)[name]
    fmt = tarfile.GNU_FORMAT if name.startswith("gnu-") else tarfile.PAX_FORMAT
    return _tar(entries, fmt), word
