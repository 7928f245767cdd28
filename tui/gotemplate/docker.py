"""How the docker CLI applies a ``--format``: the ``table`` and ``json`` keywords, header rows
aligned by Go's tabwriter, list rows as docker's formatter contexts, and inspect's two passes
(docker's typed structs first, then the raw JSON with missingkey=error), with docker's errors.
"""

from __future__ import annotations

from engine.errors import BerthError

from . import ExecError, ParseError, Policy, Struct, compile
from .values import NIL_MAP, NIL_SLICE


class FormatError(BerthError):
    """A template that does not parse or fails on the data: docker's one line and exit code
    (64 for inspect's parse errors, 1 otherwise)."""

    def __init__(self, message: str, exit_code: int = 1):
        super().__init__(message)
        self.exit_code = exit_code


def template(text: str, parse_exit: int = 1):
    try:
        return compile(text)
    except ParseError as e:
        raise FormatError(f"template parsing error: {e}", parse_exit) from None


def is_custom(fmt: str | None) -> bool:
    """Whether ``fmt`` asks for something other than the command's default table."""
    return bool(fmt) and fmt != "table"


# --- list commands (ps, images, network ls, volume ls, stats, history, system df) ----------------

TYPED = Policy("typed")


def _label_header(name: str) -> str:
    """docker's header for ``.Label "a.b-c"``: the last dotted part, - and _ as spaces."""
    return name.split(".")[-1].replace("-", " ").replace("_", " ")


def context(type_name: str, fields: dict, labels: dict | None = None) -> Struct:
    """One row as docker's formatter context of that type, with ``.Label "key"`` when the row
    has labels."""
    if labels is not None:
        fields = {**fields, "Label": lambda name: labels.get(name, "")}
    return Struct(type_name, fields, context=True)


def format_rows(fmt: str, rows: list[Struct], header: dict[str, str]) -> str:
    """docker's Context.Write: 'json' as {{json .}}, 'table …' with a header row and columns
    aligned by tabwriter, else one rendering per row; everything or nothing."""
    from .funcs import DOCKER_HEADER
    table = fmt.startswith("table")
    text = fmt[len("table"):] if table else "{{json .}}" if fmt == "json" else fmt
    text = text.strip(" ").replace("\\t", "\t").replace("\\n", "\n")
    tmpl = template(text)
    try:
        body = "".join(tmpl.execute(r, TYPED) + "\n" for r in rows)
    except ExecError as e:
        raise FormatError(f"template parsing error: {e}") from None
    if not table:
        return body
    from .tabwriter import tabwrite
    heads = Struct("formatter.SubHeaderContext", {**header, "Label": _label_header}, is_map=True)
    head = tmpl.execute(heads, TYPED, funcs=DOCKER_HEADER, partial=True)
    return tabwrite(head + "\n" + body)


def go_time(value, seconds: bool = False) -> str:
    """Go's time.Time.String() in local time, as docker's CreatedAt columns print:
    '2026-05-13 02:21:49 +0000 UTC' (RFC 3339 text or seconds since the epoch in; ``seconds``
    drops the fraction, as docker's ps and images, which get whole seconds, show it)."""
    from datetime import datetime, timezone
    if isinstance(value, (int, float)):
        t, nanos = datetime.fromtimestamp(value, timezone.utc), ""
    else:
        v = (value or "0001-01-01T00:00:00Z").rstrip("Z")
        head, _, frac = v.partition(".")
        t = datetime.fromisoformat(head).replace(tzinfo=timezone.utc)
        frac = frac.split("+")[0].split("-")[0].rstrip("0")
        nanos = "." + frac if frac and not seconds else ""
    local = t.astimezone() if t.year > 1 else t
    return f"{local.year:04d}" + local.strftime("-%m-%d %H:%M:%S") + nanos + \
        local.strftime(" %z %Z")


# --- inspect ----------------------------------------------------------------------------------

# Fields docker's typed structs have but its JSON leaves out when empty (omitempty), with the
# zero value docker's templates see for them (github.com/moby/moby api/types: container, image,
# network, mount), so that {{with .State.Health}} or {{.Config.StopSignal}} work on berth's JSON.
INSPECT_ZERO = {
    "Health": None, "SizeRw": None, "SizeRootFs": None, "Healthcheck": None,
    "StopTimeout": None, "Descriptor": None, "ExposedPorts": NIL_MAP, "Shell": NIL_SLICE,
    "OnBuild": NIL_SLICE, "Manifests": NIL_SLICE, "Peers": NIL_SLICE, "Services": NIL_MAP,
    "AuxiliaryAddresses": NIL_MAP, "StopSignal": "", "MacAddress": "", "Domainname": "",
    "Name": "", "Driver": "", "IPRange": "", "Gateway": "", "Parent": "", "Comment": "",
    "DockerVersion": "", "Author": "", "Variant": "", "OsVersion": "", "ArgsEscaped": False,
    "NetworkDisabled": False,
}
# Fields that are slices or maps in docker's structs: a null there prints [] or map[]
INSPECT_NIL_SLICES = {
    "Args", "Entrypoint", "Cmd", "Env", "Shell", "OnBuild", "Binds", "VolumesFrom", "CapAdd",
    "CapDrop", "Dns", "DnsSearch", "DnsOptions", "ExtraHosts", "GroupAdd", "SecurityOpt",
    "Links", "Ulimits", "Devices", "DeviceRequests", "DeviceCgroupRules", "BlkioWeightDevice",
    "BlkioDeviceReadBps", "BlkioDeviceWriteBps", "BlkioDeviceReadIOps", "BlkioDeviceWriteIOps",
    "Aliases", "DNSNames", "SecondaryIPAddresses", "SecondaryIPv6Addresses", "Mounts",
    "ExecIDs", "Layers", "RepoTags", "RepoDigests", "MaskedPaths", "ReadonlyPaths",
    "ConsoleSize", "Log",
}
INSPECT_NIL_MAPS = {
    "Volumes", "ExposedPorts", "Labels", "Sysctls", "StorageOpt", "Tmpfs", "PortBindings",
    "Ports", "Networks", "DriverOpts", "Options", "Annotations", "Containers", "Data",
}
INSPECT_TYPED = Policy("typed", INSPECT_ZERO, INSPECT_NIL_SLICES, INSPECT_NIL_MAPS)
INSPECT_RAW = Policy("raw")


def format_inspect(fmt: str, objects: list) -> str:
    """docker inspect -f: each object through the template (no \\t replacing, as docker), first
    as docker's typed structs, then, if that fails, as raw JSON; 'json' as one JSON array."""
    if fmt == "json":
        from .gofmt import go_json
        return go_json(list(objects)) + "\n"
    tmpl = template(fmt, parse_exit=64)
    out = []
    for obj in objects:
        try:
            out.append(tmpl.execute(obj, INSPECT_TYPED))
        except ExecError:
            try:
                out.append(tmpl.execute(obj, INSPECT_RAW))
            except ExecError as e:
                raise FormatError(f"template parsing error: {e}") from None
    return "".join(o + "\n" for o in out)
