"""Time marks of the start path, for ``bench/start/run --profile`` and its peers.

With ``BERTH_TRACE=FILE`` in the environment every berth process on the path (the CLI, the
monitor, the intermediate, the container's pid 1, exec's joiner) appends one line per step to
FILE: CLOCK_MONOTONIC in ns, pid, role and the step just finished. The environment reaches the
monitor (sealed.environment keeps BERTH_* settings), so one run gives one timeline of all of
them. Unset, ``mark`` is a function that returns at once: nothing is opened or written.

The descriptor is close-on-exec and lifted to FD_MIN or above, so no container command ever
inherits it and the init's descriptor shuffle (init._arrange_fds) doesn't overwrite it.
"""

import os
import time

FD_MIN = 900
_path = os.environ.get("BERTH_TRACE", "")
_fd = -1
_role = "cli"


def _noop(step: str) -> None:
    pass


def _mark(step: str) -> None:
    global _fd
    if _fd < 0:
        fd = os.open(_path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o600)
        try:
            import fcntl
            _fd = fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, FD_MIN)
        finally:
            os.close(fd)
    try:
        os.write(_fd, f"{time.clock_gettime_ns(time.CLOCK_MONOTONIC)} {os.getpid()} "
                      f"{_role} {step}\n".encode())
    except OSError:
        pass


def role(name: str) -> None:
    """Name the process the following marks come from (cli, monitor, intermediate, init, …)."""
    global _role
    _role = name


def fd() -> int:
    """The open trace descriptor (-1 when tracing is off or nothing was marked yet)."""
    return _fd


enabled = bool(_path)
mark = _mark if enabled else _noop
