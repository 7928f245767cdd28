"""RemoteEngine: the Engine facade over the Docker Engine API of another engine (dockerd,
podman's service, or berth's own through ``berth system dial-stdio``), returning the same
models, so the CLI and the dashboard work on it unchanged.

What the API has no way to do (a local root's check and reset, build with berth's builder, …)
raises NotSupported naming the host, instead of an AttributeError halfway through.
"""

from __future__ import annotations

import json
import threading

from ..errors import BerthError, NotFound, NotSupported, RegistryError, Unreachable
from ..models import Container, EngineInfo, Image, LogLine
from . import convert
from .http import Session, q
from .transport import Address


# what a caller reaching for a local root's parts was doing, in the error's words
LOCAL_ONLY = {"paths": "a local root's files (consoles and shells in it)",
              "store": "a local root's records"}


class Unavailable(NotSupported, AttributeError):
    """A verb the Docker API has no way to do. An AttributeError too, so that a caller that
    looks a verb up (``getattr(engine, name, None)``, as the dashboard does) finds it missing
    and greys it, and a caller that calls it prints the one line."""


class RemoteEngine:
    """An engine reached at ``addr``; ``name`` is what the user calls it (a connection's name)."""

    remote = True

    def __init__(self, addr: Address, name: str = "", connection: str = ""):
        self.addr = addr
        self.name = name or connection or addr.display
        self.connection = connection   # the saved connection it was made from, if any
        self.session = Session(addr)
        self._info: EngineInfo | None = None
        self._inspected: dict[str, tuple[str, Container]] = {}   # id -> (state, model)
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"RemoteEngine({self.name!r}, {self.addr.display!r})"

    def __getattr__(self, name: str):
        if name.startswith("__"):
            raise AttributeError(name)
        what = LOCAL_ONLY.get(name) or name.strip("_").replace("_", " ")
        raise Unavailable(f"{what} is not available through the connection to {self.name} "
                          f"({self.engine_info().label()}): run it on that host")

    def close(self) -> None:
        self.session.close()

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
        for summary in listed:
            cid, state = summary["Id"], summary.get("State") or ""
            with self._lock:
                known = self._inspected.get(cid)
            if known is None or known[0] != state:
                try:
                    c = self.container(cid)
                except NotFound:
                    continue   # removed between the list and the look
            else:
                c = known[1]
            out.append(c)
        with self._lock:
            live = {s["Id"] for s in listed}
            for gone in [k for k in self._inspected if k not in live] if all else []:
                del self._inspected[gone]
        return out

    def container(self, ref: str) -> Container:
        c = convert.container(self.container_inspect(ref))
        with self._lock:
            self._inspected[c.id] = (c.state.status, c)
        return c

    def container_inspect(self, ref: str, size: bool = False) -> dict:
        return self.session.call("GET", f"/containers/{q(ref)}/json",
                                 {"size": "1" if size else None})

    def _changed(self, ref: str) -> None:
        with self._lock:
            for cid in [k for k in self._inspected if k == ref or k.startswith(ref)]:
                del self._inspected[cid]

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
        """A berth over ssh: every connection is a process of its own (ssh_verbs.py)."""
        return self.addr.scheme == "ssh" and self.engine_info().kind == "berth"

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

    # --- images -------------------------------------------------------------------------------

    def images(self, all: bool = False) -> list[Image]:
        listed = self.session.call("GET", "/images/json", {"all": "1" if all else None}) or []
        return [convert.image(i) for i in listed]

    def image(self, ref: str) -> Image:
        return convert.image(self.image_inspect(ref))

    def image_inspect(self, ref: str) -> dict:
        return self.session.call("GET", f"/images/{q(ref)}/json")

    def history(self, ref: str) -> list[dict]:
        # the local engine's shape: Created as RFC 3339, as the image config has it
        return [{**h, "Created": convert._time(h.get("Created")) if h.get("Created") else ""}
                for h in self.session.call("GET", f"/images/{q(ref)}/history") or []]

    def tag(self, source: str, target: str) -> None:
        repo, tag = _split_ref(target)
        self.session.call("POST", f"/images/{q(source)}/tag", {"repo": repo, "tag": tag})

    def remove_image(self, ref: str, force: bool = False) -> list[str]:
        body = self.session.call("DELETE", f"/images/{q(ref)}",
                                 {"force": "1" if force else None}) or []
        return [f"Untagged: {e['Untagged']}" if "Untagged" in e else f"Deleted: {e['Deleted']}"
                for e in body if "Untagged" in e or "Deleted" in e]

    def prune_images(self, all: bool = False) -> tuple[list[str], int]:
        body = self.session.call("POST", "/images/prune",
                                 {"filters": json.dumps({"dangling": ["false"]}) if all else None}) or {}
        return ([e.get("Deleted") or e.get("Untagged") for e in body.get("ImagesDeleted") or []],
                body.get("SpaceReclaimed") or 0)

    async def pull(self, ref: str, platform: str | None = None, progress=None,
                   all_tags: bool = False, tls_verify: bool = True, credentials=None) -> Image:
        """The engine pulls ``ref`` from its registry; its progress messages reach ``progress``
        as they come (Docker's JSON messages, as the local pull's)."""
        import asyncio
        return await asyncio.to_thread(self.pull_sync, ref, platform, progress, all_tags,
                                       credentials)

    def pull_sync(self, ref: str, platform=None, progress=None, all_tags=False,
                  credentials=None) -> Image:
        import base64
        name, tag = _split_ref(ref)
        headers = {}
        if credentials:
            auth = json.dumps({"username": credentials[0], "password": credentials[1]})
            headers["X-Registry-Auth"] = base64.urlsafe_b64encode(auth.encode()).decode()
        r = self.session.open("POST", "/images/create",
                              {"fromImage": name, "tag": None if all_tags else tag,
                               "platform": platform}, b"", headers, timeout=None)
        try:
            for line in r.lines():
                msg = json.loads(line)
                if msg.get("error") or msg.get("errorDetail"):
                    raise RegistryError(msg.get("error") or msg["errorDetail"].get("message", ""))
                if progress is not None:
                    progress(msg)
        finally:
            r.close()
        return self.image(ref if all_tags or "@" in ref else f"{name}:{tag}")

    # --- networks and volumes -------------------------------------------------------------------

    def networks(self):
        return [convert.network(n) for n in self.session.call("GET", "/networks") or []]

    def network(self, ref: str):
        return convert.network(self.network_inspect(ref))

    def network_inspect(self, ref: str) -> dict:
        return self.session.call("GET", f"/networks/{q(ref)}")

    def volumes(self, filters=None):
        body = self.session.call("GET", "/volumes",
                                 {"filters": json.dumps(filters) if filters else None}) or {}
        return [convert.volume(v) for v in body.get("Volumes") or []]

    def volume(self, name: str):
        return convert.volume(self.volume_inspect(name))

    def volume_inspect(self, name: str) -> dict:
        return self.session.call("GET", f"/volumes/{q(name)}")

    # --- stats --------------------------------------------------------------------------------

    def stats_once(self, ids: list[str] | None = None, all: bool = False) -> list:
        """One reading of each (running, or all with ``all``) container, from the engine's
        stats with its own previous reading (docker's CPU % needs two)."""
        from concurrent.futures import ThreadPoolExecutor
        targets = ids or [c.id for c in self.containers(all=all) if c.running or all]

        def one(ref):
            try:
                data = self.session.call("GET", f"/containers/{q(ref)}/stats",
                                         {"stream": "0"}, timeout=30.0)
            except NotFound:
                return None
            return convert.stats_sample(data.get("id") or ref, data.get("name") or ref, data)

        with ThreadPoolExecutor(max_workers=min(8, max(1, len(targets)))) as pool:
            return [s for s in pool.map(one, targets) if s is not None]

    def iter_stats(self, ids: list[str] | None = None, interval: float = 1.0, all: bool = False,
                   stop=None):
        """Readings every ``interval`` seconds from each container's stats stream."""
        from .streams import StatsFollower
        follower = StatsFollower(self, ids, all)
        if stop is not None:
            threading.Thread(target=lambda: (stop.wait(), follower.close()), daemon=True).start()
        try:
            yield from follower.ticks(interval)
        finally:
            follower.close()

    async def stats(self, ids: list[str] | None = None, interval: float = 1.0, all: bool = False):
        """``iter_stats`` for the dashboard's event loop (the streams are read in threads)."""
        from .events import in_thread
        async for samples in in_thread(self.iter_stats, ids, interval, all):
            yield samples

    # --- events -------------------------------------------------------------------------------

    def events(self, since=None, until=None, filters=None) -> list:
        from . import events
        return events.events(self, since, until, filters)

    def iter_events(self, since=None, filters=None, until=None, stop=None):
        from . import events
        return events.iter_events(self, since, filters, until, stop)

    async def follow_events(self, since=None, filters=None, until=None):
        """The engine's events as they happen, for the dashboard's event loop. A host that
        drops is tried again, every 0.5 s doubling to 30 s; once back, a "reconnect" event
        (type container, no id) tells the caller to read its lists again."""
        import asyncio
        import time
        from ..models import Event
        from . import events
        delay = 0.5
        while True:
            try:
                async for ev in events.in_thread(events.iter_events, self, since, filters, until):
                    delay = 0.5
                    yield ev
                if until is not None:
                    return
                # without an end asked for, a stream that ends is an engine that went away
                self.session.down(Unreachable(f"{self.addr.display} closed its event stream"))
            except Unreachable:
                pass
            since = None
            while True:
                await asyncio.sleep(delay)
                delay = min(delay * 2, 30.0)
                try:
                    await asyncio.to_thread(self.ping)
                    break
                except BerthError:
                    continue
            yield Event(time.time(), "container", "reconnect", "")

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


def _split_ref(ref: str) -> tuple[str, str]:
    """(name, tag) as /images/create wants them; a digest stays in the name."""
    if "@" in ref:
        return ref, ""
    slash = ref.rfind("/")
    colon = ref.rfind(":")
    if colon > slash:
        return ref[:colon], ref[colon + 1:]
    return ref, "latest"


def _is_devnull(fd: int) -> bool:
    import os
    import stat
    try:
        st, null = os.fstat(fd), os.stat(os.devnull)
    except OSError:
        return False
    return stat.S_ISCHR(st.st_mode) and st.st_rdev == null.st_rdev
