"""What pull and push share: how many blobs move at once, Docker-style progress messages, and
running one task per blob so that one failure cancels the rest.

Progress is reported as Docker's JSON messages: ``{"id", "status", "progressDetail":
{"current", "total"}}``, so the CLI and the dashboard can draw it as ``docker pull`` does.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any, Callable

Progress = Callable[[dict], Any]

PARALLEL_BLOBS = 4


def short_id(digest: str) -> str:
    return digest.partition(":")[2][:12]


class Reporter:
    """Sends Docker-style JSON progress messages to ``progress``, never letting a broken
    callback break a pull, and thinning the byte counts out to a readable rate."""

    def __init__(self, progress: Progress | None):
        self.progress = progress
        self._last: dict[str, float] = {}

    def __call__(self, status: str, id: str = "", current: int | None = None,
                 total: int | None = None) -> None:
        if not self.progress:
            return
        msg: dict[str, Any] = {"status": status}
        if id:
            msg["id"] = id
        if current is not None:
            msg["progressDetail"] = {"current": current, "total": total or 0}
        self.progress(msg)

    def bytes(self, status: str, id: str, current: int, total: int) -> None:
        if not self.progress:
            return
        now = time.monotonic()
        if current < total and now - self._last.get(id, 0) < 0.05:
            return
        self._last[id] = now
        self(status, id, current, total)


async def gather_or_cancel(coros) -> None:
    """Run ``coros`` together; when one fails (or this is cancelled), cancel the others, wait
    for them to end, and raise."""
    tasks = [asyncio.ensure_future(c) for c in coros]
    try:
        await asyncio.gather(*tasks)
    except BaseException:
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        raise
