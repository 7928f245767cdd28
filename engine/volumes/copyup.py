"""Filling a new volume with what the image has at its mount point, as Docker does.

Runs in the container's first process, after the overlay root is mounted and before the volume
is mounted over the directory, so the merged view already has every layer, whiteout and opaque
directory applied. The source and the copy are walked through descriptors without following
symlinks (engine/fswalk.py), so a hostile image can only copy its own files, nested as deep as
it likes. Owners, modes, times, xattrs, hardlinks, symlinks, devices and fifos are kept.

Several containers may start at once on the same new volume: each mounts it under
``VolumeLock`` (exclusive for those that may fill it, shared for the others), and ``fill``
copies into a directory beside ``_data`` and renames it over the empty ``_data``, so the copy
happens once, no container binds a half-filled volume, and a copy cut short by a crash leaves
the volume empty for the next start to fill.
"""

from __future__ import annotations

import fcntl
import os
import stat

# at module level: the monitor imports this module before it forks the container's first
# process, which does the copy
from ..fswalk import DIR_FLAGS, DirStack, open_beneath, remove_tree, walk

COPYING = "_data.copying"   # beside _data: the copy until it is complete
MOUNTED = ".mounted"        # beside _data: some container has had _data mounted


class VolumeLock:
    """Held by a container's first process while it fills and mounts a volume whose data
    directory is ``data_dir``: exclusive when it may fill it (copy-up), shared otherwise.
    ``mounted()`` records that the data directory has been handed to a container."""

    def __init__(self, data_dir: str, exclusive: bool):
        self.vdir = os.path.dirname(data_dir)
        self.fd = os.open(self.vdir, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        try:
            fcntl.flock(self.fd, fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH)
        except BaseException:
            os.close(self.fd)
            raise

    def mounted(self) -> None:
        os.close(os.open(os.path.join(self.vdir, MOUNTED),
                         os.O_WRONLY | os.O_CREAT | os.O_CLOEXEC | os.O_NOFOLLOW, 0o600))

    def release(self) -> None:
        os.close(self.fd)


def fill(src_fd: int, data_dir: str, id_shift: int = 0) -> bool:
    """Copy the directory open as ``src_fd`` into the volume whose data directory is
    ``data_dir`` unless it has content already; the caller holds the exclusive VolumeLock.
    True when it copied.

    The copy goes to a directory beside ``data_dir`` and is renamed over the empty one, so it
    appears whole or not at all. Only a data directory that a container may hold mounted
    already (an earlier start mounted the empty volume) or that is a mount point itself (a
    device volume) is filled in place, as Docker fills every volume: renaming over it would
    leave that container with the old, empty directory."""
    if os.listdir(data_dir):
        return False
    vdir = os.path.dirname(data_dir)
    if os.path.exists(os.path.join(vdir, MOUNTED)) or os.path.ismount(data_dir):
        copy_tree(src_fd, data_dir, id_shift)
        return True
    tmp = os.path.join(vdir, COPYING)
    remove_tree(tmp)   # what a copy cut short by a crash left
    os.mkdir(tmp, 0o700)
    copy_tree(src_fd, tmp, id_shift)
    os.rename(tmp, data_dir)
    return True


def _xattrs(src: str, dst: str, follow: bool = False) -> None:
    try:
        names = os.listxattr(src, follow_symlinks=follow)
    except OSError:
        return
    for name in names:
        try:
            os.setxattr(dst, name, os.getxattr(src, name, follow_symlinks=follow),
                        follow_symlinks=False)
        except OSError:
            pass  # a filesystem without that namespace (user.* on a symlink): as cp -a does


def _shifted(ident: int, shift: int) -> int:
    # ids outside the container's range (the overflow id) are kept as they are
    return ident + shift if 0 <= ident + shift < 65536 or not shift else ident


def _meta(dir_fd: int | None, name: str, st: os.stat_result, src: str, is_link: bool = False,
          src_is_magic_link: bool = False, shift: int = 0) -> None:
    """Owner, mode, xattrs (read from the path ``src``) and times of ``name`` in the copy."""
    os.chown(name, _shifted(st.st_uid, shift), _shifted(st.st_gid, shift), dir_fd=dir_fd,
             follow_symlinks=False)
    if not is_link:
        # after chown, which clears set-id bits
        os.chmod(name, stat.S_IMODE(st.st_mode), dir_fd=dir_fd)
    # /proc/self/fd/N itself is a symlink: followed to read what it points at
    _xattrs(src, name if dir_fd is None else f"/proc/self/fd/{dir_fd}/{name}",
            follow=src_is_magic_link)
    os.utime(name, ns=(st.st_atime_ns, st.st_mtime_ns), dir_fd=dir_fd, follow_symlinks=False)


def copy_tree(src_fd: int, dest: str, id_shift: int = 0) -> None:
    """Copy the directory open as ``src_fd`` (an O_PATH descriptor is fine) into the existing,
    empty directory ``dest``, giving ``dest`` the source directory's owner and mode. Owners are
    moved by ``id_shift`` (reading an idmapped root as host root, the disk keeps unshifted ids).
    Both trees are walked by descriptor (engine/fswalk.py), however deep the image's goes."""
    top = os.open(".", os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC, dir_fd=src_fd)
    try:
        out = os.open(dest, DIR_FLAGS)
    except BaseException:
        os.close(top)
        raise
    dests = DirStack(out)
    links: dict[tuple[int, int], tuple[str, str]] = {}   # first copy: (its directory, name)
    dir_stats: list[os.stat_result] = []

    def visit(dfd: int, name: str, is_dir: bool, where: str) -> int | None:
        st = os.stat(name, dir_fd=dfd, follow_symlinks=False)
        here = dests.fd
        mode = st.st_mode
        if stat.S_ISDIR(mode):
            os.mkdir(name, 0o700, dir_fd=here)
            sub = os.open(name, DIR_FLAGS, dir_fd=dfd)
            try:
                dests.push(os.open(name, DIR_FLAGS, dir_fd=here))
            except BaseException:
                os.close(sub)
                raise
            dir_stats.append(st)
            return sub
        key = (st.st_dev, st.st_ino)
        if st.st_nlink > 1 and key in links:
            _link(out, links[key], where, here, name)
            return None
        src = f"/proc/self/fd/{dfd}/{name}"
        if stat.S_ISREG(mode):
            _copy_file(dfd, name, here)
            _meta(here, name, st, src, shift=id_shift)
        elif stat.S_ISLNK(mode):
            os.symlink(os.readlink(name, dir_fd=dfd), name, dir_fd=here)
            _meta(here, name, st, src, is_link=True, shift=id_shift)
        else:  # devices, fifos, sockets
            os.mknod(name, mode, st.st_rdev, dir_fd=here)
            _meta(here, name, st, src, shift=id_shift)
        if st.st_nlink > 1:
            links[key] = (where, name)
        return None

    def leave(dfd: int, name: str, where: str) -> None:
        # a directory's own times last, so copying its content does not change them
        dests.pop()
        _meta(dests.fd, name, dir_stats.pop(), f"/proc/self/fd/{dfd}/{name}", shift=id_shift)
    try:
        walk(top, visit, leave)
        _meta(None, dest, os.fstat(top), f"/proc/self/fd/{top}", src_is_magic_link=True,
              shift=id_shift)
    finally:
        dests.close()
        os.close(out)
        os.close(top)


def _link(out: int, first: tuple[str, str], where: str, here: int, name: str) -> None:
    """Hardlink ``name`` in the copy's directory ``here`` (at ``where``) to the first copy of
    the same file, ``first`` = (its directory from the top ``out``, its name)."""
    if first[0] == where:
        os.link(first[1], name, src_dir_fd=here, dst_dir_fd=here, follow_symlinks=False)
        return
    src_dir = open_beneath(out, first[0].split("/"), os.O_PATH | os.O_DIRECTORY) \
        if first[0] else os.dup(out)
    try:
        os.link(first[1], name, src_dir_fd=src_dir, dst_dir_fd=here, follow_symlinks=False)
    finally:
        os.close(src_dir)


def _copy_file(dir_fd: int, name: str, dest_dir: int) -> None:
    sfd = os.open(name, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=dir_fd)
    try:
        dfd = os.open(name, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC,
                      0o600, dir_fd=dest_dir)
        try:
            size = os.fstat(sfd).st_size
            offset = 0
            while offset < size:
                n = os.sendfile(dfd, sfd, offset, size - offset)
                if n == 0:
                    break
                offset += n
        finally:
            os.close(dfd)
    finally:
        os.close(sfd)
