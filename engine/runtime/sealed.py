"""What berth starts as root, sealed off from whoever asked and from the containers it serves.

Python programs of berth's own (the container monitor, the network reaper, the API's helpers,
the dashboard's exec shells) start as ``python_command`` builds them: ``python -I`` ignores
every PYTHON* variable, the user's site directory and the caller's working directory (with -S
as well unless the program needs the virtualenv's packages), and boot.py puts berth's own
package first. Their environment is ``environment()``: built from nothing but the caller's
BERTH_* settings and a PATH without relative entries (a "." in root's PATH would find programs
in whatever directory berth was started from). A root process started from a user's directory
that holds a ``json.py`` must not import it.

Static programs: the processes a container can see that berth starts (``--init``'s pid 1 and
exec's joiner, berth-init from berth_init.c) run from ``sealed_copy``, a sealed in-memory copy,
so nothing a container can reach through /proc/<pid>/exe or /proc/<pid>/map_files is a host
file (CVE-2019-5736: runc runs itself from such a copy; Docker's init is static).
"""

from __future__ import annotations

import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
BOOT = os.path.join(HERE, "boot.py")
INIT_PROGRAM = os.path.join(HERE, "berth-init")
DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

MFD_EXEC = 0x0010   # Linux 6.3+: say the copy is meant to be executed (vm.memfd_noexec)


def safe_path(path: str | None = None) -> str:
    """``path`` (default: our PATH) without its empty and relative entries, or the default
    PATH when nothing is left."""
    if path is None:
        path = os.environ.get("PATH", "")
    kept = [p for p in path.split(":") if p.startswith("/")]
    return ":".join(dict.fromkeys(kept)) or DEFAULT_PATH


def environment(**settings: str) -> dict[str, str]:
    """The whole environment of a process berth starts: a safe PATH, the caller's BERTH_*
    settings, then ``settings``."""
    env = {"PATH": safe_path()}
    env.update((k, v) for k, v in os.environ.items() if k.startswith("BERTH_"))
    env.update(settings)
    return env


def python_command(module: str, *args: str, site: bool = False) -> list[str]:
    """The argv that runs ``python -m module args`` sealed off from the caller. ``site``: the
    program needs the virtualenv's packages (textual, aiohttp); -I still keeps the user's
    site directory and every PYTHON* variable out."""
    return [sys.executable, "-I", *(() if site else ("-S",)), BOOT, module, *args]


def sealed_copy(path: str, name: str) -> int:
    """A close-on-exec descriptor of an in-memory copy of the file at ``path``, sealed so that
    nothing can change it (execute it with ``os.execve(fd, …)``)."""
    import errno
    import fcntl
    src = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    try:
        flags = os.MFD_CLOEXEC | os.MFD_ALLOW_SEALING
        try:
            fd = os.memfd_create(name, flags | MFD_EXEC)
        except OSError as e:
            if e.errno != errno.EINVAL:   # a kernel before 6.3: every memfd is executable
                raise
            fd = os.memfd_create(name, flags)
        try:
            size, offset = os.fstat(src).st_size, 0
            while offset < size:
                n = os.sendfile(fd, src, offset, size - offset)
                if n <= 0:
                    raise OSError(errno.EIO, f"{path} shrank while it was copied")
                offset += n
            fcntl.fcntl(fd, fcntl.F_ADD_SEALS, fcntl.F_SEAL_SEAL | fcntl.F_SEAL_SHRINK
                        | fcntl.F_SEAL_GROW | fcntl.F_SEAL_WRITE)
        except BaseException:
            os.close(fd)
            raise
    finally:
        os.close(src)
    return fd


def init_program() -> int:
    """berth-init (berth_init.c, built by ``make``) as a sealed copy: see ``sealed_copy``."""
    try:
        return sealed_copy(INIT_PROGRAM, "berth-init")
    except FileNotFoundError:
        from ..errors import HostError
        raise HostError(f"{INIT_PROGRAM} is missing: build it with `make` (gcc -static "
                        "engine/runtime/berth_init.c, which needs gcc and libc6-dev)") from None
