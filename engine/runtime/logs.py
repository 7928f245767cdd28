"""Container logs in Docker's json-file format: the monitor's writer (with --log-opt max-size and
max-file rotation) and the reader behind ``berth logs``.

Each line is ``{"log": "<text with its newline>", "stream": "stdout|stderr", "time": RFC 3339}``.
Output without a newline is held until one comes, the stream ends or 16 KiB pile up, as Docker's
json-file driver does.
"""

from __future__ import annotations

import os
import time

from ..clock import now_rfc3339
from . import fastjson

PARTIAL_MAX = 16 * 1024
LOG = "ctr.log"
RETRY = 1.0             # seconds between looks at a disk that refused a log line

_UNITS = {"": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30}


def _size(value: str) -> int:
    v = value.strip().lower().rstrip("b").rstrip("i")
    unit = v[-1] if v and v[-1] in _UNITS else ""
    return int(float(v[: len(v) - len(unit)]) * _UNITS[unit])


class JsonFileWriter:
    """Appends json-file lines to ``<dir>/ctr.log`` and rotates to ctr.log.1 … ctr.log.<N-1>.

    A write the disk refuses (full, quota, I/O error) never stops the container: its lines are
    dropped and counted, a line torn by the disk filling up is cut away (or the next one would
    be glued to it), and once the disk has room again (looked at every RETRY seconds, also by
    the monitor's loop while the container is quiet) one stderr line tells ``berth logs`` how
    many lines were lost and when, before the writing goes on."""

    def __init__(self, directory: str, opts: dict | None = None, keep: bool = True):
        opts = opts or {}
        self.keep = keep          # False for --log-driver none: nothing is written
        self.path = os.path.join(directory, LOG)
        self.max_size = _size(opts["max-size"]) if opts.get("max-size") else 0
        self.max_file = int(opts.get("max-file") or 1)
        self.partial = {"stdout": b"", "stderr": b""}
        self.dropped = 0          # lines the disk refused since the last notice
        self.dropped_since = ""   # when the first of them came
        self.reason = ""          # the first refusal's strerror
        self.retry_at = 0.0       # time.monotonic() of the next look at the disk
        self._open()

    def _open(self) -> None:
        self.fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o600)
        self.size = os.fstat(self.fd).st_size

    def write(self, stream: str, data: bytes) -> None:
        if not self.keep:
            return
        buf = self.partial[stream] + data
        lines = buf.split(b"\n")
        rest = lines.pop()
        out = [self._line(stream, ln + b"\n") for ln in lines]
        while len(rest) >= PARTIAL_MAX:
            out.append(self._line(stream, rest[:PARTIAL_MAX]))
            rest = rest[PARTIAL_MAX:]
        self.partial[stream] = rest
        if out:
            self._append(b"".join(out))

    def flush(self) -> None:
        """Write out held partial lines (the stream ended)."""
        out = [self._line(s, b) for s, b in self.partial.items() if b]
        self.partial = {"stdout": b"", "stderr": b""}
        if out:
            self._append(b"".join(out))

    @staticmethod
    def _line(stream: str, raw: bytes) -> bytes:
        return fastjson.dumps({"log": raw.decode("utf-8", "replace"), "stream": stream,
                               "time": now_rfc3339()}, compact=True).encode() + b"\n"

    def _append(self, data: bytes) -> None:
        if self.dropped and not self.retry():
            self._lose(data, None)
            return
        self._write(data)

    def _write(self, data: bytes, lose: bool = True) -> bool:
        """Append whole lines; False (and with ``lose`` the lines counted) when the disk
        refused them."""
        if self.max_size and self.size and self.size + len(data) > self.max_size:
            self._rotate()
        done = 0
        try:
            while done < len(data):
                done += os.write(self.fd, data[done:])
        except OSError as e:
            keep = data.rfind(b"\n", 0, done) + 1
            if keep < done:   # a torn line: cut it off
                try:
                    os.ftruncate(self.fd, os.fstat(self.fd).st_size - (done - keep))
                except OSError:
                    pass
            self.size += keep
            if lose:
                self._lose(data[keep:], e)
            return False
        self.size += done
        return True

    def _lose(self, data: bytes, err: OSError | None) -> None:
        if not self.dropped:
            self.dropped_since = now_rfc3339()
            self.reason = (err.strerror if err is not None else "") or "the write failed"
        self.dropped += data.count(b"\n")
        if err is not None:
            self.retry_at = time.monotonic() + RETRY

    def retry(self) -> bool:
        """Whether lines can be written again, after the notice of those dropped (which goes
        first); tries at most every RETRY seconds."""
        if not self.dropped:
            return True
        now = time.monotonic()
        if now < self.retry_at:
            return False
        self.retry_at = now + RETRY
        n = self.dropped
        notice = (f"berth: {n} line{'s' if n > 1 else ''} of output dropped from "
                  f"{self.dropped_since} to {now_rfc3339()}: {self.reason.lower()}\n")
        if not self._write(self._line("stderr", notice.encode()), lose=False):
            return False
        self.dropped = 0
        return True

    def _rotate(self) -> None:
        """ctr.log becomes ctr.log.1 (the older ones move up, the oldest goes) and a new
        ctr.log takes the writes. The new file is made before anything moves: a disk that
        can't give one leaves the log as it is, past its size, rather than without a file."""
        if self.max_file <= 1:
            try:
                os.ftruncate(self.fd, 0)   # O_APPEND: the next write lands at the new end
            except OSError:
                return
            self.size = 0
            return
        fresh = f"{self.path}.tmp.{os.getpid()}"
        try:
            fd = os.open(fresh, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC,
                         os.fstat(self.fd).st_mode & 0o777)   # the mode _open gave the log
        except OSError:
            return
        try:
            for n in range(self.max_file - 1, 0, -1):
                src = self.path if n == 1 else f"{self.path}.{n - 1}"
                if os.path.exists(src):
                    os.replace(src, f"{self.path}.{n}")
        except OSError:
            pass   # whatever moved, a ctr.log must be there again
        try:
            os.replace(fresh, self.path)
        except OSError:
            os.close(fd)
            try:
                os.unlink(fresh)
            except OSError:
                pass
            return
        os.close(self.fd)
        self.fd, self.size = fd, 0

    def close(self) -> None:
        self.flush()
        if self.dropped:
            self.retry_at = 0.0
            self.retry()
        os.close(self.fd)


def log_files(directory: str) -> list[str]:
    """The log and its rotations, oldest first."""
    base = os.path.join(directory, LOG)
    rotated = []
    n = 1
    while os.path.exists(f"{base}.{n}"):
        rotated.append(f"{base}.{n}")
        n += 1
    return [*reversed(rotated), base]


def _parse(raw: bytes):
    try:
        rec = fastjson.loads(raw)
        return rec["time"], rec["stream"], rec["log"]
    except (ValueError, KeyError):
        return None


def read_lines(directory: str, tail: int | None = None):
    """Every (time, stream, text) in the log now, oldest first; the last ``tail`` when given."""
    return read_lines_from(directory, tail)[0]


def read_lines_from(directory: str, tail: int | None = None):
    """read_lines, and where it stopped in the current log: (inode, offset after the last whole
    line), for follow to go on from exactly there (inode 0 when there was no log yet: follow
    reads the one made since from its start)."""
    out = []
    mark = (0, 0)
    current = os.path.join(directory, LOG)
    for path in log_files(directory):
        try:
            with open(path, "rb") as f:
                whole = 0
                for raw in f:
                    if raw.endswith(b"\n"):
                        whole += len(raw)
                    else:
                        break    # a line being written: follow reads it once it is whole
                    rec = _parse(raw)
                    if rec:
                        out.append(rec)
                if path == current:
                    mark = (os.fstat(f.fileno()).st_ino, whole)
        except FileNotFoundError:
            continue
    if tail is not None:
        out = out[-tail:] if tail > 0 else []
    return out, mark


# With inotify, how long a follower sleeps between looks when nothing changed in the directory
# (a monitor killed without writing the exit down; a stop asked for by its Event)
QUIET_LOOK = 1.0
STOP_LOOK = 0.5


def follow(directory: str, still_running, poll: float = 0.05, stop=None, since_mark=None):
    """Yield (time, stream, text) appended to ctr.log from its current end (or from
    ``since_mark``, where read_lines_from stopped, so that no line falls between the two) until
    ``still_running()`` says the container ended and everything written was read, or ``stop``
    (a threading.Event) is set. Survives a rotation (the file is replaced: read the new one
    from its start). Between reads it sleeps until something in ``directory`` changes (inotify:
    a line written, a rotation, the state the exit is recorded in), looking anyway every
    QUIET_LOOK (STOP_LOOK with ``stop``) seconds; without inotify it looks every ``poll``. (It
    looked every 50 ms: an idle dashboard's log pane and every `logs -f` woke 20 times a
    second.)"""
    wake = _Wake(directory)
    try:
        yield from _follow(directory, still_running, wake, poll, stop, since_mark)
    finally:
        wake.close()


class _Wake:
    """Sleeps until ``directory`` changes (inotify) or a while has passed."""

    def __init__(self, directory: str):
        from ..events import IN_CLOSE_WRITE, IN_CREATE, IN_MODIFY, IN_MOVED_TO, inotify_watch
        try:
            self.fd = inotify_watch([(directory, IN_MODIFY | IN_MOVED_TO | IN_CREATE
                                      | IN_CLOSE_WRITE)])
        except OSError:
            self.fd = -1

    def wait(self, poll: float, stop) -> bool:
        """Sleep (at most ``poll`` without inotify); whether ``stop`` was set meanwhile."""
        if stop is not None and stop.is_set():
            return True
        if self.fd < 0:
            if stop is not None:
                return stop.wait(poll)
            time.sleep(poll)
            return False
        import select
        select.select([self.fd], [], [], STOP_LOOK if stop is not None else QUIET_LOOK)
        try:
            while os.read(self.fd, 4096):
                pass
        except BlockingIOError:
            pass
        return stop is not None and stop.is_set()

    def close(self) -> None:
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1


def _follow(directory: str, still_running, wake: _Wake, poll: float, stop, since_mark):
    path = os.path.join(directory, LOG)
    f = open(path, "rb") if os.path.exists(path) else None
    if f and since_mark is None:
        f.seek(0, os.SEEK_END)
    elif f and os.fstat(f.fileno()).st_ino == since_mark[0]:
        f.seek(since_mark[1])
    # else: the log was rotated (or made) since: its new file is read from the start
    pending = b""
    try:
        while True:
            if f is None and os.path.exists(path):
                f = open(path, "rb")
            got = False
            if f is not None:
                chunk = f.read()
                if chunk:
                    got = True
                    pending += chunk
                    *lines, pending = pending.split(b"\n")
                    for raw in lines:
                        rec = _parse(raw)
                        if rec:
                            yield rec
                else:
                    try:
                        if os.stat(path).st_ino != os.fstat(f.fileno()).st_ino:
                            f.close()
                            f = open(path, "rb")
                            pending = b""
                            continue
                    except FileNotFoundError:
                        pass
            if not got:
                if not still_running():
                    # one last read: the monitor writes everything before it records the exit
                    if f is not None:
                        rest = pending + f.read()
                        for raw in rest.split(b"\n"):
                            rec = _parse(raw)
                            if rec:
                                yield rec
                    return
                if wake.wait(poll, stop):
                    return
    finally:
        if f is not None:
            f.close()
