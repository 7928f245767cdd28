"""What every answer of berth's Docker API shares, without aiohttp: the API versions served,
engine errors as Docker's status codes and ``{"message": …}`` bodies, and the refusal of a
``/vX.Y`` prefix out of range. The aiohttp service (server.py) and dial-stdio's front
(front.py), which answers a connection's first requests before aiohttp is imported, both
answer through it."""

from __future__ import annotations

from ..errors import (AuthError, BerthError, Conflict, ExecError, HostError, IntegrityError,
                      InvalidArgument, NotFound, NotSupported, RegistryError)
from .bodies import BodyTooLarge, BodyTooSlow

MIN_VERSION, MAX_VERSION = (1, 41), (1, 45)
API_VERSION = "1.45"

# engine.errors -> Docker's status codes: the one place they are mapped (order matters:
# subclasses first)
STATUS: tuple[tuple[type, int], ...] = (
    (BodyTooLarge, 413), (BodyTooSlow, 408),
    (NotFound, 404), (Conflict, 409), (InvalidArgument, 400), (AuthError, 401),
    (ExecError, 400), (IntegrityError, 400), (RegistryError, 500), (HostError, 500),
    (NotSupported, 501),
    (BerthError, 500), (NotImplementedError, 501),
)


def status_of(error: BaseException) -> int:
    for kind, status in STATUS:
        if isinstance(error, kind):
            return status
    return 500


def error_body(message: str) -> bytes:
    # sent as exactly "application/json" (no charset): the docker CLI reads the message only then
    import json
    return json.dumps({"message": message}).encode()


def parse_version(text: str) -> tuple[int, int] | None:
    major, _, minor = text.partition(".")
    try:
        return int(major), int(minor)
    except ValueError:
        return None


def version_refusal(version: str | None) -> str:
    """Why a request under ``/v{version}`` is refused ("" when it is served), as dockerd says."""
    if version is None:
        return ""
    v = parse_version(version)
    if v is None or v < MIN_VERSION:
        return (f"client version {version} is too old. Minimum supported API version is "
                f"{'%d.%d' % MIN_VERSION}, please upgrade your client to a newer version")
    if v > MAX_VERSION:
        return f"client version {version} is too new. Maximum supported API version is {API_VERSION}"
    return ""
