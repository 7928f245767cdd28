"""berth's errors: one tree, each with a sentence a person can act on.

    BerthError                  base; ``exit_code`` is what the CLI exits with (125, as Docker)
    ├── InvalidArgument         bad input: a flag, a reference, a size, a file that is not an image
    ├── NotFound                no such container, image, network, volume, layer or blob
    ├── Conflict                a name in use, an object in use, a state that forbids the verb
    ├── HostError               the host refused (mount, cgroup, netlink, nftables): says what and why
    ├── RegistryError           a registry answered with an error or could not be reached
    │   └── AuthError           credentials missing or wrong
    ├── IntegrityError          bytes that do not match their digest; a hostile archive
    └── ExecError               the container's command could not be run (126 or 127, as Docker)

Lower libraries' exceptions (OSError, netlink errors, aiohttp errors) are turned into these at
the edge where they happen, so the CLI and the dashboard only ever show ``str(error)``.
"""

from __future__ import annotations


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


def host_error(what: str, err: OSError) -> HostError:
    """Turn an OSError into a HostError that names the operation and the kernel's reason."""
    return HostError(f"{what}: {err.strerror or err}")
