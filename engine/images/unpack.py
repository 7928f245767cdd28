"""Unpacking a layer tarball into overlay form, safely and fast.

A layer is hostile input. Every entry is created relative to a directory descriptor that was
opened component by component with ``O_NOFOLLOW``, and every final component is created without
following symlinks (``O_EXCL``, ``mknodat``, ``symlinkat``, ``linkat``), so no path, symlink chain
or hardlink target can make berth write outside the layer: an entry with ``..`` or an absolute
path, a symlink that climbs out of the layer, a hardlink to something not in the layer, and a file
written through a symlinked directory (the CVE-2014-9356 / CVE-2018-15664 family) are refused
with an IntegrityError naming the entry.

Overlay form: ``.wh.NAME`` becomes a 0/0 character device NAME, ``.wh..wh..opq`` sets
``trusted.overlay.opaque=y`` on its directory; ``trusted.overlay.*`` attributes in the tarball are
dropped (they would steer overlayfs). Owners, modes (setuid included), xattrs, hardlinks,
symlinks, device nodes and times are kept.

Python's tarfile resolves and stats each path; this reader parses the headers itself (the bytes
come from ``tarstream``) and tracks what it created, so an entry costs a handful of syscalls.
"""

from __future__ import annotations

import base64
import errno
import os
import stat
import urllib.parse
TYPE_CHECKING = False
if TYPE_CHECKING:   # typing costs every pull 3 ms of import
    from typing import BinaryIO, Callable

from ..errors import DISK_ERRNOS, HostError, IntegrityError, InvalidArgument, host_error
from ..paths import rootless
from ..rootless import idmap, overlay
from .tarstream import HOST_ERRNOS, TarStream, decompressed

BLOCK = 512
_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
_FILE_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
_MAX_CACHED_DIRS = 256
WHITEOUT = b".wh."
OPAQUE = b".wh..wh..opq"


# --- headers --------------------------------------------------------------------------------

def _num(field: bytes) -> int:
    if field and field[0] & 0x80:  # base-256 (GNU) for values octal can't hold
        return int.from_bytes(bytes([field[0] & 0x7F]) + field[1:], "big")
    s = field.split(b"\0", 1)[0].strip()
    if not s:
        return 0
    try:
        return int(s, 8)
    except ValueError:
        raise IntegrityError(f"not a tar archive: bad number {s[:20]!r} in a header") from None


def _cstr(field: bytes) -> bytes:
    i = field.find(b"\0")
    return field if i < 0 else field[:i]


def _pax(data: bytes) -> dict[bytes, bytes]:
    out: dict[bytes, bytes] = {}
    i = 0
    while i < len(data):
        sp = data.find(b" ", i)
        if sp < 0:
            break
        try:
            length = int(data[i:sp])
        except ValueError:
            raise IntegrityError("not a tar archive: a malformed pax header") from None
        if length <= 0:
            raise IntegrityError("not a tar archive: a malformed pax header")
        rec = data[sp + 1:i + length - 1]  # drop the newline
        k, _, v = rec.partition(b"=")
        out[k] = v
        i += length
    return out


def _show(name: bytes) -> str:
    """A path for a one-line message: undecodable bytes and control characters escaped."""
    s = name.decode("utf-8", "backslashreplace")
    return "".join(c if c.isprintable() else f"\\x{ord(c):02x}" for c in s)


def _refuse(reason: str) -> IntegrityError:
    return IntegrityError(f"refusing hostile layer: {reason}")


def _parts(name: bytes, what: str = "entry") -> list[bytes]:
    """A tar path split into components, or a refusal for absolute paths and '..'."""
    if name.startswith(b"/"):
        raise _refuse(f"{what} '{_show(name)}' is an absolute path")
    parts = [p for p in name.split(b"/") if p and p != b"."]
    if b".." in parts:
        raise _refuse(f"{what} '{_show(name)}' climbs out of the layer with '..'")
    return parts


# --- the unpacker ---------------------------------------------------------------------------

class _Unpacker:
    def __init__(self, dest: str):
        self.root = os.open(dest, _DIR_FLAGS)
        self.dirs: dict[bytes, int] = {}          # path -> open descriptor of a directory
        self.made: dict[bytes, str] = {b"": "d"}  # path -> kind of what this layer created
        self.dir_times: dict[bytes, tuple[int, int]] = {}
        self.sizes: dict[bytes, int] = {}         # regular file -> bytes (a hardlink adds none)

    def close(self) -> None:
        for fd in self.dirs.values():
            os.close(fd)
        self.dirs.clear()
        os.close(self.root)

    # directories, walked without following anything
    def dir_fd(self, parts: list[bytes], entry: bytes) -> int:
        """An open descriptor of the directory ``parts`` (made if the layer has not made it
        yet), reached from the deepest directory already open, one component at a time: no
        recursion, however deep the layer nests."""
        if not parts:
            return self.root
        key = b"/".join(parts)
        fd = self.dirs.pop(key, None)
        if fd is not None:
            self.dirs[key] = fd  # most recently used last: eviction takes the oldest
            return fd
        depth = len(parts) - 1
        while depth and b"/".join(parts[:depth]) not in self.dirs:
            depth -= 1
        fd = self.dirs[b"/".join(parts[:depth])] if depth else self.root
        for i in range(depth, len(parts)):
            fd = self._open_child(fd, parts[:i + 1], entry)
        return fd

    def _open_child(self, parent: int, parts: list[bytes], entry: bytes) -> int:
        """Open (making it if needed) the directory ``parts`` in ``parent``; it is cached."""
        key = b"/".join(parts)
        name = parts[-1]
        kind = self.made.get(key)
        if kind is None:
            os.mkdir(name, 0o755, dir_fd=parent)
            os.chmod(name, 0o755, dir_fd=parent)
            self.made[key] = "d"
        elif kind == "l":
            raise _refuse(f"entry '{_show(entry)}' goes through the symlink '{_show(key)}'")
        elif kind != "d":
            raise _refuse(f"entry '{_show(entry)}' goes through '{_show(key)}', "
                          "which is not a directory")
        try:
            fd = os.open(name, _DIR_FLAGS, dir_fd=parent)
        except OSError as e:
            if e.errno in (errno.ELOOP, errno.ENOTDIR):
                raise _refuse(f"entry '{_show(entry)}' goes through the symlink "
                              f"'{_show(key)}'") from None
            raise
        if len(self.dirs) >= _MAX_CACHED_DIRS:
            os.close(self.dirs.pop(next(iter(self.dirs))))
        self.dirs[key] = fd
        return fd

    def clear(self, key: bytes, parent: int, name: bytes, new_kind: str) -> None:
        """Make room for a new entry at ``key``: a later entry replaces an earlier one."""
        kind = self.made.get(key)
        if kind is None:
            return
        if kind == "d":
            if new_kind == "d":
                return
            prefix = key + b"/"
            for k in [k for k in self.dirs if k == key or k.startswith(prefix)]:
                os.close(self.dirs.pop(k))
            for k in [k for k in self.made if k.startswith(prefix)]:
                del self.made[k]
                self.sizes.pop(k, None)
            for k in [k for k in self.dir_times if k == key or k.startswith(prefix)]:
                del self.dir_times[k]
            from .scratch import remove_tree   # a later entry replacing a directory: rare
            remove_tree(name, parent)
        else:
            os.unlink(name, dir_fd=parent)
        del self.made[key]
        self.sizes.pop(key, None)

    def entry(self, stream: TarStream, name: bytes, typ: bytes, mode: int, uid: int, gid: int,
              size: int, mtime: int, linkname: bytes, devmajor: int, devminor: int,
              xattrs: dict[str, bytes]) -> None:
        parts = _parts(name)
        times = (mtime, mtime)
        if not parts:  # the layer's root itself ("./")
            if typ == b"5":
                os.chown(self.root, uid, gid)
                os.chmod(self.root, mode)
                self.dir_times[b""] = times
            stream.skip(size)
            return
        base = parts[-1]
        key = b"/".join(parts)
        parent = self.dir_fd(parts[:-1], name)
        if base.startswith(WHITEOUT):
            stream.skip(size)
            if base == OPAQUE:
                os.setxattr(parent, overlay.opaque_xattr(), b"y")
                return
            if base.startswith(b".wh..wh."):
                return  # aufs bookkeeping (.wh..wh.plnk and friends): not part of the tree
            target = base[len(WHITEOUT):]
            if target in (b"", b".", b".."):
                raise _refuse(f"whiteout '{_show(name)}' names no file")
            tkey = b"/".join(parts[:-1] + [target])
            self.clear(tkey, parent, target, "c")
            os.mknod(target, stat.S_IFCHR, os.makedev(0, 0), dir_fd=parent)
            self.made[tkey] = "c"
            return
        if typ in (b"0", b"\0", b"7"):
            self.clear(key, parent, base, "f")
            fd = os.open(base, _FILE_FLAGS, 0o600, dir_fd=parent)
            self.made[key] = "f"
            try:
                if size:
                    stream.copy_to(fd, size)
                    self.sizes[key] = size
                os.fchown(fd, uid, gid)
                os.fchmod(fd, mode)
                for k, v in xattrs.items():
                    os.setxattr(fd, k, v)
                os.utime(fd, ns=times)
            finally:
                os.close(fd)
            return
        stream.skip(size)
        if typ == b"5":
            self.clear(key, parent, base, "d")
            if key not in self.made:
                os.mkdir(base, 0o700, dir_fd=parent)
                self.made[key] = "d"
            fd = self.dir_fd(parts, name)
            os.fchown(fd, uid, gid)
            os.fchmod(fd, mode)
            for k, v in xattrs.items():
                os.setxattr(fd, k, v)
            self.dir_times[key] = times
        elif typ == b"2":
            if not linkname.startswith(b"/"):
                depth = len(parts) - 1
                for comp in linkname.split(b"/"):
                    if comp == b"..":
                        depth -= 1
                        if depth < 0:
                            raise _refuse(f"symlink '{_show(name)}' -> '{_show(linkname)}' "
                                          "points outside the layer")
                    elif comp and comp != b".":
                        depth += 1
            self.clear(key, parent, base, "l")
            os.symlink(linkname, base, dir_fd=parent)
            self.made[key] = "l"
            os.chown(base, uid, gid, dir_fd=parent, follow_symlinks=False)
            if xattrs:
                for k, v in xattrs.items():
                    os.setxattr(f"/proc/self/fd/{parent}/".encode() + base, k, v,
                                follow_symlinks=False)
            os.utime(base, ns=times, dir_fd=parent, follow_symlinks=False)
        elif typ == b"1":
            tparts = _parts(linkname, f"hardlink '{_show(name)}' ->")
            tkey = b"/".join(tparts)
            tkind = self.made.get(tkey)
            if not tparts or tkind is None:
                raise _refuse(f"hardlink '{_show(name)}' -> '{_show(linkname)}' points to "
                              "nothing in the layer")
            if tkind == "d":
                raise _refuse(f"hardlink '{_show(name)}' -> '{_show(linkname)}' points to a "
                              "directory")
            if tkey == key:
                return
            # a copy: opening the other directory may evict it from the cache (and close it)
            tparent = os.dup(self.dir_fd(tparts[:-1], linkname))
            try:
                parent = self.dir_fd(parts[:-1], name)
                self.clear(key, parent, base, tkind)
                os.link(tparts[-1], base, src_dir_fd=tparent, dst_dir_fd=parent,
                        follow_symlinks=False)
            finally:
                os.close(tparent)
            self.made[key] = tkind
        elif typ in (b"3", b"4", b"6"):
            fmt = {b"3": stat.S_IFCHR, b"4": stat.S_IFBLK, b"6": stat.S_IFIFO}[typ]
            self.clear(key, parent, base, "c")
            os.mknod(base, fmt | 0o600, os.makedev(devmajor, devminor) if typ != b"6" else 0,
                     dir_fd=parent)
            self.made[key] = "c"
            # the node was just made by us in our own directory: nothing can swap it
            os.chown(base, uid, gid, dir_fd=parent, follow_symlinks=False)
            os.chmod(base, mode, dir_fd=parent)
            for k, v in xattrs.items():
                os.setxattr(f"/proc/self/fd/{parent}/".encode() + base, k, v,
                            follow_symlinks=False)
            os.utime(base, ns=times, dir_fd=parent, follow_symlinks=False)
        else:
            raise IntegrityError(f"layer entry '{_show(name)}' has tar type {typ!r}, which "
                                 "berth does not unpack (sparse or multi-volume archive?)")

    def finish(self) -> None:
        # children changed their directories' times: set them last, children before parents
        # and siblings' subtrees one after the other (paths in reverse order, "/" sorting below
        # any name byte), so each directory is next to one the cache holds open; by depth
        # alone, two deep chains would take turns evicting each other and every directory
        # would be reopened from the top
        for key in sorted(self.dir_times, key=lambda k: k.replace(b"/", b"\0"), reverse=True):
            parts = key.split(b"/") if key else []
            fd = self.dir_fd(parts, key)
            os.utime(fd, ns=self.dir_times[key])


def _xattr_name(key: bytes) -> str | None:
    if key.startswith(b"SCHILY.xattr."):
        name = key[len(b"SCHILY.xattr."):].decode("utf-8", "surrogateescape")
    elif key.startswith(b"LIBARCHIVE.xattr."):
        name = urllib.parse.unquote(key[len(b"LIBARCHIVE.xattr."):].decode("ascii", "replace"))
    else:
        return None
    if name.startswith(("trusted.overlay.", "user.overlay.")):
        return None  # only berth says what overlayfs sees
    return name


def unpack(stream: TarStream, dest: str) -> int:
    """Unpack the tar ``stream`` into the empty directory ``dest``; returns the bytes of file
    content written. Reads the stream to its end (so ``stream.digest()`` is the diff_id)."""
    u = _Unpacker(dest)
    try:
        _run(u, stream)
        u.finish()
        stream.drain()
        return sum(u.sizes.values())
    except (ValueError, OverflowError) as e:
        raise IntegrityError(f"the layer is not a valid tar archive: {e}") from None
    except OSError as e:
        if e.errno in DISK_ERRNOS:
            raise host_error(f"unpacking a layer into {dest}", e) from None
        if e.errno in HOST_ERRNOS:
            raise HostError(f"cannot unpack the layer into {dest}: {e.strerror}") from None
        raise IntegrityError(f"cannot unpack the layer: {e.strerror or e}"
                             + (f" ({_show(os.fsencode(e.filename))})" if e.filename else ""))
    finally:
        u.close()


def _run(u: _Unpacker, stream: TarStream) -> None:
    read = stream.read
    global_pax: dict[bytes, bytes] = {}
    pax: dict[bytes, bytes] = {}
    longname = longlink = None
    zero = bytes(BLOCK)
    while True:
        hdr = read(BLOCK)
        if len(hdr) < BLOCK:
            if hdr:
                raise IntegrityError("the layer tarball is truncated (a partial header)")
            return  # no end-of-archive blocks (or an empty layer): tar accepts that too
        if hdr == zero:
            return
        chksum = _num(hdr[148:156])
        if chksum != sum(hdr[:148]) + 256 + sum(hdr[156:]):
            raise IntegrityError("the layer is not a tar archive (header checksum mismatch)")
        typ = hdr[156:157]
        size = _num(hdr[124:136])
        if typ in (b"x", b"g", b"L", b"K"):
            data = read(size)
            if len(data) < size:
                raise IntegrityError("the layer tarball is truncated")
            stream.skip(-size % BLOCK)
            if typ == b"x":
                pax = _pax(data)
            elif typ == b"g":
                global_pax.update(_pax(data))
            elif typ == b"L":
                longname = _cstr(data)
            else:
                longlink = _cstr(data)
            continue
        if hdr[257:263] == b"ustar\x00" and hdr[345]:
            name = _cstr(hdr[345:500]) + b"/" + _cstr(hdr[0:100])
        else:
            name = _cstr(hdr[0:100])
        linkname = _cstr(hdr[157:257])
        mode = _num(hdr[100:108]) & 0o7777
        uid = _num(hdr[108:116])
        gid = _num(hdr[116:124])
        mtime_ns = _num(hdr[136:148]) * 1_000_000_000
        devmajor = _num(hdr[329:337])
        devminor = _num(hdr[337:345])
        xattrs: dict[str, bytes] = {}
        if longname is not None:
            name, longname = longname, None
        if longlink is not None:
            linkname, longlink = longlink, None
        if pax or global_pax:
            merged = {**global_pax, **pax} if global_pax else pax
            pax = {}
            for k, v in merged.items():
                if k == b"path":
                    name = v
                elif k == b"linkpath":
                    linkname = v
                elif k == b"size":
                    size = int(v)
                elif k == b"uid":
                    uid = int(v)
                elif k == b"gid":
                    gid = int(v)
                elif k == b"mtime":
                    mtime_ns = _pax_time(v)
                elif k.startswith(b"GNU.sparse."):
                    raise IntegrityError(f"layer entry '{_show(name)}' is a sparse file, which "
                                         "berth does not unpack")
                else:
                    xname = _xattr_name(k)
                    if xname is not None:
                        if k.startswith(b"LIBARCHIVE."):
                            v = base64.b64decode(v + b"=" * (-len(v) % 4))
                        xattrs[xname] = v
        # links and nodes normally carry no data; if one does, entry() skips it
        if rootless():   # [rootless] ids the user's namespace doesn't map become the user's
            uid, gid = idmap.own_id(uid), idmap.own_id(gid)
        u.entry(stream, name, typ, mode, uid, gid, size, mtime_ns, linkname, devmajor,
                devminor, xattrs)
        stream.skip(-size % BLOCK)


def _pax_time(v: bytes) -> int:
    whole, _, frac = v.partition(b".")
    ns = int(whole) * 1_000_000_000
    if frac:
        f = (frac[:9] + b"0" * 9)[:9]
        ns += int(f) if not whole.startswith(b"-") else -int(f)
    return ns


def unpack_file(f: BinaryIO, dest: str, compression: str | None = None,
                tee: Callable[[bytes], object] | None = None) -> tuple[str, int]:
    """Unpack a (possibly compressed) layer file object into ``dest``: (diff_id, size)."""
    try:
        raw = decompressed(f, compression)
    except OSError as e:
        raise InvalidArgument(f"cannot read the layer: {e}") from None
    stream = TarStream(raw, tee)
    size = unpack(stream, dest)
    return stream.digest(), size
