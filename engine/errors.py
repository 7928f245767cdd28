"""berth's errors: one tree, each with a sentence a person can act on.

    BerthError                  base; ``exit_code`` is what the CLI exits with (125, as Docker)
    ├── InvalidArgument         bad input: a flag, a reference, a size, a file that is not an image
    ├── NotFound                no such container, image, network, volume, layer or blob
    ├── Conflict                a name in use, an object in use, a state that forbids the verb
    ├── HostError               the host refused (mount, cgroup, netlink, nftables): says what and why
    │   └── DiskError           the filesystem refused a write: full, over quota, read-only, failing
    ├── RegistryError           a registry answered with an error or could not be reached
    │   └── AuthError           credentials missing or wrong
    ├── IntegrityError          bytes that do not match their digest; a hostile archive
    ├── ExecError               the container's command could not be run (126 or 127, as Docker)
    ├── BuildError              a build step failed (an InvalidArgument with the step's exit code)
    └── Cancelled               the caller cancelled the operation; nothing it made is left

Lower libraries' exceptions (OSError, netlink errors, aiohttp errors) are turned into these at
the edge where they happen, so the CLI and the dashboard only ever show ``str(error)``.
"""

from __future__ import annotations

import errno as _errno   # built into the interpreter: costs nothing

# what a filesystem answers when it can't take a write, and how berth says it
DISK_ERRNOS = {_errno.ENOSPC: "no space left on device", _errno.EDQUOT: "disk quota exceeded",
               _errno.EROFS: "read-only file system", _errno.EIO: "input/output error"}
_DISK_HINTS = {_errno.ENOSPC: "; free some space (berth rm, rmi, system prune) and try again",
               _errno.EDQUOT: "; free some space (berth rm, rmi, system prune) and try again",
               _errno.EIO: "; the disk may be failing (see dmesg)"}


class BerthError(Exception):
    """Base of every error berth raises on purpose."""

    exit_code = 125

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message


class InvalidArgument(BerthError):
    """The input can't be used as given; the message says what to change."""


class NotFound(BerthError):
    """The named object does not exist."""


class Conflict(BerthError):
    """The object exists but its state or a name clash forbids the request."""


class HostError(BerthError):
    """The kernel or a host tool refused an operation."""


class DiskError(HostError, OSError):
    """A write that the filesystem under berth's root refused (ENOSPC, EDQUOT, EROFS, EIO): "no
    space left on device while <what berth was doing>". Also an OSError carrying that errno and
    file name, so code that handles a failed write as an OSError goes on doing so."""

    def __init__(self, message: str, err: int = _errno.ENOSPC, filename: str | None = None):
        HostError.__init__(self, message)
        self.errno, self.strerror, self.filename = err, DISK_ERRNOS.get(err, message), filename


class RegistryError(BerthError):
    """A registry could not be reached or answered with an error."""


class AuthError(RegistryError):
    """A registry refused the credentials, or needs some that were not given."""


class IntegrityError(BerthError):
    """Content does not match its digest, or an archive tries to escape its directory."""


class ExecError(BerthError):
    """The container's command could not be executed; exit_code is 126 or 127 as Docker's."""

    def __init__(self, message: str, exit_code: int = 126):
        super().__init__(message)
        self.exit_code = exit_code


class BuildError(InvalidArgument):
    """A build step failed: ``step`` (1-based), ``exit_code`` (a RUN's, else 1, as docker
    build exits) and ``tail``, the last lines of the step's output."""

    def __init__(self, message: str, step: int = 0, exit_code: int = 1, tail: str = ""):
        super().__init__(message)
        self.step, self.exit_code, self.tail = step, exit_code or 1, tail


class Cancelled(BerthError):
    """The caller cancelled the operation (ctrl-c, the dashboard's escape); what it had made
    is removed."""

    exit_code = 130


class NotSupported(BerthError):
    """Something the container was set up without (reading the logs of --log-driver none):
    Docker's 501."""


class Unreachable(HostError):
    """An engine over a connection (engine/client/) that can't be reached, or that went away
    mid-call: the dashboard shows its host as disconnected and tries again."""


def host_error(what: str, err: OSError) -> HostError:
    """Turn an OSError into a HostError that names the operation and the kernel's reason (a
    DiskError when the filesystem refused a write)."""
    if isinstance(err, HostError):
        return err   # named already, where it happened
    if err.errno in DISK_ERRNOS:
        return DiskError(f"{DISK_ERRNOS[err.errno]} while {what}{_DISK_HINTS.get(err.errno, '')}",
                         err.errno, err.filename)
    return HostError(f"{what}: {err.strerror or err}")


def os_error(what: str, err: OSError) -> HostError:
    """berth's error for an OSError that reached the top (the CLI's main, the API's middleware)
    with no edge naming it: one line with the operation, the file and the errno's name."""
    if isinstance(err, HostError):
        return err
    if err.filename is not None:
        what = f"{what} ({err.filename})"
    if err.errno in DISK_ERRNOS:
        return host_error(what, err)
    name = _errno.errorcode.get(err.errno or 0, "")
    return HostError(f"{what}: {err.strerror or err}" + (f" [{name}]" if name else ""))
