"""RUN ``--mount=`` specifications read as Docker reads them (buildkit's instructions
commands_runmount): comma-separated fields, CSV quoting, Docker's keys, checks and messages."""

from __future__ import annotations

import csv
import re
from typing import Callable

from ..errors import InvalidArgument
from ..volumes.parse import _parse_bool as _go_bool   # Go's ParseBool, Docker's message

MOUNT_TYPES = ("bind", "cache", "tmpfs", "secret", "ssh")
SHARING = ("shared", "private", "locked")


def _uint(value: str, base: int, what: str) -> int:
    digits = "01234567" if base == 8 else "0123456789"
    if not value or any(c not in digits for c in value) or int(value, base) >= 1 << 32:
        raise InvalidArgument(f"invalid value {value} for {what}")
    return int(value, base)


def parse_mount(spec: str, expand: Callable[[str], str] | None = None) -> dict:
    """One ``--mount`` value. Without ``expand`` (parse time) only the syntax is checked, as
    Docker does then, and the dict holds the raw fields; with it (build time) each value is
    expanded and checked, giving ``type``, ``source``, ``target``, ``from``, ``id``, ``sharing``,
    ``readonly`` (bool), ``required``, ``mode``/``uid``/``gid`` (int or None), ``size``."""
    try:
        fields = next(csv.reader([spec], strict=True), [])
    except csv.Error as e:
        raise InvalidArgument(f"failed to parse csv mounts: {e}") from None
    m = {"type": "bind", "source": "", "target": "", "from": "", "id": "", "sharing": "",
         "readonly": False, "required": False, "mode": None, "uid": None, "gid": None,
         "size": ""}
    ro_auto = True
    for fld in fields:
        key, eq, value = fld.partition("=")
        key = key.lower()
        if not eq:
            if expand is None:
                continue
            if key in ("readonly", "ro", "readwrite", "rw"):
                m["readonly"], ro_auto = key in ("readonly", "ro"), False
                continue
            if key == "required" and m["type"] in ("secret", "ssh"):
                m["required"] = True
                continue
            if key == "required":
                raise InvalidArgument(f"unexpected key '{key}' for mount type '{m['type']}'")
            raise InvalidArgument(f"invalid field '{fld}' must be a key=value pair")
        if expand is None:
            if key == "from" and re.search(r"\$.", value):
                raise InvalidArgument(f"'{key}' doesn't support variable expansion, define "
                                      "alias stage instead")
            continue
        value = expand(value)
        if key == "type":
            if value.lower() not in MOUNT_TYPES:
                raise InvalidArgument(f'unsupported mount type "{value}"')
            m["type"] = value.lower()
        elif key == "from":
            m["from"] = value
        elif key in ("source", "src"):
            m["source"] = value
        elif key in ("target", "dst", "destination"):
            m["target"] = value
        elif key in ("readonly", "ro"):
            m["readonly"], ro_auto = _go_bool(key, value), False
        elif key in ("readwrite", "rw"):
            m["readonly"], ro_auto = not _go_bool(key, value), False
        elif key in ("required", "size"):
            if (key == "required") != (m["type"] in ("secret", "ssh")) or \
                    (key == "size" and m["type"] != "tmpfs"):
                raise InvalidArgument(f"unexpected key '{key}' for mount type '{m['type']}'")
            m[key] = _go_bool(key, value) if key == "required" else value
        elif key == "id":
            m["id"] = value
        elif key == "sharing":
            if value.lower() not in SHARING:
                raise InvalidArgument(f'unsupported sharing value "{value}"')
            m["sharing"] = value.lower()
        elif key in ("mode", "uid", "gid"):
            m[key] = _uint(value, 8 if key == "mode" else 10, key)
        else:
            raise InvalidArgument(f"unexpected key '{key}' in '{fld}'")
    if expand is None:
        return m
    if m["type"] not in ("secret", "ssh", "cache"):
        for key in ("mode", "uid", "gid"):
            if m[key] is not None:
                raise InvalidArgument(f'{key} not allowed for "{m["type"]}" type mounts')
    if ro_auto:
        m["readonly"] = m["type"] not in ("cache", "tmpfs")
    if m["sharing"] and m["type"] != "cache":
        raise InvalidArgument(f"invalid cache sharing set for {m['type']} mount")
    return m
