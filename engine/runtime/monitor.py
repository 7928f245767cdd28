"""The monitor: one small process per running container, ``python -m engine.runtime.monitor <id>``.

It outlives every berth command. It creates the cgroup, forks the container (through an
intermediate process that unshares the namespaces, because a process can enter a new pid
namespace only once and a restart needs a fresh one: prestart.py), owns the container's stdio
(json-file log, attached streams), waits for it, records the exit, applies the restart policy,
and tears down (cgroup, network, ``--rm``). Single-threaded, one epoll loop, and importing only
what the start path needs (no json, signal.py or selectors: see fastjson), so it stays small
(bench/start).

Inputs: ``containers/<id>/spec.json`` (written by ``start``: everything already decided, as
plain JSON), fd 3 (``start`` waits on it for one JSON line: ``{"pid"}`` or ``{"code", "error"}``)
and, for a foreground ``run``/``start -a``, fd 4 (a socket speaking ``frames``).

The monitor also listens on ``<run>/c/<id>/attach.sock`` (engine/runtime/attach.py) for any
number of ``berth attach`` clients. With ``-t`` the container's pid 1 opens a terminal in its own
devpts and sends the master here (engine/runtime/pty.py); the monitor reads the output from it,
writes what attachers type to it, and resizes it on RESIZE frames. With ``-i`` and no ``-t`` the
container's stdin is a pipe that STDIN frames feed and STDIN_EOF closes.

This module owns the container's life (the loop, the exit, the restart policy, the teardown);
starting it (cgroup, namespaces, pid 1, network) is monitor_start.py's, its stdio (log,
attachers, stdin, the attach socket) monitor_io.py's and its teardown monitor_end.py's, mixins
of Monitor.
"""

from __future__ import annotations

import _signal as signal  # not signal.py: it imports enum (the monitor's start counts)
import os
import sys
import time

from ..clock import now_rfc3339
from ..paths import RECORD_MODE
from . import cgroups, fastjson, linux, process, slim, trace
from .logs import RETRY, JsonFileWriter
from .monitor_end import MonitorEnd
from .monitor_fork import mark_self
from .monitor_io import MonitorIO
from .monitor_start import CGROUP_FD, MonitorStart, _userns_auto
from .streams import Attacher, Poller, StdinWriter, emit

READY_FD, ATTACH_FD = 3, 4   # CGROUP_FD (5): monitor_start
EXIT_ROOM = 128   # bytes after the state record: the exit record grows it by ~40 (finished_at)


class Monitor(MonitorStart, MonitorIO, MonitorEnd):
    def __init__(self, cid: str, attached: bool = False, cgroup_fd: bool = False,
                 prestart=None):
        self.cid = cid
        self.prestart = prestart              # prestart.Prestart, forked while the id came
        self.cgroup_fd = cgroup_fd
        self.attached = attached
        self.root = os.environ["BERTH_ROOT"]
        self.run_dir = os.environ.get("BERTH_RUN", "")
        self.cdir = os.path.join(self.root, "containers", cid)
        self.spec = process.read_json(os.path.join(self.cdir, "spec.json"))
        self.events = os.path.join(self.root, "events.jsonl")
        self.cg = cgroups.of_spec(self.spec)
        self.sel = Poller()
        self.attachers: list[Attacher] = []
        self.ready_sent = False
        self.pid = 0
        self.status: int | None = None
        self.log: JsonFileWriter | None = None
        self.security = self.volumes = self.pty = None
        self.init_fd: int | None = None
        self.tty = bool(self.spec.get("tty"))
        self.open_stdin = bool(self.spec.get("open_stdin"))
        self.master = -1                      # the pty master, with -t
        self.stdin: StdinWriter | None = None
        self.held: list[Attacher] = []        # not read until the container takes its stdin
        self.listener = None
        self.listen_path = ""
        self.oom = None                       # oomwatch.OOMWatch on the container's cgroup
        self.oom_live = False                 # an oom event was emitted while it ran
        self.unsaved: dict = {}               # state changes the disk refused (see _set_state)
        self.unreleased = False               # the network or volumes' records were refused
        self.health = None                    # health.Checker, with a healthcheck
        self.slim = False                     # shed what starting took (slim.py), once

    # --- the life -----------------------------------------------------------------------------

    def run(self) -> int:
        linux.prctl(linux.PR_SET_CHILD_SUBREAPER, 1)
        self._install_signals()
        if self.attached:
            self.attachers.append(Attacher(ATTACH_FD))
        try:
            # held until teardown is done: no second monitor, and a reader can tell our death
            self.alive = process.monitor_started(self.cdir)
            trace.mark(".monitor locked, pid recorded in state.json")
        except BlockingIOError:
            self._ready({"code": 125, "error": "its monitor is running already"})
            return 125
        except OSError as e:   # a full disk refused even the monitor's pid
            self._ready({"code": 125, "error": _why(e)})
            return 125
        code = 125
        try:
            self._load_seams()
            self._listen()
            self.cg_ready = False
            self.log = JsonFileWriter(self.cdir, self.spec.get("log_opts"),
                                      keep=self.spec.get("log_driver") != "none")
            restarts = process.read_state(self.cdir).get("restart_count", 0)
            trace.mark("seams loaded, attach socket, log writer")
            while True:
                started = time.monotonic()
                failure = self.start_container(restarts)
                if failure:
                    code = failure[0]
                    self._record_failure(*failure)
                    break
                code = self.serve()
                ran = time.monotonic() - started
                if not self.should_restart(code, restarts):
                    break
                restarts += 1
                if not self.backoff(restarts, ran):
                    break
        except BaseException as e:  # noqa: BLE001 - whatever happens, tell start and clean up
            self._log_crash()
            if not self.ready_sent:
                self._ready({"code": 125, "error": _why(e)})
            code = 125
        finally:
            self.teardown(code)
            if self.unsaved or self.unreleased:
                # the disk refused to the end: .monitor stays, so the next reader releases what
                # is left and writes the exit down (runtime/release.py)
                os.close(self.alive)
            else:
                process.monitor_finished(self.cdir, self.alive)
            trace.mark("monitor done")
        return code

    def _load_seams(self) -> None:
        # imported before the fork: after pivot_root the child can import nothing
        if self.tty:
            from . import pty
            self.pty = pty
        if self.spec.get("mounts"):
            from .. import volumes
            from ..volumes import copyup, inroot  # noqa: F401 - mount_all imports them lazily
            self.volumes = volumes
        if self.spec.get("healthcheck") and self.health is None:
            from .health import Checker
            self.health = Checker(self, self.spec["healthcheck"])

    def serve(self) -> int:
        """Pump output until the container's pid 1 exited and its stdio closed; its exit code."""
        while self.status is None or self.out:
            # lines dropped on a full disk: look again each RETRY, however quiet the container
            ready = self.sel.select(self._wait())
            if not ready and not self.slim:
                self.slim = True   # idle since the container settled
                if self.health is None and not _userns_auto(self.spec):
                    # (a healthcheck's exec and --userns auto's release use them as they run)
                    self.security = None
                    slim.unload_start_modules()
                slim.shed()
            for fd, what in ready:
                if what == "out":
                    self._pump(fd)
                elif what == "wake":
                    self._wakeup()
                elif what == "attacher":
                    self._from_attacher(fd)
                elif what == "listen":
                    self._accept()
                elif what == "stdin":
                    self._stdin_flush()
                elif what == "oom":
                    self._oom_event()
                elif what == "health":
                    self.health.output(fd)
            self._flush_attachers()
            if self.log.dropped:
                self.log.retry()
            if self.health is not None and self.status is None:
                self.health.tick()
        self.log.flush()
        self._close_stdio()
        trace.mark("output drained, stdio closed")
        return self._record_exit()

    def _wait(self) -> float | None:
        """How long the loop may sleep: until a dropped log line is retried, the healthcheck
        has something due, or the monitor is to be made small (slim.py)."""
        wait = RETRY if self.log.dropped else (None if self.slim else slim.SHED_AFTER)
        if self.health is not None:
            due = self.health.wait()
            if due is not None and (wait is None or due < wait):
                wait = due
        return wait

    def _wakeup(self) -> None:
        try:
            os.read(self.wake_r, 4096)
        except BlockingIOError:
            pass
        while True:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return
            if pid == self.pid:
                trace.mark("pid 1 exited (SIGCHLD, reaped)")
                self.status = status
            elif self.health is not None:
                self.health.reaped(pid, status)

    def _reap_blocking(self) -> None:
        while True:
            try:
                pid, status = os.waitpid(-1, 0)
            except ChildProcessError:
                return
            if pid == self.pid:
                self.status = status
                return

    def _record_exit(self) -> int:
        if self.health is not None:
            self.health.stop()
        status = self.status or 0
        code = os.WEXITSTATUS(status) if os.WIFEXITED(status) else 128 + os.WTERMSIG(status)
        oom = self.oom_live or self.cg.oom_kill_count(self.cid) > self.oom_before
        if oom and not self.oom_live:
            self._emit("oom")
        self.oom_live = False
        self._set_state(status="exited", pid=0, exit_code=code, oom_killed=oom,
                        finished_at=now_rfc3339())
        trace.mark("exit recorded in state.json")
        self._emit("die", exitCode=str(code))
        trace.mark("die event")
        self.pid = 0
        return code

    def _set_state(self, must: bool = False, **changes) -> bool:
        """Change fields of the container's state record (under its lock), leaving room after
        it for the exit record to be written in place when the disk is full (write_atomic).
        Changes the disk refuses even so are kept, written with the next ones or by _linger;
        with ``must`` (the start) the refusal raises instead."""
        from ..store import write_atomic
        pending = {**self.unsaved, **changes}
        try:
            with process.container_lock(self.cdir):
                state = process.read_state(self.cdir)
                if not must and state.get("monitor_pid", os.getpid()) != os.getpid():
                    # a start after ours ended has taken the container over: what we had left
                    # to say about our run would overwrite its state
                    self.unsaved = {}
                    return True
                state.update(pending)
                data = fastjson.dumps(state).encode() + b"\n" + b" " * EXIT_ROOM
                write_atomic(os.path.join(self.cdir, process.STATE), data, RECORD_MODE, fsync=False,
                             in_place=True)
        except OSError:
            if must:
                raise
            self.unsaved = pending
            return False
        self.unsaved = {}
        return True

    def _record_failure(self, code: int, message: str) -> None:
        self._set_state(status="created", pid=0, exit_code=code, error=message,
                        finished_at=now_rfc3339())
        self._ready({"code": code, "error": message})

    # --- restart policy --------------------------------------------------------------------------

    def should_restart(self, code: int, restarts: int) -> bool:
        # `berth update --restart` rewrites spec.json's policy while we run: read it afresh
        fresh = process.read_json(os.path.join(self.cdir, "spec.json")) or {}
        policy = fresh.get("restart") or self.spec.get("restart") or {}
        name = policy.get("name", "no")
        if name == "no" or process.read_state(self.cdir).get("stopped_by_user"):
            return False
        if name in ("always", "unless-stopped"):
            return True
        retries = policy.get("max_retries", 0)
        return code != 0 and (retries == 0 or restarts < retries)

    def backoff(self, restarts: int, ran: float) -> bool:
        """Wait before the next start as Docker does (100 ms doubling, reset after 10 s of
        running); False when a stop came in meanwhile."""
        delay = 0.1 if ran >= 10 else min(0.1 * 2 ** (restarts - 1), 60.0)
        self._set_state(status="restarting")
        deadline = time.monotonic() + delay
        while True:
            left = deadline - time.monotonic()
            if process.read_state(self.cdir).get("stopped_by_user"):
                self._set_state(status="exited")
                return False
            if left <= 0:
                return True
            for fd, what in self.sel.select(left):
                if what == "oom":
                    self._oom_event()
                elif what == "wake":
                    self._wakeup()
                elif what == "attacher":
                    self._from_attacher(fd)
                elif what == "listen":
                    self._accept()

    # --- plumbing --------------------------------------------------------------------------------

    def _install_signals(self) -> None:
        self.wake_r, wake_w = os.pipe()
        os.set_blocking(self.wake_r, False)
        os.set_blocking(wake_w, False)
        signal.set_wakeup_fd(wake_w)
        for sig in (signal.SIGCHLD, signal.SIGUSR1):
            signal.signal(sig, lambda *_: None)
        for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP, signal.SIGPIPE):
            signal.signal(sig, signal.SIG_IGN)
        self.sel.register(self.wake_r, "wake")

    def _ready(self, msg: dict) -> None:
        if self.ready_sent:
            return
        self.ready_sent = True
        try:
            os.write(READY_FD, fastjson.dumps(msg).encode() + b"\n")
        except OSError:
            pass  # start was killed; the state record says everything
        try:
            os.close(READY_FD)
        except OSError:
            pass
        for a in self.attachers:
            if a.fd not in self.sel.data:
                self.sel.register(a.fd, "attacher")
        if self.listener is not None and self.listener.fileno() not in self.sel.data:
            self.sel.register(self.listener.fileno(), "listen")

    def _emit(self, action: str, **attrs: str) -> None:
        emit(self.events, "container", action, self.cid,
             {"name": self.spec.get("name", ""), "image": self.spec.get("image", ""), **attrs})

    def _log_crash(self, what: str = "") -> None:
        import traceback
        try:
            with open(os.path.join(self.cdir, "monitor.log"), "a") as f:
                f.write(f"{now_rfc3339()} {what or traceback.format_exc()}\n")
        except OSError:
            pass


def _why(e: BaseException) -> str:
    """What ``start`` is told when the monitor could not start the container."""
    from ..errors import DISK_ERRNOS, host_error
    if isinstance(e, OSError) and e.errno in DISK_ERRNOS:
        return str(host_error("starting the container", e))   # DiskError: its own words
    return f"monitor: {e}"


def _preload(network: bool = False) -> None:
    from .. import events, store  # noqa: F401 - state record, event log
    from . import oomwatch  # noqa: F401 - the oom watch
    linux.load_ctypes()   # the first prctl's (run): ctypes and libc, 3 ms once the id came
    try:
        cgroups.detect(os.environ["BERTH_CGROUP_PARENT"])   # the host's hierarchy, read once
    except Exception:  # noqa: BLE001 - Monitor() asks again once the id came, and says why
        pass
    if network:   # `berth run` without --network none|host|container: (cli.py's hint)
        from .. import models, paths, network as net  # noqa: F401 - _attach_network's
        from ..network import endpoints, repair  # noqa: F401


def main(argv: list[str]) -> int:
    trace.mark("monitor modules imported")
    # detach from whoever started us: that process reaps this first one at once (done before
    # the container's id comes, while `berth run` is still busy: off the start's path); one
    # forked from the CLI was detached before its imports (monitor_fork._child)
    if "--detached" not in argv[2:] and os.fork() > 0:
        os._exit(0)
    mark_self(os.environ.get("BERTH_ROOT", "/"))   # comm and directory: how finders know it
    trace.mark("detached (fork)")
    cid = argv[1]
    prestart = None
    if cid == "-":
        # started before the container was ready (MonitorLaunch): its id comes on fd 5. What
        # nearly every start needs is loaded while we wait, not after: here what the monitor
        # keeps, in the prestart what only pid 1 needs (prestart.py)
        _preload(network="--network" in argv[2:])
        from .prestart import Prestart
        prestart = Prestart()
        trace.mark("preloaded store, events (and network); prestart forked")
        cid, _, how = process.read_line(CGROUP_FD).partition(" ")
        if not cid:
            os._exit(0)   # the caller gave up (create failed, or nothing to start)
        prestart.prepare(os.path.join(os.environ["BERTH_ROOT"], "containers", cid))
        if how == "detached" and "--attach" in argv:   # run -d: no one reads fd 4
            os.close(ATTACH_FD)
            argv = [a for a in argv if a != "--attach"]
    trace.mark("container id received")
    return Monitor(cid, attached="--attach" in argv[2:],
                   cgroup_fd="--cgroup-fd" in argv[2:], prestart=prestart).run()


if __name__ == "__main__":
    sys.exit(main(sys.argv))
