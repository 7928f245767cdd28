"""Stats and events: the stats stream, host totals, the event log (engine/stats.py, engine/events.py)."""

from __future__ import annotations

import os
import time

RUNNING = ("running", "paused", "restarting")


class _Targets:
    """Which containers a stream reads, from their records on disk; a record is parsed again only
    when its file was replaced (records are written by rename, so the inode tells)."""

    def __init__(self, store, refs: list[str] | None, all: bool):
        self.store = store
        self._dir = os.path.join(store.paths.root, "containers")
        self.ids: list[str] | None = None
        if refs:
            from .runtime import records
            self.ids = [records.find(store, r).id for r in refs]
        # containers asked for by name are shown even when stopped (with zeros), as Docker does
        self.all = all or self.ids is not None
        self._config: dict[str, tuple] = {}   # cid -> (inode, name, network mode)
        self._state: dict[str, tuple] = {}    # cid -> (inode, pid or 0 when not running)
        self._tick = 0

    def _read(self, cache: dict, cid: str, name: str, parse):
        path = f"{self._dir}/{cid}/{name}"  # every tick, for every container: no os.path
        try:
            st = os.stat(path)
        except FileNotFoundError:
            cache.pop(cid, None)
            return None
        key = (st.st_ino, st.st_mtime_ns)
        hit = cache.get(cid)
        if hit is None or hit[0] != key:
            from .runtime import process
            data = process.read_json(path)
            if data is None:
                return None
            hit = cache[cid] = (key, *parse(data))
        return hit[1:]

    @staticmethod
    def _parse_config(raw: dict) -> tuple:
        return raw.get("name", ""), raw.get("network_mode", "bridge")

    @staticmethod
    def _parse_state(raw: dict) -> tuple:
        from .runtime import process
        state = process.effective_status(raw)
        return (state.get("pid") or 0 if state.get("status") in RUNNING else 0,)

    def list(self) -> list[tuple[str, str, int, bool]]:
        """(id, name, pid (0: not running), whether its network counts) per container."""
        self._tick += 1
        if self.ids is not None:
            cids = self.ids
        else:
            from .runtime import records
            cids = sorted(records.ids(self.store))
        out = []
        for cid in cids:
            state = self._read(self._state, cid, "state.json", self._parse_state)
            if state is None:  # removed (or not yet created)
                self._config.pop(cid, None)
                continue
            # a name changes only with rename: its record is looked at every few ticks
            config = self._config.get(cid)
            config = config[1:] if config and self._tick % 5 else \
                self._read(self._config, cid, "config.json", self._parse_config)
            if config is None:
                continue
            pid = state[0]
            if pid or self.all:
                # host: the host's interfaces are not the container's; none: only lo, which
                # Docker leaves out, so there is nothing to read
                out.append((cid, config[0], pid, config[1] not in ("host", "none")))
        return out


class StatsAPI:
    """Stats and events: the stats stream, host totals, the event log (engine/stats.py, engine/events.py)."""

    # --- stats ------------------------------------------------------------------------------------

    def _stats_reader(self):
        from .runtime import cgroups
        from .stats import StatsReader
        backend = cgroups.detect(self.paths)
        if backend.version == 0:   # [rootless] no cgroup: the processes' /proc files
            from .rootless.procstats import ProcStatsReader
            return ProcStatsReader(backend)
        return StatsReader(backend)

    def _stats_tick(self, reader, targets: _Targets, prev: dict) -> list:
        """One reading of every target: each cgroup file read once, CPU % against ``prev``."""
        from .models import StatsSample
        from .stats import with_rates
        system = reader.system()
        now = time.monotonic()
        out, alive = [], []
        for cid, name, pid, net in targets.list():
            sample = reader.sample(cid, name, pid, now, system, net) if pid else None
            if sample is None:
                prev.pop(cid, None)
                if targets.all:
                    out.append(StatsSample(id=cid, name=name, time=now, system_ns=system[0],
                                           online_cpus=system[1]))
                continue
            alive.append(cid)
            prev[cid] = with_rates(prev.get(cid), sample)
            out.append(sample)
        reader.keep_only(alive)
        return out

    async def stats(self, ids: list[str] | None = None, interval: float = 1.0,
                    all: bool = False):
        """Yield a list of samples every ``interval`` seconds: the running containers (``all``:
        stopped ones too, with zeros), or those named in ``ids`` (running or not); containers
        that start later are picked up when no ids are given. CPU % is 0 in the first list (it needs two readings).
        The files are read in a worker thread, so the event loop never waits on the kernel."""
        import asyncio
        targets = _Targets(self.store, ids, all)
        reader = self._stats_reader()
        prev: dict = {}
        try:
            while True:
                started = time.monotonic()
                samples = await asyncio.to_thread(self._stats_tick, reader, targets, prev)
                yield samples
                await asyncio.sleep(max(0.0, interval - (time.monotonic() - started)))
        finally:
            reader.close()

    def iter_stats(self, ids: list[str] | None = None, interval: float = 1.0,
                   all: bool = False):
        """``stats`` for synchronous callers (the CLI): the same readings, blocking between
        ticks, without loading asyncio."""
        targets = _Targets(self.store, ids, all)
        reader = self._stats_reader()
        prev: dict = {}
        try:
            while True:
                started = time.monotonic()
                yield self._stats_tick(reader, targets, prev)
                time.sleep(max(0.0, interval - (time.monotonic() - started)))
        finally:
            reader.close()

    def stats_once(self, ids: list[str] | None = None, all: bool = False,
                   interval: float = 0.5) -> list:
        """Two readings ``interval`` apart, so CPU % means something; the second one's samples."""
        targets = _Targets(self.store, ids, all)
        reader = self._stats_reader()
        prev: dict = {}
        try:
            self._stats_tick(reader, targets, prev)
            time.sleep(interval)
            return self._stats_tick(reader, targets, prev)
        finally:
            reader.close()

    def host_totals(self) -> dict:
        """The host's CPU % (since the previous call; over 0.1 s on the first), memory and load."""
        import psutil
        global _cpu_primed
        cpu = psutil.cpu_percent(interval=None if _cpu_primed else 0.1)
        _cpu_primed = True
        vm = psutil.virtual_memory()
        load1, load5, load15 = os.getloadavg()
        return {"cpu_percent": cpu, "memory_used": vm.total - vm.available,
                "memory_total": vm.total, "load1": load1, "load5": load5, "load15": load15,
                "cpus": psutil.cpu_count() or 1}

    # --- events -----------------------------------------------------------------------------------

    def events(self, since=None, until=None, filters=None) -> list:
        """Logged events between ``since`` and ``until`` (seconds, or Docker's string forms:
        Unix time, RFC 3339, a duration like "10m") that pass ``filters``."""
        from .events import parse_filters, read_events
        from .models import Event
        return [Event.from_dict(e) for e in read_events(
            self.paths.events_file, _when(since), _when(until), parse_filters(filters or {}))]

    async def follow_events(self, since=None, filters=None, until=None):
        """Yield events as they are logged (from ``since`` when given, else from now), across
        rotations of the log, until ``until`` (if given) has passed or the caller stops."""
        import asyncio
        follow = _Follow(self.paths.events_file, since, filters, until)
        loop = asyncio.get_running_loop()
        wake = asyncio.Event()
        fd = follow.fileno()
        if fd >= 0:
            loop.add_reader(fd, wake.set)
        try:
            while True:
                wake.clear()
                batch, done = follow.next_batch()
                for ev in batch:
                    yield ev
                if done:
                    return
                try:
                    await asyncio.wait_for(wake.wait(), follow.timeout())
                except (asyncio.TimeoutError, TimeoutError):
                    pass
        finally:
            if fd >= 0:
                loop.remove_reader(fd)
            follow.close()

    def iter_events(self, since=None, filters=None, until=None):
        """``follow_events`` for synchronous callers (the CLI), without loading asyncio."""
        import select
        follow = _Follow(self.paths.events_file, since, filters, until)
        try:
            while True:
                batch, done = follow.next_batch()
                yield from batch
                if done:
                    return
                if follow.fileno() >= 0:
                    select.select([follow.fileno()], [], [], follow.timeout())
                else:
                    time.sleep(follow.timeout())
        finally:
            follow.close()


class _Follow:
    """One follower of the log with its time window and filters: what both the async and the
    blocking loops ask for after each wake-up."""

    def __init__(self, path: str, since, filters, until):
        from .events import Follower, parse_filters
        self.filters = parse_filters(filters or {})
        self.start, self.end = _when(since), _when(until)
        self.follower = Follower(path, from_start=self.start is not None)

    def fileno(self) -> int:
        return self.follower.fileno()

    def next_batch(self) -> tuple[list, bool]:
        """(new matching events, whether ``until`` has passed)."""
        from .events import matches
        from .models import Event
        out = []
        for ev in self.follower.poll():
            t = ev.get("time", 0)
            if self.end is not None and t > self.end:
                return out, True
            if (self.start is None or t >= self.start) and matches(ev, self.filters):
                out.append(Event.from_dict(ev))
        return out, self.end is not None and time.time() > self.end

    def timeout(self) -> float:
        # inotify wakes the loop; the timeout only bounds the wait for --until (and the poll
        # interval when inotify is unavailable)
        t = 1.0 if self.fileno() >= 0 else 0.2
        if self.end is not None:
            t = min(t, max(self.end - time.time(), 0.0) + 0.05)
        return t

    def close(self) -> None:
        self.follower.close()

_cpu_primed = False


def _when(value) -> float | None:
    if value is None or value == "":
        return None
    if isinstance(value, (int, float)):
        return float(value)
    from .events import parse_timestamp
    return parse_timestamp(str(value))

