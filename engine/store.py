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

from .errors import HostError
from .paths import Paths
from .runtime import fastjson  # the C encoder alone: the json package costs 5 ms (re, enum)


def write_atomic(path: str, data: bytes, mode: int = 0o644, fsync: bool = True) -> None:
    """Write ``data`` to ``path`` so that readers see the old content or the new, never a mix."""
    # pid and thread: threads of one process (the API server's, the dashboard's workers) may
    # write the same record at once, and each needs a temporary file of its own
    tmp = f"{path}.tmp.{os.getpid()}.{_thread.get_ident()}"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, mode)
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view):]
        if fsync:
            os.fsync(fd)
    finally:
        os.close(fd)
    try:
        os.rename(tmp, path)
    except BaseException:
        _unlink_quiet(tmp)
        raise


def _unlink_quiet(path: str) -> None:
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass


def read_json(path: str) -> Any | None:
    """The parsed record at ``path``, or None when there is none."""
    try:
        with open(path, "rb") as f:
            return fastjson.loads(f.read())
    except FileNotFoundError:
        return None


def write_json(path: str, obj: Any, mode: int = 0o644, fsync: bool = True) -> None:
    write_atomic(path, fastjson.dumps(obj).encode() + b"\n", mode, fsync)


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
        if create:
            self._ensure_layout()

    def _ensure_layout(self) -> None:
        try:
            for sub in ("blobs/sha256", "layers", "images", "containers", "volumes",
                        "networks", "tmp"):
                os.makedirs(os.path.join(self.root, sub), exist_ok=True)
            os.makedirs(self.paths.run, exist_ok=True)
        except PermissionError as e:
            raise HostError(f"cannot create berth's state under {self.root}: {e.strerror}; "
                            "run berth as root or set BERTH_ROOT to a directory you own") from e

    # --- paths ------------------------------------------------------------------------
    def path(self, *parts: str) -> str:
        return os.path.join(self.root, *parts)

    def tmpdir(self, prefix: str) -> str:
        """A fresh directory under the root's tmp/ (same filesystem, so renames are atomic)."""
        import tempfile
        return tempfile.mkdtemp(prefix=prefix, dir=self.path("tmp"))

    # --- records ----------------------------------------------------------------------
    def read(self, *parts: str) -> Any | None:
        return read_json(self.path(*parts))

    def write(self, obj: Any, *parts: str, fsync: bool = True) -> None:
        path = self.path(*parts)
        if self.create:
            os.makedirs(os.path.dirname(path), exist_ok=True)
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


class _RootLock:
    """The context manager behind Store.lock (a class: contextlib costs the monitor 2 ms)."""

    __slots__ = ("store",)

    def __init__(self, store: Store):
        self.store = store

    def __enter__(self) -> None:
        held_by = self.store._held
        me = _thread.get_ident()
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
        held = held_by[me]
        held[1] -= 1
        if held[1] == 0:
            del held_by[me]
            os.close(held[0])  # closing releases the flock
