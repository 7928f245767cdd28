"""Filling a new volume with what the image has at its mount point, as Docker does.

Runs in the container's first process, after the overlay root is mounted and before the volume
is mounted over the directory, so the merged view already has every layer, whiteout and opaque
directory applied. The source is walked through descriptors without following symlinks
(``os.fwalk``), so a hostile image can only copy its own files. Owners, modes, times, xattrs,
hardlinks, symlinks, devices and fifos are kept.

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
    from ..runtime.process import remove_tree
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
                        follow_symlinks=follow)
        except OSError:
            pass  # a filesystem without that namespace (user.* on a symlink): as cp -a does


def _copy_xattrs_followed(src: str, dst: str) -> None:
    try:
        names = os.listxattr(src)
    except OSError:
        return
    for name in names:
        try:
            os.setxattr(dst, name, os.getxattr(src, name))
        except OSError:
            pass


def _shifted(ident: int, shift: int) -> int:
    # ids outside the container's range (the overflow id) are kept as they are
    return ident + shift if 0 <= ident + shift < 65536 or not shift else ident


def _meta(path: str, st: os.stat_result, src: str, is_link: bool = False,
          src_is_magic_link: bool = False, shift: int = 0) -> None:
    os.chown(path, _shifted(st.st_uid, shift), _shifted(st.st_gid, shift),
             follow_symlinks=False)
    if not is_link:
        # after chown, which clears set-id bits
        os.chmod(path, stat.S_IMODE(st.st_mode))
    if src_is_magic_link:
        # /proc/self/fd/N itself is a symlink: read the xattrs of what it points at
        _copy_xattrs_followed(src, path)
    else:
        _xattrs(src, path)
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns), follow_symlinks=False)


def copy_tree(src_fd: int, dest: str, id_shift: int = 0) -> None:
    """Copy the directory open as ``src_fd`` (an O_PATH descriptor is fine) into the existing,
    empty directory ``dest``, giving ``dest`` the source directory's owner and mode. Owners are
    moved by ``id_shift`` (reading an idmapped root as host root, the disk keeps unshifted ids)."""
    top = os.open(".", os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC, dir_fd=src_fd)
    try:
        links: dict[tuple[int, int], str] = {}
        dirs: list[tuple[str, os.stat_result, str]] = []
        for dirpath, dirnames, filenames, dfd in os.fwalk(".", dir_fd=top, follow_symlinks=False):
            ddir = os.path.normpath(os.path.join(dest, dirpath))
            for name in dirnames + filenames:
                st = os.stat(name, dir_fd=dfd, follow_symlinks=False)
                src = f"/proc/self/fd/{dfd}/{name}"
                out = os.path.join(ddir, name)
                mode = st.st_mode
                if stat.S_ISDIR(mode):
                    os.mkdir(out, 0o700)
                    dirs.append((out, st, src))
                    continue
                key = (st.st_dev, st.st_ino)
                if st.st_nlink > 1 and key in links:
                    os.link(links[key], out, follow_symlinks=False)
                    continue
                if stat.S_ISREG(mode):
                    _copy_file(dfd, name, out)
                    _meta(out, st, src, shift=id_shift)
                elif stat.S_ISLNK(mode):
                    os.symlink(os.readlink(name, dir_fd=dfd), out)
                    _meta(out, st, src, is_link=True, shift=id_shift)
                else:  # devices, fifos, sockets
                    os.mknod(out, mode, st.st_rdev)
                    _meta(out, st, src, shift=id_shift)
                if st.st_nlink > 1:
                    links[key] = out
        # directories last, deepest first, so copying their content does not change their times
        for out, st, src in reversed(dirs):
            _meta(out, st, src, shift=id_shift)
        st = os.fstat(top)
        _meta(dest, st, f"/proc/self/fd/{top}", src_is_magic_link=True, shift=id_shift)
    finally:
        os.close(top)


def _copy_file(dir_fd: int, name: str, out: str) -> None:
    sfd = os.open(name, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=dir_fd)
    try:
        dfd = os.open(out, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC,
                      0o600)
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
