"""The monitor: one small process per running container, ``python -m engine.runtime.monitor <id>``.

It outlives every berth command. It creates the cgroup, forks the container (through an
intermediate process that unshares the namespaces, because a process can enter a new pid
namespace only once and a restart needs a fresh one), owns the container's stdio (json-file log,
attached streams), waits for it, records the exit, applies the restart policy, and tears down
(cgroup, network, ``--rm``). Single-threaded, one epoll loop, and importing only what the start
path needs (no json, signal.py or selectors: see fastjson), so it stays small (bench/start).

Inputs: ``containers/<id>/spec.json`` (written by ``start``: everything already decided, as
plain JSON), fd 3 (``start`` waits on it for one JSON line: ``{"pid"}`` or ``{"code", "error"}``)
and, for a foreground ``run``/``start -a``, fd 4 (a socket speaking ``frames``).

The monitor also listens on ``<run>/c/<id>/attach.sock`` (engine/runtime/attach.py) for any
number of ``berth attach`` clients. With ``-t`` the container's pid 1 opens a terminal in its own
devpts and sends the master here (engine/runtime/pty.py); the monitor reads the output from it,
writes what attachers type to it, and resizes it on RESIZE frames. With ``-i`` and no ``-t`` the
container's stdin is a pipe that STDIN frames feed and STDIN_EOF closes.
"""

from __future__ import annotations

import _signal as signal  # not signal.py: it imports enum (the monitor's start counts)
import os
import select
import sys
import time

from ..clock import now_rfc3339
from . import attach, cgroups, fastjson, frames, init, linux, process
from .logs import JsonFileWriter
from .streams import MAX_PENDING, Attacher, Poller, StdinWriter, emit

READY_FD, ATTACH_FD, CGROUP_FD = 3, 4, 5
def _userns_auto(spec: dict) -> bool:
    """[containment] whether the container runs in a user namespace of its own (--userns auto)."""
    return ((spec.get("security") or {}).get("userns") or {}).get("mode") == "auto"


NAMESPACES = (linux.CLONE_NEWPID | linux.CLONE_NEWNS | linux.CLONE_NEWUTS | linux.CLONE_NEWIPC
              | linux.CLONE_NEWCGROUP)


class Monitor:
    def __init__(self, cid: str, attached: bool = False, cgroup_fd: bool = False):
        self.cid = cid
        self.cgroup_fd = cgroup_fd
        self.attached = attached
        self.root = os.environ["BERTH_ROOT"]
        self.run_dir = os.environ.get("BERTH_RUN", "")
        self.cdir = os.path.join(self.root, "containers", cid)
        self.spec = process.read_json(os.path.join(self.cdir, "spec.json"))
        self.events = os.path.join(self.root, "events.jsonl")
        self.cg = cgroups.detect(os.environ["BERTH_CGROUP_PARENT"])
        self.sel = Poller()
        self.attachers: list[Attacher] = []
        self.ready_sent = False
        self.pid = 0
        self.status: int | None = None
        self.log: JsonFileWriter | None = None
        self.security = self.volumes = self.pty = None
        self.tty = bool(self.spec.get("tty"))
        self.open_stdin = bool(self.spec.get("open_stdin"))
        self.master = -1                      # the pty master, with -t
        self.stdin: StdinWriter | None = None
        self.held: list[Attacher] = []        # not read until the container takes its stdin
        self.listener = None
        self.listen_path = ""
        self.oom = None                       # stats.OOMWatch on the container's cgroup
        self.oom_live = False                 # an oom event was emitted while it ran

    # --- the life -----------------------------------------------------------------------------

    def run(self) -> int:
        linux.prctl(linux.PR_SET_CHILD_SUBREAPER, 1)
        self._install_signals()
        if self.attached:
            self.attachers.append(Attacher(ATTACH_FD))
        try:
            # held until teardown is done: no second monitor, and a reader can tell our death
            self.alive = process.monitor_started(self.cdir)
        except BlockingIOError:
            self._ready({"code": 125, "error": "its monitor is running already"})
            return 125
        code = 125
        try:
            self._load_seams()
            self._listen()
            self.cg_ready = False
            self.log = JsonFileWriter(self.cdir, self.spec.get("log_opts"))
            restarts = process.read_state(self.cdir).get("restart_count", 0)
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
                self._ready({"code": 125, "error": f"monitor: {e}"})
            code = 125
        finally:
            self.teardown(code)
            process.monitor_finished(self.cdir, self.alive)
        return code

    def _load_seams(self) -> None:
        # imported before the fork: after pivot_root the child can import nothing
        if self.tty:
            from . import pty
            self.pty = pty
        if self.spec.get("security") is not None:
            from . import security
            from . import seccomp  # noqa: F401 - finalize imports it inside the container
            self.security = security
        if self.spec.get("mounts"):
            from .. import volumes
            from ..volumes import copyup, inroot  # noqa: F401 - mount_all imports them lazily
            self.volumes = volumes

    def start_container(self, restarts: int):
        """Fork the container and let it exec; None when it runs, else (code, message)."""
        self.pid = 0
        out_r, out_w = os.pipe()
        err_r, err_w = os.pipe()
        fail_r, fail_w = os.pipe()
        go_r, go_w = os.pipe()
        pid_r, pid_w = os.pipe()
        stdin_w = console = console_child = -1
        if self.open_stdin and not self.tty:
            stdin, stdin_w = os.pipe()
        else:
            stdin = os.open(os.devnull, os.O_RDONLY | os.O_CLOEXEC)
        if self.tty:
            import _socket
            a, b = _socket.socketpair(_socket.AF_UNIX, _socket.SOCK_STREAM)
            console, console_child = a.detach(), b.detach()
        if not self.cg_ready:
            self._ensure_cgroup()
        self.oom_before = self.cg.oom_kill_count(self.cid)
        if self.oom is None:
            self._watch_oom()
        inter = os.fork()
        if inter == 0:
            self._intermediate((stdin, out_w, err_w), fail_w, go_r, pid_w, console_child)
        for fd in (out_w, err_w, fail_w, go_r, pid_w, stdin, console_child):
            if fd >= 0:
                os.close(fd)
        try:
            os.waitpid(inter, 0)
            raw = os.read(pid_r, 32)
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
            try:
                os.write(go_w, b"g")
            except BrokenPipeError:
                pass  # the child failed before it waited for us; its report says why
            failure = self._failure(fail_r, None)
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
        process.update_state(self.cdir, status="running", pid=self.pid, started_at=now,
                             finished_at="", exit_code=0, oom_killed=False, error="",
                             restart_count=restarts)
        self._emit("start")
        self._ready({"pid": self.pid})
        return None

    def _watch_oom(self) -> None:
        """Emit ``oom`` as the kernel kills, even when pid 1 survives (a child was the victim)."""
        from .. import stats
        try:
            self.oom = stats.oom_watch(self.cg, self.cid)
        except Exception:  # noqa: BLE001 - no memory controller: the exit-time count still works
            return
        self.sel.register(self.oom.fileno(), "oom")

    def _oom_event(self) -> None:
        if self.oom is not None and self.oom.check():
            self._emit("oom")
            self.oom_live = True

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

    def _intermediate(self, stdio, fail_w: int, go_r: int, pid_w: int, console: int) -> None:
        """In the forked intermediate: join the cgroup (so pid 1 is born in it), unshare, fork
        pid 1, report its pid, exit."""
        try:
            linux.prctl(linux.PR_SET_DUMPABLE, 0)
            self.cg.join_self(self.cid)
            if _userns_auto(self.spec):
                # [containment] --userns auto: overlay on idmapped layers, then join the user
                # namespace, so the namespaces unshared below belong to it (engine/runtime/userns.py)
                from . import userns
                userns.enter(self.spec)
            flags = NAMESPACES
            if self.spec.get("netns_pid"):
                # --network container:NAME: join that container's network namespace
                fd = os.open(f"/proc/{self.spec['netns_pid']}/ns/net", os.O_RDONLY | os.O_CLOEXEC)
                linux.setns(fd, linux.CLONE_NEWNET)
                os.close(fd)
            elif self.spec["network_mode"] != "host":
                flags |= linux.CLONE_NEWNET
            linux.unshare(flags)
            child = os.fork()
            if child == 0:
                _reset_signals()
                init.container_main(self.spec, stdio, fail_w, go_r, self.security, self.volumes,
                                    console if console >= 0 else None)
            os.write(pid_w, str(child).encode())
            os._exit(0)
        except BaseException as e:  # noqa: BLE001
            try:
                os.write(fail_w, fastjson.dumps({"code": 125, "error": f"{e}"}).encode())
            finally:
                os._exit(1)

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
        except Exception as e:  # noqa: BLE001 - reported to start as berth's failure
            return f"network: {e}"
        return None

    def serve(self) -> int:
        """Pump output until the container's pid 1 exited and its stdio closed; its exit code."""
        while self.status is None or self.out:
            for fd, what in self.sel.select():
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
            self._flush_attachers()
        self.log.flush()
        self._close_stdio()
        return self._record_exit()

    def _close_stdio(self) -> None:
        if self.stdin is not None:
            self.sel.unregister(self.stdin.fd)
            self.stdin.close()
            self.stdin = None
        self._release_held()
        self.master = -1   # closed by _pump with the rest of the output

    def _listen(self) -> None:
        """Serve ``berth attach`` on the container's attach socket (a failure to make it only
        costs attach, never the container)."""
        if not self.run_dir:
            return
        self.listen_path = attach.socket_path(self.run_dir, self.cid)
        try:
            self.listener = attach.listen(self.listen_path)
        except OSError:
            self._log_crash()
            self.listen_path = ""

    def _accept(self) -> None:
        try:
            fd, _ = self.listener._accept()
        except OSError:
            return
        a = Attacher(fd)
        self.attachers.append(a)
        self.sel.register(fd, "attacher")

    def _stdin_flush(self) -> None:
        w = self.stdin
        if w is None or w.fd < 0:
            return
        fd = w.fd
        self.sel.unregister(fd)   # before flush, which may close it
        if w.flush():
            self.sel.register(fd, "stdin", select.EPOLLOUT)
        if self.held and len(w.pending) <= MAX_PENDING // 2:
            self._release_held()

    def _release_held(self) -> None:
        for a in self.held:
            if a in self.attachers and a.fd not in self.sel.data:
                self.sel.register(a.fd, "attacher")
        self.held.clear()

    def _pump(self, fd: int) -> None:
        try:
            data = os.read(fd, 65536)
        except OSError:
            data = b""
        stream = self.out[fd]
        if not data:
            self.sel.unregister(fd)
            os.close(fd)
            del self.out[fd]
            return
        self.log.write(stream, data)
        kind = frames.STDOUT if stream == "stdout" else frames.STDERR
        for a in self.attachers:
            a.queue(kind, data)

    def _flush_attachers(self) -> None:
        for a in list(self.attachers):
            if not a.flush():
                self._drop(a)
            elif len(a.out) > MAX_PENDING:
                a.drain(30)  # the client is slow: make the container's output wait for it

    def _drop(self, a: Attacher) -> None:
        self.attachers.remove(a)
        self.sel.unregister(a.fd)
        os.close(a.fd)

    def _from_attacher(self, fd: int) -> None:
        a = next((x for x in self.attachers if x.fd == fd), None)
        if a is None:
            return
        try:
            data = os.read(fd, 65536)
        except BlockingIOError:
            return
        except OSError:
            data = b""
        if not data:
            self._drop(a)
            return
        try:
            got = a.decoder.feed(data)
        except ValueError:   # not speaking frames: hang up on it
            self._drop(a)
            return
        for kind, payload in got:
            if kind == frames.STDIN:
                if self.stdin is not None:
                    self.stdin.write(payload)
            elif kind == frames.RESIZE:
                self._resize(payload)
            elif kind == frames.STDIN_EOF:
                if self.stdin is not None:
                    self.stdin.eof = True
            elif kind == frames.SIGNAL and self.pid and self.status is None:
                try:
                    os.kill(self.pid, int(payload))
                except (ProcessLookupError, ValueError):
                    pass
            elif kind == frames.DETACH:
                self._drop(a)
                return
        self._stdin_flush()
        if self.stdin is not None and len(self.stdin.pending) > MAX_PENDING:
            # the container reads its stdin slower than the client sends: stop reading the
            # client (its socket fills and it waits) rather than queue without bound
            self.sel.unregister(a.fd)
            self.held.append(a)

    def _resize(self, payload: bytes) -> None:
        if self.master < 0:
            return
        try:
            rows, cols = (int(x) for x in payload.split())
            self.pty.set_size(self.master, rows, cols)
        except (ValueError, OSError):
            pass

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
                self.status = status

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
        status = self.status or 0
        code = os.WEXITSTATUS(status) if os.WIFEXITED(status) else 128 + os.WTERMSIG(status)
        oom = self.oom_live or self.cg.oom_kill_count(self.cid) > self.oom_before
        if oom and not self.oom_live:
            self._emit("oom")
        self.oom_live = False
        process.update_state(self.cdir, status="exited", pid=0, exit_code=code, oom_killed=oom,
                             finished_at=now_rfc3339())
        self._emit("die", exitCode=str(code))
        self.pid = 0
        return code

    def _record_failure(self, code: int, message: str) -> None:
        process.update_state(self.cdir, status="created", pid=0, exit_code=code, error=message,
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
        process.update_state(self.cdir, status="restarting")
        deadline = time.monotonic() + delay
        while True:
            left = deadline - time.monotonic()
            if process.read_state(self.cdir).get("stopped_by_user"):
                process.update_state(self.cdir, status="exited")
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

    # --- the end ---------------------------------------------------------------------------------

    def teardown(self, code: int) -> None:
        if self.log is not None:
            self.log.close()
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
        if self.spec.get("mounts") or self.spec["network_mode"] not in ("none", "host"):
            try:
                self._release_seams()
            except Exception:  # noqa: BLE001
                self._log_crash()
        if self.spec.get("auto_remove"):
            self._remove()
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

    def _release_seams(self) -> None:
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
                network.detach(store, container)
            except ImportError:
                pass
        if self.spec.get("mounts"):
            from .. import volumes
            volumes.release(store, container, remove_anonymous=bool(self.spec.get("auto_remove")))

    def _remove(self) -> None:
        try:
            process.discard(self.cdir)
        except OSError:
            self._log_crash()
        if _userns_auto(self.spec):
            from . import userns   # [containment] give the --userns auto id range back
            userns.release(self.root, self.cid)
        if self.run_dir:
            try:
                process.remove_tree(os.path.join(self.run_dir, "c", self.cid))
            except OSError:
                pass
        self._emit("destroy")

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

    def _log_crash(self) -> None:
        import traceback
        try:
            with open(os.path.join(self.cdir, "monitor.log"), "a") as f:
                f.write(f"{now_rfc3339()} {traceback.format_exc()}\n")
        except OSError:
            pass


def _close(*fds: int) -> None:
    for fd in fds:
        if fd >= 0:
            os.close(fd)


def _container_record(cdir: str) -> dict:
    config = process.read_json(os.path.join(cdir, process.CONFIG)) or {}
    return {"id": config.get("id", os.path.basename(cdir)), "name": config.get("name", ""),
            "created": config.get("created", ""), "config": config,
            "state": process.read_state(cdir)}


def _reset_signals() -> None:
    """Give the container the signal dispositions of a fresh process (ignored signals would
    survive execve)."""
    signal.set_wakeup_fd(-1)
    for sig in (signal.SIGCHLD, signal.SIGUSR1, signal.SIGTERM, signal.SIGINT, signal.SIGHUP,
                signal.SIGPIPE, signal.SIGXFSZ):
        signal.signal(sig, signal.SIG_DFL)
    signal.pthread_sigmask(signal.SIG_SETMASK, [])


def _read_id(fd: int) -> str:
    data = b""
    while not data.endswith(b"\n"):
        chunk = os.read(fd, 1)   # byte by byte: what follows the id is not ours to take
        if not chunk:
            return ""
        data += chunk
    return data.decode().strip()


def main(argv: list[str]) -> int:
    cid = argv[1]
    if cid == "-":
        # started before the container was ready (MonitorLaunch): its id comes on fd 5
        cid = _read_id(CGROUP_FD)
        if not cid:
            os._exit(0)   # the caller gave up (create failed, or nothing to start)
    # detach from whoever started us: that process reaps this first one at once
    if os.fork() > 0:
        os._exit(0)
    os.chdir("/")
    return Monitor(cid, attached="--attach" in argv[2:],
                   cgroup_fd="--cgroup-fd" in argv[2:]).run()


if __name__ == "__main__":
    sys.exit(main(sys.argv))
