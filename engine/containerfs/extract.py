"""A tar stream written into a tree under a directory descriptor, as Docker's untar does:
``cp`` into a container (from a host path or a tar on stdin) and ``cp`` out onto the host."""

from __future__ import annotations

import errno
import os
import stat
import tarfile
from typing import BinaryIO, Callable

from ..errors import InvalidArgument, NotFound
from ..fswalk import remove_tree
from . import DIR, not_found, open_in_root, split, write_all
from .tarwrite import TreeWriter


def _parts(name: str) -> list[str]:
    parts = [p for p in name.split("/") if p not in ("", ".")]
    if ".." in parts:
        raise InvalidArgument(f"archive entry {name!r} climbs out with '..': refusing it")
    return parts


class TreeExtractor:
    """Extracts a tar under a directory descriptor as Docker's untar does: an existing entry is
    replaced unless both are directories; nothing in the tree is followed (an existing symlink
    in the way is replaced, not walked through)."""

    def __init__(self, dest: int, rename_top: str | None = None, owners: bool = True):
        self.dest = dest
        self.rename_top = rename_top
        self.owners = owners
        # the directory the last entry went into, open: a tar is written depth first, so the
        # next entry goes there or one level below, and reaching it costs one open whatever
        # the depth (not one per level, which makes a deep tree quadratic)
        self._last: list[str] = []
        self._last_fd = -1

    def _open(self, parts: list[str]) -> int:
        """The destination's directory ``parts``, made where missing, reached from the top one
        component at a time without following anything; the caller closes it."""
        fd = os.dup(self.dest)
        try:
            for p in parts:
                nfd = self._step(fd, p)
                os.close(fd)
                fd = nfd
        except BaseException:
            os.close(fd)
            raise
        return fd

    @staticmethod
    def _step(fd: int, name: str) -> int:
        try:
            return os.open(name, DIR, dir_fd=fd)
        except FileNotFoundError:
            os.mkdir(name, 0o755, dir_fd=fd)
            return os.open(name, DIR, dir_fd=fd)
        except OSError as e:
            if e.errno in (errno.ELOOP, errno.ENOTDIR):
                raise InvalidArgument(f"cannot extract through '{name}': it is not a "
                                      "directory in the destination") from None
            raise

    def _dir(self, parts: list[str]) -> int:
        """The destination's directory ``parts`` (made where missing); it stays open, for the
        next entry, until the next call."""
        if self._last_fd >= 0 and parts == self._last:
            return self._last_fd
        if self._last_fd >= 0 and len(parts) == len(self._last) + 1 and parts[:-1] == self._last:
            fd = self._step(self._last_fd, parts[-1])
        else:
            fd = self._open(parts)
        self._forget()
        self._last, self._last_fd = parts, fd
        return fd

    def _forget(self) -> None:
        if self._last_fd >= 0:
            os.close(self._last_fd)
        self._last, self._last_fd = [], -1

    def extract(self, tar: tarfile.TarFile) -> None:
        try:
            for m in tar:
                parts = _parts(m.name)
                if self.rename_top is not None:
                    if not parts:
                        continue
                    parts[0] = self.rename_top
                if not parts:
                    continue   # "." itself: the destination is already there
                self._entry(tar, m, self._dir(parts[:-1]), parts[-1])
        finally:
            self._forget()

    def _entry(self, tar: tarfile.TarFile, m: tarfile.TarInfo, parent: int, name: str) -> None:
        if m.isdir():
            try:
                st = os.stat(name, dir_fd=parent, follow_symlinks=False)
                if not stat.S_ISDIR(st.st_mode):
                    remove_tree(name, parent)
                    os.mkdir(name, 0o700, dir_fd=parent)
            except FileNotFoundError:
                os.mkdir(name, 0o700, dir_fd=parent)
            fd = os.open(name, DIR, dir_fd=parent)
            try:
                self._owner_mode(fd, m)
                os.utime(fd, (m.mtime, m.mtime))
            finally:
                os.close(fd)
            return
        remove_tree(name, parent)
        if m.isreg():
            fd = os.open(name, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC,
                         0o600, dir_fd=parent)
            try:
                src = tar.extractfile(m)
                while True:
                    chunk = src.read(1 << 20)
                    if not chunk:
                        break
                    write_all(fd, chunk)
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
            tparent = self._open(target[:-1])
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



def extract_to(root: int, path: str, stream: BinaryIO) -> None:
    """A tar stream (``cp - CONTAINER:PATH``) extracted into the container's directory
    ``path``, which must exist."""
    try:
        dest = open_in_root(root, path, os.O_RDONLY | os.O_DIRECTORY)
    except OSError as e:
        if e.errno == errno.ENOTDIR:
            raise InvalidArgument(f"extraction point is not a directory: {path}") from None
        raise not_found(path, e) from None
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
            raise not_found(path, e) from None
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
    parent, name = split(path)
    if name == ".":
        raise InvalidArgument(f"invalid destination {path!r}")
    try:
        return open_in_root(root, parent, os.O_RDONLY | os.O_DIRECTORY), name
    except OSError as e:
        raise not_found(parent, e) from None


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
                write_all(fd, chunk)
        os.fchown(fd, st.st_uid, st.st_gid)
        os.fchmod(fd, stat.S_IMODE(st.st_mode))
        os.utime(fd, (st.st_atime, st.st_mtime))
    finally:
        os.close(fd)


def archive_host_path(src: str, out: BinaryIO, arcname: str | None = None,
                      follow_link: bool = False) -> None:
    """The host path ``src`` (and what is below it) as a tar written to ``out``, its top entry
    named ``arcname`` (its own name by default)."""
    name = os.path.basename(os.path.normpath(src)) or "."
    parent = os.open(os.path.dirname(os.path.abspath(src)) or "/", os.O_RDONLY | os.O_DIRECTORY
                     | os.O_CLOEXEC)
    try:
        w = TreeWriter(out)
        try:
            w.add(parent, name, arcname or name, follow=follow_link)
        finally:
            w.close()
    finally:
        os.close(parent)


def _copy_host_tree(src: str, dest: int, top: str | None, follow_link: bool) -> None:
    """Archive the host path ``src`` and extract it under ``dest`` (as ``top`` when given)."""
    import tempfile
    with tempfile.TemporaryFile() as tmp:
        archive_host_path(src, tmp, follow_link=follow_link)
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

