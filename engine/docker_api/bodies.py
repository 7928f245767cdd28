"""JSON request bodies read as dockerd reads them: bounded, UTF-8, not too deep, and each field of
the Go type Docker declares, with Go's message when it is not
(``json: cannot unmarshal number into Go struct field ContainerConfig.Image of type string``).

A shape is the Go type written in Python: ``STR``, ``INT64``, ``BOOL``… for scalars, ``[T]``
for a slice, ``{STR: T}`` for a map, ``Struct(name, {field: T})`` for a struct (fields it does not
list are ignored, as Go ignores them), ``STRSLICE`` for Docker's string-or-list (Cmd, Entrypoint)
and ``ANY`` for ``interface{}``. ``null`` is every type's zero value, as in Go. What a field
means is checked later, by the same code as the command line's (translate.py, engine/options.py).
"""

from __future__ import annotations

import json

from ..errors import InvalidArgument

MAX_DEPTH = 64          # the deepest real body (a mount's driver options) is 5 levels
BODY_TIMEOUT = 60.0     # seconds a client has to send a whole JSON body once its head is in


class BodyTooLarge(InvalidArgument):
    """A JSON body over the service's limit (413)."""


class BodyTooSlow(InvalidArgument):
    """A JSON body that did not arrive in BODY_TIMEOUT seconds (408)."""


class Struct:
    """A Go struct: its type name (for messages) and its fields' shapes."""

    __slots__ = ("name", "fields")

    def __init__(self, name: str, fields: dict):
        self.name, self.fields = name, fields


class Scalar:
    """A Go scalar type: its name and, for an integer type, its range."""

    __slots__ = ("name", "low", "high")

    def __init__(self, name: str, low: int | None = None, high: int | None = None):
        self.name, self.low, self.high = name, low, high


STR, BOOL, ANY = Scalar("string"), Scalar("bool"), Scalar("interface {}")
INT64 = Scalar("int64", -(1 << 63), (1 << 63) - 1)
INT = Scalar("int", -(1 << 63), (1 << 63) - 1)
UINT16 = Scalar("uint16", 0, (1 << 16) - 1)
UINT32 = Scalar("uint32", 0, (1 << 32) - 1)
UINT64 = Scalar("uint64", 0, (1 << 64) - 1)
STRSLICE = Scalar("strslice.StrSlice")
# a console size: Go's [2]uint, but a terminal's rows and columns are 16 bits each (TIOCSWINSZ)
CONSOLE = [UINT16]
EMPTY = Struct("struct {}", {})


def _kind(value) -> str:
    """Go's word for a JSON value in its messages."""
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, str):
        return "string"
    if isinstance(value, (int, float)):
        return "number"
    return "array" if isinstance(value, list) else "object"


def _type_name(shape) -> str:
    if isinstance(shape, (Scalar, Struct)):
        return shape.name
    if isinstance(shape, list):
        return "[]" + _type_name(shape[0])
    (key, value), = shape.items()
    return f"map[{_type_name(key)}]{_type_name(value)}"


def _fail(value, shape, struct: str, path: list[str], kind: str | None = None):
    where = f"Go struct field {struct}.{'.'.join(path)}" if path else "Go value"
    raise InvalidArgument(f"json: cannot unmarshal {kind or _kind(value)} into {where} of type "
                          f"{_type_name(shape)}")


def _zero(shape):
    """Go's zero value of ``shape``: what a ``null`` inside a list or map decodes to."""
    if isinstance(shape, Struct) or isinstance(shape, dict):
        return {}
    if isinstance(shape, list):
        return []
    if shape is STR or shape is STRSLICE:
        return ""
    return False if shape is BOOL else None if shape is ANY else 0


def check(value, shape, struct: str = "", path: list[str] | None = None):
    """``value`` (parsed JSON) as Go would decode it into ``shape``: ``null`` items of lists
    and maps become their zero value; InvalidArgument with Go's message where a value is not of
    the type. ``struct`` and ``path`` name where it is, for the message."""
    path = path or []
    if value is None or shape is ANY:
        return value
    if isinstance(shape, Struct):
        if not isinstance(value, dict):
            _fail(value, shape, struct, path)
        # Go matches a field's name case-insensitively (docker-py sends "detachKeys")
        folded = {k.lower(): k for k in shape.fields}
        for key in [k for k in value if k not in shape.fields and k.lower() in folded]:
            value.setdefault(folded[key.lower()], value.pop(key))
        for key, field in shape.fields.items():
            if key in value:
                value[key] = check(value[key], field, shape.name, [*path, key])
    elif isinstance(shape, list):
        if not isinstance(value, list):
            _fail(value, shape, struct, path)
        value[:] = [_zero(shape[0]) if item is None else check(item, shape[0], struct, path)
                    for item in value]
    elif isinstance(shape, dict):
        if not isinstance(value, dict):
            _fail(value, shape, struct, path)
        (_, item_shape), = shape.items()
        for key, item in value.items():
            value[key] = (_zero(item_shape) if item is None
                          else check(item, item_shape, struct, path))
    elif shape is STRSLICE:
        if isinstance(value, list):
            value[:] = ["" if item is None else item for item in value]
            bad = next((item for item in value if not isinstance(item, str)), None)
            if bad is not None:
                _fail(bad, STR, struct, path)
        elif not isinstance(value, str):
            _fail(value, STR, struct, path)
    elif shape is STR:
        if not isinstance(value, str):
            _fail(value, shape, struct, path)
    elif shape is BOOL:
        if not isinstance(value, bool):
            _fail(value, shape, struct, path)
    elif isinstance(value, bool) or not isinstance(value, (int, float)):
        _fail(value, shape, struct, path)
    elif isinstance(value, float) or not shape.low <= value <= shape.high:
        # Go parses the literal into the integer type: 1.5, 1e3 and 2^70 don't fit
        _fail(value, shape, struct, path, f"number {json.dumps(value)}")
    return value


# --- reading ----------------------------------------------------------------------------------

def _refuse_constant(name: str):
    raise ValueError(f"invalid character '{name[0]}' looking for beginning of value")


def _walk(value) -> None:
    """Refuse nesting deeper than MAX_DEPTH and strings with lone surrogates (a \\ud800
    escape: no file, command or terminal takes one)."""
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, str):
            if not item.isascii() and any(0xD800 <= ord(c) <= 0xDFFF for c in item):
                raise InvalidArgument("invalid JSON: a string holds a lone UTF-16 surrogate "
                                      "escape; send text as UTF-8")
            continue
        if isinstance(item, (dict, list)) and depth > MAX_DEPTH:
            raise InvalidArgument(f"invalid JSON: exceeded max depth ({MAX_DEPTH} levels)")
        if isinstance(item, dict):
            stack.extend((k, depth + 1) for k in item)
            stack.extend((v, depth + 1) for v in item.values())
        elif isinstance(item, list):
            stack.extend((v, depth + 1) for v in item)


def parse(data: bytes, shape=None) -> dict:
    """The object in ``data``; InvalidArgument (400) for anything dockerd would not decode,
    and for invalid UTF-8 and nesting beyond MAX_DEPTH, which it would."""
    if not data.strip():
        return {}
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as e:
        raise InvalidArgument(f"invalid JSON: the body is not UTF-8 (byte 0x{data[e.start]:02x} "
                              f"at offset {e.start})") from None
    try:
        value = json.loads(text, parse_constant=_refuse_constant)
    except RecursionError:
        raise InvalidArgument(f"invalid JSON: exceeded max depth ({MAX_DEPTH} levels)") from None
    except ValueError as e:
        raise InvalidArgument(f"invalid JSON: {e}") from None
    _walk(value)
    if shape is not None:
        value = check(value, shape, shape.name if isinstance(shape, Struct) else "")
    if not isinstance(value, dict):
        raise InvalidArgument(f"json: cannot unmarshal {_kind(value)} into Go value of type "
                              f"{shape.name if isinstance(shape, Struct) else 'map'}")
    return value


async def read_json(request, shape=None) -> dict:
    """The request's JSON body, checked against ``shape`` (a Struct): at most the service's
    ``max_body`` bytes (BodyTooLarge, 413, before reading when Content-Length says so), in at
    most BODY_TIMEOUT seconds (BodyTooSlow, 408)."""
    import asyncio   # not at the top: dial-stdio's front parses filters without asyncio
    from aiohttp import web
    from .server import limits_of
    limit = limits_of(request).max_body
    if request.content_length is not None and request.content_length > limit:
        raise too_large(request.content_length, limit)
    if not request.can_read_body:
        return {}
    try:
        data = await asyncio.wait_for(request.read(), BODY_TIMEOUT)
    except web.HTTPRequestEntityTooLarge:
        raise too_large(None, limit) from None
    except asyncio.TimeoutError:
        raise BodyTooSlow(f"the request body did not arrive within {BODY_TIMEOUT:.0f} "
                          "seconds") from None
    return parse(data, shape)


def too_large(size: int | None, limit: int) -> BodyTooLarge:
    said = f"{size} bytes" if size is not None else "more"
    return BodyTooLarge(f"request body too large: {said}, the limit is {limit} bytes for a JSON "
                        "body; start the service with a larger --max-body to allow more")


# --- Docker's types (moby api/types), the fields berth reads or that clients send -------------

_PORT_BINDING = Struct("PortBinding", {"HostIp": STR, "HostPort": STR})
_WEIGHT_DEVICE = Struct("WeightDevice", {"Path": STR, "Weight": UINT16})
_THROTTLE_DEVICE = Struct("ThrottleDevice", {"Path": STR, "Rate": UINT64})
_RESTART_POLICY = Struct("RestartPolicy", {"Name": STR, "MaximumRetryCount": INT})
RESOURCES = {
    "CgroupParent": STR, "BlkioWeight": UINT16, "BlkioWeightDevice": [_WEIGHT_DEVICE],
    "BlkioDeviceReadBps": [_THROTTLE_DEVICE], "BlkioDeviceWriteBps": [_THROTTLE_DEVICE],
    "BlkioDeviceReadIOps": [_THROTTLE_DEVICE], "BlkioDeviceWriteIOps": [_THROTTLE_DEVICE],
    "CpuShares": INT64, "Memory": INT64, "NanoCpus": INT64, "CpuPeriod": INT64,
    "CpuQuota": INT64, "CpuRealtimePeriod": INT64, "CpuRealtimeRuntime": INT64,
    "CpusetCpus": STR, "CpusetMems": STR,
    "Devices": [Struct("DeviceMapping", {"PathOnHost": STR, "PathInContainer": STR,
                                         "CgroupPermissions": STR})],
    "DeviceCgroupRules": [STR], "DeviceRequests": [ANY], "KernelMemory": INT64,
    "KernelMemoryTCP": INT64, "MemoryReservation": INT64, "MemorySwap": INT64,
    "MemorySwappiness": INT64, "OomKillDisable": BOOL, "PidsLimit": INT64,
    "Ulimits": [Struct("Ulimit", {"Name": STR, "Hard": INT64, "Soft": INT64})],
    "CpuCount": INT64, "CpuPercent": INT64, "IOMaximumIOps": UINT64,
    "IOMaximumBandwidth": UINT64,
}
_MOUNT = Struct("Mount", {
    "Type": STR, "Source": STR, "Target": STR, "ReadOnly": BOOL, "Consistency": STR,
    "BindOptions": Struct("BindOptions", {"Propagation": STR, "NonRecursive": BOOL,
                                          "CreateMountpoint": BOOL}),
    "VolumeOptions": Struct("VolumeOptions", {
        "NoCopy": BOOL, "Labels": {STR: STR}, "Subpath": STR,
        "DriverConfig": Struct("Driver", {"Name": STR, "Options": {STR: STR}})}),
    "TmpfsOptions": Struct("TmpfsOptions", {"SizeBytes": INT64, "Mode": UINT32}),
})
HOST_CONFIG = Struct("HostConfig", {
    **RESOURCES,
    "Binds": [STR], "ContainerIDFile": STR,
    "LogConfig": Struct("LogConfig", {"Type": STR, "Config": {STR: STR}}),
    "NetworkMode": STR, "PortBindings": {STR: [_PORT_BINDING]}, "RestartPolicy": _RESTART_POLICY,
    "AutoRemove": BOOL, "VolumeDriver": STR, "VolumesFrom": [STR], "ConsoleSize": CONSOLE,
    "Annotations": {STR: STR}, "CapAdd": STRSLICE, "CapDrop": STRSLICE, "CgroupnsMode": STR,
    "Dns": [STR], "DnsOptions": [STR], "DnsSearch": [STR], "ExtraHosts": [STR],
    "GroupAdd": [STR], "IpcMode": STR, "Cgroup": STR, "Links": [STR], "OomScoreAdj": INT,
    "PidMode": STR, "Privileged": BOOL, "PublishAllPorts": BOOL, "ReadonlyRootfs": BOOL,
    "SecurityOpt": [STR], "StorageOpt": {STR: STR}, "Tmpfs": {STR: STR}, "UTSMode": STR,
    "UsernsMode": STR, "ShmSize": INT64, "Sysctls": {STR: STR}, "Runtime": STR,
    "Isolation": STR, "Mounts": [_MOUNT], "MaskedPaths": [STR], "ReadonlyPaths": [STR],
    "Init": BOOL,
})
ENDPOINT_SETTINGS = Struct("EndpointSettings", {
    "IPAMConfig": Struct("EndpointIPAMConfig", {"IPv4Address": STR, "IPv6Address": STR,
                                                "LinkLocalIPs": [STR]}),
    "Links": [STR], "Aliases": [STR], "MacAddress": STR, "DriverOpts": {STR: STR},
    "NetworkID": STR, "EndpointID": STR, "Gateway": STR, "IPAddress": STR, "IPPrefixLen": INT,
    "IPv6Gateway": STR, "GlobalIPv6Address": STR, "GlobalIPv6PrefixLen": INT,
    "DNSNames": [STR],
})
_CONFIG_FIELDS = {
    "Hostname": STR, "Domainname": STR, "User": STR, "AttachStdin": BOOL, "AttachStdout": BOOL,
    "AttachStderr": BOOL, "ExposedPorts": {STR: EMPTY}, "Tty": BOOL, "OpenStdin": BOOL,
    "StdinOnce": BOOL, "Env": [STR], "Cmd": STRSLICE,
    "Healthcheck": Struct("HealthConfig", {"Test": [STR], "Interval": INT64, "Timeout": INT64,
                                           "StartPeriod": INT64, "StartInterval": INT64,
                                           "Retries": INT}),
    "ArgsEscaped": BOOL, "Image": STR, "Volumes": {STR: EMPTY}, "WorkingDir": STR,
    "Entrypoint": STRSLICE, "NetworkDisabled": BOOL, "MacAddress": STR, "OnBuild": [STR],
    "Labels": {STR: STR}, "StopSignal": STR, "StopTimeout": INT, "Shell": STRSLICE,
}
CONTAINER_CREATE = Struct("ContainerConfig", {
    **_CONFIG_FIELDS, "HostConfig": HOST_CONFIG,
    "NetworkingConfig": Struct("NetworkingConfig", {"EndpointsConfig": {STR: ENDPOINT_SETTINGS}}),
})
CONTAINER_UPDATE = Struct("UpdateConfig", {**RESOURCES, "RestartPolicy": _RESTART_POLICY})
NETWORK_CREATE = Struct("CreateRequest", {
    "Name": STR, "CheckDuplicate": BOOL, "Driver": STR, "Scope": STR, "EnableIPv6": BOOL,
    "EnableIPv4": BOOL, "Internal": BOOL, "Attachable": BOOL, "Ingress": BOOL,
    "ConfigOnly": BOOL, "ConfigFrom": Struct("ConfigReference", {"Network": STR}),
    "Options": {STR: STR}, "Labels": {STR: STR},
    "IPAM": Struct("IPAM", {"Driver": STR, "Options": {STR: STR},
                            "Config": [Struct("IPAMConfig", {
                                "Subnet": STR, "IPRange": STR, "Gateway": STR,
                                "AuxiliaryAddresses": {STR: STR}})]}),
})
NETWORK_CONNECT = Struct("NetworkConnect", {"Container": STR,
                                            "EndpointConfig": ENDPOINT_SETTINGS})
NETWORK_DISCONNECT = Struct("NetworkDisconnect", {"Container": STR, "Force": BOOL})
VOLUME_CREATE = Struct("CreateOptions", {"Name": STR, "Driver": STR, "DriverOpts": {STR: STR},
                                         "Labels": {STR: STR}, "ClusterVolumeSpec": ANY})
EXEC_CONFIG = Struct("ExecConfig", {
    "User": STR, "Privileged": BOOL, "Tty": BOOL, "ConsoleSize": CONSOLE, "AttachStdin": BOOL,
    "AttachStderr": BOOL, "AttachStdout": BOOL, "Detach": BOOL, "DetachKeys": STR,
    "Env": [STR], "WorkingDir": STR, "Cmd": [STR],
})
EXEC_START = Struct("ExecStartCheck", {"Detach": BOOL, "Tty": BOOL, "ConsoleSize": CONSOLE})
AUTH_CONFIG = Struct("AuthConfig", {
    "username": STR, "password": STR, "auth": STR, "email": STR, "serveraddress": STR,
    "identitytoken": STR, "registrytoken": STR,
})
