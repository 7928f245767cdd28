"""Where the milliseconds of one berth command go, every process included: the profile table
that bench/start, bench/exec and bench/network print with ``--profile``.

Each run sets BERTH_TRACE to a fresh file; every berth process on the path (CLI, monitor,
intermediate, pid 1, exec's joiner) appends ``<CLOCK_MONOTONIC ns> <pid> <role> <step>`` as it
finishes a step (engine/runtime/trace.py). The bench takes the same clock just before it spawns
the CLI and just after the CLI exits, so the first row (interpreter start) and the last one
(the interpreter's exit) are measured too. A row's time is the time since the previous mark of
the same process (for a process's first mark: since the mark before it was started, in its
parent); rows are in the order they happened (median offset over the rounds).
"""

from __future__ import annotations

import os
import statistics
import subprocess
import tempfile
import time


def traced(cmd: list[str], env: dict, check: bool = True) -> list[tuple[int, int, str, str]]:
    """Run ``cmd`` with tracing on; the marks, with ("bench", "spawn") and ("bench", "exited")
    around them."""
    fd, path = tempfile.mkstemp(prefix="berth-trace-", dir="/var/tmp")
    os.close(fd)
    try:
        t0 = time.clock_gettime_ns(time.CLOCK_MONOTONIC)
        p = subprocess.run(cmd, env={**env, "BERTH_TRACE": path}, capture_output=True, text=True,
                           timeout=120)
        t1 = time.clock_gettime_ns(time.CLOCK_MONOTONIC)
        if check and p.returncode != 0:
            raise SystemExit(f"{' '.join(cmd[:6])}… failed ({p.returncode}): {p.stderr[-800:]}")
        time.sleep(0.3)   # the monitor may still be tearing down after the CLI is gone
        marks = [(t0, 0, "bench", "spawn CLI")]
        with open(path) as f:
            for line in f:
                ns, pid, role, step = line.rstrip("\n").split(" ", 3)
                marks.append((int(ns), int(pid), role, step))
        marks.append((t1, 0, "bench", "CLI exited (interpreter teardown)"))
        marks.sort()
        return marks
    finally:
        os.unlink(path)


# a process's first row counts from this mark of its parent (the last one before it started)
ANCHOR = {"monitor": ("cli", "interpreter up (site too, unless started with -S)"),
          "intermediate": ("monitor", "container id received"),
          "init": ("intermediate", "unshared the namespaces"),
          "joiner": ("cli", "exec: berth-init sealed copy made")}


def rows(marks: list[tuple[int, int, str, str]]) -> list[tuple[str, str, float, float]]:
    """(role, step, offset ms, duration ms) per mark."""
    t0 = marks[0][0]
    last: dict[int, int] = {}
    anchors: dict[tuple[str, str], int] = {}
    last_of_role: dict[str, int] = {}
    prev_any = t0
    cli_pid = next((pid for _, pid, role, _ in marks if role == "cli"), 0)
    out = []
    for ns, pid, role, step in marks[1:]:
        if pid == 0:
            pid = cli_pid   # the CLI's exit ends the CLI's last step
        start = last.get(pid) or last_of_role.get(role) \
            or anchors.get(ANCHOR.get(role, ("", "")), prev_any)
        anchors[(role, step)] = ns
        last_of_role[role] = ns   # a process that forks on in the same role (the monitor)
        out.append((role, step, (ns - t0) / 1e6, (ns - start) / 1e6))
        last[pid] = ns
        prev_any = ns
    return out


def profile(cmd: list[str], env: dict, rounds: int = 5, title: str = "") -> str:
    """The table: median over ``rounds`` traced runs of ``cmd``."""
    runs = [rows(traced(cmd, env)) for _ in range(rounds)]
    keyed: dict[tuple[str, str], list[tuple[float, float]]] = {}
    for run in runs:
        seen: dict[tuple[str, str], int] = {}
        for role, step, off, dur in run:
            n = seen.get((role, step), 0)
            seen[(role, step)] = n + 1
            keyed.setdefault((role, step + (f" #{n + 1}" if n else "")), []).append((off, dur))
    table = sorted(((statistics.median(o for o, _ in v), k, statistics.median(d for _, d in v))
                    for k, v in keyed.items()), key=lambda r: r[0])
    wall = statistics.median(run[-1][2] for run in runs)
    lines = [f"profile of {title or ' '.join(cmd)} (median of {rounds} traced runs)",
             f"{'at ms':>8} {'step ms':>8}  {'process':<12} step (time since that process's "
             "previous mark)"]
    for off, (role, step), dur in table:
        lines.append(f"{off:8.1f} {dur:8.1f}  {role:<12} {step}")
    busy: dict[str, float] = {}
    for _, (role, _step), dur in table:
        busy[role] = busy.get(role, 0.0) + dur
    lines.append(f"wall {wall:.1f} ms; per process (sum of its rows): "
                 + ", ".join(f"{r} {v:.1f}" for r, v in busy.items()))
    return "\n".join(lines)


def load() -> str:
    """The load averages, printed with every bench: a loaded machine inflates all timings."""
    return "load average " + " ".join(f"{x:.2f}" for x in os.getloadavg())
