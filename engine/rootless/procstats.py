"""Stats without a cgroup: what the container's processes' /proc files say, as rootless podman
reads them on a host without delegation.

CPU is the sum of utime+stime of the processes in the container's pid namespace (those that
have exited are not counted, so CPU % reads a little low for short-lived children), memory the
sum of their resident sets (shared pages counted once per process), block I/O their
``read_bytes``/``write_bytes``; there are no limits to report. Network counters come from the
container's namespace as with root (StatsReader.read_net).
"""

from __future__ import annotations

import os

from ..stats import CLK_TCK, StatsReader

_PAGE = os.sysconf("SC_PAGE_SIZE")
_NS_PER_TICK = 1_000_000_000 // CLK_TCK


def proc_totals(pids: list[int], proc: str = "/proc") -> dict:
    """The raw stats keys (as StatsReader.read_raw gives them) summed over ``pids``."""
    cpu = mem = read = write = n = 0
    for pid in pids:
        try:
            with open(f"{proc}/{pid}/stat", "rb") as f:
                stat = f.read()
            with open(f"{proc}/{pid}/statm", "rb") as f:
                rss_pages = int(f.read().split()[1])
        except (OSError, IndexError, ValueError):
            continue      # exited meanwhile
        fields = stat[stat.rfind(b")") + 2:].split()
        cpu += (int(fields[11]) + int(fields[12])) * _NS_PER_TICK
        mem += rss_pages * _PAGE
        n += 1
        try:
            with open(f"{proc}/{pid}/io", "rb") as f:
                for line in f:
                    key, _, value = line.partition(b":")
                    if key == b"read_bytes":
                        read += int(value)
                    elif key == b"write_bytes":
                        write += int(value)
        except (OSError, ValueError):
            pass
    return {"cpu": cpu, "mem": mem, "mem_stat": {}, "mem_max": None, "cpu_quota": None,
            "cpu_period": None, "io": (read, write), "pids": n, "pids_max": None}


class ProcStatsReader(StatsReader):
    """StatsReader over /proc for a NoCgroup backend (engine/rootless/cgroups.py); its samples
    say why they carry no limits (``limits_note``), for the dashboard to show."""

    def sample(self, *args, **kwargs):
        s = super().sample(*args, **kwargs)
        if s is not None:
            from .cgroups import NO_DELEGATION
            s.limits_note = NO_DELEGATION
        return s

    def read_raw(self, cid: str) -> dict | None:
        pids = self.backend.pids(cid)
        if not pids:
            self.forget(cid)
            return None
        return proc_totals(pids, self.proc)
