"""The event log: one JSON object per line in ``events.jsonl``, appended by every verb and monitor.

Writing: each event is one ``write`` on an ``O_APPEND`` descriptor under the file's exclusive
``flock``, so lines from several processes never interleave, and one that a full disk cut short
is truncated away before anyone appends after it: the log holds whole lines. The log is bounded: past ``MAX_BYTES`` the writer that crossed the
mark renames it to ``events.jsonl.1`` (replacing the previous one), so at most about twice
``MAX_BYTES`` are kept.

Why a follower never misses an event across a rotation: writers hold the ``flock`` on the
file while they append and check, once locked, that the name still points at the file they
opened; the rotation renames under the same lock. So once the follower sees
the name point at a new file, nothing will ever be appended to the old one again: it reads the
old one to its end, then the new one from its start.

Reading: ``read_events`` (history, ``--since``/``--until``), ``Follower`` (new lines as they come,
woken by inotify), ``parse_timestamp`` (Docker's forms) and ``parse_filters``/``matches``.
Imported by the monitor, so module level stays at ``os``, ``time``, ``fcntl`` and the C JSON codec.
"""

from __future__ import annotations

import fcntl
import os
import time

from .runtime import fastjson  # the C encoder alone: the json package costs 5 ms (re, enum)

TYPE_CHECKING = False  # not typing's: importing typing costs the monitor 2 ms
if TYPE_CHECKING:  # the monitor emits events without loading paths (dataclasses, hashlib)
    from .paths import Paths

MAX_BYTES = int(os.environ.get("BERTH_EVENTS_MAX_BYTES") or 8 * 1024 * 1024)
ROTATED_SUFFIX = ".1"


def emit(paths: Paths, type: str, action: str, id: str = "",
         attributes: dict[str, str] | None = None) -> None:
    """Append one event; never raises (an event that can't be logged must not fail a verb)."""
    line = fastjson.dumps({"time": time.time(), "type": type, "action": action, "id": id,
                           "attributes": attributes or {}}, compact=True) + "\n"
    try:
        append_line(paths.events_file, line.encode())
    except OSError:
        pass


def append_line(path: str, data: bytes, max_bytes: int | None = None) -> None:
    """Append ``data`` (one line) to the log at ``path`` whole or not at all (OSError), under
    the file's lock; rotate when it grew too big."""
    limit = MAX_BYTES if max_bytes is None else max_bytes
    for _ in range(10):
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            if not _still_named(fd, path):
                continue  # rotated between our open and our lock: append to the new file
            _append_whole(fd, data, path)
            if os.fstat(fd).st_size > limit:
                _rotate(fd, path, limit)
            return
        finally:
            os.close(fd)  # also releases the lock
    raise OSError(f"{path} keeps being rotated under us")


def _append_whole(fd: int, data: bytes, path: str) -> None:
    """Append ``data`` with one write, or nothing of it: a write the disk cut short (full) is
    taken back and raises ENOSPC, so the log never holds part of a line for the next line to be
    glued to. The caller holds the file's exclusive lock: nothing was appended after ours."""
    written = os.write(fd, data)
    if written != len(data):
        os.ftruncate(fd, os.lseek(fd, 0, os.SEEK_CUR) - written)
        import errno
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), path)


def _still_named(fd: int, path: str) -> bool:
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return False
    mine = os.fstat(fd)
    return (st.st_ino, st.st_dev) == (mine.st_ino, mine.st_dev)


def _rotate(fd: int, path: str, limit: int) -> None:
    # under the file's lock (held by the caller): a writer that opened it but locks after the
    # rename sees the name moved and appends to the new file instead
    if _still_named(fd, path) and os.fstat(fd).st_size > limit:
        os.rename(path, path + ROTATED_SUFFIX)


# --- times and filters ----------------------------------------------------------------------------

_UNITS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "μs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0,
          "h": 3600.0}


def parse_duration(value: str) -> float | None:
    """A Go duration ("10m", "1h30m", "1.5h", "300ms") in seconds; None when it isn't one."""
    s = value.strip()
    if not s:
        return None
    total, i = 0.0, 0
    while i < len(s):
        j = i
        while j < len(s) and (s[j].isdigit() or s[j] == "."):
            j += 1
        k = j
        while k < len(s) and not (s[k].isdigit() or s[k] == "."):
            k += 1
        number, unit = s[i:j], s[j:k]
        if not number or unit not in _UNITS:
            return None
        try:
            total += float(number) * _UNITS[unit]
        except ValueError:
            return None
        i = k
    return total


def parse_timestamp(value: str, now: float | None = None) -> float:
    """Seconds since the epoch from Docker's ``--since``/``--until`` forms: a Unix timestamp
    ("1700000000", "1700000000.5"), RFC 3339 or a prefix of it ("2024-05-01",
    "2024-05-01T10:00:00", "2024-05-01T10:00:00.5+02:00"; no zone means local time), or a
    duration before now ("10m", "1h30m")."""
    from .errors import InvalidArgument
    now = time.time() if now is None else now
    v = value.strip()
    duration = parse_duration(v)
    if duration is not None:
        return now - duration
    try:
        return float(v)
    except ValueError:
        pass
    from datetime import datetime
    iso = v[:-1] + "+00:00" if v.endswith(("Z", "z")) else v
    if "." in iso:  # Python's fromisoformat takes at most 6 fraction digits
        head, _, rest = iso.partition(".")
        digits = len(rest) - len(rest.lstrip("0123456789"))
        iso = head + "." + rest[:min(digits, 6)].ljust(1, "0") + rest[digits:]
    try:
        return datetime.fromisoformat(iso).timestamp()
    except ValueError:
        raise InvalidArgument(f"invalid time '{value}': use a Unix timestamp, RFC 3339 "
                              f"(2024-05-01T10:00:00Z) or a duration like 10m") from None


FILTER_KEYS = ("type", "event", "container", "image", "label", "network", "volume")


def parse_filters(items) -> dict[str, list[str]]:
    """``--filter KEY=VALUE`` flags (or an already grouped dict) into {key: [values]}; the same
    key ORs its values, different keys AND, as Docker's."""
    from .errors import InvalidArgument
    if isinstance(items, dict):
        out = {k: list(v) if isinstance(v, (list, tuple)) else [v] for k, v in items.items()}
    else:
        out = {}
        for item in items or ():
            key, eq, value = item.partition("=")
            if not eq:
                raise InvalidArgument(f"bad format of filter (expected name=value): {item}")
            out.setdefault(key.strip(), []).append(value)
    for key in out:
        if key not in FILTER_KEYS:
            raise InvalidArgument(f"invalid filter '{key}': use one of {', '.join(FILTER_KEYS)}")
    return out


def _short_image(ref: str) -> str:
    for prefix in ("docker.io/library/", "docker.io/"):
        if ref.startswith(prefix):
            ref = ref[len(prefix):]
            break
    return ref[:-len(":latest")] if ref.endswith(":latest") else ref


def _named(ev: dict, kind: str, values: list[str]) -> bool:
    if ev.get("type") != kind:
        return False
    eid, name = ev.get("id", ""), (ev.get("attributes") or {}).get("name", "")
    return any(v and (eid.startswith(v) or v == name) for v in values)


def matches(ev: dict, filters: dict[str, list[str]] | None) -> bool:
    """Whether an event (as a dict) passes the filters."""
    if not filters:
        return True
    attrs = ev.get("attributes") or {}
    for key, values in filters.items():
        if key == "type":
            ok = ev.get("type") in values
        elif key == "event":
            # Docker's #25798: these three, named without their ": detail", match by prefix
            action = ev.get("action") or ""
            ok = action in values or any(action.startswith(v + ":") for v in values
                                         if v in ("health_status", "exec_create", "exec_start"))
        elif key in ("container", "network", "volume"):
            ok = _named(ev, key, values)
        elif key == "image":
            wanted = {_short_image(v) for v in values}
            ok = (_named(ev, "image", values)
                  or _short_image(attrs.get("image", "")) in wanted
                  or (ev.get("type") == "image" and _short_image(ev.get("id", "")) in wanted))
        elif key == "label":
            ok = any(attrs.get(k) == v if eq else k in attrs
                     for k, eq, v in (x.partition("=") for x in values))
        else:
            ok = False
        if not ok:
            return False
    return True


# --- reading ------------------------------------------------------------------------------------

def _lines(data: bytes):
    for raw in data.splitlines():
        ev = _event(raw.strip())
        if ev is not None:
            yield ev


_START = b'{"time":'   # how every line emit writes starts


def _event(raw: bytes) -> dict | None:
    """The event on one line of the log; None for a blank line or one that is not an event: a
    line a crash or (before writes were taken back) a full disk tore. The event an older berth
    glued to a torn line is still read."""
    if not raw:
        return None
    try:
        ev = fastjson.loads(raw)
    except (ValueError, RecursionError):
        cut = raw.rfind(_START, 1)
        return _event(raw[cut:]) if cut > 0 else None
    if isinstance(ev, dict) and isinstance(ev.get("time"), (int, float)) \
            and isinstance(ev.get("type"), str) and isinstance(ev.get("action"), str) \
            and isinstance(ev.get("id", ""), str) and isinstance(ev.get("attributes", {}), dict):
        return ev
    return None


def read_events(path: str, since: float | None = None, until: float | None = None,
                filters: dict[str, list[str]] | None = None) -> list[dict]:
    """The logged events (the rotated file first) within [since, until] that pass the filters."""
    out = []
    for p in (path + ROTATED_SUFFIX, path):
        try:
            with open(p, "rb") as f:
                data = f.read()
        except FileNotFoundError:
            continue
        for ev in _lines(data):
            t = ev.get("time", 0)
            if (since is None or t >= since) and (until is None or t <= until) \
                    and matches(ev, filters):
                out.append(ev)
    return out


IN_MODIFY, IN_CLOSE_WRITE, IN_MOVED_FROM, IN_MOVED_TO, IN_CREATE = 0x2, 0x8, 0x40, 0x80, 0x100
_IN_NONBLOCK_CLOEXEC = 0o4000 | 0o2000000


def inotify_watch(watches: list[tuple[str, int]]) -> int:
    """A non-blocking inotify descriptor watching each (path, mask); readable on any event."""
    import ctypes
    libc = ctypes.CDLL(None, use_errno=True)
    fd = libc.inotify_init1(_IN_NONBLOCK_CLOEXEC)
    if fd < 0:
        err = ctypes.get_errno()
        raise OSError(err, os.strerror(err))
    for path, mask in watches:
        if libc.inotify_add_watch(fd, os.fsencode(path), mask) < 0:
            err = ctypes.get_errno()
            os.close(fd)
            raise OSError(err, os.strerror(err), path)
    return fd


class Follower:
    """Reads the event log's new lines as they are appended, across rotations.

    ``fileno()`` is an inotify descriptor on the log's directory (readable when something there
    changed; -1 if inotify is unavailable, then poll every fraction of a second); ``poll()``
    returns the events appended since the last call. A file that was created and rotated away
    between two polls is still read from ``events.jsonl.1``; only a third rotation within one
    poll (more than 2 x MAX_BYTES of events) could pass unseen."""

    def __init__(self, path: str, from_start: bool = False):
        self.path = path
        self._buf = b""
        self._pending = b""                 # the rotated file, for from_start
        self._fd = -1
        self._ino: tuple[int, int] | None = None
        # files read to their end (or skipped), as (inode, device, first bytes): inode numbers
        # alone are reused once a rotated-out file is deleted
        self._consumed: list = []
        try:
            self.wake_fd = inotify_watch([(os.path.dirname(path) or ".",
                                           IN_MODIFY | IN_CREATE | IN_MOVED_TO | IN_MOVED_FROM)])
        except OSError:
            self.wake_fd = -1
        self._open_current(from_start)
        old, ino = self._read_whole(path + ROTATED_SUFFIX)
        if ino is not None and ino != self._ino:
            self._consumed.append((*ino, old[:_HEAD]))
            if from_start:
                self._pending = _terminated(old)

    def fileno(self) -> int:
        return self.wake_fd

    def _open_current(self, from_start: bool) -> None:
        try:
            fd = os.open(self.path, os.O_RDONLY | os.O_CLOEXEC)
        except FileNotFoundError:
            self._fd, self._ino = -1, None
            return
        st = os.fstat(fd)
        self._fd, self._ino = fd, (st.st_ino, st.st_dev)
        if not from_start:
            os.lseek(fd, 0, os.SEEK_END)

    @staticmethod
    def _read_whole(path: str):
        try:
            with open(path, "rb") as f:
                st = os.fstat(f.fileno())
                return f.read(), (st.st_ino, st.st_dev)
        except FileNotFoundError:
            return b"", None

    def _drain(self) -> bytes:
        chunks = []
        while self._fd >= 0:
            chunk = os.read(self._fd, 1 << 20)
            if not chunk:
                break
            chunks.append(chunk)
        return b"".join(chunks)

    def _take_rotated(self) -> bytes:
        """events.jsonl.1, if it is a file we never read (one that came and went between polls)."""
        data, ino = self._read_whole(self.path + ROTATED_SUFFIX)
        if ino is None or ino == self._ino:
            return b""
        key = (*ino, data[:_HEAD])
        if key in self._consumed:
            return b""
        self._consumed.append(key)
        return _terminated(data)

    def _advance(self, now) -> bytes:
        """Our file was renamed away: finish it, read what came between, open the current one."""
        data = b""
        if self._fd >= 0:
            data += _terminated(self._drain())  # complete: nothing is appended after a rename
            self._consumed.append((*self._ino, os.pread(self._fd, _HEAD, 0)))
            os.close(self._fd)
            self._fd = -1
        data += self._take_rotated()
        self._open_current(from_start=True)
        if now is not None and self._ino != now:
            # the file we saw was itself rotated before we opened its successor
            data += self._take_rotated()
        del self._consumed[:-8]
        return data

    def poll(self) -> list[dict]:
        """Events appended since the last poll, oldest first."""
        if self.wake_fd >= 0:
            try:
                while os.read(self.wake_fd, 65536):
                    pass
            except OSError:
                pass
        # look at the name before reading: if it already moved, every write to our file is done
        try:
            st = os.stat(self.path)
            now = (st.st_ino, st.st_dev)
        except FileNotFoundError:
            now = None
        data = self._pending + self._buf + self._drain()
        self._pending = b""
        if now != self._ino:
            data = _terminated(data) + self._advance(now) + self._drain()
        cut = data.rfind(b"\n") + 1
        self._buf = data[cut:]
        return list(_lines(data[:cut]))

    def close(self) -> None:
        for fd in (self._fd, self.wake_fd):
            if fd >= 0:
                os.close(fd)
        self._fd = self.wake_fd = -1


_HEAD = 256  # bytes of a file's start that tell it from a later file given the same inode


def _terminated(data: bytes) -> bytes:
    # a line torn by a writer that crashed mid-write must not swallow the next file's first line
    return data + b"\n" if data and not data.endswith(b"\n") else data
