"""Getting a build context onto disk, from what ``docker build`` accepts: a directory, a tar
(identity, gzip, bzip2, xz, zstd when installed) on stdin or in a request body, a Dockerfile alone
on stdin (``docker build - < Dockerfile``) or beside a context (``-f -``), an http(s) URL of a tar
or of a Dockerfile, and a git repository (``#ref:subdir`` as Docker reads it).

Archives are untrusted: no entry lands outside the destination (absolute names, ``..``, writing
through a symlink, hardlinks out), device nodes and fifos are refused, and the free space of the
destination's filesystem bounds what is written. Remote contexts come only from this machine.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tarfile
import urllib.parse
from typing import BinaryIO

from ..errors import DiskError, HostError, IntegrityError, InvalidArgument, host_error

LOCAL_HOSTS = ("127.0.0.1", "localhost", "::1")
_RESERVE = 16 << 20          # left free on the destination's filesystem
DOCKERFILE_MAX = 10 << 20    # a Dockerfile alone on stdin or at a URL


class _Limited:
    """``f`` refusing to give more than ``limit`` bytes (a tar bomb meets the disk's size)."""

    def __init__(self, f, limit: int):
        self.f, self.left = f, limit

    def read(self, n: int = -1) -> bytes:
        data = self.f.read(n)
        self.left -= len(data)
        if self.left < 0:
            raise DiskError("no space left on device while unpacking the build context "
                            "(the context is larger than the free space)")
        return data


def _free_space(path: str) -> int:
    st = os.statvfs(path)
    return max(0, st.f_bavail * st.f_frsize - _RESERVE)


def _member_filter(member: tarfile.TarInfo, dest: str) -> tarfile.TarInfo:
    """Python's tar filter for the path checks, then Docker's modes kept (the filter would
    clear group/other write and setuid bits) and no owners (COPY sets its own)."""
    if member.ischr() or member.isblk() or member.isfifo():
        raise IntegrityError(f"the build context holds a device or fifo: {member.name}")
    if member.islnk():
        # tar_filter leaves hardlink targets alone: one naming a file outside would link (and
        # then chmod) that file. A hardlink names an earlier entry of the archive, inside.
        root = os.path.realpath(dest)
        target = os.path.realpath(os.path.join(root, member.linkname))
        if os.path.isabs(member.linkname) or os.path.commonpath([root, target]) != root \
                or not os.path.lexists(target) or os.path.isdir(target):
            raise IntegrityError(f"the build context has a hardlink to outside itself: "
                                 f"{member.name} -> {member.linkname}")
    try:
        safe = tarfile.tar_filter(member, dest)
    except tarfile.FilterError as e:
        raise IntegrityError(f"the build context tries to write outside itself: {e}") from None
    return safe.replace(mode=member.mode & 0o7777, uid=None, gid=None, uname=None, gname=None,
                        deep=False)


class _Peek:
    """A reader that can look ahead: ``peek(n)`` gives up to ``n`` bytes without consuming them
    (request bodies and decompressors can't)."""

    def __init__(self, f):
        self.f, self.buf = f, b""

    def peek(self, n: int = 1) -> bytes:
        while len(self.buf) < n:
            more = self.f.read(max(n - len(self.buf), 65536))
            if not more:
                break
            self.buf += more
        return self.buf[:n]

    def read(self, n: int = -1) -> bytes:
        if self.buf:
            if n < 0:
                data, self.buf = self.buf + self.f.read(), b""
            else:
                data, self.buf = self.buf[:n], self.buf[n:]
            return data
        return self.f.read(n)


def _peekable(f: BinaryIO) -> _Peek:
    # a BufferedReader's peek may give fewer bytes than asked (a pipe): always look ahead here
    return f if isinstance(f, _Peek) else _Peek(f)


def _decompressed(f: BinaryIO):
    from ..images.tarstream import decompressed
    try:
        return decompressed(_peekable(f))
    except ImportError:
        raise InvalidArgument("the build context is zstd-compressed and this host has no zstd "
                              "support; send it uncompressed or gzip-compressed") from None


def from_tar(fileobj: BinaryIO, dest_dir: str, decompress: bool = True) -> str:
    """Unpack the (maybe compressed) context tar read from ``fileobj`` into the existing
    directory ``dest_dir``; returns ``dest_dir``."""
    os.makedirs(dest_dir, exist_ok=True)
    limited = _Limited(_decompressed(fileobj) if decompress else fileobj,
                       _free_space(dest_dir))
    try:
        with tarfile.open(fileobj=limited, mode="r|") as tar:  # type: ignore[arg-type]
            while True:
                try:
                    member = tar.next()
                except tarfile.ReadError as e:
                    # the docker CLI's tar with -f - ends right after the last file's data (no
                    # padding, no trailer: Go's reader takes it); that file was extracted whole
                    if str(e) == "unexpected end of data" and tar.members:
                        break
                    raise
                if member is None:
                    break
                tar.extract(member, dest_dir, filter=_member_filter)
    except tarfile.ReadError as e:
        if "empty file" in str(e):
            return dest_dir    # an empty body: an empty context, as Docker takes it
        raise InvalidArgument(f"the build context is not a valid tar archive: {e}") from None
    except (EOFError, tarfile.TarError, ValueError, KeyError) as e:
        raise InvalidArgument(f"the build context is not a valid tar archive: {e}") from None
    except (DiskError, IntegrityError):
        raise
    except OSError as e:
        raise host_error("unpacking the build context", e) from None
    return dest_dir


def _is_tar(head: bytes) -> bool:
    """Whether ``head`` (at least 512 decompressed bytes) starts with a valid tar header."""
    if len(head) < 512:
        return False
    block = head[:512]
    try:
        stored = int(block[148:156].split(b"\0")[0].strip() or b"-1", 8)
    except ValueError:
        return False
    computed = sum(block[:148]) + 8 * 32 + sum(block[156:])
    return stored == computed


def _tar_or_dockerfile(f: BinaryIO, dest_dir: str, what: str) -> tuple[str, str | None]:
    """A stream that is either a context tar (maybe compressed) or a Dockerfile's text."""
    raw = _peekable(_decompressed(f))
    head = raw.peek(512)[:512]
    if _is_tar(head):
        # decompressed already: a first file named "BZh…" must not look like bzip2 again
        from_tar(raw, dest_dir, decompress=False)
        return dest_dir, None
    data = raw.read(DOCKERFILE_MAX + 1)
    if len(data) > DOCKERFILE_MAX:
        raise InvalidArgument(f"{what} is neither a tar archive nor a Dockerfile (over "
                              f"{DOCKERFILE_MAX >> 20} MiB)")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise InvalidArgument(f"{what} is neither a tar archive nor a Dockerfile") from None
    os.makedirs(dest_dir, exist_ok=True)
    return dest_dir, text


def is_git_url(spec: str) -> bool:
    """Docker's test for a git context (urlutil.IsGitURL), plus file:// repositories."""
    if spec.startswith(("git://", "git@", "github.com/", "file://")):
        return True
    if spec.startswith(("http://", "https://")):
        base = spec.split("#", 1)[0]
        return base.endswith(".git") or ".git#" in spec
    return False


def _check_local(url: str) -> None:
    if url.startswith("git@"):
        host = url[4:].split(":", 1)[0]
    else:
        host = urllib.parse.urlsplit(url).hostname or ""
    if url.startswith("file://"):
        return
    if host not in LOCAL_HOSTS:
        raise InvalidArgument(f"unable to prepare context: {url}: berth fetches remote build "
                              "contexts only from this machine (127.0.0.1, localhost); clone or "
                              "download it yourself and build from the directory")


def _fetch(url: str, dest_dir: str) -> tuple[str, str | None]:
    import urllib.request
    _check_local(url)
    try:
        with urllib.request.urlopen(url, timeout=60) as resp:
            return _tar_or_dockerfile(resp, dest_dir, f"the remote context {url}")
    except OSError as e:
        if isinstance(e, HostError):
            raise
        reason = getattr(e, "reason", None) or e
        raise InvalidArgument(f"unable to prepare context: unable to download remote context "
                              f"{url}: {reason}") from None


def _git(args: list[str], cwd: str, url: str) -> None:
    env = {**os.environ, "GIT_TERMINAL_PROMPT": "0", "GIT_CONFIG_NOSYSTEM": "1"}
    p = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, env=env,
                       timeout=600)
    if p.returncode != 0:
        detail = (p.stderr.strip().splitlines() or ["failed"])[-1]
        raise InvalidArgument(f"unable to prepare context: unable to 'git clone' to temporary "
                              f"context directory: {url}: {detail}")


def _clone(spec: str, dest_dir: str) -> str:
    """A shallow checkout of the git context ``spec`` (``URL#ref:subdir``) in ``dest_dir``; the
    context directory (the subdirectory when one is named)."""
    url, _, fragment = spec.partition("#")
    ref, _, subdir = fragment.partition(":")
    _check_local(url)
    if shutil.which("git") is None:
        raise InvalidArgument("unable to prepare context: git is not installed on this host")
    os.makedirs(dest_dir, exist_ok=True)
    _git(["init", "-q"], dest_dir, url)
    _git(["remote", "add", "origin", url], dest_dir, url)
    # a depth-1 fetch of a branch, a tag or a full commit id, as Docker's gitutils does
    _git(["fetch", "-q", "--depth", "1", "origin", "--", ref or "HEAD"], dest_dir, url)
    _git(["checkout", "-q", "FETCH_HEAD"], dest_dir, url)
    _git(["submodule", "update", "-q", "--init", "--recursive", "--depth", "1"], dest_dir, url)
    if not subdir:
        return dest_dir
    root = os.path.realpath(dest_dir)
    context = os.path.realpath(os.path.join(root, subdir))
    if context != root and not context.startswith(root + os.sep):
        raise InvalidArgument(f"unable to prepare context: the git subdirectory {subdir!r} "
                              "points outside the repository")
    if not os.path.isdir(context):
        raise InvalidArgument(f"unable to prepare context: path {subdir!r} not found in {url}")
    return context


def from_source(spec: str, dest_dir: str, stdin: BinaryIO | None = None,
                dockerfile: str = "") -> tuple[str, str | None]:
    """The context ``docker build SPEC`` names, on disk: (context directory, Dockerfile text or
    None when it is to be read from the context). A directory is used in place; anything else is
    unpacked, downloaded or cloned into ``dest_dir`` (which the caller removes). ``-`` reads a
    tar, or a Dockerfile with an empty context, from ``stdin``; ``dockerfile="-"`` reads the
    Dockerfile from ``stdin`` beside a context given otherwise."""
    text = None
    if dockerfile == "-":
        if spec == "-":
            raise InvalidArgument("invalid argument: can't use stdin for both build context and "
                                  "dockerfile")
        if stdin is None:
            raise InvalidArgument("the Dockerfile is to be read from stdin, but there is none")
        data = stdin.read(DOCKERFILE_MAX + 1)
        if len(data) > DOCKERFILE_MAX:
            raise InvalidArgument(f"the Dockerfile on stdin is over {DOCKERFILE_MAX >> 20} MiB")
        text = data.decode("utf-8", errors="replace")
    if spec == "-":
        if stdin is None:
            raise InvalidArgument("the build context is to be read from stdin, but there is none")
        return _tar_or_dockerfile(stdin, dest_dir, "stdin")
    if is_git_url(spec):
        return _clone(spec, dest_dir), text
    if spec.startswith(("http://", "https://")):
        context, fetched = _fetch(spec, dest_dir)
        return context, text if text is not None else fetched
    if not os.path.isdir(spec):
        if os.path.exists(spec):
            raise InvalidArgument(f'unable to prepare context: context must be a directory: '
                                  f'{os.path.abspath(spec)}')
        raise InvalidArgument(f'unable to prepare context: path "{spec}" not found')
    return os.path.abspath(spec), text


def read_dockerfile(context_dir: str, name: str = "Dockerfile") -> str:
    """The text of the Dockerfile ``name`` (relative to the context) as moby opens it: inside
    the context whatever its symlinks say, ``dockerfile`` when the default ``Dockerfile`` is
    missing. NotFound with Docker's message when there is none."""
    from ..errors import NotFound
    root = os.path.realpath(context_dir)
    names = [name or "Dockerfile"]
    if names[0] == "Dockerfile":
        names.append("dockerfile")
    for candidate in names:
        path = os.path.realpath(os.path.join(root, candidate.lstrip("/")))
        if os.path.commonpath([root, path]) != root:
            raise InvalidArgument(f"the Dockerfile ({name}) must be within the build context")
        try:
            with open(path, "rb") as f:
                data = f.read(DOCKERFILE_MAX + 1)
        except (FileNotFoundError, NotADirectoryError):
            continue
        except IsADirectoryError:
            raise InvalidArgument(f"the Dockerfile ({name}) is a directory") from None
        if len(data) > DOCKERFILE_MAX:
            raise InvalidArgument(f"the Dockerfile ({name}) is over {DOCKERFILE_MAX >> 20} MiB")
        return data.decode("utf-8", errors="replace")
    raise NotFound(f"Cannot locate specified Dockerfile: {name}")
