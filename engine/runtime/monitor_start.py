"""Starting a container from its monitor: the cgroup, the go to the prestart (the intermediate
process that unshares the namespaces and forks the container's pid 1, which runs
engine/runtime/init.py: engine/runtime/prestart.py), the container's network, and the pipes that
tell the monitor it runs or why it failed. A mixin of Monitor (engine/runtime/monitor.py)."""

from __future__ import annotations

import _signal as signal  # not signal.py: it imports enum (the monitor's start counts)
import os

from ..clock import now_rfc3339
from . import fastjson, linux, process, trace
from .streams import StdinWriter

CGROUP_FD = 5


def _userns_auto(spec: dict) -> bool:
    """[containment] whether the container runs in a user namespace of its own (--userns auto)."""
    return ((spec.get("security") or {}).get("userns") or {}).get("mode") == "auto"


class MonitorStart:
    """Monitor's starting half: fork the container and let it exec."""

    def start_container(self, restarts: int):
        """Fork the container and let it exec; None when it runs, else (code, message)."""
        from .prestart import Prestart
        self.pid = 0
        pre, self.prestart = self.prestart, None
        if pre is None:   # a restart: its prestart loads what it needs on this start's path
            pre = Prestart()
            pre.prepare(self.cdir)
        out_r, err_r, fail_r, pid_r, go_w, console, stdin_w = \
            pre.take(stdin=self.open_stdin and not self.tty)
        try:
            if not self.cg_ready:
                self._ensure_cgroup()
            trace.mark("cgroup ready (made by start, or here)")
            self._containment()
        except BaseException:
            _close(out_r, err_r, fail_r, pid_r, go_w, console, stdin_w)
            pre.cancel()
            raise
        pre.go()   # (a prestart whose control pipe closed exits: its pid pipe stays empty)
        trace.mark("prestart told to go")
        try:
            # while it unshares: pid 1 runs nothing of its command before our go below, so no
            # kill can come before the count and the watch
            self.oom_before = self.cg.oom_kill_count(self.cid)
            if self.oom is None:
                self._watch_oom()
            trace.mark("oom watch")
            pre.reap()
            raw = os.read(pid_r, 32)
            trace.mark("intermediate forked, reaped, pid 1 known")
            if not raw:
                _close(out_r, err_r, stdin_w)
                return self._failure(fail_r, "the container's namespaces could not be created")
            self.pid = int(raw)
            self.status = None
            error = self._attach_network()
            if error:
                os.kill(self.pid, signal.SIGKILL)
                self._reap_blocking()
                _close(out_r, err_r, stdin_w)
                # pid 1 may have failed first (a command not found, 127) and taken its network
                # namespace with it: its own report is the real reason
                return self._failure(fail_r, None) or (125, error)
            trace.mark("network attached")
            try:
                os.write(go_w, b"g")
            except BrokenPipeError:
                pass  # the child failed before it waited for us; its report says why
            failure = self._failure(fail_r, None)
            trace.mark("pid 1 exec'd (error pipe closed)")
            if failure:
                self._reap_blocking()
                _close(out_r, err_r, stdin_w)
                return failure
            if self.tty:
                # sent by pid 1 before it exec'd, so it is waiting in the socket already
                self.master = self.pty.recv_fd(console)
        except BaseException:
            if self.pid:
                os.kill(self.pid, signal.SIGKILL)
                self._reap_blocking()
            _close(stdin_w)
            raise
        finally:
            _close(pid_r, fail_r, go_w, console)
        self.out = {out_r: "stdout", err_r: "stderr"}
        if self.tty:
            # the terminal carries both streams (as Docker, everything is logged as stdout);
            # the pipes were only the child's stdio until it took the terminal
            _close(out_r, err_r)
            self.out = {self.master: "stdout"}
            if self.open_stdin:
                stdin_w = os.dup(self.master)
        if stdin_w >= 0:
            self.stdin = StdinWriter(stdin_w, close_on_eof=not self.tty)
        for fd in self.out:
            self.sel.register(fd, "out")
        now = now_rfc3339()
        self._set_state(must=True, status="running", pid=self.pid, started_at=now,
                        finished_at="", exit_code=0, oom_killed=False, error="",
                        restart_count=restarts, **(self.health.begin() if self.health else {}))
        trace.mark("state.json: running")
        self._emit("start")
        trace.mark("start event")
        self._ready({"pid": self.pid})
        trace.mark("start told (ready line)")
        return None

    def _watch_oom(self) -> None:
        """Emit ``oom`` as the kernel kills, even when pid 1 survives (a child was the victim)."""
        from .oomwatch import oom_watch
        try:
            self.oom = oom_watch(self.cg, self.cid)
        except Exception:  # noqa: BLE001 - no memory controller: the exit-time count still works
            return
        self.sel.register(self.oom.fileno(), "oom")

    def _oom_event(self) -> None:
        if self.oom is not None and self.oom.check():
            self._emit("oom")
            self.oom_live = True

    def _containment(self) -> None:
        """The security spec's enforcement, in the monitor itself only where the monitor uses it
        (a healthcheck's exec enters the container as exec does; --userns auto's release):
        pid 1's own is loaded by its prestart (prestart.py), never here. At every start:
        slim.unload_start_modules lets them go once the container has settled."""
        if self.spec.get("security") is not None and self.security is None \
                and (self.health is not None or _userns_auto(self.spec)):
            from . import init, seccomp  # noqa: F401 - userns release, finalize
            from . import security
            self.security = security

    def _ensure_cgroup(self) -> None:
        """The container's cgroup: made by ``start`` meanwhile (it says so on fd 5) or here."""
        made = False
        if self.cgroup_fd:
            try:
                made = os.read(CGROUP_FD, 1) == b"1"
            finally:
                os.close(CGROUP_FD)
                self.cgroup_fd = False
        if not made:
            self.cg.create(self.cid, self.spec["resources"], self.spec.get("device_rules"))
        self.cg_ready = True

    @staticmethod
    def _failure(fail_r: int, default: str | None):
        data = b""
        while True:
            chunk = os.read(fail_r, 65536)
            if not chunk:
                break
            data += chunk
        if not data:
            return None if default is None else (125, default)
        msg = fastjson.loads(data)
        return msg["code"], msg["error"]

    def _attach_network(self) -> str | None:
        mode = self.spec["network_mode"]
        if mode in ("none", "host") or mode.startswith("container:"):
            return None
        try:
            from .. import network
            from ..models import Container
            from ..store import Store
            from ..paths import Paths
            container = Container.from_dict(_container_record(self.cdir))
            store = Store(Paths.from_env(self.root, self.run_dir or None), create=False)
            endpoints = network.attach(store, container, self.pid)
            process.update_state(self.cdir, networks=endpoints,
                                 ports=[p.to_dict() for p in container.state.ports])
            trace.mark("network recorded in state.json")
        except Exception as e:  # noqa: BLE001 - reported to start as berth's failure
            return f"network: {e}"
        return None

def _close(*fds: int) -> None:
    for fd in fds:
        if fd >= 0:
            os.close(fd)


def _container_record(cdir: str) -> dict:
    config = process.read_json(os.path.join(cdir, process.CONFIG)) or {}
    return {"id": config.get("id", os.path.basename(cdir)), "name": config.get("name", ""),
            "created": config.get("created", ""), "config": config,
            "state": process.read_state(cdir)}
