"""Docker's JSON <-> berth's models: container create bodies into ContainerConfig, containers
and images into the list entries Docker returns, and Docker's filter encodings.

Flag values go through engine.options (and the volumes and network parsers), so a bad memory
size or port reads as it does on berth's command line. Fields berth does not know are ignored,
as Docker ignores them; fields it knows but cannot honour are refused with a sentence.
"""

from __future__ import annotations

import time

from ..clock import human_duration
from ..errors import InvalidArgument
from ..models import ContainerConfig, Mount, Resources, Ulimit
from ..shapes import CONTAINER_SUMMARY, complete
from ..runtime.names import shown

# HostConfig fields berth cannot honour, with the value(s) that mean "not used"
_UNSUPPORTED = {
    "Runtime": ("", "runc"), "Isolation": ("", "default"),
    "DeviceRequests": ((),), "KernelMemory": (0,),
    "CpuRealtimePeriod": (0,), "CpuRealtimeRuntime": (0,), "StorageOpt": ({},),
}


def parse_filters(text: str | None) -> dict[str, list[str]]:
    """Docker's ``filters`` query: ``{"k": ["v"]}`` or the older ``{"k": {"v": true}}``."""
    if not text:
        return {}
    from .bodies import parse
    try:
        raw = parse(text.encode("utf-8", "surrogatepass"))
    except InvalidArgument:
        raise InvalidArgument(f"invalid filter: {shown(text)}") from None
    out: dict[str, list[str]] = {}
    for key, values in raw.items():
        if isinstance(values, dict):
            values = [v for v, on in values.items() if on is True]
        elif isinstance(values, str) or values is None:
            values = [values] if values else []
        if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
            raise InvalidArgument(f"invalid filter '{shown(key)}': give a list of strings, as "
                                  '{"label": ["a=b"]}')
        out[key] = values
    return out


def query_int(query, name: str, default, low: int = -(1 << 63), high: int = (1 << 63) - 1):
    """An integer query parameter (``?t=10``), ``default`` when absent; 400 with Go's
    strconv message when it is not a number from ``low`` to ``high``."""
    value = query.get(name)
    if value in (None, ""):
        return default
    text = value.strip()
    digits = text[1:] if text[:1] in "+-" else text
    n = int(text) if digits.isdigit() and digits.isascii() and len(digits) <= 19 else None
    if n is None or not low <= n <= high:
        reason = "value out of range" if digits.isdigit() else "invalid syntax"
        raise InvalidArgument(f'invalid value for "{shown(name)}": strconv.Atoi: parsing '
                              f'"{shown(value)}": {reason}')
    return n


def query_tty_size(query) -> tuple[int, int]:
    """(rows, cols) of a resize request (``?h=24&w=80``): a terminal's size is 16 bits each."""
    return (query_int(query, "h", 0, 0, 65535), query_int(query, "w", 0, 0, 65535))


def query_time(value: str | None) -> float | None:
    """A ``since``/``until`` query parameter as seconds since the epoch (None for none)."""
    import math
    if value in (None, "", "0"):
        return None
    from ..events import parse_timestamp
    try:
        seconds = parse_timestamp(value)
    except (OverflowError, OSError, ValueError):
        seconds = math.nan
    if not math.isfinite(seconds):
        raise InvalidArgument(f"invalid time '{shown(value)}': use a Unix timestamp, RFC 3339 "
                              "(2024-05-01T10:00:00Z) or a duration like 10m")
    return seconds


def boolean(value: str | None, default: bool = False) -> bool:
    """A query flag as Docker reads it: 1/true/True are true, 0/false/"" false."""
    if value is None:
        return default
    return value.lower() not in ("", "0", "false", "no")


def _strslice(value) -> list[str]:
    if value is None:
        return []
    return [value] if isinstance(value, str) else [str(v) for v in value]


def _refuse_unsupported(host: dict) -> None:
    for key, unused in _UNSUPPORTED.items():
        value = host.get(key)
        if value is None:
            continue
        if isinstance(value, (list, tuple)) and () in unused and not value:
            continue
        if value in unused or (value == {} and {} in unused):
            continue
        raise InvalidArgument(f"HostConfig.{key} is not supported by berth (got {value!r})")
    log = host.get("LogConfig") or {}
    if log.get("Type") not in (None, "", "json-file", "none"):
        raise InvalidArgument(f"log driver {log.get('Type')!r} is not supported: use json-file")


def _resources(host: dict) -> Resources:
    from .. import options
    mem, swap, reservation = options.parse_memory(host.get("Memory") or None,
                                                  host.get("MemorySwap") or None,
                                                  host.get("MemoryReservation") or None)
    nano = int(host.get("NanoCpus") or 0)
    if nano:
        options.parse_cpus(f"{nano}/1000000000")   # Docker's range check and message
    pids = host.get("PidsLimit")
    return Resources(memory=mem, memory_swap=swap, memory_reservation=reservation,
                     nano_cpus=nano, cpu_shares=int(host.get("CpuShares") or 0),
                     cpu_period=int(host.get("CpuPeriod") or 0),
                     cpu_quota=int(host.get("CpuQuota") or 0),
                     cpuset_cpus=host.get("CpusetCpus") or "",
                     cpuset_mems=host.get("CpusetMems") or "",
                     pids_limit=options.parse_pids_limit(pids) if pids else 0,
                     blkio_weight=int(host.get("BlkioWeight") or 0),
                     oom_kill_disable=bool(host.get("OomKillDisable")),
                     **_block_devices(host))


# HostConfig's per-device block I/O lists, through the command line's parsers and messages
_BLOCK_DEVICES = {"BlkioWeightDevice": ("blkio_weight_device", "Weight"),
                  "BlkioDeviceReadBps": ("device_read_bps", "Rate"),
                  "BlkioDeviceWriteBps": ("device_write_bps", "Rate"),
                  "BlkioDeviceReadIOps": ("device_read_iops", "Rate"),
                  "BlkioDeviceWriteIOps": ("device_write_iops", "Rate")}


def _block_devices(host: dict) -> dict:
    from .. import resource_options as options
    out = {}
    for key, (field, value_key) in _BLOCK_DEVICES.items():
        entries = host.get(key) or []
        if not isinstance(entries, list):
            raise InvalidArgument(f"HostConfig.{key} must be a list of {{Path, {value_key}}}")
        flag = "--" + field.replace("_", "-")
        parse = (options.parse_weight_device if field == "blkio_weight_device" else
                 options.parse_throttle_bps if field.endswith("bps") else
                 options.parse_throttle_iops)
        specs = [f"{(e or {}).get('Path', '')}:{(e or {}).get(value_key, '')}" for e in entries]
        out[field] = [parse(spec) if parse is options.parse_weight_device else parse(spec, flag)
                      for spec in specs]
    return out


def _mount(m: dict) -> Mount:
    """One HostConfig.Mounts entry, through the --mount parser (same checks, same messages)."""
    from ..volumes import parse_mount
    kind = (m.get("Type") or "volume").lower()
    parts = [f"type={kind}"]
    if m.get("Source"):
        parts.append(f"source={m['Source']}")
    parts.append(f"target={m.get('Target', '')}")
    if m.get("ReadOnly"):
        parts.append("readonly")
    bind = m.get("BindOptions") or {}
    if bind.get("Propagation"):
        parts.append(f"bind-propagation={bind['Propagation']}")
    vol = m.get("VolumeOptions") or {}
    if vol.get("NoCopy"):
        parts.append("volume-nocopy")
    if vol.get("Subpath"):
        parts.append(f"volume-subpath={vol['Subpath']}")   # API 1.45
    tmpfs = m.get("TmpfsOptions") or {}
    if tmpfs.get("SizeBytes"):
        parts.append(f"tmpfs-size={tmpfs['SizeBytes']}")
    if tmpfs.get("Mode"):
        parts.append(f"tmpfs-mode={tmpfs['Mode']:o}")
    return parse_mount(",".join(parts))


def _ports(bindings: dict) -> list:
    from ..network.ports import parse_publish
    out = []
    for key, binds in (bindings or {}).items():
        port = key if "/" in key else f"{key}/tcp"
        for b in binds or [{}]:
            ip, host = (b or {}).get("HostIp") or "", (b or {}).get("HostPort") or ""
            ip = f"[{ip}]" if ":" in ip else ip
            spec = f"{ip}:{host}:{port}" if ip else (f"{host}:{port}" if host else port)
            out += parse_publish(spec)
    return out


def container_config(body: dict) -> tuple[ContainerConfig, bool]:
    """(ContainerConfig, entrypoint_set) from a ``POST /containers/create`` body."""
    from .. import options
    from ..healthconfig import from_docker
    from ..resource_options import parse_oom_score_adj
    host = body.get("HostConfig") or {}
    _refuse_unsupported(host)
    if not body.get("Image"):
        raise InvalidArgument("Config.Image is required")
    entrypoint = body.get("Entrypoint")
    restart = host.get("RestartPolicy") or {}
    policy = restart.get("Name") or "no"
    if restart.get("MaximumRetryCount"):
        policy += f":{restart['MaximumRetryCount']}"
    network = host.get("NetworkMode") or "bridge"
    if network == "default":
        network = "bridge"
    if body.get("NetworkDisabled"):
        network = "none"
    stop_signal = body.get("StopSignal")
    log = host.get("LogConfig") or {}
    config = ContainerConfig(
        image=body["Image"], cmd=_strslice(body.get("Cmd")),
        entrypoint=_strslice(entrypoint) if entrypoint is not None else [],
        env=[str(e) for e in body.get("Env") or []], workdir=body.get("WorkingDir") or "",
        user=body.get("User") or "", hostname=body.get("Hostname") or "",
        domainname=body.get("Domainname") or "", labels=dict(body.get("Labels") or {}),
        tty=bool(body.get("Tty")), open_stdin=bool(body.get("OpenStdin")),
        stop_signal=options.parse_stop_signal(stop_signal) if stop_signal else "SIGTERM",
        stop_timeout=body.get("StopTimeout"),
        exposed_ports=[p if "/" in p else f"{p}/tcp" for p in body.get("ExposedPorts") or {}],
        init=bool(host.get("Init")), auto_remove=bool(host.get("AutoRemove")),
        restart_policy=options.parse_restart(policy), resources=_resources(host),
        ulimits=[Ulimit(u.get("Name") or "", u.get("Soft") or 0, u.get("Hard") or 0)
                 for u in host.get("Ulimits") or []],
        network_mode=network, publish_all=bool(host.get("PublishAllPorts")),
        read_only=bool(host.get("ReadonlyRootfs")), cap_add=list(host.get("CapAdd") or []),
        cap_drop=list(host.get("CapDrop") or []), privileged=bool(host.get("Privileged")),
        security_opt=list(host.get("SecurityOpt") or []),
        devices=[":".join(x for x in (d.get("PathOnHost", ""), d.get("PathInContainer", ""),
                                       d.get("CgroupPermissions", "")) if x)
                 for d in host.get("Devices") or []],
        sysctls=dict(host.get("Sysctls") or {}), group_add=list(host.get("GroupAdd") or []),
        userns=host.get("UsernsMode") or "", dns=list(host.get("Dns") or []),
        dns_search=list(host.get("DnsSearch") or []),
        dns_options=list(host.get("DnsOptions") or []),
        extra_hosts=list(host.get("ExtraHosts") or []), mac_address=body.get("MacAddress") or "",
        log_opts=options.parse_log_opts([f"{k}={v}" for k, v in
                                         (log.get("Config") or {}).items()]),
        log_driver=log.get("Type") or "json-file",
        volumes_from=list(host.get("VolumesFrom") or []),
        oom_score_adj=parse_oom_score_adj(host.get("OomScoreAdj") or 0),
        healthcheck=from_docker(body.get("Healthcheck")), shell=_strslice(body.get("Shell")))
    for u in config.ulimits:
        options.parse_ulimit(f"{u.name}={u.soft}:{u.hard}")
    if host.get("ShmSize"):
        config.shm_size = int(host["ShmSize"])
    if config.restart_policy.name != "no" and config.auto_remove:
        raise InvalidArgument("Conflicting options: RestartPolicy and AutoRemove")
    if network not in ("bridge", "none", "host") and not network.startswith("container:"):
        config.networks = [network]
    endpoints = (body.get("NetworkingConfig") or {}).get("EndpointsConfig") or {}
    for name, ep in endpoints.items():
        ep = ep or {}
        if name not in config.networks and name not in ("bridge", "default", network):
            config.networks.append(name)
        config.aliases += [a for a in ep.get("Aliases") or [] if a not in config.aliases]
        ipam = ep.get("IPAMConfig") or {}
        if ipam.get("IPv4Address"):
            config.ip_address = ipam["IPv4Address"]
    config.ports = _ports(host.get("PortBindings"))
    _namespaces(config, host)
    config.mounts = _mounts(body, host)
    return config, entrypoint is not None


def _namespaces(config: ContainerConfig, host: dict) -> None:
    """PidMode, IpcMode, UTSMode, CgroupParent, Links (engine/runtime/namespaces.py checks
    them) and VolumeDriver, of which only local exists."""
    config.pid_mode = host.get("PidMode") or ""
    config.ipc_mode = host.get("IpcMode") or ""
    config.uts_mode = host.get("UTSMode") or ""
    config.cgroup_parent = host.get("CgroupParent") or ""
    config.links = list(host.get("Links") or [])
    driver = host.get("VolumeDriver") or ""
    if driver not in ("", "local"):
        raise InvalidArgument(f'error looking up volume plugin {driver}: plugin "{driver}" '
                              "not found")


def _mounts(body: dict, host: dict) -> list[Mount]:
    from ..volumes import parse_tmpfs, parse_volume
    mounts = [parse_volume(b) for b in host.get("Binds") or []]
    mounts += [_mount(m) for m in host.get("Mounts") or []]
    mounts += [parse_tmpfs(f"{t}:{o}" if o else t) for t, o in (host.get("Tmpfs") or {}).items()]
    targets = {m.target for m in mounts}
    # Config.Volumes not covered by a bind or mount are anonymous volumes (compose sends both)
    mounts += [parse_volume(v) for v in body.get("Volumes") or {} if v not in targets]
    return mounts


# --- models -> Docker's list entries ------------------------------------------------------------

def epoch(rfc3339: str) -> int:
    if not rfc3339:
        return 0
    from ..runtime.filters import rfc3339_seconds
    try:
        return int(rfc3339_seconds(rfc3339))
    except (ValueError, TypeError):
        return 0




def status_text(c) -> str:
    s = c.state
    now = time.time()
    if s.status in ("running", "paused"):
        text = "Up " + human_duration(now - epoch(s.started_at))
        if s.status == "paused":
            return text + " (Paused)"
        return f"{text} ({s.health.label()})" if s.health else text
    if s.status == "restarting":
        return f"Restarting ({s.exit_code}) {human_duration(now - epoch(s.finished_at))} ago"
    if s.status == "exited":
        if s.finished_at:
            return f"Exited ({s.exit_code}) {human_duration(now - epoch(s.finished_at))} ago"
        return f"Exited ({s.exit_code})"
    if s.status == "removing":
        return "Removal In Progress"
    return "Dead" if s.status == "dead" else "Created"


def container_summary(c, networks: dict | None = None) -> dict:
    """One entry of ``GET /containers/json``."""
    ports = []
    for p in (c.state.ports if c.running else []):
        ports.append({"IP": p.host_ip or "0.0.0.0", "PrivatePort": p.container_port,
                      "PublicPort": p.host_port, "Type": p.proto})
    if c.running:
        from ..network.ports import parse_exposed
        bound = {(p["PrivatePort"], p["Type"]) for p in ports}
        for e in c.config.exposed_ports:
            try:
                num, proto = parse_exposed(e)
            except InvalidArgument:
                continue   # recorded before create checked an image's ports ("web/tcp")
            if (num, proto) not in bound:
                ports.append({"PrivatePort": num, "Type": proto})
    # Name and Driver are a volume's only (omitempty in moby's MountPoint)
    mounts = [{"Type": m.type, "Source": m.source, "Destination": m.target, "Mode": "",
               "RW": not m.read_only, "Propagation": "",
               **({"Name": m.source, "Driver": "local"} if m.type == "volume" else {})}
              for m in c.config.mounts]
    from ..inspect import _network_settings
    nets = _network_settings(c).get("Networks") or {}
    command = " ".join([*c.config.entrypoint, *c.config.cmd])
    return complete({"Id": c.id, "Names": ["/" + c.name], "Image": c.config.image,
            "ImageID": c.config.image_id, "Command": command, "Created": epoch(c.created),
            "Ports": ports, "Labels": c.config.labels, "State": c.state.status,
            "Status": status_text(c), "HostConfig": {"NetworkMode": c.config.network_mode},
            "NetworkSettings": {"Networks": nets}, "Mounts": mounts}, CONTAINER_SUMMARY)


def familiar(ref: str) -> str:
    """Docker's short form of a normalised reference (docker.io/library/busybox:1 -> busybox:1)."""
    from ..images.reference import familiar as short
    return short(ref)


def image_summary(img, containers: int = -1, version: tuple[int, int] = (1, 45)) -> dict:
    """One entry of ``GET /images/json`` (VirtualSize only before API 1.44, as dockerd)."""
    return {"Id": img.id, "ParentId": img.parent,
            "RepoTags": [familiar(t) for t in img.repo_tags],
            "RepoDigests": [familiar(d) for d in img.repo_digests], "Created": epoch(img.created),
            "Size": img.size, "SharedSize": -1,
            **({"VirtualSize": img.size} if version < (1, 44) else {}),
            "Labels": (img.config or {}).get("Labels") or None, "Containers": containers}
