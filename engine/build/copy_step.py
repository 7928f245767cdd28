"""COPY and ADD (and WORKDIR's directory): files put into the step's container without
starting it, then committed as the step's layer (workspace.py).

Sources are Docker's: paths and globs in the context (what .dockerignore excludes is not
there; nothing outside the context is reachable), here-documents, ``--from`` an earlier
stage or an image (read from its layers mounted read-only), and for ADD a local tar archive
(extracted) or an http(s) URL (downloaded). A directory's contents are copied, not the
directory; one file to a path without a trailing slash is that path (or goes into it when it is
an existing directory). The cache keys on a digest of what is copied: names, contents, modes,
owners and link targets, as Docker hashes them (not times).
"""

from __future__ import annotations

import hashlib
import os
import posixpath
import stat

from ..errors import InvalidArgument, NotFound
from .context_files import Source, SourceTar, context_sources, hash_sources


def _is_url(word: str) -> bool:
    return word.startswith(("http://", "https://"))


def copy_instruction(b, run, ins) -> None:
    from . import steps
    from .expand import expand, expand_words
    env = b.expansion_env(run)
    flags = ins.flags or {}
    words = [expand(w, env, b.escape) for w in ins.args] if ins.json_form else \
        expand_words(ins.args[0] if ins.args else "", env, b.escape)
    if len(words) < 2:
        raise InvalidArgument(f"{ins.cmd} requires at least two arguments")
    srcs, dest = words[:-1], words[-1]
    workdir = run.state.config.get("WorkingDir") or "/"
    slash = dest.endswith("/") or dest in (".", "..") or dest.endswith(("/.", "/.."))
    dest = posixpath.normpath(posixpath.join(workdir, dest))
    if dest.startswith("//"):
        dest = dest[1:]
    if slash and dest != "/":
        dest += "/"   # names a directory, as Docker keeps it
    chown = _expand_flag(b, env, flags.get("chown"))
    chmod = _mode(_expand_flag(b, env, flags.get("chmod")))
    frm = _expand_flag(b, env, flags.get("from"))
    if frm and ins.cmd == "ADD":
        raise InvalidArgument("ADD --from is not allowed: use COPY --from")
    if frm:
        source = b.stage_or_image(frm)
        key = hashlib.sha256("\0".join([source.id, *srcs]).encode()).hexdigest()
        text = f"{ins.cmd} from:{key} in {dest} "
        plan = _Plan(dest, chown, chmod, from_paths=srcs)
        shown = steps.nop(run, text, single=True)
        b.commit(run, shown, make_layer=lambda: _make(b, run, plan, source),
                 key_text=shown + _flag_key(chown, chmod))
        return
    checksum = _expand_flag(b, env, flags.get("checksum"))
    if checksum and not all(_is_url(w) for w in srcs):
        raise InvalidArgument("checksum can't be specified for non-HTTP(S) sources")
    sources: list[Source] = []
    try:
        _gather(b, ins, srcs, env, checksum, sources)
        if len(sources) > 1 and not dest.endswith("/"):
            raise InvalidArgument(f"When using {ins.cmd} with more than one source file, the "
                                  "destination must be a directory and end with a /")
        single = len(sources) == 1 and sources[0].kind in ("file", "heredoc", "url") \
            and not dest.endswith("/")
        digest = hash_sources(sources)
        kind = "multi" if len(sources) > 1 else \
            ("dir" if sources[0].kind == "dir" else "file") if sources else "dir"
        text = f"{ins.cmd} {kind}:{digest} in {dest} "
        plan = _Plan(dest, chown, chmod, sources=sources, single=single)
        shown = steps.nop(run, text, single=True)
        b.commit(run, shown, make_layer=lambda: _make(b, run, plan, None),
                 key_text=shown + _flag_key(chown, chmod))
    finally:
        for s in sources:
            if s.kind == "url" and s.path:
                try:
                    os.unlink(s.path)
                except OSError:
                    pass


def _flag_key(chown: str, chmod: int | None) -> str:
    """What of the flags goes into the cache key besides the text history shows."""
    extra = (f" chown={chown}" if chown else "") + (f" chmod={chmod:o}" if chmod is not None
                                                    else "")
    return f"\n{extra}" if extra else ""


def _expand_flag(b, env, value) -> str:
    if not value:
        return ""
    from .expand import expand
    return expand(value if isinstance(value, str) else value[-1], env, b.escape)


def _mode(text: str) -> int | None:
    if not text:
        return None
    try:
        mode = int(text, 8)
    except ValueError:
        raise InvalidArgument(f"invalid chmod parameter: {text}: use an octal mode such as "
                              "755") from None
    if mode > 0o7777:
        raise InvalidArgument(f"invalid chmod parameter: {text}")
    return mode


def _gather(b, ins, srcs: list[str], env, checksum: str, out: list[Source]) -> None:
    """The sources the words name, into ``out`` (so that what was downloaded before a failure
    is still removed by the caller)."""
    heredocs = {h.name: h for h in (ins.heredocs or [])}
    for word in srcs:
        name = word.lstrip("0123456789")
        if name.startswith("<<") and name.lstrip("<-").strip("'\"") in heredocs:
            h = heredocs[name.lstrip("<-").strip("'\"")]
            content = _expand_heredoc(h.content, env) if h.expand else h.content
            out.append(Source("heredoc", "", h.name, data=content.encode()))
        elif _is_url(word):
            if ins.cmd != "ADD":
                raise InvalidArgument("source can't be a URL for COPY")
            out.append(_download(b, word, checksum))
        else:
            out.extend(context_sources(b.context, word, b.ignore_rules(),
                                       archives=ins.cmd == "ADD"))


def _expand_heredoc(text: str, env) -> str:
    import re
    return re.sub(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}|\$([A-Za-z_][A-Za-z0-9_]*)",
                  lambda m: env.get(m.group(1) or m.group(2), ""), text)


def _download(b, url: str, checksum: str = "") -> Source:
    """ADD of a URL: fetched now (Docker fetches every build and keys the cache on the bytes),
    kept as the file the path's last component names, mode 0600, the server's mtime; with
    ``--checksum=sha256:…`` refused unless its bytes have that digest."""
    import email.utils
    import tempfile
    import urllib.error
    import urllib.parse
    import urllib.request
    from .stages import tmp_dir
    name = posixpath.basename(urllib.parse.urlparse(url).path) or "__unnamed__"
    fd, path = tempfile.mkstemp(prefix="build-add-", dir=tmp_dir(b.engine))
    try:
        with os.fdopen(fd, "wb") as f:
            with urllib.request.urlopen(url, timeout=60) as resp:
                while True:
                    chunk = resp.read(1 << 20)
                    if not chunk:
                        break
                    f.write(chunk)
                modified = resp.headers.get("Last-Modified")
        mtime = 0
        if modified:
            try:
                mtime = int(email.utils.parsedate_to_datetime(modified).timestamp())
            except (TypeError, ValueError):
                mtime = 0
        if checksum:
            from .context_files import _file_digest
            algo, _, want = checksum.partition(":")
            got = _file_digest(path)
            if algo != "sha256" or got != want:
                os.unlink(path)
                raise InvalidArgument(f"ADD failed: {url}: digest mismatch: expected "
                                      f"{checksum}, got sha256:{got}")
        return Source("url", path, name, mode=0o600, mtime=mtime)
    except (OSError, urllib.error.URLError, ValueError) as e:
        os.unlink(path)
        raise InvalidArgument(f"ADD failed: fetching {url}: {getattr(e, 'reason', e)}") from None


class _Plan:
    """Where and how the step's files go (see ``_apply``)."""

    def __init__(self, dest: str, chown: str, chmod: int | None, sources=(), single=False,
                 from_paths=()):
        self.dest, self.chown, self.chmod = dest, chown, chmod
        self.sources, self.single, self.from_paths = list(sources), single, list(from_paths)


def _make(b, run, plan: _Plan, source):
    """The step's layer: a container on the state, the files written into it, committed."""
    from . import workspace
    from ..models import ContainerConfig
    cid = ""
    try:
        c = workspace.create(b.engine, run.state, ContainerConfig(
            image=run.state.id, cmd=["#(nop)"], network_mode="none"))
        cid = c.id
        b.containers.add(cid)
        b.check_cancel()
        workspace.in_root(b.engine, cid, run.state, lambda root, src: _apply(root, src, plan),
                          source)
        b.check_cancel()
        layer = workspace.commit_layer(b.engine, cid, run.state)
        return layer
    finally:
        if cid:
            workspace.discard(b.engine, cid)
            b.containers.discard(cid)


def make_dirs_layer(b, run, path: str):
    """WORKDIR's layer: the directory made (as root, 0755) where it is missing."""
    return _make(b, run, _Plan(path, "", None), None)


# --- in the child, with the container's root mounted --------------------------------------------

def _apply(root: int, src: int, plan: _Plan) -> None:
    import tempfile
    from ..containerfs import open_in_root
    uid = gid = None
    if plan.chown:
        uid, gid = _owner(root, plan.chown)
    if plan.from_paths:
        for path in _from_matches(src, plan.from_paths):
            fd = open_in_root(src, path, os.O_PATH)
            try:
                is_dir = stat.S_ISDIR(os.fstat(fd).st_mode)
            finally:
                os.close(fd)
            single = not is_dir and len(plan.from_paths) == 1 and not plan.dest.endswith("/") \
                and not any(c in plan.from_paths[0] for c in "*?[")
            with tempfile.TemporaryFile() as tmp:
                if is_dir:
                    _archive_contents(src, path, tmp)
                else:
                    from ..containerfs.tarwrite import archive_path
                    archive_path(src, path, tmp, follow_link=True)
                tmp.seek(0)
                _extract(root, plan, single, tmp, uid, gid)
        return
    if not plan.sources:   # WORKDIR
        os.close(_make_dirs(root, plan.dest, None, None))
        return
    _extract(root, plan, plan.single, SourceTar(plan.sources), uid, gid)


def _archive_contents(src: int, path: str, out) -> None:
    """The contents of the directory ``path`` (symlinks on the way followed inside the
    source's root) as a tar with names relative to it."""
    from ..containerfs import open_in_root
    from ..containerfs.tarwrite import TreeWriter
    fd = open_in_root(src, path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        w = TreeWriter(out)
        try:
            w.add(None, f"/proc/self/fd/{fd}", ".", path, follow=True)
        finally:
            w.close()
    finally:
        os.close(fd)


def _extract(root: int, plan: _Plan, single: bool, f, uid, gid) -> None:
    import errno
    import tarfile
    from ..containerfs import open_in_root
    from ..containerfs.extract import TreeExtractor
    rename = None
    if single:
        try:
            dest = open_in_root(root, plan.dest, os.O_RDONLY | os.O_DIRECTORY)
        except OSError as e:
            if e.errno not in (errno.ENOENT, errno.ENOTDIR):
                raise
            parent, rename = posixpath.split(plan.dest.rstrip("/"))
            dest = _make_dirs(root, parent or "/", uid, gid)
    else:
        dest = _make_dirs(root, plan.dest, uid, gid)
    try:
        if isinstance(f, SourceTar):
            TreeExtractor(dest, rename_top=rename).extract(_Owned(f, uid, gid, plan.chmod))
        else:
            with tarfile.open(fileobj=f, mode="r|") as tar:
                TreeExtractor(dest, rename_top=rename).extract(_Owned(tar, uid, gid,
                                                                      plan.chmod))
    finally:
        os.close(dest)


class _Owned:
    """A tar whose entries are handed out with ``--chown``/``--chmod`` applied."""

    def __init__(self, tar, uid, gid, mode):
        self.tar, self.uid, self.gid, self.mode = tar, uid, gid, mode

    def __iter__(self):
        for m in self.tar:
            if self.uid is not None:
                m.uid, m.gid = self.uid, self.gid
            if self.mode is not None and not m.issym():
                m.mode = self.mode
            yield m

    def extractfile(self, m):
        return self.tar.extractfile(m)


def _make_dirs(root: int, path: str, uid, gid) -> int:
    """The directory ``path`` inside the root (symlinks followed inside it), made where
    missing (0755, owned by ``--chown``'s user or root); its descriptor."""
    import errno
    from ..containerfs import open_in_root
    parts = [p for p in path.split("/") if p not in ("", ".")]
    cur = "/"
    fd = open_in_root(root, "/", os.O_RDONLY | os.O_DIRECTORY)
    for p in parts:
        nxt = posixpath.join(cur, p)
        try:
            nfd = open_in_root(root, nxt, os.O_RDONLY | os.O_DIRECTORY)
        except OSError as e:
            if e.errno == errno.ENOTDIR:
                os.close(fd)
                raise InvalidArgument(f"cannot copy to {path}: {nxt} is not a directory") \
                    from None
            if e.errno != errno.ENOENT:
                os.close(fd)
                raise
            os.mkdir(p, 0o755, dir_fd=fd)
            nfd = os.open(p, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC,
                          dir_fd=fd)
            os.fchmod(nfd, 0o755)
            if uid is not None:
                os.fchown(nfd, uid, gid)
        os.close(fd)
        fd, cur = nfd, nxt
    return fd


def _owner(root: int, spec: str) -> tuple[int, int]:
    """``--chown=user[:group]`` through the destination's /etc/passwd and /etc/group; a user
    alone gives its numeric id as the group too (Docker's rule)."""
    from ..containerfs import open_in_root
    from ..runtime.users import UserError, _entries, _group_id
    fds = []
    try:
        paths = []
        for name in ("/etc/passwd", "/etc/group"):
            try:
                fd = open_in_root(root, name, os.O_RDONLY)
                fds.append(fd)
                paths.append(f"/proc/self/fd/{fd}")
            except OSError:
                paths.append("/nonexistent")
        user_s, _, group_s = spec.partition(":")
        users = [e for e in _entries(paths[0]) if len(e) >= 6]
        match = next((e for e in users if e[0] == user_s), None)
        if match is not None:
            uid = int(match[2])
        elif user_s.isdigit():
            uid = int(user_s)
        else:
            raise InvalidArgument(f"unable to convert uid/gid chown string to host mapping: "
                                  f"can't find uid for user {user_s}: no such user: {user_s}")
        if not group_s:
            return uid, uid
        groups = [g for g in _entries(paths[1]) if len(g) >= 3]
        try:
            return uid, _group_id(group_s, groups)
        except UserError:
            raise InvalidArgument(f"unable to convert uid/gid chown string to host mapping: "
                                  f"can't find gid for group {group_s}") from None
    finally:
        for fd in fds:
            os.close(fd)


def _from_matches(src: int, paths: list[str]) -> list[str]:
    """The paths of ``COPY --from`` in the source's root, globs matched against it."""
    import fnmatch
    from ..containerfs import open_in_root
    out = []
    for p in paths:
        p = "/" + p.lstrip("/")
        if not any(c in p for c in "*?["):
            try:
                os.close(open_in_root(src, p, os.O_PATH))
            except OSError:
                raise NotFound(f"COPY failed: stat {p}: file does not exist") from None
            out.append(p)
            continue
        found = ["/"]
        for part in [x for x in p.split("/") if x]:
            nxt = []
            for base in found:
                if any(c in part for c in "*?["):
                    try:
                        fd = open_in_root(src, base, os.O_RDONLY | os.O_DIRECTORY)
                    except OSError:
                        continue
                    try:
                        names = sorted(os.listdir(fd))
                    finally:
                        os.close(fd)
                    nxt += [posixpath.join(base, n) for n in names
                            if fnmatch.fnmatchcase(n, part)]
                else:
                    nxt.append(posixpath.join(base, part))
            found = nxt
        if not found:
            raise NotFound(f"COPY failed: no source files were specified ({p})")
        out += found
    return out
