"""The part of a berth root the network code needs, for the container's monitor.

The monitor calls attach and detach on every start and exit of a container on a bridge. Going
through ``engine.store.Store`` there would import json (and with it re and enum), dataclasses,
typing, shutil and hashlib: ~25 ms measured in the monitor, more than everything else networking
costs it. ``NetStore`` does the same few things with the monitor's C-only JSON
(``runtime.fastjson``): the same lock file and the same atomic record writes as Store, so
the two can be used on one root at the same time; ``NetPaths`` gives the same host-side names as
``engine.paths.Paths`` (a test holds them equal).
"""

from __future__ import annotations

import fcntl
import os
from contextlib import contextmanager

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Iterator

DEFAULT_ROOT = "/var/lib/berth"


from ..paths import _suffix  # noqa: E402  (one definition of the root's suffix)


class NetPaths:
    """engine.paths.Paths' names for what the network code makes on the host."""

    __slots__ = ("root", "run", "suffix")

    def __init__(self, root: str, run: str):
        self.root, self.run = root, run
        self.suffix = _suffix(root)

    @property
    def nft_table(self) -> str:
        return "berth" + (f"_{self.suffix}" if self.suffix else "")

    @property
    def default_bridge(self) -> str:
        return f"berth{self.suffix}0" if self.suffix else "berth0"

    def bridge_name(self, index: int) -> str:
        return f"berth{self.suffix}{index}" if self.suffix else f"berth{index}"

    def veth_name(self, cid: str, n: int = 0) -> str:
        return f"vb{self.suffix}{cid[:9 - len(self.suffix) if self.suffix else 11]}{n}"[:15]

    def container_dir(self, cid: str) -> str:
        return os.path.join(self.root, "containers", cid)


class NetStore:
    """Records, lock and paths of one root, as engine.store.Store offers them."""

    def __init__(self, root: str, run: str):
        self.paths = NetPaths(os.path.abspath(root), os.path.abspath(run))
        self.root = self.paths.root
        self._lock_fd: int | None = None
        self._depth = 0

    def path(self, *parts: str) -> str:
        return os.path.join(self.root, *parts)

    def read(self, *parts: str):
        from ..runtime import fastjson
        try:
            with open(self.path(*parts), "rb") as f:
                return fastjson.loads(f.read())
        except FileNotFoundError:
            return None

    def write(self, obj, *parts: str, fsync: bool = True) -> None:
        from ..runtime import fastjson
        path = self.path(*parts)
        tmp = f"{path}.tmp.{os.getpid()}"
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o644)
        try:
            os.write(fd, fastjson.dumps(obj).encode() + b"\n")
            if fsync:
                os.fsync(fd)
        finally:
            os.close(fd)
        os.rename(tmp, path)

    def delete(self, *parts: str) -> None:
        try:
            os.unlink(self.path(*parts))
        except FileNotFoundError:
            pass

    def list_dir(self, *parts: str) -> list[str]:
        try:
            return sorted(n for n in os.listdir(self.path(*parts)) if ".tmp." not in n)
        except FileNotFoundError:
            return []

    @contextmanager
    def lock(self) -> Iterator[None]:
        """The root's exclusive lock (the file Store.lock takes); re-entrant in one NetStore."""
        if self._depth == 0:
            fd = os.open(self.path(".lock"), os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
            fcntl.flock(fd, fcntl.LOCK_EX)
            self._lock_fd = fd
        self._depth += 1
        try:
            yield
        finally:
            self._depth -= 1
            if self._depth == 0 and self._lock_fd is not None:
                os.close(self._lock_fd)
                self._lock_fd = None


def emit(paths, type: str, action: str, id: str, attributes: dict[str, str]) -> None:
    """engine.events.emit without the json package: one line appended with one write."""
    import time
    from ..runtime import fastjson
    line = fastjson.dumps({"time": time.time(), "type": type, "action": action, "id": id,
                           "attributes": attributes}, compact=True) + "\n"
    try:
        fd = os.open(os.path.join(paths.root, "events.jsonl"),
                     os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o644)
        try:
            os.write(fd, line.encode())
        finally:
            os.close(fd)
    except OSError:
        pass
