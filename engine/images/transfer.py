"""What pull and push share: how many blobs move at once, Docker-style progress messages, and
running one thread per blob so that one failure stops the rest.

Progress is reported as Docker's JSON messages: ``{"id", "status", "progressDetail":
{"current", "total"}}``, so the CLI and the dashboard can draw it as ``docker pull`` does.
"""

from __future__ import annotations

import threading
import time
TYPE_CHECKING = False
if TYPE_CHECKING:   # typing costs every pull 3 ms of import
    from typing import Any, Callable

Progress = "Callable[[dict], Any]"   # for annotations (strings here)

PARALLEL_BLOBS = 4


def short_id(digest: str) -> str:
    return digest.partition(":")[2][:12]


class Reporter:
    """Sends Docker-style JSON progress messages to ``progress``, never letting a broken
    callback break a pull, and thinning the byte counts out to a readable rate."""

    def __init__(self, progress: Progress | None):
        self.progress = progress
        self._last: dict[str, float] = {}
        self._lock = threading.Lock()   # the blobs' threads report one message at a time

    def __call__(self, status: str, id: str = "", current: int | None = None,
                 total: int | None = None) -> None:
        if not self.progress:
            return
        msg: dict[str, Any] = {"status": status}
        if id:
            msg["id"] = id
        if current is not None:
            msg["progressDetail"] = {"current": current, "total": total or 0}
        with self._lock:
            self.progress(msg)

    def bytes(self, status: str, id: str, current: int, total: int) -> None:
        if not self.progress:
            return
        now = time.monotonic()
        if current < total and now - self._last.get(id, 0) < 0.05:
            return
        self._last[id] = now
        self(status, id, current, total)


def run_all(jobs, abort: Callable[[], None]) -> None:
    """Run the callables ``jobs`` at once, each in a thread of its own (the last in this one);
    when one fails, or this thread is interrupted (ctrl-c), call ``abort()`` (which must make
    the others end soon: the registry client's abort ends their requests), wait for them all,
    and raise the first failure."""
    jobs = list(jobs)
    errors: list[BaseException] = []
    lock = threading.Lock()

    def one(job) -> None:
        try:
            job()
        except BaseException as e:  # noqa: BLE001 - raised in the calling thread
            with lock:
                errors.append(e)
                first = len(errors) == 1
            if first:
                abort()

    threads = [threading.Thread(target=one, args=(j,), daemon=True) for j in jobs[:-1]]
    try:
        for t in threads:
            t.start()
        if jobs:
            one(jobs[-1])
        for t in threads:
            t.join()
    except BaseException:
        abort()
        for t in threads:
            if t.ident is not None:
                t.join()
        raise
    if errors:
        raise errors[0]
