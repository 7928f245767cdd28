"""What every subcommand shares: the engine, plain tables as Docker prints them, sizes, times.

Plain text on purpose: ``berth ps`` and friends stay fast because they never import rich.
"""

from __future__ import annotations

import sys
import time

TYPE_CHECKING = False
if TYPE_CHECKING:   # typing, json and datetime cost `berth run` 10 ms: loaded where used
    from typing import Any, Iterable, Sequence

from engine.clock import human_duration  # noqa: F401  (the CLI's and the API's one copy)


_engines: list = []


def get_engine(containers_only: bool = False):
    """The engine a subcommand works on (the local berth, or the one -H, --connection or the
    default connection names); ``print_warnings`` tells what it skipped afterwards.
    ``containers_only``: the command calls only image and container verbs (run, create), so a
    local engine is ContainerEngine (engine/engine_base.py), which loads no other area's modules."""
    import os
    from engine.public import connections_file   # a stat, not an import, on the hot path
    host, name = os.environ.get("BERTH_HOST", ""), os.environ.get("BERTH_CONNECTION", "")
    if host or name or os.path.exists(connections_file()):
        from engine import connections
        engine = connections.resolve(host, name)
    elif containers_only:
        from engine import ContainerEngine
        engine = ContainerEngine()
    else:
        from engine import Engine
        engine = Engine()
    _engines.append(engine)
    return engine


def print_warnings() -> None:
    """After the command's output, as docker's WARNINGs: what its engine let pass but left
    out (``Store.warn``), one line each, and the one line naming the damaged records it
    skipped. Each is said once."""
    for e in _engines[:1]:
        for line in e.take_warnings():
            print(f"WARNING: {line}", file=sys.stderr)


def print_table(headers: Sequence[str], rows: Iterable[Sequence[Any]], out=None) -> None:
    """Columns separated by three spaces, as the docker CLI prints them."""
    out = out or sys.stdout
    rows = [[str(c) for c in r] for r in rows]
    widths = [len(h) for h in headers]
    for r in rows:
        for i, c in enumerate(r):
            widths[i] = max(widths[i], len(c))
    lines = []
    for r in [list(headers), *rows]:
        lines.append("   ".join(c.ljust(widths[i]) for i, c in enumerate(r)).rstrip())
    out.write("\n".join(lines) + "\n")


def print_json(obj: Any, out=None) -> None:
    import json
    (out or sys.stdout).write(json.dumps(obj, indent=4) + "\n")


def print_json_lines(objs: Iterable[Any], out=None) -> None:
    import json
    out = out or sys.stdout
    for o in objs:
        out.write(json.dumps(o, separators=(",", ":")) + "\n")


def human_size(n: float) -> str:
    """Docker's sizes: decimal units, 3 significant digits (``7.8MB``, ``1.24GB``)."""
    for unit in ("B", "kB", "MB", "GB", "TB"):
        if abs(n) < 1000 or unit == "TB":
            if unit == "B":
                return f"{int(n)}B"
            return f"{n:.3g}{unit}"
        n /= 1000
    return f"{n}PB"  # pragma: no cover


def human_bytes_binary(n: float) -> str:
    """Binary units as docker stats prints memory (``1.5MiB``)."""
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if abs(n) < 1024 or unit == "TiB":
            return f"{n:.4g}{unit}" if unit != "B" else f"{int(n)}B"
        n /= 1024
    return f"{n}PiB"  # pragma: no cover


def parse_time(value: str) -> float:
    """RFC 3339 (as berth stores times) to seconds since the epoch."""
    if not value:
        return 0.0
    v = value.rstrip("Z")
    if "." in v:
        head, frac = v.split(".", 1)
        v = f"{head}.{frac[:6]}"
    from datetime import datetime, timezone
    return datetime.fromisoformat(v).replace(tzinfo=timezone.utc).timestamp()


def ago(rfc3339: str) -> str:
    """'5 minutes ago' for a stored time."""
    return human_duration(time.time() - parse_time(rfc3339)) + " ago"
