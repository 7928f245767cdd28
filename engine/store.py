"""State on disk: one JSON record per object, written atomically, changed under file locks.

A record is written to a temporary file beside it, fsynced and renamed over the old one, so a
reader sees either the old record or the new one, never half of either. Changes that touch
several records (reserving a name, allocating an address, removing an image and its layers)
hold an exclusive ``fcntl`` lock on a lock file in the root for their duration. Several berth
processes may run at once; locks are per open file description, so one process may also nest
``lock()`` calls through the same Store without deadlocking itself. Re-entrancy is counted per
thread: two threads sharing one Store (the dashboard's workers) exclude each other like two
processes do.
"""

from __future__ import annotations

import _thread
import errno
import fcntl
import os

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

from .errors import DISK_ERRNOS, HostError, host_error
from .paths import (BLOB_MODE, DIR_MODE, RECORD_MODE, ROOT_MODE, VOLUMES_MODE, Paths)
from .runtime import fastjson  # the C encoder alone: the json package costs 5 ms (re, enum)


def write_atomic(path: str, data: bytes, mode: int = 0o644, fsync: bool = True,
                 in_place: bool = False) -> None:
    """Write ``data`` to ``path`` so that readers see the old content or the new, never a mix.

    No temporary file outlives a failure. A refused write (full disk, quota, read-only, I/O
    error) raises DiskError naming the file. With ``in_place`` (JSON records, which may end in
    blanks) a full disk is not the end: a record whose new content fits in the blocks its file
    already holds is overwritten there, padded with blanks to its old length, so that what frees
    space (rm, rmi, prune, stop; records mostly shrink) and a monitor recording an exit never
    need space the disk no longer has. That write is one ``pwrite``: a reader racing it could
    see a mix, which is why it is only the fallback."""
    # pid and thread: threads of one process (the API server's, the dashboard's workers) may
    # write the same record at once, and each needs a temporary file of its own
    tmp = f"{path}.tmp.{os.getpid()}.{_thread.get_ident()}"
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, mode)
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view):]
            if fsync:
                os.fsync(fd)
        finally:
            os.close(fd)
        os.rename(tmp, path)
    except BaseException as e:
        _discard(tmp)
        if not isinstance(e, OSError) or e.errno not in DISK_ERRNOS or isinstance(e, HostError):
            raise
        if in_place and e.errno in (errno.ENOSPC, errno.EDQUOT) and _overwrite(path, data, fsync):
            return
        raise host_error(f"writing {path}", e) from None


def _overwrite(path: str, data: bytes, fsync: bool) -> bool:
    """Put ``data`` (a JSON record) over the content of the existing ``path`` without asking the
    filesystem for a block: True when it fitted and was written."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CLOEXEC)
    except OSError:
        return False
    try:
        st = os.fstat(fd)
        # the blocks the file holds (with inline data or compression, only its size is sure)
        room = max(st.st_size, st.st_blocks * 512)
        data = data.rstrip(b" ")   # blanks a writer added as room to grow (the monitor's)
        if len(data) > room:
            # without the blanks after each separator: an exit record fits that way even
            # where the running one filled its block
            data = fastjson.dumps(fastjson.loads(data), compact=True).encode() + b"\n"
            if len(data) > room:
                return False
        data = data.ljust(st.st_size, b" ")
        if os.pwrite(fd, data, 0) != len(data):
            return False
        if fsync:
            os.fsync(fd)
        return True
    except (OSError, ValueError):
        return False
    finally:
        os.close(fd)


def _unlink_quiet(path: str) -> None:
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass


def _discard(path: str) -> None:
    try:
        os.unlink(path)
    except OSError:
        pass


def read_json(path: str) -> Any | None:
    """The parsed record at ``path``, or None when there is none."""
    try:
        with open(path, "rb") as f:
            return fastjson.loads(f.read())
    except FileNotFoundError:
        return None


def write_json(path: str, obj: Any, mode: int = RECORD_MODE, fsync: bool = True) -> None:
    write_atomic(path, fastjson.dumps(obj).encode() + b"\n", mode, fsync, in_place=True)


_LAYOUT = (("blobs", DIR_MODE), ("blobs/sha256", DIR_MODE), ("layers", DIR_MODE),
           ("images", DIR_MODE), ("containers", DIR_MODE), ("volumes", VOLUMES_MODE),
           ("networks", DIR_MODE), ("tmp", DIR_MODE), ("cache", DIR_MODE))


def _mkdir(path: str, mode: int) -> bool:
    """Make the directory ``path`` with exactly ``mode`` (whatever the umask); False when it
    was there already."""
    try:
        os.mkdir(path, mode)
    except FileExistsError:
        return False
    os.chmod(path, mode)
    return True


def _chmod_entries(d: str, dir_mode: int | None, file_mode: int | None,
                   keep: tuple = ()) -> list[str]:
    """Give the directories in ``d`` ``dir_mode`` and its regular files ``file_mode`` (None:
    leave them), all but the names in ``keep``; symlinks are never followed. Returns the
    directories' paths."""
    try:
        entries = list(os.scandir(d))
    except (FileNotFoundError, NotADirectoryError):
        return []
    dirs = []
    for e in entries:
        try:
            if e.name in keep:
                continue
            if e.is_dir(follow_symlinks=False):
                dirs.append(e.path)
                if dir_mode is not None:
                    os.chmod(e.path, dir_mode)
            elif file_mode is not None and e.is_file(follow_symlinks=False):
                os.chmod(e.path, file_mode)
        except FileNotFoundError:   # removed meanwhile by another berth command
            pass
    return dirs


class Store:
    """One berth root: its directories, its records and its locks."""

    def __init__(self, paths: Paths | None = None, create: bool = True):
        self.paths = paths or Paths.from_env()
        self.root = self.paths.root
        self.create = create
        """False for processes that outlive commands (a monitor, the network reaper): they
        never make a root's directories or lock file, so a root deleted under them stays gone."""
        self._held: dict[int, list[int]] = {}   # thread id -> [lock fd, depth]
        self.damaged: dict[str, str] = {}
        """Records a reader skipped because they could not be parsed: "kind ident" -> detail.
        Listings show everything readable and the CLI names these in one warning line
        (``damaged_summary``); ``berth system check --repair`` deals with them."""
        self.warnings: list[str] = []
        """What a command let pass but left out (an image config's unusable values, see
        ``warn``); the CLI prints each as a WARNING line."""
        if create:
            self._ensure_layout()

    def _ensure_layout(self) -> None:
        """Make what is missing of the root's directories, with their modes (see paths.py).

        Every command and monitor does this, so it costs one stat when the root is as this
        berth makes it: the root's own mode (ROOT_MODE, set last by ``_tighten``) says that
        everything below was made or brought to today's modes. Any other root (one an older
        berth made with 0755 directories and 0644 records, or one loosened by hand) is
        tightened first, once."""
        try:
            try:
                st = os.stat(self.root)
                euid = os.geteuid()
                tight = (st.st_mode & 0o7777 == ROOT_MODE and st.st_uid == euid
                         and (st.st_gid == 0 or euid != 0))
            except FileNotFoundError:
                tight = False
            if not tight:
                self._tighten()
                return
            for sub, mode in _LAYOUT:
                _mkdir(os.path.join(self.root, sub), mode)
            if _mkdir(self.paths.run, self.paths.run_mode):   # gone with a reboot: its tmpfs was emptied
                _mkdir(os.path.join(self.paths.run, "c"), DIR_MODE)
        except PermissionError as e:
            raise HostError(f"cannot create berth's state under {self.root}: {e.strerror}; "
                            "run berth as root or set BERTH_ROOT to a directory you own") from e
        except OSError as e:
            if e.errno != errno.EROFS:   # a read-only root is read as it is
                raise

    def _tighten(self) -> None:
        """Make the root's layout and bring what is in it to today's modes. Walks the first
        levels only (the container, layer and volume directories, records, blobs), never a
        filesystem of a container, layer or volume, whose modes are what the container sees.
        The root's own mode comes last: a command killed half-way leaves the work to the next."""
        root = self.root
        os.makedirs(root, exist_ok=True)
        for sub, mode in _LAYOUT:
            if not _mkdir(os.path.join(root, sub), mode):
                os.chmod(os.path.join(root, sub), mode)
        for cdir in _chmod_entries(self.path("containers"), DIR_MODE, None):
            # hosts, resolv.conf and hostname are bound into the container: its users read them
            _chmod_entries(cdir, None, RECORD_MODE, keep=("hosts", "resolv.conf", "hostname"))
        for ldir in _chmod_entries(self.path("layers"), DIR_MODE, None):
            _chmod_entries(ldir, None, RECORD_MODE)       # meta.json; diff/ is the layer's own
        for vdir in _chmod_entries(self.path("volumes"), VOLUMES_MODE, None):
            _chmod_entries(vdir, None, RECORD_MODE)       # meta.json; _data is the volume's own
        _chmod_entries(self.path("blobs", "sha256"), None, BLOB_MODE)
        for sub in ("images", "networks", "userns"):
            _chmod_entries(self.path(sub), None, RECORD_MODE)
        for d in _chmod_entries(self.path("cache"), DIR_MODE, None):
            _chmod_entries(d, None, RECORD_MODE)           # compiled seccomp programs
        for name in os.listdir(root):     # berth's own only: a test or a user may keep others
            try:
                if name.startswith(("events.jsonl", ".lock")):
                    os.chmod(os.path.join(root, name), RECORD_MODE)
                elif name == "userns":
                    os.chmod(os.path.join(root, name), DIR_MODE)
            except FileNotFoundError:   # events.jsonl.1 rotated away meanwhile
                pass
        run = self.paths.run
        if _mkdir(run, self.paths.run_mode) or self.paths.own_run:
            os.chmod(run, self.paths.run_mode)
        if not _mkdir(os.path.join(run, "c"), DIR_MODE):
            os.chmod(os.path.join(run, "c"), DIR_MODE)
        _chmod_entries(os.path.join(run, "c"), DIR_MODE, None)
        if os.geteuid() == 0:
            os.chown(root, 0, 0)
        os.chmod(root, ROOT_MODE)

    # --- paths ------------------------------------------------------------------------
    def path(self, *parts: str) -> str:
        return os.path.join(self.root, *parts)

    def tmpdir(self, prefix: str) -> str:
        """A fresh directory under the root's tmp/ (same filesystem, so renames are atomic),
        mode 0700 as tempfile.mkdtemp's; made here because tempfile brings shutil, bz2, lzma
        and random along (6 ms of every pull)."""
        base = self.path("tmp")
        while True:
            path = os.path.join(base, prefix + os.urandom(6).hex())
            try:
                os.mkdir(path, 0o700)
                return path
            except FileExistsError:
                continue

    # --- records ----------------------------------------------------------------------
    def read(self, *parts: str) -> Any | None:
        return read_json(self.path(*parts))

    def write(self, obj: Any, *parts: str, fsync: bool = True) -> None:
        path = self.path(*parts)
        if self.create:
            os.makedirs(os.path.dirname(path), DIR_MODE, exist_ok=True)
        write_json(path, obj, fsync=fsync)

    def delete(self, *parts: str) -> None:
        _unlink_quiet(self.path(*parts))

    def remove_tree(self, *parts: str) -> None:
        import shutil  # brings bz2 and lzma along: only when something is removed
        shutil.rmtree(self.path(*parts), ignore_errors=True)

    def list_dir(self, *parts: str) -> list[str]:
        try:
            return sorted(n for n in os.listdir(self.path(*parts)) if ".tmp." not in n)
        except FileNotFoundError:
            return []

    def note_damaged(self, kind: str, ident: str, detail: str) -> None:
        """Say that ``kind`` ``ident`` (a container id, an image id, a network name, ...) has a
        record that can't be read (``detail``: which file and why), so listings skip it."""
        self.damaged[f"{kind} {ident}"] = detail

    def warn(self, text: str) -> None:
        """Tell the user ``text`` once, after the command (a value berth left out). Bounded:
        the API's and the dashboard's engines live on and nobody prints theirs."""
        if text not in self.warnings and len(self.warnings) < 64:
            self.warnings.append(text)

    def damaged_summary(self) -> str:
        """One line naming every damaged record readers skipped, or "" when there were none."""
        if not self.damaged:
            return ""
        what = "; ".join(f"{k} ({v})" for k, v in sorted(self.damaged.items()))
        n = len(self.damaged)
        return (f"{n} damaged record{'s' if n > 1 else ''} skipped: {what}; "
                "run 'berth system check --repair'")

    # --- locking ----------------------------------------------------------------------
    def lock(self) -> "_RootLock":
        """Hold the root's exclusive lock (``with store.lock():``); re-entrant within one thread
        of one Store."""
        return _RootLock(self)


STAND_INS: dict[int, int] = {}
"""Thread ident -> the thread it works for while that one waits (engine/rootless/netns.py
runs network code in a thread of its own): it holds the locks its caller holds."""


class _RootLock:
    """The context manager behind Store.lock (a class: contextlib costs the monitor 2 ms)."""

    __slots__ = ("store",)

    def __init__(self, store: Store):
        self.store = store

    def __enter__(self) -> None:
        held_by = self.store._held
        me = _thread.get_ident()
        me = STAND_INS.get(me, me)
        held = held_by.get(me)
        if held is None:
            fd = os.open(self.store.path(".lock"),
                         os.O_RDWR | os.O_CLOEXEC | (os.O_CREAT if self.store.create else 0),
                         0o600)
            while True:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX)
                    break
                except OSError as e:  # pragma: no cover - EINTR on old kernels
                    if e.errno != errno.EINTR:
                        os.close(fd)
                        raise
            held = held_by[me] = [fd, 0]
        held[1] += 1

    def __exit__(self, *exc) -> None:
        held_by = self.store._held
        me = _thread.get_ident()
        me = STAND_INS.get(me, me)
        held = held_by[me]
        held[1] -= 1
        if held[1] == 0:
            del held_by[me]
            os.close(held[0])  # closing releases the flock
