"""Docker's mount syntaxes turned into ``Mount`` records: ``-v``, ``--mount`` and ``--tmpfs``.

The rules and the error messages follow moby's ``volume/mounts/linux_parser.go`` and the docker
CLI's ``opts/mount.go``, so a command line that works with Docker works here and one that fails
fails with the sentence a Docker user already knows.

Vocabulary of ``Mount.options`` (what ``prepare_mounts`` understands):

- bind: a propagation word (``rprivate`` …), ``nonrecursive``, ``create-mountpoint`` (``-v``
  creates a missing host directory; ``--mount`` refuses it)
- volume: ``subpath=P``, ``volume-label=K=V``, ``volume-opt=K=V`` (used when the mount creates
  the volume); ``nocopy`` is the ``Mount.nocopy`` field
- tmpfs: kernel mount options (``size=64m``, ``mode=1777``, ``noexec``, ``uid=0`` …)
"""

from __future__ import annotations

import os
import posixpath
import re

from ..errors import InvalidArgument
from ..models import Mount

VOLUME_NAME_RE = re.compile(r"^[a-zA-Z0-9][a-zA-Z0-9_.-]+\Z")   # \Z, not $: $ passes "ab\\n"
PROPAGATIONS = ("shared", "rshared", "slave", "rslave", "private", "rprivate")
_RW_MODES = ("rw", "ro")
_LABEL_MODES = ("z", "Z")
_COPY_MODES = ("nocopy",)
_CONSISTENCY_MODES = ("consistent", "cached", "delegated", "default")
_BOOL_TRUE = ("1", "t", "T", "TRUE", "true", "True")
_BOOL_FALSE = ("0", "f", "F", "FALSE", "false", "False")


def validate_volume_name(name: str) -> None:
    """Raise unless ``name`` is a name the local volume driver accepts (Docker's rule)."""
    if isinstance(name, str) and len(name) == 1:
        raise InvalidArgument("volume name is too short, names should be at least two "
                              "alphanumeric characters")
    if not isinstance(name, str) or not VOLUME_NAME_RE.match(name):
        from ..runtime.names import shown
        raise InvalidArgument(
            f'"{shown(name)}" includes invalid characters for a local volume name, only '
            '"[a-zA-Z0-9][a-zA-Z0-9_.-]" are allowed. If you intended to pass a host directory, '
            "use absolute path")


def _config_error(type: str, why: str) -> InvalidArgument:
    return InvalidArgument(f'invalid mount config for type "{type}": {why}')


def _validate_target(type: str, target: str) -> str:
    """The cleaned absolute target; Docker's errors for an empty, relative or root target."""
    if not target:
        raise _config_error(type, "field Target must not be empty")
    if not target.startswith("/"):
        raise _config_error(type, f"invalid mount path: '{target}' mount path must be absolute")
    clean = posixpath.normpath(target)
    if clean.startswith("//"):
        clean = "/" + clean.lstrip("/")
    if clean == "/":
        raise _config_error(type, "invalid specification: destination can't be '/'")
    return clean


def _valid_mode(mode: str) -> bool:
    """moby's ValidateMountMode: comma-separated words, at most one of each kind."""
    if mode == "":
        return True
    counts = [0, 0, 0, 0, 0]
    for word in mode.split(","):
        for i, kind in enumerate((_RW_MODES, _LABEL_MODES, PROPAGATIONS, _COPY_MODES,
                                  _CONSISTENCY_MODES)):
            if word in kind:
                counts[i] += 1
                break
        else:
            return False
    return all(c <= 1 for c in counts)


def _host_path(source: str) -> str:
    # The docker CLI (23+) turns "./dir" and "../dir" into absolute paths for -v.
    if source in (".", "..") or source.startswith(("./", "../")):
        source = os.path.abspath(source)
    return posixpath.normpath(source) if source.startswith("/") else source


def parse_volume(spec: str) -> Mount:
    """One ``-v``/``--volume`` value: ``NAME:/path[:mode]``, ``/path`` (an anonymous volume) or
    ``/host/path:/path[:mode]`` (a bind; the host directory is created at start when missing).
    ``mode`` is a comma list of ``ro|rw``, a propagation, ``nocopy``, ``z|Z`` and consistency
    words, as Docker's."""
    invalid = InvalidArgument(f"invalid volume specification: '{spec}'")
    parts = spec.split(":")
    mode = ""
    if not spec or len(parts) > 3:
        raise invalid
    if len(parts) == 1:
        source, target = "", parts[0]
    elif len(parts) == 2:
        if _valid_mode(parts[1]):
            # "/foo:rw" names a destination and a mode but nothing to mount
            raise invalid
        source, target = parts
    else:
        source, target, mode = parts
    if not _valid_mode(mode):
        raise InvalidArgument(f"invalid mode: {mode}")
    words = mode.split(",") if mode else []
    source = _host_path(source)
    type = "bind" if source.startswith("/") else "volume"
    target = _validate_target(type, target)
    read_only = "ro" in words
    propagation = next((w for w in words if w in PROPAGATIONS), "")
    nocopy = "nocopy" in words
    if type == "bind":
        if nocopy:
            raise _config_error(type, "field VolumeOptions must not be specified")
        options = [propagation or "rprivate", "create-mountpoint"]
        return Mount(type="bind", target=target, source=source, read_only=read_only,
                     options=options)
    if propagation:
        raise _config_error(type, "field BindOptions must not be specified")
    if source:
        validate_volume_name(source)
    return Mount(type="volume", target=target, source=source, read_only=read_only,
                 anonymous=not source, nocopy=nocopy)


def _parse_bool(key: str, value: str) -> bool:
    if value in _BOOL_TRUE:
        return True
    if value in _BOOL_FALSE:
        return False
    raise InvalidArgument(f"invalid value for {key}: {value}")


def ram_in_bytes(value: str) -> int:
    """go-units RAMInBytes: ``64m``, ``1.5g``, ``512KiB``, ``100`` (binary multiples)."""
    m = re.fullmatch(r"(\d+(?:\.\d+)*) ?([kKmMgGtTpP])?[iI]?[bB]?", value)
    if not m:
        raise InvalidArgument(f"invalid size: '{value}'")
    mult = 1024 ** ("bkmgtp".index(m.group(2).lower()) if m.group(2) else 0)
    return int(float(m.group(1)) * mult)


def parse_mount(spec: str) -> Mount:
    """One ``--mount`` value: comma-separated ``key=value`` fields with Docker's keys
    (``type``, ``source|src``, ``target|dst|destination``, ``readonly|ro``, ``volume-nocopy``,
    ``volume-label``, ``volume-opt``, ``volume-subpath``, ``bind-propagation``,
    ``bind-recursive``, ``bind-create-src``, ``tmpfs-size``, ``tmpfs-mode``). A bind whose
    source does not exist is an error here, as with Docker."""
    import csv
    try:
        fields = next(csv.reader([spec]), [])
    except csv.Error as e:
        raise InvalidArgument(f"invalid mount specification '{spec}': {e}") from None
    type, source, target = "volume", "", ""
    read_only = nocopy = False
    seen_volume = seen_bind = seen_tmpfs = False
    propagation, recursive, create_src = "", "enabled", False
    subpath, driver = "", ""
    labels: list[str] = []
    vol_opts: list[str] = []
    tmpfs_opts: list[str] = []
    for field in fields:
        key, eq, value = field.partition("=")
        key = key.strip().lower()
        if not eq:
            if key in ("readonly", "ro", "volume-nocopy", "bind-nonrecursive", "bind-create-src"):
                value = "true"
            else:
                raise InvalidArgument(f"invalid field '{field}' must be a key=value pair")
        if key == "type":
            type = value.lower()
        elif key in ("source", "src"):
            source = value
        elif key in ("target", "dst", "destination"):
            target = value
        elif key in ("readonly", "ro"):
            read_only = _parse_bool(key, value)
        elif key == "consistency":
            pass  # macOS file sharing only; meaningless on Linux, as in Docker
        elif key == "bind-propagation":
            seen_bind, propagation = True, value.lower()
        elif key == "bind-nonrecursive":
            seen_bind = True
            recursive = "disabled" if _parse_bool(key, value) else "enabled"
        elif key == "bind-recursive":
            seen_bind = True
            if value not in ("enabled", "disabled", "writable", "readonly"):
                raise InvalidArgument(f"invalid value for {key}: {value} (must be one of "
                                      "enabled, disabled, writable, readonly)")
            recursive = value
        elif key == "bind-create-src":
            seen_bind, create_src = True, _parse_bool(key, value)
        elif key == "volume-nocopy":
            seen_volume, nocopy = True, _parse_bool(key, value)
        elif key == "volume-label":
            seen_volume = True
            labels.append(value)
        elif key == "volume-driver":
            seen_volume, driver = True, value
        elif key == "volume-opt":
            seen_volume = True
            if "=" not in value:
                raise InvalidArgument(f"invalid value for {key}: {value}")
            vol_opts.append(value)
        elif key == "volume-subpath":
            seen_volume, subpath = True, value
        elif key == "tmpfs-size":
            seen_tmpfs = True
            try:
                tmpfs_opts.append(f"size={ram_in_bytes(value)}")
            except InvalidArgument:
                raise InvalidArgument(f"invalid value for {key}: {value}") from None
        elif key == "tmpfs-mode":
            seen_tmpfs = True
            try:
                tmpfs_opts.append(f"mode={int(value, 8):o}")
            except ValueError:
                raise InvalidArgument(f"invalid value for {key}: {value}") from None
        else:
            raise InvalidArgument(f"unexpected key '{key}' in '{field}'")
    if not target:
        raise InvalidArgument("target is required")
    for seen, prefix, kind in ((seen_volume, "volume", "volume"), (seen_bind, "bind", "bind"),
                               (seen_tmpfs, "tmpfs", "tmpfs")):
        if seen and type != kind:
            raise InvalidArgument(f"cannot mix '{prefix}-*' options with mount type '{type}'")
    if type not in ("bind", "volume", "tmpfs"):
        raise _config_error(type, "mount type unknown")
    target = _validate_target(type, target)
    if type == "bind":
        if not source:
            raise _config_error(type, "field Source must not be empty")
        if not source.startswith("/"):
            raise _config_error(type, f"invalid mount path: '{source}' mount path must be absolute")
        source = posixpath.normpath(source)
        if not create_src and not os.path.exists(source):
            raise _config_error(type, f"bind source path does not exist: {source}")
        if propagation and propagation not in PROPAGATIONS:
            raise _config_error(type, f"invalid propagation mode: {propagation}")
        options = [propagation or "rprivate"]
        if recursive == "disabled":
            options.append("nonrecursive")
        elif recursive in ("writable", "readonly"):
            options.append(f"recursive-{recursive}")
        if create_src:
            options.append("create-mountpoint")
        return Mount(type="bind", target=target, source=source, read_only=read_only,
                     options=options)
    if type == "tmpfs":
        if source:
            raise _config_error(type, "field Source must not be specified")
        return Mount(type="tmpfs", target=target, read_only=read_only,
                     options=["noexec", "nosuid", "nodev", *tmpfs_opts])
    if driver and driver != "local":
        raise InvalidArgument(f'volume driver "{driver}" is not supported: berth has only '
                              'the "local" driver')
    if not source and read_only:
        raise _config_error(type, "must not set ReadOnly mode when using anonymous volumes")
    if source:
        validate_volume_name(source)
    if subpath:
        clean = posixpath.normpath(subpath)
        if subpath.startswith("/") or clean == ".." or clean.startswith("../"):
            raise _config_error(type, f"subpath must be a relative path within the volume: "
                                f"{subpath}")
        if not source:
            raise _config_error(type, "must not set subpath when using anonymous volumes")
    options = ([f"subpath={posixpath.normpath(subpath)}"] if subpath else []) + \
        [f"volume-label={x}" for x in labels] + [f"volume-opt={x}" for x in vol_opts]
    return Mount(type="volume", target=target, source=source, read_only=read_only,
                 options=options, anonymous=not source, nocopy=nocopy)


# Mount options of tmpfs that are flags rather than data, as the kernel wants them split.
TMPFS_DEFAULTS = ("noexec", "nosuid", "nodev")


def parse_tmpfs(spec: str) -> Mount:
    """One ``--tmpfs`` value: ``/path[:options]`` with mount(8)-style options
    (``rw,noexec,nosuid,size=65536k,mode=1777``); Docker's defaults are noexec,nosuid,nodev."""
    target, _, opts = spec.partition(":")
    target = _validate_target("tmpfs", target)
    words = [w for w in opts.split(",") if w]
    for w in words:
        # size and mode go to the kernel as written: memparse sizes (64m, 50%), octal modes
        if (w.startswith("size=") and not re.fullmatch(r"\d+[kKmMgGtTpPeE%]?", w[5:])) or \
                (w.startswith("mode=") and not re.fullmatch(r"[0-7]{1,4}", w[5:])):
            raise InvalidArgument(f"invalid tmpfs option '{w}' in '{spec}'")
    read_only = "ro" in words and words.index("ro") > (words.index("rw") if "rw" in words else -1)
    options = [*TMPFS_DEFAULTS, *(w for w in words if w not in ("ro", "rw"))]
    return Mount(type="tmpfs", target=target, read_only=read_only, options=options, given=opts)


def mount_to_spec(mount: Mount) -> str:
    """A ``Mount`` written back in ``--mount`` syntax (for inspect views and messages)."""
    parts = [f"type={mount.type}"]
    if mount.source:
        parts.append(f"source={mount.source}")
    parts.append(f"target={mount.target}")
    if mount.read_only:
        parts.append("readonly")
    if mount.nocopy:
        parts.append("volume-nocopy")
    return ",".join(parts)
