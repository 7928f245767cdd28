"""Times as berth stores them: RFC 3339 in UTC with nanosecond-style precision, as Docker's."""

from __future__ import annotations

import time


def now_rfc3339(t: float | None = None) -> str:
    t = time.time() if t is None else t
    secs = int(t)
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(secs)) + f".{int((t - secs) * 1e9):09d}Z"


def human_duration(seconds: float) -> str:
    """Docker's HumanDuration: 'Less than a second', '5 seconds', 'About a minute', '3 hours'."""
    s = int(seconds)
    if s < 1:
        return "Less than a second"
    if s == 1:
        return "1 second"
    if s < 60:
        return f"{s} seconds"
    m = s // 60
    if m == 1:
        return "About a minute"
    if m < 60:
        return f"{m} minutes"
    h = round(s / 3600)
    if h == 1:
        return "About an hour"
    if h < 48:
        return f"{h} hours"
    if h < 24 * 7 * 2:
        return f"{h // 24} days"
    if h < 24 * 30 * 2:
        return f"{h // 24 // 7} weeks"
    if h < 24 * 365 * 2:
        return f"{h // 24 // 30} months"
    return f"{h // 24 // 365} years"
