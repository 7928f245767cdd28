"""The event log: one JSON object per line in ``events.jsonl``, appended by every verb and monitor.

Each event is written with a single ``write`` on an ``O_APPEND`` descriptor, so lines from
several processes never interleave.
"""

from __future__ import annotations

import json
import os
import time

from .paths import Paths


def emit(paths: Paths, type: str, action: str, id: str = "",
         attributes: dict[str, str] | None = None) -> None:
    """Append one event; never raises (an event that can't be logged must not fail a verb)."""
    line = json.dumps({"time": time.time(), "type": type, "action": action, "id": id,
                       "attributes": attributes or {}}, separators=(",", ":")) + "\n"
    try:
        fd = os.open(paths.events_file, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o644)
        try:
            os.write(fd, line.encode())
        finally:
            os.close(fd)
    except OSError:
        pass
