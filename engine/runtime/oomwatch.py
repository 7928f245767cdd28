"""Watching a container's cgroup for OOM kills, for its monitor: ``oom_watch`` gives a descriptor
that becomes readable when the kernel acts on the cgroup's memory limit, and ``check()`` counts
the kills since the last look.

Its own module, apart from engine/stats.py (the readings of ``stats`` and the dashboard): every
monitor loads this for its whole life, and what a monitor loads stays in its resident memory
(bench/start: target <= 6 MiB). So only ``os`` and ``time`` at module level.
"""

from __future__ import annotations

import os
import time

from .cgroup_common import oom_kills


class OOMWatch:
    """A descriptor that becomes readable when the kernel acts on a container's memory limit, and
    ``check()`` to tell how many OOM kills happened since the last check.

    For the monitor's selector::

        watch = oom_watch(self.cg, cid)            # after cg.create(cid, ...), before the fork
        self.sel.register(watch.fileno(), selectors.EVENT_READ, "oom")
        ...  # in the loop:
        if key.data == "oom" and watch.check():
            emit "oom" (once per check that returned > 0) and remember OOMKilled
        ...  # at teardown, BEFORE cg.remove(cid) (v1 signals the eventfd on removal too):
        self.sel.unregister(watch.fileno()); watch.close()

    ``check()`` never raises and drains the descriptor, so a level-triggered selector doesn't
    spin; it returns 0 for wake-ups that were not kills (v1 also signals "under OOM" with the
    killer disabled, and the cgroup's removal)."""

    def __init__(self, fd: int, counter_fd: int, baseline: int):
        self.fd = fd                  # eventfd (v1) or inotify (v2)
        self._counter_fd = counter_fd  # memory.oom_control (v1) or memory.events (v2)
        self.kills = baseline         # the kernel's oom_kill count when last checked

    def fileno(self) -> int:
        return self.fd

    def _count(self) -> int | None:
        try:
            # cgroup files regenerate their text on a read at offset 0
            return oom_kills(os.pread(self._counter_fd, 65536, 0).decode())
        except (OSError, ValueError):
            return None

    def check(self) -> int:
        """New OOM kills since the last check (0 when none); drains the descriptor."""
        try:
            while os.read(self.fd, 4096):
                pass
        except OSError:  # EAGAIN: drained
            pass
        # v1 signals when the cgroup goes under OOM, which can be a moment before the killer
        # counts its kill: look again briefly rather than miss the event for good
        for _ in range(20):
            count = self._count()
            if count is None:
                return 0
            if count > self.kills:
                break
            time.sleep(0.005)
        new = max(count - self.kills, 0)
        self.kills = count
        return new

    def close(self) -> None:
        for fd in (self.fd, self._counter_fd):
            if fd >= 0:
                try:
                    os.close(fd)
                except OSError:
                    pass
        self.fd = self._counter_fd = -1


def oom_watch(backend, cid: str) -> OOMWatch:
    """Watch a container's cgroup for OOM kills (it must exist: call after ``backend.create``).

    v1: an eventfd registered in ``cgroup.event_control`` against ``memory.oom_control``; the
    count comes from that file's ``oom_kill`` line. v2: inotify on ``memory.events`` (the kernel
    notifies on every change), count from its ``oom_kill`` line. Raises HostError when the
    cgroup has no memory controller."""
    if getattr(backend, "version", 1) == 2:
        d = backend.path(cid, "memory")
        try:
            counter = os.open(f"{d}/memory.events", os.O_RDONLY | os.O_CLOEXEC)
        except OSError as e:
            from ..errors import host_error
            raise host_error(f"watching {cid[:12]} for OOM ({d})", e) from None
        try:
            from ..events import inotify_watch, IN_MODIFY
            fd = inotify_watch([(f"{d}/memory.events", IN_MODIFY)])
        except OSError as e:
            os.close(counter)
            from ..errors import host_error
            raise host_error(f"watching {cid[:12]} for OOM", e) from None
        watch = OOMWatch(fd, counter, 0)
    else:
        d = backend.path(cid, "memory")
        try:
            counter = os.open(f"{d}/memory.oom_control", os.O_RDONLY | os.O_CLOEXEC)
        except OSError as e:
            from ..errors import host_error
            raise host_error(f"watching {cid[:12]} for OOM ({d})", e) from None
        efd = os.eventfd(0, os.EFD_CLOEXEC | os.EFD_NONBLOCK)
        try:
            with open(f"{d}/cgroup.event_control", "w") as f:
                f.write(f"{efd} {counter}")
        except OSError as e:
            os.close(efd)
            os.close(counter)
            from ..errors import host_error
            raise host_error(f"watching {cid[:12]} for OOM", e) from None
        watch = OOMWatch(efd, counter, 0)
    watch.kills = watch._count() or 0
    return watch
