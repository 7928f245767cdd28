"""Times as berth stores them: RFC 3339 in UTC with nanosecond-style precision, as Docker's."""

from __future__ import annotations

import time


def now_rfc3339(t: float | None = None) -> str:
    t = time.time() if t is None else t
    secs = int(t)
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(secs)) + f".{int((t - secs) * 1e9):09d}Z"
