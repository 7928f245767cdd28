"""An image's config (the ``config`` section of its config blob) checked as hostile input: it is
whatever a registry, an archive or a ``--change`` handed berth, and create merges it into the
container's configuration, whose own values engine/config_check.py checks the same way.

Two kinds of fault, told apart as Docker's loader tells them:

- the section is no image config: a field of the wrong JSON type (``"Env": "A=1"``,
  ``"ExposedPorts": []``: Docker's loader refuses those), or a command, user or working
  directory no process can take (a NUL byte). The image is refused (InvalidArgument) when it
  enters the store (load, pull, import, commit) and at create for one an older berth let in;
- a value of the right type that can't be used: an exposed port that is no port (``web/tcp``),
  an environment entry without a name, a ``=`` or with a NUL, a volume path that is not
  absolute or is ``/``, a label that is not a name or holds a NUL, an unknown stop signal, a
  malformed healthcheck. It is left out, with a warning (``Store.warn``), and the rest of the
  image works.
"""

from __future__ import annotations

from ..errors import InvalidArgument
from ..runtime.names import shown

_STR_LISTS = ("Entrypoint", "Cmd", "Shell", "OnBuild")
_STRINGS = ("User", "WorkingDir", "StopSignal", "Hostname", "Domainname")
_OBJECTS = ("ExposedPorts", "Volumes", "Labels", "Healthcheck")


def usable(config, image: str) -> tuple[dict, list[str]]:
    """(the config section ``config`` of image ``image`` with only what berth can use, exposed
    ports as ``PORT/PROTO`` and commands as lists; a warning for each value left out).
    InvalidArgument for a config that can't be used at all."""
    try:
        out, dropped = _checked(config)
    except _Refused as e:
        raise InvalidArgument(f"image {image} has an invalid config: {e}; it can't be "
                              "used") from None
    return out, [f"image {image}: {why}; left out" for why in dropped]


def check_strict(config: dict, what: str = "--change") -> None:
    """Refuse (InvalidArgument) any value of ``config`` that ``usable`` would refuse or leave
    out: the user typed it (``--change`` of import and commit)."""
    try:
        _, dropped = _checked(config)
    except _Refused as e:
        raise InvalidArgument(f"invalid {what}: {e}") from None
    if dropped:
        raise InvalidArgument(f"invalid {what}: {dropped[0]}")


class _Refused(Exception):
    """Why a config can't be used at all."""


def _checked(config) -> tuple[dict, list[str]]:
    """(what of ``config`` can be used, why each value left out was); _Refused."""
    if config is None:
        return {}, []
    if not isinstance(config, dict):
        raise _Refused(f"its config is {_kind(config)}, not an object")
    out = dict(config)
    for key in _STR_LISTS:
        value = out.get(key)
        if isinstance(value, str):
            out[key] = value = [value]   # Docker's strslice: one string is a list of one
        if value is not None and not _strings(value):
            raise _Refused(f"{key} is {_kind(value)}, not a list of strings")
        if key in ("Entrypoint", "Cmd") and value and any("\0" in v for v in value):
            raise _Refused(f"{key} holds a NUL byte, which no command can carry")
    for key in _STRINGS:
        if out.get(key) is not None and not isinstance(out[key], str):
            raise _Refused(f"{key} is {_kind(out[key])}, not a string")
    for key in ("User", "WorkingDir"):
        if "\0" in (out.get(key) or ""):
            raise _Refused(f"{key} {shown(out[key])} holds a NUL byte, which no user or path "
                           "can carry")
    if out.get("User") and not out["User"].isprintable():
        raise _Refused(f"User {shown(out['User'])} is no user name")
    if out.get("Env") is not None and not _strings(out["Env"]):
        raise _Refused(f"Env is {_kind(out['Env'])}, not a list of KEY=VALUE strings")
    for key in _OBJECTS:
        if out.get(key) is not None and not isinstance(out[key], dict):
            raise _Refused(f"{key} is {_kind(out[key])}, not an object")
    labels = out.get("Labels") or {}
    if not all(isinstance(v, str) for v in labels.values()):
        raise _Refused("Labels has a value that is not a string")
    dropped: list[str] = []
    drop = dropped.append
    if out.get("Env") is not None:
        out["Env"] = [e for e in out["Env"] if _env_ok(e, drop)]
    if out.get("ExposedPorts") is not None:
        out["ExposedPorts"] = _ports(out["ExposedPorts"], drop)
    if out.get("Volumes") is not None:
        out["Volumes"] = _volumes(out["Volumes"], drop)
    if out.get("Labels") is not None:
        out["Labels"] = {k: v for k, v in labels.items() if _label_ok(k, v, drop)}
    if out.get("StopSignal"):
        from ..options import parse_stop_signal
        try:
            out["StopSignal"] = parse_stop_signal(out["StopSignal"])
        except InvalidArgument as e:
            del out["StopSignal"]
            drop(str(e))
    if out.get("Healthcheck") is not None:
        why = _health_problem(out["Healthcheck"])
        if why:
            del out["Healthcheck"]
            drop(f"invalid healthcheck: {why}")
    return out, dropped


def _kind(value) -> str:
    return {str: "a string", list: "a list", dict: "an object", bool: "a boolean",
            type(None): "null"}.get(type(value), "a number")


def _strings(value) -> bool:
    return isinstance(value, list) and all(isinstance(v, str) for v in value)


def _env_ok(entry: str, drop) -> bool:
    from ..options import validate_env
    try:
        validate_env([entry])
    except InvalidArgument as e:
        drop(str(e))
        return False
    if "=" not in entry:
        drop(f"invalid environment variable: {shown(entry)}: it is not KEY=VALUE")
        return False
    return True


def _ports(ports: dict, drop) -> dict:
    from ..config_check import check_exposed_port
    out = {}
    for key, value in ports.items():
        spec = key if "/" in key else f"{key}/tcp"   # a port alone is tcp, as the spec says
        try:
            check_exposed_port(spec)
        except InvalidArgument as e:
            drop(str(e))
            continue
        out[spec] = value
    return out


def _volumes(volumes: dict, drop) -> dict:
    from ..volumes.parse import _validate_target
    out = {}
    for key, value in volumes.items():
        try:
            if "\0" in key:
                raise InvalidArgument(f"invalid volume path {shown(key)}: it holds a NUL byte")
            out[_validate_target("volume", key)] = value
        except InvalidArgument as e:
            drop(str(e))
    return out


def _label_ok(key: str, value: str, drop) -> bool:
    from ..options import validate_labels
    try:
        validate_labels({key: value})
        if "\0" in value:
            raise InvalidArgument(f"invalid label '{shown(key)}': its value holds a NUL byte")
    except InvalidArgument as e:
        drop(str(e))
        return False
    return True


def _health_problem(health: dict) -> str:
    """Why the daemon would refuse ``health`` as a container's Healthcheck ("" if it would not)."""
    from ..healthconfig import from_docker, validate
    test = health.get("Test")
    if test is not None and not isinstance(test, (list, str)):
        return f"its Test is {_kind(test)}, not a list of strings"
    if isinstance(test, list) and any(isinstance(t, str) and "\0" in t for t in test):
        return "its Test holds a NUL byte"
    try:
        validate(from_docker(health))
    except InvalidArgument as e:
        return str(e)
    return ""
