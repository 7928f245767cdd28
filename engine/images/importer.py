"""``import``: an image of one layer from a root filesystem tarball (plain, gzip, xz, zstd, bzip2),
with Dockerfile instructions applied to its config as ``--change`` does."""

from __future__ import annotations

import json
import platform as _platform
import shlex
import sys

from ..clock import now_rfc3339
from ..errors import InvalidArgument, NotFound
from . import reference
from .store import ImageStore

CHANGES = ("CMD", "ENTRYPOINT", "ENV", "EXPOSE", "HEALTHCHECK", "LABEL", "ONBUILD", "STOPSIGNAL",
           "USER", "VOLUME", "WORKDIR")
_KEYS = {"CMD": "Cmd", "ENTRYPOINT": "Entrypoint", "ENV": "Env", "EXPOSE": "ExposedPorts",
         "HEALTHCHECK": "Healthcheck", "LABEL": "Labels", "ONBUILD": "OnBuild",
         "STOPSIGNAL": "StopSignal", "USER": "User", "VOLUME": "Volumes",
         "WORKDIR": "WorkingDir"}   # the config field each one sets
_ARCH = {"x86_64": "amd64", "aarch64": "arm64", "armv7l": "arm", "i686": "386"}


def _list_or_shell(value: str, shell: bool) -> list[str]:
    value = value.strip()
    if value.startswith("["):
        try:
            items = json.loads(value)
            if isinstance(items, list) and all(isinstance(i, str) for i in items):
                return items
        except ValueError:
            pass
    return ["/bin/sh", "-c", value] if shell else shlex.split(value)


def _pairs(value: str, what: str) -> list[tuple[str, str]]:
    value = value.strip()
    words = shlex.split(value)
    if words and "=" not in words[0]:  # the old form: ENV KEY a value with spaces
        return [(words[0], value[len(words[0]):].strip())]
    out = []
    for w in words:
        k, eq, v = w.partition("=")
        if not eq or not k:
            raise InvalidArgument(f"{what} needs KEY=VALUE, got '{w}'")
        out.append((k, v))
    return out


def apply_changes(config: dict, changes) -> dict:
    """Apply Dockerfile instructions (``CMD ["sh"]``, ``ENV A=b``, ...) to an image config's
    ``config`` section; InvalidArgument for an instruction import can't apply, or for a value
    an image's config may not hold (images/config_check.py, strictly: the user typed it)."""
    touched = set()
    for change in changes or ():
        instr, _, value = change.strip().partition(" ")
        if not instr:
            continue
        op = instr.upper()
        if op not in CHANGES:
            raise InvalidArgument(f"{instr} is not a valid change command: use one of "
                                  f"{', '.join(CHANGES)}")
        if op == "CMD":
            config["Cmd"] = _list_or_shell(value, True)
        elif op == "ENTRYPOINT":
            config["Entrypoint"] = _list_or_shell(value, True)
        elif op == "ENV":
            env = [e for e in config.get("Env") or []]
            for k, v in _pairs(value, "ENV"):
                env = [e for e in env if e.partition("=")[0] != k] + [f"{k}={v}"]
            config["Env"] = env
        elif op == "LABEL":
            labels = dict(config.get("Labels") or {})
            labels.update(_pairs(value, "LABEL"))
            config["Labels"] = labels
        elif op == "EXPOSE":
            ports = dict(config.get("ExposedPorts") or {})
            for p in value.split():
                port, _, proto = p.partition("/")
                if not port.isdigit():
                    raise InvalidArgument(f"invalid port '{p}' in EXPOSE")
                ports[f"{port}/{proto or 'tcp'}"] = {}
            config["ExposedPorts"] = ports
        elif op == "VOLUME":
            vols = dict(config.get("Volumes") or {})
            for v in _list_or_shell(value, False):
                vols[v] = {}
            config["Volumes"] = vols
        elif op == "USER":
            config["User"] = value.strip()
        elif op == "WORKDIR":
            config["WorkingDir"] = value.strip()
        elif op == "STOPSIGNAL":
            config["StopSignal"] = value.strip()
        elif op == "HEALTHCHECK":
            from ..healthconfig import parse_instruction
            config["Healthcheck"] = parse_instruction(value)
        elif op == "ONBUILD":
            config["OnBuild"] = [*(config.get("OnBuild") or []), value.strip()]
        touched.add(_KEYS[op])
    from .config_check import check_strict
    check_strict({k: config[k] for k in touched})
    return config


def import_image(images: ImageStore, source: str, ref: str | None = None, changes=(),
                 message: str = ""):
    """Import ``source`` (a path, or ``-`` for stdin) as a one-layer image tagged ``ref``."""
    tags = []
    if ref:
        r = reference.parse(ref)
        if r.digest:
            raise InvalidArgument(f"refusing to create a tag with a digest reference: {ref}")
        tags.append(str(r.with_default_tag()))
    config_section = apply_changes({}, changes)
    with images.busy():   # the new layer is an orphan until the image is recorded
        if source == "-":
            layer = images.add_layer(sys.stdin.buffer)
        else:
            try:
                f = open(source, "rb", buffering=1 << 16)
            except FileNotFoundError:
                raise NotFound(f"open {source}: no such file or directory") from None
            except IsADirectoryError:
                raise InvalidArgument(f"{source} is a directory, not a tarball") from None
            with f:
                layer = images.add_layer(f)
        now = now_rfc3339()
        m = _platform.machine()
        config = {
            "architecture": _ARCH.get(m, m), "os": "linux", "created": now,
            "config": config_section,
            "history": [{"created": now, "created_by": "",
                         "comment": message or f"Imported from {source}"}],
        }
        if message:
            config["comment"] = message
        return images.create_image(config, [layer], tags)
