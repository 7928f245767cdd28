"""Bounded time series of container resource use, for the graphs.

``Series`` keeps the last ``FINE_POINTS`` readings at the sampling resolution (10 minutes at 1 s)
and folds every ``FOLD`` readings into one coarse point (the mean), of which it keeps
``COARSE_POINTS`` (an hour at 10 s). ``ContainerHistory`` turns StatsSamples (cumulative
byte counters) into per-second rates; ``HistoryBook`` holds one per container, forgetting those
that stopped being sampled. Nothing here grows without bound.
"""

from __future__ import annotations

from array import array

__all__ = ["FINE_POINTS", "COARSE_POINTS", "FOLD", "Series", "ContainerHistory", "HistoryBook",
           "METRICS"]

FINE_POINTS = 600     # 10 minutes at 1 s
FOLD = 10             # fine points per coarse point
COARSE_POINTS = 360   # 1 hour at 10 s
MAX_CONTAINERS = 200  # ~1,000 floats per metric each: a few MB at most

METRICS = ("cpu", "mem", "net_rx", "net_tx", "blk_read", "blk_write")


class Ring:
    """A bounded sequence of floats, oldest first, in a flat array of doubles (8 bytes a
    point where a deque of floats takes 32): the dashboard keeps an hour of six of these for
    every measured container."""

    __slots__ = ("data", "size", "start")

    def __init__(self, maxlen: int) -> None:
        self.data = array("d")
        self.size = maxlen
        self.start = 0

    def append(self, value: float) -> None:
        if len(self.data) < self.size:
            self.data.append(value)
        else:
            self.data[self.start] = value
            self.start = (self.start + 1) % self.size

    def __len__(self) -> int:
        return len(self.data)

    def __getitem__(self, i: int) -> float:
        n = len(self.data)
        if not -n <= i < n:
            raise IndexError(i)
        return self.data[(self.start + i) % n]

    def tail(self, n: int | None = None) -> list[float]:
        """The newest ``n`` values (all when None), oldest first."""
        d, s = self.data, self.start
        ordered = d[s:] + d[:s] if s else d
        if n is not None and n < len(ordered):
            ordered = ordered[len(ordered) - n:]
        return ordered.tolist()

    def __iter__(self):
        return iter(self.tail())


class Series:
    """One metric over time: fine points plus coarser folded ones, both bounded."""

    def __init__(self, fine: int = FINE_POINTS, fold: int = FOLD, coarse: int = COARSE_POINTS):
        self.fine = Ring(fine)
        self.coarse = Ring(coarse)
        self.fold = fold
        self._pending: list[float] = []

    def add(self, value: float, repeat: int = 1) -> None:
        """Record ``value`` as ``repeat`` points."""
        fine, pending = self.fine, self._pending
        for _ in range(repeat):
            fine.append(value)
            pending.append(value)
            if len(pending) >= self.fold:
                self.coarse.append(sum(pending) / len(pending))
                pending.clear()

    @property
    def last(self) -> float:
        return self.fine[-1] if self.fine else 0.0

    def points(self, coarse: bool = False, n: int | None = None) -> list[float]:
        """The newest ``n`` points (all when None), oldest first."""
        return (self.coarse if coarse else self.fine).tail(n)

    def __len__(self) -> int:
        return len(self.fine)


class ContainerHistory:
    """Every metric of one container; byte counters become rates (bytes per second)."""

    def __init__(self, name: str = "", **series_kw) -> None:
        self.name = name
        self.series = {m: Series(**series_kw) for m in METRICS}
        self.memory_limit = 0
        self.cpu_limit = 0.0     # CPUs allowed by the quota; the CPU graph draws it as a line
        self.limits_note = ""    # why there can be no limits (rootless without delegation)
        self._prev: tuple | None = None

    def add(self, sample, repeat: int = 1) -> None:
        """Record a sample; ``repeat`` fills that many points with it (a reader sampling every
        2 s keeps a history of 1 s points: CPU % and rates are averages over the interval)."""
        self.name = sample.name or self.name
        self.memory_limit = sample.memory_limit
        self.cpu_limit = getattr(sample, "cpu_limit", 0.0) or 0.0
        self.limits_note = getattr(sample, "limits_note", "")
        values = {"cpu": float(sample.cpu_percent), "mem": float(sample.memory_usage)}
        counters = (sample.time, sample.net_rx, sample.net_tx, sample.block_read,
                    sample.block_write)
        prev, self._prev = self._prev, counters
        rates = [0.0] * 4
        if prev is not None and counters[0] > prev[0]:
            dt = counters[0] - prev[0]
            rates = [max(0.0, (c - p) / dt) for c, p in zip(counters[1:], prev[1:])]
        values.update(zip(("net_rx", "net_tx", "blk_read", "blk_write"), rates))
        series = self.series
        for name, value in values.items():
            series[name].add(value, repeat)

    def __getitem__(self, metric: str) -> Series:
        return self.series[metric]


class HistoryBook:
    """One ContainerHistory per sampled container."""

    def __init__(self, max_containers: int = MAX_CONTAINERS, **series_kw) -> None:
        self.by_id: dict[str, ContainerHistory] = {}
        self.max_containers = max_containers
        self._series_kw = series_kw

    def add(self, samples, repeat: int = 1) -> None:
        """Record one tick's samples (``repeat`` points each); containers absent from the
        tick are forgotten."""
        seen = set()
        for s in samples:
            seen.add(s.id)
            h = self.by_id.get(s.id)
            if h is None:
                if len(self.by_id) >= self.max_containers:
                    continue
                h = self.by_id[s.id] = ContainerHistory(s.name, **self._series_kw)
            h.add(s, repeat)
        for cid in [c for c in self.by_id if c not in seen]:
            del self.by_id[cid]

    def hottest(self) -> list[str]:
        """Container ids, highest current CPU first."""
        return sorted(self.by_id, key=lambda c: (-self.by_id[c]["cpu"].last, self.by_id[c].name))

    def __len__(self) -> int:
        return len(self.by_id)
