"""Container streams: attach, exec, logs and wait, over what the monitor writes and serves."""

from __future__ import annotations

import time

TYPE_CHECKING = False
if TYPE_CHECKING:   # typing costs every `berth run` 3 ms
    from typing import Iterator

from .errors import Conflict, InvalidArgument, NotSupported
from .models import LogLine


class ContainerIOAPI:
    """A container's streams: attach to its monitor, exec in it, read its logs, wait for it."""

    def attach(self, ref: str) -> int:
        """A socket connected to the running container's monitor, speaking ``runtime.frames``
        (output and EXIT from it; STDIN, STDIN_EOF, RESIZE, SIGNAL, DETACH to it)."""
        from .runtime import attach as _attach
        c = self.container(ref)
        if not c.running:
            raise Conflict("You cannot attach to a stopped container, start it first")
        if c.state.status == "paused":
            raise Conflict("You cannot attach to a paused container, unpause it first")
        try:
            return _attach.connect(_attach.socket_path(self.paths.run, c.id))
        except OSError as e:
            raise Conflict(f"cannot attach to {c.short_id}: its monitor does not answer "
                           f"({e.strerror}); was it started by an older berth?") from None

    def exec(self, ref: str, cmd: list[str], *, env: list[str] = (), workdir: str = "",
             user: str = "", tty: bool = False, detach: bool = False, privileged: bool = False,
             console_size: tuple[int, int] | None = None,
             stdio: tuple[int, int, int] | None = None):
        """Run ``cmd`` in the running container with its namespaces, cgroup and security
        settings; an ``runtime.exec.ExecProcess`` (``.master`` with -t, ``.wait()`` the exit
        code). Forks: call it from a process without threads (the CLI), not the dashboard."""
        from .runtime.exec import exec_in
        return exec_in(self.store, self.container(ref), list(cmd), env=list(env),
                       workdir=workdir, user=user, tty=tty, detach=detach,
                       privileged=privileged, console_size=console_size, stdio=stdio)

    # --- wait, logs --------------------------------------------------------------------------------------

    def wait(self, ref: str, condition: str = "not-running") -> int:
        from .runtime import process
        c = self.container(ref)
        d = self.paths.container_dir(c.id)
        if condition not in ("not-running", "next-exit", "removed"):
            raise InvalidArgument(f"invalid condition: {condition!r}; use not-running, "
                                  "next-exit or removed")
        started = process.read_state(d).get("started_at", "")
        last = c.state.exit_code
        while True:
            raw = process.read_state(d)
            if not raw:
                return last
            state = process.effective_status(raw)
            last = state.get("exit_code", 0)
            stopped = state.get("status") not in ("running", "paused", "restarting")
            if condition == "not-running" and stopped:
                return last
            if condition == "next-exit" and (stopped and state.get("started_at") != started
                                             or stopped and c.running):
                return last
            time.sleep(0.05)

    def logs(self, ref: str, follow: bool = False, tail: int | None = None,
             since: float | None = None, until: float | None = None,
             stop=None) -> Iterator[LogLine]:
        """The container's log lines, oldest first; with ``follow`` the iterator goes on until
        the container ends, or until ``stop`` (a threading.Event) is set: a follower of a
        quiet container otherwise waits for a line that may never come."""
        from .runtime import logs, process
        from .runtime.filters import rfc3339_seconds
        c = self.container(ref)
        d = self.paths.container_dir(c.id)
        if c.config.log_driver == "none":
            # dockerd's ErrReadLogsNotSupported (a 501 through the API)
            raise NotSupported("configured logging driver does not support reading")

        def keep(t: str) -> bool:
            if since is None and until is None:
                return True
            secs = rfc3339_seconds(t)
            return (since is None or secs >= since) and (until is None or secs < until)

        lines, mark = logs.read_lines_from(d, tail)
        for t, stream, text in lines:
            if keep(t):
                yield LogLine(t, stream, text)
        if not follow or (until is not None and until <= time.time()):
            return

        def running() -> bool:
            state = process.effective_status(process.read_state(d))
            return state.get("status") in ("running", "paused", "restarting")

        # from where the read stopped: a line written meanwhile, even as the container ended,
        # is followed (the follower reads everything before it believes the exit)
        for t, stream, text in logs.follow(d, running, stop=stop, since_mark=mark):
            if until is not None and rfc3339_seconds(t) >= until:
                return
            if keep(t):
                yield LogLine(t, stream, text)
