"""A container's filesystem from the host: ``cp`` both ways, ``export``, ``diff`` and the layer
``commit`` makes.

Everything in a container's filesystem is the container's to shape, symlinks included, and it
may change them while we look (the CVE-2018-15664 family). So no path inside it is ever handed
to the kernel as host text: the container's root is a descriptor (``/proc/<pid>/root`` of a
running container; for a stopped one, its overlay mounted in a private mount namespace of a
forked child), paths the user names are resolved under it with ``openat2(RESOLVE_IN_ROOT |
RESOLVE_NO_MAGICLINKS)`` (symlinks followed as the container sees them, never out of it), and
trees are walked and written one descriptor at a time with ``O_NOFOLLOW``: a symlink met on the
way is copied as a symlink or replaced, never followed.
"""

from __future__ import annotations

import ctypes
import errno
import os
import stat
import tarfile
from typing import BinaryIO, Callable

from .errors import DISK_ERRNOS, BerthError, HostError, InvalidArgument, NotFound, host_error

_libc = ctypes.CDLL(None, use_errno=True)
_SYS_openat2 = 437
RESOLVE_NO_MAGICLINKS = 0x02
RESOLVE_NO_SYMLINKS = 0x04
RESOLVE_BENEATH = 0x08
RESOLVE_IN_ROOT = 0x10
_DIR = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
# the runtime's own mounts in every container: their contents are not the container's files
RUNTIME_MOUNTS = ("/proc", "/sys", "/dev")
RUNTIME_FILES = ("/etc/hosts", "/etc/hostname", "/etc/resolv.conf")


class _OpenHow(ctypes.Structure):
    _fields_ = [("flags", ctypes.c_uint64), ("mode", ctypes.c_uint64),
                ("resolve", ctypes.c_uint64)]


def openat2(dirfd: int, path: str, flags: int, resolve: int, mode: int = 0) -> int:
    """The openat2 syscall (Linux 5.6+): ``path`` under ``dirfd`` with RESOLVE_* rules."""
    how = _OpenHow(flags | os.O_CLOEXEC, mode, resolve)
    fd = _libc.syscall(_SYS_openat2, ctypes.c_int(dirfd), os.fsencode(path),
                       ctypes.byref(how), ctypes.c_size_t(ctypes.sizeof(how)))
    if fd < 0:
        err = ctypes.get_errno()
        raise OSError(err, os.strerror(err), path)
    return fd


def open_in_root(root: int, path: str, flags: int = os.O_PATH, mode: int = 0) -> int:
    """``path`` as the container sees it: symlinks followed but confined to ``root``."""
    return openat2(root, path.lstrip("/") or ".", flags, RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS,
                   mode)


def _split(path: str) -> tuple[str, str]:
    """(parent, last component) of a container path, normalised; ("/", ".") for the root."""
    parts = [p for p in path.split("/") if p not in ("", ".")]
    if not parts:
        return "/", "."
    return "/" + "/".join(parts[:-1]), parts[-1]


def _not_found(path: str, e: OSError) -> BerthError:
    if e.errno in (errno.ENOENT, errno.ENOTDIR):
        return NotFound(f"Could not find the file {path} in container")
    if e.errno == errno.ELOOP:
        return InvalidArgument(f"{path}: too many levels of symbolic links")
    return HostError(f"{path}: {e.strerror}")


# --- reading a tree into a tar -----------------------------------------------------------------

class TreeWriter:
    """Writes files, walked by descriptor, into a tar stream.

    ``whiteouts``: the tree is an overlay upper dir (commit): 0/0 character devices become
    ``.wh.<name>`` and opaque directories get ``.wh..wh..opq``. ``one_fs``: the contents of
    other filesystems mounted inside (proc, sys, dev, bind-mounted files, volumes) are left out,
    as ``export`` does; ``skip`` names container paths whose contents are left out."""

    def __init__(self, out: BinaryIO, whiteouts: bool = False, one_fs: bool = False,
                 skip: tuple[str, ...] = ()):
        self.tar = tarfile.open(fileobj=out, mode="w|", format=tarfile.PAX_FORMAT)
        self.whiteouts = whiteouts
        self.one_fs = one_fs
        self.skip = skip
        self.links: dict[tuple[int, int], str] = {}
        self.dev = None

    def close(self) -> None:
        self.tar.close()

    def add(self, parent: int | None, name: str, arcname: str, path: str = "/",
            follow: bool = False) -> None:
        """Add ``name`` under the directory ``parent`` (and what is below it) as ``arcname``;
        ``path`` is where it is in the container (for ``skip``)."""
        flags = 0 if follow else os.O_NOFOLLOW
        st = os.stat(name, dir_fd=parent, follow_symlinks=follow)
        if self.dev is None:
            self.dev = st.st_dev
        info = self._info(arcname, st)
        if stat.S_ISDIR(st.st_mode):
            fd = os.open(name, _DIR & ~os.O_NOFOLLOW | flags, dir_fd=parent)
            try:
                opaque = self.whiteouts and _opaque(fd)
                if arcname not in (".", ""):
                    self.tar.addfile(info)
                if opaque:
                    self._empty(_join(arcname, ".wh..wh..opq"), st)
                if (path in self.skip or self.one_fs and st.st_dev != self.dev):
                    return
                for entry in sorted(os.listdir(fd)):
                    self.add(fd, entry, _join(arcname, entry), _join(path, entry))
            finally:
                os.close(fd)
        elif stat.S_ISREG(st.st_mode):
            if self.one_fs and st.st_dev != self.dev:
                self._empty(arcname, st)   # a file mounted over (hosts): the mount point only
                return
            key = (st.st_dev, st.st_ino)
            if st.st_nlink > 1 and key in self.links:
                info.type, info.linkname, info.size = tarfile.LNKTYPE, self.links[key], 0
                self.tar.addfile(info)
                return
            fd = os.open(name, os.O_RDONLY | os.O_CLOEXEC | flags, dir_fd=parent)
            with os.fdopen(fd, "rb") as f:
                info.size = os.fstat(fd).st_size
                self.tar.addfile(info, f)
            if st.st_nlink > 1:
                self.links[key] = arcname
        elif stat.S_ISLNK(st.st_mode):
            info.type, info.linkname = tarfile.SYMTYPE, os.readlink(name, dir_fd=parent)
            self.tar.addfile(info)
        elif stat.S_ISCHR(st.st_mode) and self.whiteouts and st.st_rdev == 0:
            parent_arc, _, base = arcname.rpartition("/")
            self._empty(_join(parent_arc, ".wh." + base), st)
        elif stat.S_ISCHR(st.st_mode) or stat.S_ISBLK(st.st_mode) or stat.S_ISFIFO(st.st_mode):
            info.type = (tarfile.CHRTYPE if stat.S_ISCHR(st.st_mode) else
                         tarfile.BLKTYPE if stat.S_ISBLK(st.st_mode) else tarfile.FIFOTYPE)
            info.devmajor, info.devminor = os.major(st.st_rdev), os.minor(st.st_rdev)
            self.tar.addfile(info)
        # sockets are not archived (as tar does)

    @staticmethod
    def _info(arcname: str, st: os.stat_result) -> tarfile.TarInfo:
        info = tarfile.TarInfo(arcname)
        info.mode = stat.S_IMODE(st.st_mode)
        info.uid, info.gid = st.st_uid, st.st_gid
        info.uname = info.gname = ""
        info.mtime = int(st.st_mtime)
        if stat.S_ISDIR(st.st_mode):
            info.type = tarfile.DIRTYPE
        return info

    def _empty(self, arcname: str, st: os.stat_result) -> None:
        info = tarfile.TarInfo(arcname)
        info.mode, info.mtime, info.uname, info.gname = 0o644, int(st.st_mtime), "", ""
        self.tar.addfile(info)


def _join(a: str, b: str) -> str:
    return b if a in ("", ".") else f"{a}/{b}"


def _opaque(fd: int) -> bool:
    try:
        return os.getxattr(fd, "trusted.overlay.opaque") == b"y"
    except OSError:
        return False


def archive_path(root: int, path: str, out: BinaryIO, follow_link: bool = False) -> None:
    """``path`` in the container as a tar on ``out``, Docker's way: the entry is named for the
    path's last component; ``dir/.`` gives the directory's contents; a final symlink is copied
    as a symlink unless ``follow_link``."""
    parent_path, name = _split(path)
    contents = path.rstrip("/").endswith("/.") or path.rstrip("/") in ("", ".")
    try:
        parent = open_in_root(root, parent_path, os.O_RDONLY | os.O_DIRECTORY)
    except OSError as e:
        raise _not_found(path, e) from None
    target = -1
    try:
        try:
            os.stat(name, dir_fd=parent, follow_symlinks=False)
            if follow_link and name != ".":
                # the target, resolved inside the container, archived under the link's name
                target = open_in_root(root, path, os.O_PATH)
        except OSError as e:
            raise _not_found(path, e) from None
        w = TreeWriter(out, skip=RUNTIME_MOUNTS[:2])
        try:
            if target >= 0:
                # "/proc/self/fd/N" names exactly the file resolved above, whatever the
                # container does to the path meanwhile
                w.add(None, f"/proc/self/fd/{target}", name, path, follow=True)
            else:
                w.add(parent, name, "." if contents else name, _join_abs(parent_path, name))
        finally:
            w.close()
    finally:
        os.close(parent)
        if target >= 0:
            os.close(target)


def _join_abs(parent: str, name: str) -> str:
    return "/" + _join(parent.strip("/"), name) if name != "." else parent


# --- writing a tar into a tree -------------------------------------------------------------------

def _parts(name: str) -> list[str]:
    parts = [p for p in name.split("/") if p not in ("", ".")]
    if any(p == ".." for p in parts):
        raise InvalidArgument(f"archive entry {name!r} climbs out with '..': refusing it")
    return parts


def _remove_at(parent: int, name: str) -> None:
    """Remove whatever ``name`` is under ``parent`` (a directory with everything in it)."""
    try:
        st = os.stat(name, dir_fd=parent, follow_symlinks=False)
    except FileNotFoundError:
        return
    if stat.S_ISDIR(st.st_mode):
        fd = os.open(name, _DIR, dir_fd=parent)
        try:
            for entry in os.listdir(fd):
                _remove_at(fd, entry)
        finally:
            os.close(fd)
        os.rmdir(name, dir_fd=parent)
    else:
        os.unlink(name, dir_fd=parent)


class TreeExtractor:
    """Extracts a tar under a directory descriptor as Docker's untar does: an existing entry is
    replaced unless both are directories; nothing in the tree is followed (an existing symlink
    in the way is replaced, not walked through)."""

    def __init__(self, dest: int, rename_top: str | None = None, owners: bool = True):
        self.dest = dest
        self.rename_top = rename_top
        self.owners = owners
        self.dir_times: list[tuple[int, str, int]] = []

    def _dir(self, parts: list[str]) -> int:
        fd = os.dup(self.dest)
        for p in parts:
            try:
                nfd = os.open(p, _DIR, dir_fd=fd)
            except FileNotFoundError:
                os.mkdir(p, 0o755, dir_fd=fd)
                nfd = os.open(p, _DIR, dir_fd=fd)
            except OSError as e:
                os.close(fd)
                if e.errno in (errno.ELOOP, errno.ENOTDIR):
                    raise InvalidArgument(f"cannot extract through '{p}': it is not a "
                                          "directory in the destination") from None
                raise
            os.close(fd)
            fd = nfd
        return fd

    def extract(self, tar: tarfile.TarFile) -> None:
        for m in tar:
            parts = _parts(m.name)
            if self.rename_top is not None:
                if not parts:
                    continue
                parts[0] = self.rename_top
            if not parts:
                continue   # "." itself: the destination is already there
            parent = self._dir(parts[:-1])
            try:
                self._entry(tar, m, parent, parts[-1])
            finally:
                os.close(parent)

    def _entry(self, tar: tarfile.TarFile, m: tarfile.TarInfo, parent: int, name: str) -> None:
        if m.isdir():
            try:
                st = os.stat(name, dir_fd=parent, follow_symlinks=False)
                if not stat.S_ISDIR(st.st_mode):
                    _remove_at(parent, name)
                    os.mkdir(name, 0o700, dir_fd=parent)
            except FileNotFoundError:
                os.mkdir(name, 0o700, dir_fd=parent)
            fd = os.open(name, _DIR, dir_fd=parent)
            try:
                self._owner_mode(fd, m)
                os.utime(fd, (m.mtime, m.mtime))
            finally:
                os.close(fd)
            return
        _remove_at(parent, name)
        if m.isreg():
            fd = os.open(name, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC,
                         0o600, dir_fd=parent)
            try:
                src = tar.extractfile(m)
                while True:
                    chunk = src.read(1 << 20)
                    if not chunk:
                        break
                    _write(fd, chunk)
                self._owner_mode(fd, m)
                os.utime(fd, (m.mtime, m.mtime))
            finally:
                os.close(fd)
        elif m.issym():
            os.symlink(m.linkname, name, dir_fd=parent)
            if self.owners:
                os.chown(name, m.uid, m.gid, dir_fd=parent, follow_symlinks=False)
        elif m.islnk():
            target = _parts(m.linkname)
            if self.rename_top is not None and target:
                target[0] = self.rename_top
            if not target:
                raise InvalidArgument(f"hard link {m.name!r} has no target")
            tparent = self._dir(target[:-1])
            try:
                os.link(target[-1], name, src_dir_fd=tparent, dst_dir_fd=parent,
                        follow_symlinks=False)
            finally:
                os.close(tparent)
        elif m.ischr() or m.isblk() or m.isfifo():
            kind = stat.S_IFCHR if m.ischr() else stat.S_IFBLK if m.isblk() else stat.S_IFIFO
            os.mknod(name, kind | (m.mode & 0o7777), os.makedev(m.devmajor, m.devminor),
                     dir_fd=parent)
            if self.owners:
                os.chown(name, m.uid, m.gid, dir_fd=parent, follow_symlinks=False)

    def _owner_mode(self, fd: int, m: tarfile.TarInfo) -> None:
        if self.owners:
            os.fchown(fd, m.uid, m.gid)   # before the mode: chown clears set-id bits
        os.fchmod(fd, m.mode & 0o7777)


def _write(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]


def extract_to(root: int, path: str, stream: BinaryIO) -> None:
    """A tar stream (``cp - CONTAINER:PATH``) extracted into the container's directory
    ``path``, which must exist."""
    try:
        dest = open_in_root(root, path, os.O_RDONLY | os.O_DIRECTORY)
    except OSError as e:
        if e.errno == errno.ENOTDIR:
            raise InvalidArgument(f"extraction point is not a directory: {path}") from None
        raise _not_found(path, e) from None
    try:
        with tarfile.open(fileobj=stream, mode="r|*") as tar:
            TreeExtractor(dest).extract(tar)
    except tarfile.TarError as e:
        raise InvalidArgument(f"the input is not a tar archive: {e}") from None
    finally:
        os.close(dest)


def copy_file_into(root: int, src: str, path: str, follow_link: bool = False) -> None:
    """``cp HOSTPATH CONTAINER:PATH`` with Docker's rules: into an existing directory under
    the source's name; over an existing file (a symlink followed inside the container); or
    as a new entry named by the path's last component."""
    st = os.stat(src) if follow_link else os.lstat(src)
    src_is_dir = stat.S_ISDIR(st.st_mode)
    try:
        target = open_in_root(root, path, os.O_PATH)
    except OSError as e:
        if e.errno not in (errno.ENOENT,):
            raise _not_found(path, e) from None
        target = -1
    if target >= 0:
        try:
            tst = os.fstat(target)
        finally:
            os.close(target)
        if stat.S_ISDIR(tst.st_mode):
            dest, top = open_in_root(root, path, os.O_RDONLY | os.O_DIRECTORY), None
        elif src_is_dir:
            raise InvalidArgument(f"cannot copy a directory to a file: {path} exists and is "
                                  "not a directory")
        elif stat.S_ISREG(st.st_mode) and stat.S_ISREG(tst.st_mode):
            _overwrite(root, src, path, st)
            return
        else:
            dest, top = _parent_of(root, path)
    else:
        if path.endswith("/"):
            raise NotFound(f"no such directory: {path} (in the container)")
        dest, top = _parent_of(root, path)
    try:
        _copy_host_tree(src, dest, top, follow_link)
    finally:
        os.close(dest)


def _parent_of(root: int, path: str) -> tuple[int, str]:
    parent, name = _split(path)
    if name == ".":
        raise InvalidArgument(f"invalid destination {path!r}")
    try:
        return open_in_root(root, parent, os.O_RDONLY | os.O_DIRECTORY), name
    except OSError as e:
        raise _not_found(parent, e) from None


def _overwrite(root: int, src: str, path: str, st: os.stat_result) -> None:
    """A regular file's bytes, mode and owner over the container's existing regular file."""
    fd = open_in_root(root, path, os.O_WRONLY | os.O_NONBLOCK | os.O_NOCTTY)
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise InvalidArgument(f"{path} in the container is not a regular file")
        os.ftruncate(fd, 0)
        with open(src, "rb") as f:
            while True:
                chunk = f.read(1 << 20)
                if not chunk:
                    break
                _write(fd, chunk)
        os.fchown(fd, st.st_uid, st.st_gid)
        os.fchmod(fd, stat.S_IMODE(st.st_mode))
        os.utime(fd, (st.st_atime, st.st_mtime))
    finally:
        os.close(fd)


def _copy_host_tree(src: str, dest: int, top: str | None, follow_link: bool) -> None:
    """Archive the host path ``src`` and extract it under ``dest`` (as ``top`` when given)."""
    import tempfile
    name = os.path.basename(os.path.normpath(src)) or "."
    with tempfile.TemporaryFile() as tmp:
        parent = os.open(os.path.dirname(os.path.abspath(src)) or "/", os.O_RDONLY | os.O_DIRECTORY
                         | os.O_CLOEXEC)
        try:
            w = TreeWriter(tmp)
            try:
                w.add(parent, name, name, follow=follow_link)
            finally:
                w.close()
        finally:
            os.close(parent)
        tmp.seek(0)
        with tarfile.open(fileobj=tmp, mode="r|") as tar:
            TreeExtractor(dest, rename_top=top).extract(tar)


def copy_out_to_host(archive: Callable[[BinaryIO], None], src: str, dst: str) -> None:
    """``cp CONTAINER:SRC HOSTPATH``: the archive ``archive`` writes, extracted on the host with
    Docker's rules (into an existing directory; over a file; or as the new name ``dst``)."""
    import tempfile
    contents = src.rstrip("/").endswith("/.")
    if os.path.isdir(dst):
        dest, top = dst, None
    else:
        parent = os.path.dirname(os.path.abspath(dst))
        if not os.path.isdir(parent):
            raise NotFound(f"no such directory: {parent}")
        if dst.endswith("/"):
            raise NotFound(f"no such directory: {dst}")
        dest, top = parent, os.path.basename(os.path.abspath(dst))
        if contents:
            os.mkdir(dst, 0o755)
            dest, top = dst, None
    with tempfile.TemporaryFile() as tmp:
        archive(tmp)
        tmp.seek(0)
        fd = os.open(dest, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        try:
            with tarfile.open(fileobj=tmp, mode="r|") as tar:
                TreeExtractor(fd, rename_top=None if contents else top,
                              owners=os.geteuid() == 0).extract(tar)
        finally:
            os.close(fd)


# --- diff --------------------------------------------------------------------------------------

def diff(upper: str, lowers: list[str]) -> list[tuple[str, str]]:
    """Docker's ``diff`` of an overlay upper dir over its lower layers (top first): ("A"|"C"|"D",
    path), sorted; the runtime's own mount points are left out."""
    lower_fds = [os.open(d, _DIR) for d in lowers]
    out: list[tuple[str, str]] = []
    try:
        top = os.open(upper, _DIR)
        try:
            _diff_dir(top, "", lower_fds, out)
        finally:
            os.close(top)
    finally:
        for fd in lower_fds:
            os.close(fd)
    return _drop_runtime(sorted(out, key=lambda c: c[1]))


def _in_lower(lower_fds: list[int], rel: str) -> bool:
    for fd in lower_fds:
        try:
            # no symlink is followed: "a/b" exists below only as a real path
            os.close(openat2(fd, rel, os.O_PATH | os.O_NOFOLLOW,
                             RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS))
        except OSError:
            continue
        # a whiteout in a higher layer hides it: that layer answers first in this order
        st = os.stat(rel, dir_fd=fd, follow_symlinks=False)
        return not (stat.S_ISCHR(st.st_mode) and st.st_rdev == 0)
    return False


def _diff_dir(fd: int, rel: str, lower_fds: list[int], out: list) -> None:
    for name in sorted(os.listdir(fd)):
        path = _join(rel, name)
        st = os.stat(name, dir_fd=fd, follow_symlinks=False)
        if stat.S_ISCHR(st.st_mode) and st.st_rdev == 0:
            out.append(("D", "/" + path))
            continue
        existed = _in_lower(lower_fds, path)
        out.append(("C" if existed else "A", "/" + path))
        if stat.S_ISDIR(st.st_mode):
            sub = os.open(name, _DIR, dir_fd=fd)
            try:
                if existed and _opaque(sub):
                    _opaque_deletions(lower_fds, path, sub, out)
                _diff_dir(sub, path, lower_fds, out)
            finally:
                os.close(sub)


def _opaque_deletions(lower_fds, rel, upper_fd, out) -> None:
    """An opaque directory hides everything below it: what the layers had and it lacks is
    deleted."""
    have = set(os.listdir(upper_fd))
    gone: set[str] = set()
    for fd in lower_fds:
        try:
            d = openat2(fd, rel, os.O_RDONLY | os.O_DIRECTORY,
                        RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS)
        except OSError:
            continue
        try:
            gone.update(n for n in os.listdir(d) if n not in have and not n.startswith(".wh."))
        finally:
            os.close(d)
    out.extend(("D", f"/{rel}/{n}") for n in gone)


def _drop_runtime(changes: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """Leave out what the runtime itself put in the upper dir (mount points for /proc, /sys,
    /dev and the /etc files it binds) and directories changed only by that."""
    keep = [(k, p) for k, p in changes
            if not (k == "A" and (p in RUNTIME_MOUNTS or p in RUNTIME_FILES))
            and not p.startswith(tuple(m + "/" for m in RUNTIME_MOUNTS))]
    paths = [p for _, p in keep]
    out = []
    for k, p in keep:
        if k == "C" and p in ("/etc",) and not any(q.startswith(p + "/") for q in paths):
            continue
        out.append((k, p))
    return out


def write_layer(upper: str, out: BinaryIO) -> None:
    """The upper dir as an OCI layer tar: whiteouts as ``.wh.`` files, opaque directories
    marked, the runtime's own mount points left out when they are all there is."""
    fd = os.open(upper, _DIR)
    try:
        w = TreeWriter(out, whiteouts=True)
        try:
            for name in sorted(os.listdir(fd)):
                if _runtime_leftover(fd, name):
                    continue
                w.add(fd, name, name, "/" + name)
        finally:
            w.close()
    finally:
        os.close(fd)


def _runtime_leftover(fd: int, name: str) -> bool:
    """An empty /proc, /sys or /dev the runtime made to mount on (not the container's work)."""
    if "/" + name not in RUNTIME_MOUNTS:
        return False
    try:
        sub = os.open(name, _DIR, dir_fd=fd)
    except OSError:
        return False
    try:
        return not os.listdir(sub)
    finally:
        os.close(sub)


# --- the container's root ----------------------------------------------------------------------

def run_in_root(store, container, op: Callable, out: BinaryIO | None = None,
                inp: BinaryIO | None = None):
    """``op(root_fd, stream)`` with the container's root filesystem: a running container's
    through /proc/<pid>/root (its mounts, volumes included, as it sees them); a stopped one's
    overlay mounted in a private mount namespace of a forked child, the tar data crossing a
    pipe to ``out`` or from ``inp``. The container can't start meanwhile (its start lock)."""
    from .runtime import process
    d = store.paths.container_dir(container.id)
    state = process.effective_status(process.read_state(d))
    pid = state.get("pid") or 0
    if state.get("status") in ("running", "paused", "restarting") and pid:
        start = process.start_time(pid)
        try:
            root = os.open(f"/proc/{pid}/root", os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
        except OSError:
            root = -1
        if root >= 0:
            try:
                if start and process.start_time(pid) == start:
                    return op(root, out if out is not None else inp)
            except OSError as e:
                raise _host_error(e) from None
            finally:
                os.close(root)
    return _in_private_mount(store, container, op, out, inp)


def _host_error(e: OSError) -> HostError:
    if e.errno in DISK_ERRNOS:
        return host_error("copying files" + (f" ({e.filename})" if e.filename else ""), e)
    if e.errno == errno.EOVERFLOW:
        # files made by the host's root have no owner in an idmapped (--userns auto) root
        return HostError("copying into a --userns auto container is not supported yet: "
                         "run it without --userns auto to copy files in")
    where = f"{e.filename}: " if e.filename else ""
    return HostError(f"{where}{e.strerror or e}")


def _in_private_mount(store, container, op, out, inp):
    import fcntl
    import json
    from .runtime import linux, process, records
    d = store.paths.container_dir(container.id)
    raw = records.read_raw(store, container.id) or {}
    lowers = list(reversed(raw.get("layer_dirs") or []))
    spec = process.read_json(os.path.join(d, "spec.json")) or {}
    mounts = [m for m in spec.get("mounts") or [] if m.get("type") != "tmpfs"]
    lock = os.open(os.path.join(d, ".start"), os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    try:
        fcntl.flock(lock, fcntl.LOCK_EX)
        state = process.effective_status(process.read_state(d))
        if state.get("status") in ("running", "paused"):
            from .errors import Conflict
            raise Conflict(f"container {container.short_id} started meanwhile; try again")
        data_r, data_w = os.pipe()
        err_r, err_w = os.pipe()
        child = os.fork()
        if child == 0:
            try:
                os.close(err_r)
                linux.unshare(linux.CLONE_NEWNS)
                linux.mount(None, "/", None, linux.MS_REC | linux.MS_PRIVATE)
                rootfs = os.path.join(d, "rootfs")
                opts = (f"lowerdir={':'.join(lowers)},upperdir={os.path.join(d, 'upper')},"
                        f"workdir={os.path.join(d, 'work')}")
                linux.mount("overlay", rootfs, "overlay", 0, opts)
                if mounts:
                    # its volumes and binds too, as the container sees them (a tmpfs kept
                    # nothing: what is under it is what a copy must see)
                    from . import volumes
                    volumes.mount_all(rootfs, mounts)
                root = os.open(rootfs, os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
                if out is not None:
                    os.close(data_r)
                    with os.fdopen(data_w, "wb") as f:
                        op(root, f)
                else:
                    os.close(data_w)
                    with os.fdopen(data_r, "rb") as f:
                        op(root, f if inp is not None else None)
                os._exit(0)
            except BaseException as e:  # noqa: BLE001 - reported to the parent, never returns
                if isinstance(e, OSError):
                    e = _host_error(e)
                kind = type(e).__name__ if isinstance(e, BerthError) else "HostError"
                msg = str(e)
                try:
                    os.write(err_w, json.dumps({"type": kind, "message": msg}).encode())
                finally:
                    os._exit(1)
        os.close(err_w)
        if out is not None:
            os.close(data_w)
            data_w = -1
        else:
            os.close(data_r)
            data_r = -1
        try:
            if out is not None:
                while True:
                    chunk = os.read(data_r, 1 << 20)
                    if not chunk:
                        break
                    out.write(chunk)
            else:
                try:
                    while inp is not None:
                        chunk = inp.read(1 << 20)
                        if not chunk:
                            break
                        _write(data_w, chunk)
                except BrokenPipeError:
                    pass   # the child stopped reading: its report says why
            for fd in (data_r, data_w):
                if fd >= 0:
                    os.close(fd)
            data_r = data_w = -1
            report = b""
            while True:
                chunk = os.read(err_r, 65536)
                if not chunk:
                    break
                report += chunk
        finally:
            # a failed write of ours (a full disk) must not leave the child blocked on the pipe
            for fd in (data_r, data_w, err_r):
                if fd >= 0:
                    os.close(fd)
            _, status = os.waitpid(child, 0)
        if report:
            from . import errors
            msg = json.loads(report)
            raise getattr(errors, msg["type"], HostError)(msg["message"])
        if status:
            raise HostError(f"reading the filesystem of {container.short_id} failed")
    finally:
        os.close(lock)


# --- commit ------------------------------------------------------------------------------------

def image_config(container, parent, changes=(), message: str = "", author: str = "") -> dict:
    """The committed image's config document: the parent's, with the container's settings (as
    Docker's commit takes them) and the ``--change`` instructions on top."""
    from .clock import now_rfc3339
    from .images.importer import apply_changes
    c = container.config
    cfg = dict(parent.config or {})
    cfg.update(Cmd=list(c.cmd) or None, Entrypoint=list(c.entrypoint) or None, Env=list(c.env),
               WorkingDir=c.workdir, User=c.user, Labels=dict(c.labels) or None,
               ExposedPorts={p: {} for p in c.exposed_ports} or None,
               Volumes={v: {} for v in c.image_volumes} or None)
    if c.stop_signal and c.stop_signal != "SIGTERM":
        cfg["StopSignal"] = c.stop_signal
    if c.healthcheck is not None:   # the container's, over the image's (as Docker commits)
        from .healthconfig import to_docker
        cfg["Healthcheck"] = to_docker(c.healthcheck)
    cfg = {k: v for k, v in apply_changes(cfg, list(changes or ())).items() if v not in (None, "")}
    now = now_rfc3339()
    created_by = " ".join([*c.entrypoint, *c.cmd])
    step = {"created": now, "created_by": created_by}
    if author:
        step["author"] = author
    if message:
        step["comment"] = message
    doc = {"architecture": parent.architecture or "amd64", "os": parent.os or "linux",
           "created": now, "config": cfg, "container": container.id,
           "history": [*(parent.history or []), step]}
    if author:
        doc["author"] = author
    if message:
        doc["comment"] = message
    return doc


def commit(engine, container, repository: str | None = None, message: str = "",
           author: str = "", changes=(), pause: bool = True):
    """A new image: the container's image plus its upper dir as one more layer (overlay
    whiteouts as ``.wh.`` files, opaque directories marked), with the container's config."""
    import tempfile
    from .images.importer import apply_changes
    apply_changes({}, list(changes or ()))   # refuse a bad --change before any work
    images = engine.image_store
    parent = images.resolve(container.config.image_id or container.config.image)
    upper = os.path.join(engine.paths.container_dir(container.id), "upper")
    cg = None
    if pause and container.running and container.state.status != "paused":
        from .runtime import cgroups
        cg = cgroups.detect(engine.paths)
        cg.freeze(container.id)
    tmp_dir = engine.store.path("tmp")
    os.makedirs(tmp_dir, exist_ok=True)
    with images.busy():   # the new layer is an orphan until the image is recorded
        try:
            with tempfile.TemporaryFile(dir=tmp_dir) as tmp:
                write_layer(upper, tmp)
                tmp.seek(0)
                layer = images.add_layer(tmp, parent.chain_ids[-1] if parent.chain_ids else "")
        finally:
            if cg is not None:
                cg.thaw(container.id)
        doc = image_config(container, parent, changes, message, author)
        return images.create_image(doc, [*images.image_layers(parent), layer],
                                   [repository] if repository else [])
