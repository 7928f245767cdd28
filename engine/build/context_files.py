"""What COPY and ADD take from the build context: sources matched (paths and globs, inside the
context only, .dockerignore applied), their digest for the cache, and the tar that carries them
into the step's container."""

from __future__ import annotations

import fnmatch
import hashlib
import os
import stat
import tarfile

from ..errors import InvalidArgument, NotFound


class Source:
    """One COPY/ADD source: ``kind`` file | dir | archive (ADD's local tar) | heredoc | url;
    ``path`` on the host; ``name`` what a file is called where it lands; ``entries`` of a
    directory: (host path, name relative to it, lstat) in walk order."""

    __slots__ = ("kind", "path", "name", "data", "mode", "mtime", "entries")

    def __init__(self, kind: str, path: str, name: str, data: bytes = b"", mode: int = 0o644,
                 mtime: int = 0, entries=None):
        self.kind, self.path, self.name, self.data = kind, path, name, data
        self.mode, self.mtime, self.entries = mode, mtime, entries or []


def _has_magic(word: str) -> bool:
    return any(c in word for c in "*?[")


def context_sources(context: str, word: str, ignore, archives: bool = False) -> list[Source]:
    """The sources a COPY/ADD word names in ``context`` (globs matched per path component);
    NotFound with Docker's message when nothing is there or all of it is excluded."""
    root = os.path.realpath(context)
    rel = os.path.normpath(word.lstrip("/")) if word.strip("/") else "."
    if rel == ".." or rel.startswith("../"):
        raise InvalidArgument(f"Forbidden path outside the build context: {word} ()")
    matches = _glob(root, rel, ignore) if _has_magic(rel) else [rel]
    if not matches:
        raise NotFound("COPY failed: no source files were specified")
    out = []
    for m in matches:
        path = os.path.join(root, m) if m != "." else root
        real = os.path.realpath(path)
        if real != root and not real.startswith(root + "/"):
            raise InvalidArgument(f"Forbidden path outside the build context: {word} ()")
        if m != "." and ignore is not None and ignore.excluded(m):
            raise NotFound("COPY failed: file not found in build context or excluded by "
                           f".dockerignore: stat {word}: file does not exist")
        try:
            st = os.stat(real)
        except FileNotFoundError:
            raise NotFound("COPY failed: file not found in build context or excluded by "
                           f".dockerignore: stat {word}: file does not exist") from None
        if stat.S_ISDIR(st.st_mode):
            out.append(Source("dir", real, os.path.basename(real),
                              entries=_walk(real, "" if m == "." else m, ignore)))
        elif archives and _is_archive(real):
            out.append(Source("archive", real, os.path.basename(real)))
        else:
            out.append(Source("file", real, os.path.basename(m), mode=stat.S_IMODE(st.st_mode),
                              mtime=int(st.st_mtime)))
    return out


def _glob(root: str, pattern: str, ignore) -> list[str]:
    found = [""]
    for part in pattern.split("/"):
        nxt = []
        for base in found:
            d = os.path.join(root, base)
            if _has_magic(part):
                try:
                    names = sorted(os.listdir(d))
                except OSError:
                    continue
                nxt += [os.path.join(base, n) if base else n for n in names
                        if fnmatch.fnmatchcase(n, part)]
            elif os.path.lexists(os.path.join(d, part)):
                nxt.append(os.path.join(base, part) if base else part)
        found = nxt
    return [f for f in found if ignore is None or not ignore.excluded(f)]


def _walk(top: str, rel_top: str, ignore) -> list[tuple[str, str, os.stat_result]]:
    """The entries below ``top`` (not ``top`` itself), sorted, symlinks not followed; what
    .dockerignore excludes is left out (a directory it excludes still holds the entries an
    exception brings back)."""
    out: list[tuple[str, str, os.stat_result]] = []
    stack = [("", top)]
    while stack:
        rel, path = stack.pop()
        try:
            names = sorted(os.listdir(path), reverse=True)
        except OSError as e:
            raise InvalidArgument(f"reading the build context: {path}: {e.strerror}") from None
        for n in names:
            r = f"{rel}/{n}" if rel else n
            p = os.path.join(path, n)
            st = os.lstat(p)
            ctx_rel = f"{rel_top}/{r}" if rel_top else r
            excluded = ignore is not None and ignore.excluded(ctx_rel)
            out_entry = (p, r, st, excluded)
            if stat.S_ISDIR(st.st_mode):
                stack.append((r, p))
            out.append(out_entry)
    out.sort(key=lambda e: e[1].split("/"))
    if ignore is None or not any(e[3] for e in out):
        return [(p, r, st) for p, r, st, _ in out]
    keep_dirs: set[str] = set()
    for p, r, st, excluded in out:
        if not excluded:
            parts = r.split("/")
            keep_dirs.update("/".join(parts[:i]) for i in range(1, len(parts)))
    return [(p, r, st) for p, r, st, excluded in out
            if not excluded or (stat.S_ISDIR(st.st_mode) and r in keep_dirs)]


def _is_archive(path: str) -> bool:
    """Whether ADD extracts this file: a tar, plain or compressed (told by its content)."""
    try:
        with tarfile.open(path, "r:*") as t:
            return t.next() is not None
    except (tarfile.TarError, OSError, EOFError, ValueError):
        return False


def _file_digest(path: str) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while True:
            chunk = f.read(1 << 20)
            if not chunk:
                break
            h.update(chunk)
    return h.hexdigest()


def hash_sources(sources: list[Source]) -> str:
    """The digest the cache keys a COPY/ADD on: every entry's name, type, mode, link target
    and content (times left out, as Docker's tarsum leaves them)."""
    h = hashlib.sha256()
    for s in sources:
        if s.kind == "dir":
            h.update(f"dir\0{len(s.entries)}\n".encode())
            for path, rel, st in s.entries:
                h.update(_entry_line(path, rel, st))
        elif s.kind == "heredoc":
            h.update(f"heredoc\0{s.name}\0{hashlib.sha256(s.data).hexdigest()}\n".encode())
        else:
            st = os.stat(s.path)
            mode = s.mode if s.kind == "url" else stat.S_IMODE(st.st_mode)
            h.update(f"{s.kind}\0{s.name}\0{mode:o}\0{_file_digest(s.path)}\n".encode())
    return h.hexdigest()


def _entry_line(path: str, rel: str, st: os.stat_result) -> bytes:
    mode = stat.S_IMODE(st.st_mode)
    if stat.S_ISDIR(st.st_mode):
        return f"d\0{rel}\0{mode:o}\n".encode()
    if stat.S_ISLNK(st.st_mode):
        return f"l\0{rel}\0{os.readlink(path)}\n".encode()
    if stat.S_ISREG(st.st_mode):
        return f"f\0{rel}\0{mode:o}\0{_file_digest(path)}\n".encode()
    return f"o\0{rel}\0{st.st_mode:o}\n".encode()


class SourceTar:
    """The sources as the members of one tar would be, without writing one: what
    ``TreeExtractor`` takes (iterated for TarInfos, ``extractfile`` for a file's bytes). Names
    are relative to where they land (a directory's contents at the top, a file under its name,
    an archive's entries as they are); everything from the context is owned by root."""

    def __init__(self, sources: list[Source]):
        self.sources = sources
        self._files: dict[int, object] = {}
        self._archive = None

    def __iter__(self):
        import io
        for s in self.sources:
            if s.kind == "dir":
                for path, rel, st in s.entries:
                    info = _member(path, rel, st)
                    if info is not None:
                        self._files[id(info)] = path
                        yield info
            elif s.kind == "heredoc":
                info = _info(s.name, 0o644, s.mtime)
                info.size = len(s.data)
                self._files[id(info)] = io.BytesIO(s.data)
                yield info
            elif s.kind == "archive":
                with tarfile.open(s.path, "r:*") as src:
                    self._archive = src
                    for m in src:
                        self._files[id(m)] = src
                        yield m
                    self._archive = None
            else:
                st = os.stat(s.path)
                mode = s.mode if s.kind == "url" else stat.S_IMODE(st.st_mode)
                info = _info(s.name, mode, s.mtime if s.kind == "url" else int(st.st_mtime))
                info.size = st.st_size
                self._files[id(info)] = s.path
                yield info

    def extractfile(self, m):
        src = self._files.pop(id(m))
        if isinstance(src, str):
            return _ReadOnce(src)
        if isinstance(src, tarfile.TarFile):
            return src.extractfile(m)
        return src


class _ReadOnce:
    """A host file read to its end once, then closed (the extractor reads until EOF)."""

    def __init__(self, path: str):
        self.f = open(path, "rb")

    def read(self, n: int = -1) -> bytes:
        data = self.f.read(n)
        if not data:
            self.f.close()
        return data


def _info(name: str, mode: int, mtime: int) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.mode, info.mtime, info.uid, info.gid, info.uname, info.gname = mode, mtime, 0, 0, "", ""
    return info


def _member(path: str, rel: str, st: os.stat_result) -> tarfile.TarInfo | None:
    info = _info(rel, stat.S_IMODE(st.st_mode), int(st.st_mtime))
    if stat.S_ISDIR(st.st_mode):
        info.type = tarfile.DIRTYPE
    elif stat.S_ISLNK(st.st_mode):
        info.type, info.linkname = tarfile.SYMTYPE, os.readlink(path)
    elif stat.S_ISREG(st.st_mode):
        info.size = st.st_size
    else:
        return None   # sockets, fifos and devices in a context are left out, as Docker's are
    return info
