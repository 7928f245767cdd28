"""A container's end in its monitor (a mixin of engine/runtime/monitor.py's Monitor): the
teardown once pid 1 has exited for good (cgroup, network and volumes, ``--rm``, the exit told to
attachers, the veths), and writing what a full disk refused meanwhile (``_linger``)."""

from __future__ import annotations

import os
import time

from . import frames, process, trace
from .logs import RETRY
from .monitor_start import _container_record, _userns_auto

LINGER = 300.0    # seconds a monitor waits for a full disk to take what it must still write


class MonitorEnd:
    trash: str | None = None   # --rm's container directory under its temporary name

    def teardown(self, code: int) -> None:
        if self.log is not None:
            self.log.flush()
        if self.oom is not None:
            # before the cgroup goes: on v1 its removal also signals the eventfd
            self.sel.unregister(self.oom.fileno())
            self.oom.close()
            self.oom = None
        try:
            if self.cg.pids(self.cid):
                self.cg.kill_all(self.cid)
            self.cg.remove(self.cid)
        except OSError:
            pass
        trace.mark("teardown: cgroup removed")
        later: list = []   # what the network's release leaves until the exit is told
        if self.spec.get("mounts") or self.spec["network_mode"] not in ("none", "host"):
            try:
                self._release_seams(later)
            except Exception as e:  # noqa: BLE001
                self._log_crash()
                self.unreleased = isinstance(e, OSError)   # a full disk: _linger tries again
        trace.mark("teardown: network and volumes released")
        if self.spec.get("auto_remove"):
            self._remove()
            trace.mark("teardown: --rm removed the container")
        if self.listener is not None:
            self.listener.close()
            try:
                os.unlink(self.listen_path)
            except OSError:
                pass
        for a in list(self.attachers):
            a.queue(frames.EXIT, str(code).encode())
            a.drain()
            os.close(a.fd)
        self.attachers.clear()
        trace.mark("teardown: EXIT sent to attachers")
        for work in later:   # the veths deleted (RCU waits)
            try:
                work()
            except Exception:  # noqa: BLE001 - as the thread that did it before: nobody to tell
                self._log_crash()
        trace.mark("teardown: veths deleted")
        if self.trash is not None:
            # --rm's container is gone for every reader since its rename; its bytes (a few ms
            # of unlinks, more on a busy disk) go after the exit code is told
            try:
                process.remove_tree(self.trash)
            except OSError:
                pass   # a kill or a full disk: create and system check sweep the temporary
            trace.mark("teardown: --rm's directory deleted")
        if not self.spec.get("auto_remove"):
            self._linger()
        if self.log is not None:
            self.log.close()

    def _linger(self) -> None:
        """What a full disk refused at the end (the exit record, the network's and volumes'
        records, the notice of dropped log lines) is written as soon as the disk has room:
        looked at every RETRY seconds for up to LINGER. Meanwhile the container has exited for
        everyone attached, and its cgroup is gone."""
        deadline = time.monotonic() + LINGER
        while True:
            if self.unsaved:
                self._set_state()
            if self.unreleased:
                self.unreleased = False
                try:
                    self._release_seams()
                except Exception as e:  # noqa: BLE001
                    self.unreleased = isinstance(e, OSError)
            if self.log is not None and self.log.dropped:
                self.log.retry()
            if not (self.unsaved or self.unreleased or self.log is not None and self.log.dropped):
                return
            if time.monotonic() >= deadline:
                self._log_crash(f"gave up after {LINGER:.0f} s: the disk took no state "
                                f"{self.unsaved}, release {self.unreleased}, log notice "
                                f"{bool(self.log and self.log.dropped)}")
                return
            time.sleep(RETRY)

    def _release_seams(self, later: list | None = None) -> None:
        from ..models import Container
        from ..paths import Paths
        from ..store import Store
        record = _container_record(self.cdir)
        container = Container.from_dict(record)
        store = Store(Paths.from_env(self.root, self.run_dir or None), create=False)
        mode = self.spec["network_mode"]
        if mode not in ("none", "host") and not mode.startswith("container:"):
            try:
                from .. import network
                network.detach(store, container, later)
            except ImportError:
                pass
        if self.spec.get("mounts"):
            from .. import volumes
            volumes.release(store, container, remove_anonymous=bool(self.spec.get("auto_remove")))

    def _remove(self) -> None:
        # what lives outside the container's directory goes first, as rm does it: a run
        # directory never outlives its container (system check would call it a leftover)
        if _userns_auto(self.spec):
            from . import userns   # [containment] give the --userns auto id range back
            userns.release(self.root, self.cid)
        if self.run_dir:
            try:
                process.remove_tree(os.path.join(self.run_dir, "c", self.cid))
            except OSError:
                pass
        try:
            self.trash = process.hide(self.cdir)
        except OSError:
            self._log_crash()
        self._emit("destroy")
