"""RemoteEngine: the Engine facade over the Docker Engine API of another engine (dockerd,
podman's service, or berth's own through ``berth system dial-stdio``), returning the same
models, so the CLI and the dashboard work on it unchanged.

What the API has no way to do (a local root's check and reset, build with berth's builder, …)
raises NotSupported naming the host, instead of an AttributeError halfway through.
"""

from __future__ import annotations

import json
import threading

from ..errors import BerthError, NotFound, NotSupported
from ..models import Container, EngineInfo, LogLine
from . import convert
from .http import Session, q
from .remote_admin import RemoteAdmin
from .remote_files import RemoteFiles
from .remote_objects import RemoteObjects
from .transport import Address


# what a caller reaching for a local root's parts was doing, in the error's words
LOCAL_ONLY = {"paths": "a local root's files (consoles and shells in it)",
              "store": "a local root's records"}


class Unavailable(NotSupported, AttributeError):
    """A verb the Docker API has no way to do. An AttributeError too, so that a caller that
    looks a verb up (``getattr(engine, name, None)``, as the dashboard does) finds it missing
    and greys it, and a caller that calls it prints the one line."""


class RemoteEngine(RemoteFiles, RemoteAdmin, RemoteObjects):
    """An engine reached at ``addr``; ``name`` is what the user calls it (a connection's name)."""

    remote = True

    def __init__(self, addr: Address, name: str = "", connection: str = ""):
        self.addr = addr
        self.name = name or connection or addr.display
        self.connection = connection   # the saved connection it was made from, if any
        self.session = Session(addr)
        self.session.host_words = lambda: f"{self.name} ({self.engine_info().label()})"
        self._info: EngineInfo | None = None
        self._inspected: dict[str, tuple[str, Container]] = {}   # id -> (state, model)
        self._lock = threading.Lock()
        # event streams followed now (follow_events): while one is, every change to a
        # container comes as an event that drops it from _inspected, and container() answers
        # from there without asking the engine (the dashboard's clock and stats look often)
        self._followers = 0
        self._generation = 0   # counts what dropped records: a look older than one isn't kept

    def __repr__(self) -> str:
        return f"RemoteEngine({self.name!r}, {self.addr.display!r})"

    def __getattr__(self, name: str):
        if name.startswith("__"):
            raise AttributeError(name)
        what = LOCAL_ONLY.get(name) or name.strip("_").replace("_", " ")
        raise Unavailable(f"{what} is not available through the connection to {self.name} "
                          f"({self.engine_info().label()}): run it on that host")

    def close(self) -> None:
        """Its connections, and the ssh forward to the socket of an ssh://HOST/SOCKET."""
        self.session.close()
        if self.addr.scheme == "ssh" and self.addr.path:
            from .forward import hang_up
            hang_up(self.addr)

    # --- the engine itself --------------------------------------------------------------------

    def engine_info(self) -> EngineInfo:
        """Which engine answers, and its version (asked once)."""
        if self._info is None:
            v = self.session.call("GET", "/version", timeout=15.0) or {}
            names = " ".join(c.get("Name", "") for c in v.get("Components") or [])
            platform = (v.get("Platform") or {}).get("Name", "")
            kind = ("berth" if platform == "berth" else
                    "podman" if "podman" in (names + platform).lower() else "docker")
            version = v.get("Version") or ""
            for c in v.get("Components") or []:
                if c.get("Name") in ("Podman Engine", "Engine") and kind != "berth":
                    version = c.get("Version") or version
            self._info = EngineInfo(kind, version, self.name, self.addr.display)
        return self._info

    def ping(self) -> bool:
        return self.session.call("GET", "/_ping", timeout=10.0) == "OK"

    def take_warnings(self) -> list[str]:
        return []

    def client_environment(self) -> dict[str, str]:
        """What a berth process started for this engine (a console's ``berth exec``) needs in
        its environment to reach it: the connection or address, and what ssh and TLS read."""
        import os
        env = ({"BERTH_HOST": "", "BERTH_CONNECTION": self.connection} if self.connection
               else {"BERTH_HOST": self.addr.url, "BERTH_CONNECTION": ""})
        for var in ("HOME", "USER", "SSH_AUTH_SOCK", "XDG_CONFIG_HOME", "DOCKER_CONFIG",
                    "DOCKER_CERT_PATH", "DOCKER_TLS_VERIFY"):
            if os.environ.get(var):
                env[var] = os.environ[var]
        return env

    # --- containers ---------------------------------------------------------------------------

    def containers(self, all: bool = False, filters: dict | None = None) -> list[Container]:
        """The engine's list, each container as its inspect gives it (kept while its state
        stays the same, so a dashboard's refresh costs one request when nothing changed)."""
        query = {"all": "1" if all else None,
                 "filters": json.dumps(filters) if filters else None}
        out = []
        listed = self.session.call("GET", "/containers/json", query) or []
        with self._lock:
            known = {s["Id"]: self._inspected.get(s["Id"]) for s in listed}
        stale = [s["Id"] for s in listed
                 if known[s["Id"]] is None or known[s["Id"]][0] != (s.get("State") or "")]
        # the looks that changed, asked at once (one round trip, not one each)
        generation = self._generation
        looks = dict(zip(stale, self.session.call_many(
            [f"/containers/{q(cid)}/json" for cid in stale])))
        for summary in listed:
            cid = summary["Id"]
            if cid not in looks:
                out.append(known[cid][1])
            elif not isinstance(looks[cid], NotFound):   # else removed since the list
                if isinstance(looks[cid], BaseException):
                    raise looks[cid]
                out.append(self._keep(looks[cid], generation))
        with self._lock:
            live = {s["Id"] for s in listed}
            for gone in [k for k in self._inspected if k not in live] if all else []:
                del self._inspected[gone]
        return out

    def container(self, ref: str) -> Container:
        if self._followers:
            with self._lock:
                known = self._inspected.get(ref)
            if known is not None:
                return known[1]
        return self._look(ref)

    def _look(self, ref: str) -> Container:
        """The container as the engine has it now (kept for container() and containers())."""
        generation = self._generation
        return self._keep(self.container_inspect(ref), generation)

    def _keep(self, inspected: dict, generation: int) -> Container:
        """The model of an inspect's answer, kept unless something changed since it was asked
        (``generation`` then)."""
        c = convert.container(inspected)
        with self._lock:
            # an event that came while we asked may say more than the answer: not kept then
            if generation == self._generation:
                self._inspected[c.id] = (c.state.status, c)
        return c

    def container_inspect(self, ref: str, size: bool = False) -> dict:
        return self.session.call("GET", f"/containers/{q(ref)}/json",
                                 {"size": "1" if size else None})

    def _changed(self, ref: str) -> None:
        with self._lock:
            self._generation += 1
            for cid in [k for k in self._inspected if k == ref or k.startswith(ref)]:
                del self._inspected[cid]

    def _following(self, delta: int) -> None:
        """An event stream began (its head arrived: 1) or ended (-1). What was inspected
        before it began may have changed unseen: forgotten."""
        with self._lock:
            self._followers += delta
            if delta > 0:
                self._generation += 1
                self._inspected.clear()

    def create(self, config, name: str | None = None, entrypoint_set: bool = False) -> Container:
        body = convert.create_body(config, entrypoint_set)
        made = self.session.call("POST", "/containers/create", {"name": name or None}, body)
        return self.container(made["Id"])

    def start(self, ref: str, attach_fd: int | None = None, console_size=None) -> Container:
        """Start; with ``attach_fd`` (a socket) the output streams into it as frames from the
        first byte, then EXIT, as the local engine's start does."""
        if attach_fd is None:
            self.session.call("POST", f"/containers/{q(ref)}/start")
            self._changed(ref)
            return self.container(ref)
        c = self.container(ref)
        return self._start_attached(c, attach_fd, console_size)

    def run(self, config, name: str | None = None, entrypoint_set: bool = False,
            attach_fd: int | None = None, console_size=None) -> Container:
        c = self.create(config, name, entrypoint_set)
        if attach_fd is None:
            self.session.call("POST", f"/containers/{q(c.id)}/start")
            self._changed(c.id)
            return c
        return self._start_attached(c, attach_fd, console_size)

    def _stateless(self) -> bool:
        """A berth over ssh: every connection is a process of its own (ssh_verbs.py); not
        one reached at its service's socket there."""
        return (self.addr.scheme == "ssh" and not self.addr.path
                and self.engine_info().kind == "berth")

    def _start_attached(self, c: Container, attach_fd: int, console_size) -> Container:
        import os
        import socket
        from .streams import AttachBridge, Waiter
        if self._stateless():
            from .ssh_verbs import SSHFrames
            words = ["start", "-a"] + (["-i"] if c.config.open_stdin else []) + [c.id]
            SSHFrames(self, c.id, words, c.config.tty, socket.socket(fileno=os.dup(attach_fd)))
            self._changed(c.id)
            return c
        stream = self._attach_stream(c)
        # next-exit for the code (podman 4 answers 0 to "removed"), then with --rm the
        # removal is waited for too, so the name is free once `run` returns
        waiter = Waiter(self.session, c.id, "next-exit", then_removed=c.config.auto_remove)
        # the caller's socket speaks frames: the bridge writes the output and the exit into it
        sock = socket.socket(fileno=os.dup(attach_fd))
        try:
            self.session.call("POST", f"/containers/{q(c.id)}/start")
        except BaseException:
            stream.close()
            sock.close()
            raise
        AttachBridge(self, c.id, stream, c.config.tty, waiter, sock).start()
        if console_size and c.config.tty:
            try:
                self.resize(c.id, *console_size)
            except BerthError:
                pass
        self._changed(c.id)
        return c

    def _attach_stream(self, c: Container):
        return self.session.hijack("POST", f"/containers/{q(c.id)}/attach",
                                   {"stream": "1", "stdout": "1", "stderr": "1",
                                    "stdin": "1" if c.config.open_stdin else "0"})

    def attach(self, ref: str) -> int:
        """A socket speaking engine/runtime/frames with the running container."""
        import socket
        from .streams import AttachBridge
        c = self.container(ref)
        if self._stateless():
            from .ssh_verbs import SSHFrames
            mine, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
            SSHFrames(self, c.id, ["attach", c.id], c.config.tty, mine)
            return theirs.detach()
        return AttachBridge(self, c.id, self._attach_stream(c), c.config.tty).start()

    def resize(self, ref: str, rows: int, cols: int) -> None:
        self.session.call("POST", f"/containers/{q(ref)}/resize", {"h": rows, "w": cols})

    def _verb(self, ref: str, verb: str, query: dict | None = None,
              timeout: float | None | str = "default") -> Container:
        self.session.call("POST", f"/containers/{q(ref)}/{verb}", query, timeout=timeout)
        self._changed(ref)
        return self.container(ref)

    def stop(self, ref: str, timeout: int | None = None) -> Container:
        return self._verb(ref, "stop", {"t": timeout}, timeout=None)

    def restart(self, ref: str, timeout: int | None = None) -> Container:
        return self._verb(ref, "restart", {"t": timeout}, timeout=None)

    def kill(self, ref: str, signal: str | int = "SIGKILL") -> Container:
        return self._verb(ref, "kill", {"signal": signal})

    def pause(self, ref: str) -> Container:
        return self._verb(ref, "pause")

    def unpause(self, ref: str) -> Container:
        return self._verb(ref, "unpause")

    def rename(self, ref: str, new_name: str) -> Container:
        cid = self.container(ref).id   # the old name is gone once the verb is done
        return self._verb(cid, "rename", {"name": new_name})

    def remove(self, ref: str, force: bool = False, volumes: bool = False) -> None:
        self.session.call("DELETE", f"/containers/{q(ref)}",
                          {"force": "1" if force else None, "v": "1" if volumes else None},
                          timeout=None)
        self._changed(ref)

    def wait(self, ref: str, condition: str = "not-running") -> int:
        body = self.session.call("POST", f"/containers/{q(ref)}/wait",
                                 {"condition": condition}, timeout=None) or {}
        return int(body.get("StatusCode", 125))

    def prune_containers(self) -> tuple[list[str], int]:
        body = self.session.call("POST", "/containers/prune") or {}
        return list(body.get("ContainersDeleted") or []), body.get("SpaceReclaimed") or 0

    def top(self, ref: str, ps_args=()) -> tuple[list[str], list[list[str]]]:
        body = self.session.call("GET", f"/containers/{q(ref)}/top",
                                 {"ps_args": " ".join(ps_args) if ps_args else None})
        return body.get("Titles") or [], body.get("Processes") or []

    def port(self, ref: str):
        return self.container(ref).state.ports

    def container_size(self, ref: str) -> tuple[int, int]:
        d = self.container_inspect(ref, size=True)
        return d.get("SizeRw") or 0, d.get("SizeRootFs") or 0

    def logs(self, ref: str, follow: bool = False, tail: int | None = None,
             since: float | None = None, until: float | None = None, stop=None):
        """The container's log lines (with their times), following with ``follow`` until the
        container ends or ``stop`` is set."""
        from ..runtime import frames
        tty = self.container(ref).config.tty
        r = self.session.open("GET", f"/containers/{q(ref)}/logs", {
            "stdout": "1", "stderr": "1", "timestamps": "1", "follow": "1" if follow else None,
            "tail": str(tail) if tail is not None else "all",
            "since": f"{since:.9f}" if since else None, "until": f"{until:.9f}" if until else None,
        }, timeout=None)
        if stop is not None:
            def stopper() -> None:
                stop.wait()
                r.conn.close()
            threading.Thread(target=stopper, daemon=True).start()
        dec, pending = frames.Decoder(), {"stdout": b"", "stderr": b""}
        try:
            while True:
                try:
                    data = r.read1()
                except BerthError:
                    if stop is not None and stop.is_set():
                        return
                    raise
                if not data:
                    break
                chunks = [(frames.STDOUT, data)] if tty else dec.feed(data)
                for kind, payload in chunks:
                    stream = "stderr" if kind == frames.STDERR else "stdout"
                    buf = pending[stream] + payload
                    *lines, pending[stream] = buf.split(b"\n")
                    for line in lines:
                        yield _log_line(line + b"\n", stream)
            for stream, rest in pending.items():
                if rest:
                    yield _log_line(rest, stream)
        finally:
            r.conn.close()

    def exec(self, ref: str, cmd, *, env=(), workdir: str = "", user: str = "", tty: bool = False,
             detach: bool = False, privileged: bool = False, console_size=None, stdio=None):
        """``cmd`` in the running container; a RemoteExec shaped as the local ExecProcess."""
        from .streams import RemoteExec
        interactive = tty or (stdio is not None and not _is_devnull(stdio[0]))
        if self._stateless() and not detach:
            from .ssh_verbs import SSHProcess, exec_words
            self.container(ref)   # a missing container is the API's one-line NotFound
            return SSHProcess(self, exec_words(ref, cmd, env, workdir, user, tty, interactive,
                                               privileged), tty, stdio, console_size)
        made = self.session.call("POST", f"/containers/{q(ref)}/exec", None, {
            "Cmd": list(cmd), "Env": list(env) or None, "WorkingDir": workdir, "User": user,
            "Tty": tty, "Privileged": privileged, "AttachStdin": interactive and not detach,
            "AttachStdout": not detach, "AttachStderr": not detach,
            **({"ConsoleSize": list(console_size)} if console_size and tty else {})})
        if detach:
            self.session.call("POST", f"/exec/{made['Id']}/start", None,
                              {"Detach": True, "Tty": tty})
            return None
        stream = self.session.hijack("POST", f"/exec/{made['Id']}/start", None,
                                     {"Detach": False, "Tty": tty})
        proc = RemoteExec(self, made["Id"], stream, tty, stdio, console_size, interactive)
        if tty and console_size:
            try:
                self.resize_exec(made["Id"], *console_size)
            except BerthError:
                pass
        return proc

    def resize_exec(self, exec_id: str, rows: int, cols: int) -> None:
        self.session.call("POST", f"/exec/{exec_id}/resize", {"h": rows, "w": cols})

    def exec_exit_code(self, exec_id: str) -> int:
        """The ended exec's code (engines may say Running a moment after the stream ends)."""
        import time
        deadline = time.monotonic() + 5
        while True:
            body = self.session.call("GET", f"/exec/{exec_id}/json") or {}
            if not body.get("Running") or time.monotonic() > deadline:
                code = body.get("ExitCode")
                return 125 if code is None else int(code)
            time.sleep(0.05)

    @property
    def connected(self) -> bool:
        """The last call reached the engine (``connection_error`` says why it didn't)."""
        return self.session.ok

    @property
    def connection_error(self) -> str:
        return self.session.error


def _log_line(raw: bytes, stream: str) -> LogLine:
    text = raw.decode(errors="replace")
    stamp, sep, rest = text.partition(" ")
    if not sep or not stamp[:4].isdigit():
        return LogLine("", stream, text)
    return LogLine(stamp, stream, rest)



def _is_devnull(fd: int) -> bool:
    import os
    import stat
    try:
        st, null = os.fstat(fd), os.stat(os.devnull)
    except OSError:
        return False
    return stat.S_ISCHR(st.st_mode) and st.st_rdev == null.st_rdev
