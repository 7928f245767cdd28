"""A tree in a container (or on the host) read into a tar stream, one descriptor at a time:
what ``cp`` out, ``export`` and ``commit`` write."""

from __future__ import annotations

import os
import stat
import tarfile
from typing import BinaryIO

from ..fswalk import walk
from . import DIR, RUNTIME_MOUNTS, is_opaque, join, not_found, open_in_root, split


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
        """Add ``name`` under the directory ``parent`` (and what is below it, however deep) as
        ``arcname``; ``path`` is where it is in the container (for ``skip``)."""
        top = self._entry(parent, name, arcname, path, follow)
        if top is None:
            return
        base = path.rstrip("/")

        def visit(fd: int, entry: str, is_dir: bool, where: str) -> int | None:
            rel = f"{where}/{entry}" if where else entry
            return self._entry(fd, entry, join(arcname, rel), f"{base}/{rel}")
        try:
            walk(top, visit, ordered=True)
        finally:
            os.close(top)

    def _entry(self, parent: int | None, name: str, arcname: str, path: str,
               follow: bool = False) -> int | None:
        """Write the entry ``name`` under ``parent``; for a directory whose contents go in too,
        its open descriptor."""
        flags = 0 if follow else os.O_NOFOLLOW
        st = os.stat(name, dir_fd=parent, follow_symlinks=follow)
        if self.dev is None:
            self.dev = st.st_dev
        info = self._info(arcname, st)
        if stat.S_ISDIR(st.st_mode):
            fd = os.open(name, DIR & ~os.O_NOFOLLOW | flags, dir_fd=parent)
            try:
                opaque = self.whiteouts and is_opaque(fd)
                if arcname not in (".", ""):
                    self.tar.addfile(info)
                if opaque:
                    self._empty(join(arcname, ".wh..wh..opq"), st)
            except BaseException:
                os.close(fd)
                raise
            if path in self.skip or self.one_fs and st.st_dev != self.dev:
                os.close(fd)
                return None
            return fd
        elif stat.S_ISREG(st.st_mode):
            if self.one_fs and st.st_dev != self.dev:
                self._empty(arcname, st)   # a file mounted over (hosts): the mount point only
                return None
            key = (st.st_dev, st.st_ino)
            if st.st_nlink > 1 and key in self.links:
                info.type, info.linkname, info.size = tarfile.LNKTYPE, self.links[key], 0
                self.tar.addfile(info)
                return None
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
            self._empty(join(parent_arc, ".wh." + base), st)
        elif stat.S_ISCHR(st.st_mode) or stat.S_ISBLK(st.st_mode) or stat.S_ISFIFO(st.st_mode):
            info.type = (tarfile.CHRTYPE if stat.S_ISCHR(st.st_mode) else
                         tarfile.BLKTYPE if stat.S_ISBLK(st.st_mode) else tarfile.FIFOTYPE)
            info.devmajor, info.devminor = os.major(st.st_rdev), os.minor(st.st_rdev)
            self.tar.addfile(info)
        # sockets are not archived (as tar does)
        return None

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



def archive_path(root: int, path: str, out: BinaryIO, follow_link: bool = False) -> None:
    """``path`` in the container as a tar on ``out``, Docker's way: the entry is named for the
    path's last component; ``dir/.`` gives the directory's contents; a final symlink is copied
    as a symlink unless ``follow_link``."""
    parent_path, name = split(path)
    contents = path.rstrip("/").endswith("/.") or path.rstrip("/") in ("", ".")
    try:
        parent = open_in_root(root, parent_path, os.O_RDONLY | os.O_DIRECTORY)
    except OSError as e:
        raise not_found(path, e) from None
    target = -1
    try:
        try:
            os.stat(name, dir_fd=parent, follow_symlinks=False)
            if follow_link and name != ".":
                # the target, resolved inside the container, archived under the link's name
                target = open_in_root(root, path, os.O_PATH)
        except OSError as e:
            raise not_found(path, e) from None
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
    return "/" + join(parent.strip("/"), name) if name != "." else parent

