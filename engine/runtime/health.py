"""A running container's healthcheck, run by its monitor (engine/runtime/monitor.py) as Docker's
daemon runs it (daemon/health.go): the same schedule, results, log and events, without a daemon.

The checks are run by a health server: berth-init in its ``health`` mode (berth_init.c),
started once per start of the container, at its first check, exactly as ``exec`` starts a
command (engine/runtime/exec.py: the monitor forks exec's intermediate, which enters the
container's namespaces and takes its user, environment, working directory, rlimits and security
settings, then execs the sealed berth-init). The server stays outside the container's cgroup
(it is no process of the container's, so ``top`` and the pids count don't see it). Asked for a
check with the delay to wait first, it waits, forks the command into the container's pid
namespace and cgroup, waits for it, and answers with its exit code, its times and up to 4096
bytes of its output. So a check costs no interpreter start and no fork of the monitor (a fork of
a Python process, and the copy-on-write faults after it, would be most of what a check costs);
the monitor wakes once per check, for the report, records it and asks for the next.

``wait()`` says how long until the next thing is due (the first check, or the running one's
timeout) and ``tick()`` does it; ``output()`` reads the server's reports; ``reaped()`` hears of
the server's exit. A check past its timeout is killed, its whole process tree (the command's
process group and every descendant), never the container, and counts as a failure with exit
code -1 and Docker's words.

The record (``State.Health``) lives in state.json as ``health``: status starting, healthy or
unhealthy, the failing streak and the last 5 results. It is written at once when a result
changes the status, the streak, the exit code or the output; a result that repeats the one
before it only in its times is written within FLUSH seconds (or at the exit), which keeps a
1-second check cheap. A start sets it to starting with a streak
of 0 and keeps the log; an exit leaves it as it was; a paused container is not checked (all as
Docker). Status changes are ``health_status: STATUS`` events. Docker also logs exec_create,
exec_start and exec_die events for each probe; berth does not (three events per container per
interval would be most of the event log).
"""

from __future__ import annotations

import _signal as signal
import os
import time

from ..clock import now_rfc3339
from ..healthconfig import SECOND, go_duration
from . import exec as joiner, linux

MAX_LOG = 5         # daemon/health.go maxLogEntries
# A result that changes nothing but the log's times is written at most this often (seconds):
# a state record is a new file each time (written and renamed), the dearest part of a check
FLUSH = 5.0


def _guarded(method):
    """A fault in the checking must never reach the monitor's loop (whose end is the
    container's): it is logged to monitor.log and the checks stop."""
    def call(self, *args):
        try:
            return method(self, *args)
        except Exception:  # noqa: BLE001
            self.mon._log_crash()
            self.active, self.due = False, None
    call.__doc__ = method.__doc__
    return call


class _NotStarted(Exception):
    """The server could not be started; the message is exec's."""


class _Run:
    """One check asked of the server (it may still be waiting out its delay)."""

    __slots__ = ("result", "paused")

    def __init__(self):
        self.result: dict | None = None   # set when it overran its timeout and was killed
        self.paused = False               # the container was paused past its deadline


class Checker:
    """The healthcheck of one container, driven by its monitor's loop."""

    def __init__(self, mon, conf: dict):
        self.mon = mon
        self.argv = conf["argv"]
        self.interval = conf["interval"]
        self.timeout = conf["timeout"]
        self.start_period = conf["start_period"]
        self.start_interval = conf["start_interval"]
        self.retries = conf["retries"]
        self.record: dict | None = None
        self.active = False                # between the container's start and its exit
        self.run: _Run | None = None
        self.due: float | None = None      # monotonic: the next check, or the running one's end
        self.started = 0.0                 # wall and monotonic time the container started
        self.started_mono = 0.0
        self.server = 0                    # the health server's pid, its stdin and stdout
        self.requests = self.reports = -1
        self.pending = b""                 # a report not read whole yet
        self.dirty = False                 # the record holds results not written yet
        self.written = 0.0                 # monotonic time of the last write

    # --- the container's life ---------------------------------------------------------------

    def begin(self) -> dict:
        """At each start of the container: starting, a streak of 0, the log kept; the first
        check is one interval away. Returns the state record's change."""
        from . import process
        if self.record is None:
            old = process.read_state(self.mon.cdir).get("health") or {}
            self.record = {"status": "starting", "failing_streak": 0,
                           "log": list(old.get("log") or [])[-MAX_LOG:]}
        self.record["status"] = "starting"
        self.record["failing_streak"] = 0
        self.started, self.started_mono = time.time(), time.monotonic()
        self.active = True
        self.due = self.started_mono + self._interval()
        return {"health": self.record}

    @_guarded
    def stop(self) -> None:
        """The container exited: no more checks, a check under way killed (as Docker cancels
        it), the server gone; the record stays as it is."""
        self.active, self.due, self.run = False, None, None
        if self.server:
            for pid in _descendants(self.server):
                _kill(pid)
            try:
                os.waitpid(self.server, 0)   # outside the cgroup: it dies at once
            except ChildProcessError:
                pass
            self.server = 0
        self._close_server()
        if self.dirty:
            self._save()

    def _interval(self) -> float:
        """daemon/health.go getInterval: during the start period, the start interval while
        still starting, and never past the period's end."""
        elapsed = time.monotonic() - self.started_mono
        if elapsed >= self.start_period:
            return self.interval
        remaining = self.start_period - elapsed
        if remaining < self.interval:
            return remaining
        return self.start_interval if self.record["status"] == "starting" else self.interval

    # --- the loop's side --------------------------------------------------------------------

    def wait(self) -> float | None:
        """Seconds until ``tick`` has something to do (None: nothing is due)."""
        return None if self.due is None else max(self.due - time.monotonic(), 0.0)

    @_guarded
    def tick(self) -> None:
        if self.due is None or time.monotonic() < self.due:
            return
        run = self.run
        if run is None:
            self._ask(0.0)
        elif self.mon.cg.frozen(self.mon.cid):
            # paused: Docker checks nothing until unpaused; what this check reports is dropped
            run.paused = True
            self.due = time.monotonic() + self.interval
            if self.dirty:
                self._save()
        elif run.result is None:
            self._overran(run)

    @_guarded
    def output(self, fd: int) -> None:
        """The server's reports: ``CODE LENGTH CUT START END\\n`` and LENGTH bytes of output."""
        if fd != self.reports:
            return
        try:
            data = os.read(fd, 65536)
        except BlockingIOError:
            return
        except OSError:
            data = b""
        if not data:   # the server is gone (killed, or its namespaces died with pid 1)
            self._close_server()
            if self.run is not None:
                now = time.time()
                self._done(-1, "health check: the check's server exited", now, now)
            return
        self.pending += data
        while b"\n" in self.pending:
            head, _, rest = self.pending.partition(b"\n")
            code, length, cut, start, end = (int(x) for x in head.split())
            if len(rest) < length:
                return
            self.pending = rest[length:]
            text = rest[:length].decode("utf-8", "replace") + ("..." if cut else "")
            self._done(code, text, start / SECOND, end / SECOND)

    def reaped(self, pid: int, status: int) -> None:
        """A child of the monitor exited: when it is the server, it takes no more requests
        (its stdout's end, in ``output``, settles a check under way)."""
        if pid == self.server:
            self.server = 0

    # --- one check --------------------------------------------------------------------------

    def _ask(self, delay: float) -> None:
        """Have the server run the next check ``delay`` seconds from now (it waits, so the
        monitor wakes once per check: for its report)."""
        run = self.run = _Run()
        self.due = time.monotonic() + delay + self.timeout
        try:
            if self.requests < 0:
                self._launch()
            os.write(self.requests, b"c %d\n" % round(delay * 1000))
        except Exception as e:  # noqa: BLE001 - a check that can't start is a failed check
            self._close_server()
            if self.run is run:   # exec's own words when the command can't be run
                self.run, now = None, time.time()
                self._record({"start": now_rfc3339(now), "end": now_rfc3339(), "exit_code": -1,
                              "output": str(e) if isinstance(e, _NotStarted) else
                              f"health check: {e}"}, now)
                self.due = time.monotonic() + self._interval()   # tick asks again

    def _launch(self) -> None:
        """Start the health server: exec's intermediate, forked, with berth-init's health mode
        (see the module doc); raises with exec's words when it can't run."""
        mon = self.mon
        if mon.init_fd is None:
            from . import sealed
            mon.init_fd = sealed.init_program()   # kept for the monitor's life
        namespaces = joiner._open_namespaces(mon.pid)
        req_r, req_w = os.pipe()
        rep_r, rep_w = os.pipe()
        err_r, err_w = os.pipe()
        null = os.open(os.devnull, os.O_RDWR | os.O_CLOEXEC)
        job = {"argv": self.argv, "env": (), "workdir": "", "user": "", "tty": False,
               "detach": False, "console_size": None, "spec": mon.spec,
               "security_spec": mon.spec.get("security"), "mode": "health"}
        mine = (req_w, rep_r, err_r)
        try:
            pid = os.fork()
            if pid == 0:
                _close_all_but({req_r, rep_w, null, err_w, mon.init_fd,
                                *(fd for fd, _ in namespaces)})
                joiner._intermediate(job, mon.cg, mon.cid, namespaces, (req_r, rep_w, null),
                                     err_w, -1, mon.init_fd, mon.security, None)
                os._exit(126)   # pragma: no cover - _intermediate execs or exits
        except BaseException:
            for fd in mine:
                os.close(fd)
            raise
        finally:
            for fd in (req_r, rep_w, err_w, null, *(fd for fd, _ in namespaces)):
                os.close(fd)
        # the server closes its end once it serves: until then, only a failure is written
        report = joiner._read_all(err_r)
        os.close(err_r)
        if report:
            os.close(req_w)
            os.close(rep_r)
            raise _NotStarted(_failure_text(report))
        self.server, self.requests, self.reports = pid, req_w, rep_r
        os.set_blocking(rep_r, False)
        mon.sel.register(rep_r, "health")

    def _overran(self, run: _Run) -> None:
        """Past its timeout: the command's tree killed (the server reports its end, which
        schedules the next check; a frozen process dies only once thawed)."""
        limit = go_duration(round(self.timeout * SECOND))
        run.result = {"exit_code": -1, "output": f"Health check exceeded timeout ({limit})"}
        self.due = None
        if self.server:
            tree = _descendants(self.server)[1:]
            for pid in tree[:1]:   # the command: a session and process group of its own
                try:
                    os.killpg(pid, signal.SIGKILL)
                except OSError:
                    pass
            for pid in tree:
                _kill(pid)

    def _done(self, code: int, output: str, start: float, end: float) -> None:
        run, self.run = self.run, None
        if run is None:
            return
        if run.result is not None:   # killed for its timeout: Docker's words, what it printed
            code = -1
            output = run.result["output"] + (f": {output}" if output else "")
        if not run.paused:
            self._record({"start": now_rfc3339(start), "end": now_rfc3339(end),
                          "exit_code": code, "output": output}, start)
        if self.active:
            self._ask(self.interval if run.paused else self._interval())

    def _close_server(self) -> None:
        if self.reports >= 0:
            self.mon.sel.unregister(self.reports)
            os.close(self.reports)
        if self.requests >= 0:
            os.close(self.requests)   # the server reads its end: it exits
        self.requests = self.reports = -1
        self.pending = b""

    # --- results ----------------------------------------------------------------------------

    def _record(self, result: dict, wall: float) -> None:
        """daemon/health.go handleProbeResult: the log, the streak, the status, the event. A
        failure while starting counts only once the start period is over (from the container's
        start to the check's, ``wall``)."""
        record = self.record
        before, streak = record["status"], record["failing_streak"]
        last = record["log"][-1] if record["log"] else {}
        record["log"] = [*record["log"][-(MAX_LOG - 1):], result]
        if result["exit_code"] == 0:
            record["failing_streak"] = 0
            record["status"] = "healthy"
        elif before != "starting" or wall - self.started >= self.start_period:
            record["failing_streak"] += 1
            if record["failing_streak"] >= self.retries:
                record["status"] = "unhealthy"
        same = (record["status"] == before and record["failing_streak"] == streak
                and (last.get("exit_code"), last.get("output")) == (result["exit_code"],
                                                                   result["output"]))
        if not same or time.monotonic() - self.written >= FLUSH:
            self._save()
        else:
            self.dirty = True
        if record["status"] != before:
            self.mon._emit("health_status: " + record["status"])

    def _save(self) -> None:
        mon = self.mon
        if not mon._set_state(health=self.record):
            # best effort, as Docker's: a full disk must not hold the exit record's room
            mon.unsaved.pop("health", None)
        self.dirty, self.written = False, time.monotonic()


def _kill(pid: int) -> None:
    try:
        os.kill(pid, signal.SIGKILL)
    except OSError:
        pass


def _failure_text(report: bytes) -> str:
    """What exec's intermediate reported (JSON {"code", "error"})."""
    from . import fastjson
    try:
        return str(fastjson.loads(report)["error"])
    except (ValueError, KeyError, TypeError):
        return report.decode("utf-8", "replace")


def _descendants(pid: int) -> list[int]:
    """``pid`` and every process below it, parents before children (the kernel's children
    lists; a process already gone has none)."""
    out, i = [pid], 0
    while i < len(out):
        p = out[i]
        i += 1
        try:
            with open(f"/proc/{p}/task/{p}/children", "rb") as f:
                out += [int(c) for c in f.read().split()]
        except OSError:
            pass
    return out


def _close_all_but(keep: set[int]) -> None:
    """In the forked child: close every descriptor above stderr but those in ``keep`` (the
    monitor's locks, sockets and logs are not the server's)."""
    low = 3
    for fd in sorted(keep):
        if fd > low:
            linux.close_range(low, fd - 1)
        low = max(low, fd + 1)
    linux.close_range(low)
