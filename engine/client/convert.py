"""Docker Engine API answers as berth's models, and berth's ContainerConfig as a create body:
a remote engine returns the same models as the local one, so the CLI and the dashboard draw
them the same way."""

from __future__ import annotations

import time
from datetime import datetime, timezone

from ..models import (Container, ContainerConfig, ContainerState, Health, HealthResult, Image,
                      Mount, Network, Port, Resources, RestartPolicy, StatsSample, Volume)

ZERO_TIME = "0001-01-01T00:00:00Z"


def _time(value) -> str:
    """RFC 3339 for what the API gives (RFC 3339 already, or seconds since the epoch)."""
    if isinstance(value, (int, float)):
        return datetime.fromtimestamp(value, timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    return "" if not value or value.startswith("0001-01-01") else value


def _ports(bindings: dict | None) -> list[Port]:
    out = []
    for key, hosts in (bindings or {}).items():
        number, _, proto = key.partition("/")
        for h in hosts or []:
            out.append(Port(int(number), proto or "tcp", h.get("HostIp") or "",
                            int(h.get("HostPort") or 0)))
    return out


def _mount(m: dict) -> Mount:
    kind = m.get("Type") or "bind"
    source = m.get("Name") if kind == "volume" else m.get("Source")
    return Mount(kind, m.get("Destination") or "", source or "", read_only=not m.get("RW", True))


def container(data: dict) -> Container:
    """A Container from ``GET /containers/{id}/json``."""
    cfg, host = data.get("Config") or {}, data.get("HostConfig") or {}
    st, net = data.get("State") or {}, data.get("NetworkSettings") or {}
    restart = host.get("RestartPolicy") or {}
    config = ContainerConfig(
        image=cfg.get("Image") or "", image_id=data.get("Image") or "",
        cmd=list(cfg.get("Cmd") or []), entrypoint=list(cfg.get("Entrypoint") or []),
        env=list(cfg.get("Env") or []), workdir=cfg.get("WorkingDir") or "",
        user=cfg.get("User") or "", hostname=cfg.get("Hostname") or "",
        domainname=cfg.get("Domainname") or "", labels=dict(cfg.get("Labels") or {}),
        tty=bool(cfg.get("Tty")), open_stdin=bool(cfg.get("OpenStdin")),
        stop_signal=cfg.get("StopSignal") or "SIGTERM", stop_timeout=cfg.get("StopTimeout"),
        exposed_ports=list(cfg.get("ExposedPorts") or {}),
        init=bool(host.get("Init")), auto_remove=bool(host.get("AutoRemove")),
        restart_policy=RestartPolicy(restart.get("Name") or "no",
                                     restart.get("MaximumRetryCount") or 0),
        resources=Resources(memory=host.get("Memory") or 0,
                            memory_swap=host.get("MemorySwap") or 0,
                            memory_reservation=host.get("MemoryReservation") or 0,
                            nano_cpus=host.get("NanoCpus") or 0,
                            cpu_shares=host.get("CpuShares") or 0,
                            cpu_period=host.get("CpuPeriod") or 0,
                            cpu_quota=host.get("CpuQuota") or 0,
                            cpuset_cpus=host.get("CpusetCpus") or "",
                            cpuset_mems=host.get("CpusetMems") or "",
                            pids_limit=host.get("PidsLimit") or 0,
                            blkio_weight=host.get("BlkioWeight") or 0),
        network_mode=host.get("NetworkMode") or "bridge",
        networks=[n for n in (net.get("Networks") or {})
                  if n not in ("bridge", "host", "none", host.get("NetworkMode"))],
        ports=_ports(host.get("PortBindings")), publish_all=bool(host.get("PublishAllPorts")),
        mounts=[_mount(m) for m in data.get("Mounts") or []],
        read_only=bool(host.get("ReadonlyRootfs")), privileged=bool(host.get("Privileged")),
        cap_add=list(host.get("CapAdd") or []), cap_drop=list(host.get("CapDrop") or []),
        log_driver=(host.get("LogConfig") or {}).get("Type") or "json-file")
    status = st.get("Status") or "created"
    health = st.get("Health")
    state = ContainerState(
        status=status, pid=st.get("Pid") or 0, exit_code=st.get("ExitCode") or 0,
        oom_killed=bool(st.get("OOMKilled")), error=st.get("Error") or "",
        started_at=_time(st.get("StartedAt")), finished_at=_time(st.get("FinishedAt")),
        restart_count=data.get("RestartCount") or 0,
        networks={name: {"ip": (ep or {}).get("IPAddress") or "",
                         "gateway": (ep or {}).get("Gateway") or "",
                         "mac": (ep or {}).get("MacAddress") or ""}
                  for name, ep in (net.get("Networks") or {}).items()},
        ports=_ports(net.get("Ports")),
        health=Health(health.get("Status") or "starting", health.get("FailingStreak") or 0,
                      [HealthResult(r.get("Start") or "", r.get("End") or "",
                                    r.get("ExitCode") or 0, r.get("Output") or "")
                       for r in health.get("Log") or []]) if health else None)
    return Container(data.get("Id") or "", (data.get("Name") or "").lstrip("/"),
                     _time(data.get("Created")), config, state)


def create_body(config: ContainerConfig, entrypoint_set: bool = False) -> dict:
    """``POST /containers/create``'s body for what ``berth run``'s flags decided."""
    k, r = config, config.resources
    binds = [f"{m.source}:{m.target}{':ro' if m.read_only else ''}"
             for m in k.mounts if m.type in ("bind", "volume") and m.source]
    anonymous = {m.target: {} for m in k.mounts if m.type == "volume" and not m.source}
    bindings: dict = {}
    for p in k.ports:
        bindings.setdefault(f"{p.container_port}/{p.proto}", []).append(
            {"HostIp": p.host_ip, "HostPort": str(p.host_port) if p.host_port else ""})
    host = {
        "AutoRemove": k.auto_remove, "Binds": binds or None, "NetworkMode": k.network_mode,
        "RestartPolicy": {"Name": k.restart_policy.name,
                          "MaximumRetryCount": k.restart_policy.max_retries},
        "PortBindings": bindings, "PublishAllPorts": k.publish_all,
        "Privileged": k.privileged, "ReadonlyRootfs": k.read_only,
        "CapAdd": k.cap_add or None, "CapDrop": k.cap_drop or None,
        "SecurityOpt": k.security_opt or None, "ExtraHosts": k.extra_hosts or None,
        "Dns": k.dns or None, "DnsSearch": k.dns_search or None,
        "Tmpfs": {m.target: ",".join(m.options) for m in k.mounts if m.type == "tmpfs"} or None,
        "Memory": r.memory, "MemorySwap": r.memory_swap, "MemoryReservation": r.memory_reservation,
        "NanoCpus": r.nano_cpus, "CpuShares": r.cpu_shares, "CpuPeriod": r.cpu_period,
        "CpuQuota": r.cpu_quota, "CpusetCpus": r.cpuset_cpus, "CpusetMems": r.cpuset_mems,
        "PidsLimit": r.pids_limit or None, "ShmSize": k.shm_size,
        "Ulimits": [{"Name": u.name, "Soft": u.soft, "Hard": u.hard} for u in k.ulimits] or None,
        "LogConfig": {"Type": k.log_driver, "Config": k.log_opts},
        "Sysctls": k.sysctls or None, "GroupAdd": k.group_add or None,
        **({"Init": True} if k.init else {}),
    }
    body = {
        "Image": k.image, "Cmd": k.cmd or None, "Env": k.env or None,
        "WorkingDir": k.workdir, "User": k.user, "Hostname": k.hostname,
        "Domainname": k.domainname, "Labels": k.labels, "Tty": k.tty,
        "OpenStdin": k.open_stdin, "StdinOnce": k.open_stdin, "AttachStdin": k.open_stdin,
        "AttachStdout": True, "AttachStderr": True,
        "ExposedPorts": {p: {} for p in k.exposed_ports} or None,
        "Volumes": anonymous or None, "HostConfig": host,
        **({"StopSignal": k.stop_signal} if k.stop_signal != "SIGTERM" else {}),
        **({"StopTimeout": k.stop_timeout} if k.stop_timeout is not None else {}),
    }
    if k.entrypoint or entrypoint_set:
        body["Entrypoint"] = k.entrypoint
    if k.healthcheck is not None:
        h = k.healthcheck
        body["Healthcheck"] = {"Test": h.test, "Interval": h.interval, "Timeout": h.timeout,
                               "StartPeriod": h.start_period, "Retries": h.retries}
    if k.networks:
        body["NetworkingConfig"] = {"EndpointsConfig": {
            n: {"Aliases": k.aliases or None} for n in k.networks}}
    return body


def image(data: dict) -> Image:
    """An Image from ``GET /images/json`` (a summary) or ``GET /images/{ref}/json``."""
    cfg = data.get("Config") or {}
    return Image(
        id=data.get("Id") or "", repo_tags=[t for t in data.get("RepoTags") or []
                                            if t != "<none>:<none>"],
        repo_digests=[d for d in data.get("RepoDigests") or [] if d != "<none>@<none>"],
        created=_time(data.get("Created")), size=data.get("Size") or 0,
        architecture=data.get("Architecture") or "amd64", os=data.get("Os") or "linux",
        config={"Env": cfg.get("Env"), "Cmd": cfg.get("Cmd"), "Entrypoint": cfg.get("Entrypoint"),
                "WorkingDir": cfg.get("WorkingDir"), "Labels": cfg.get("Labels") or data.get("Labels"),
                "ExposedPorts": cfg.get("ExposedPorts"), "User": cfg.get("User")} if cfg else {},
        diff_ids=list((data.get("RootFS") or {}).get("Layers") or []),
        author=data.get("Author") or "", comment=data.get("Comment") or "",
        parent=data.get("Parent") or "")


def network(data: dict) -> Network:
    ipam = ((data.get("IPAM") or {}).get("Config") or [{}])
    v4 = next((c for c in ipam if ":" not in (c.get("Subnet") or "")), {}) if ipam else {}
    return Network(data.get("Name") or "", data.get("Id") or "", driver=data.get("Driver") or "",
                   subnet=v4.get("Subnet") or "", gateway=v4.get("Gateway") or "",
                   internal=bool(data.get("Internal")), labels=dict(data.get("Labels") or {}),
                   created=_time(data.get("Created")), options=dict(data.get("Options") or {}),
                   ipv6=bool(data.get("EnableIPv6")))


def volume(data: dict) -> Volume:
    return Volume(data.get("Name") or "", driver=data.get("Driver") or "local",
                  mountpoint=data.get("Mountpoint") or "", created=_time(data.get("CreatedAt")),
                  labels=dict(data.get("Labels") or {}), options=dict(data.get("Options") or {}))


def stats_sample(cid: str, name: str, data: dict) -> StatsSample:
    """One reading of ``GET /containers/{id}/stats``, with docker's CPU % from its precpu."""
    cpu, pre = data.get("cpu_stats") or {}, data.get("precpu_stats") or {}
    total = (cpu.get("cpu_usage") or {}).get("total_usage") or 0
    system = cpu.get("system_cpu_usage") or 0
    online = cpu.get("online_cpus") or len((cpu.get("cpu_usage") or {}).get("percpu_usage") or []) or 1
    d_cpu = total - ((pre.get("cpu_usage") or {}).get("total_usage") or 0)
    d_sys = system - (pre.get("system_cpu_usage") or 0)
    percent = d_cpu / d_sys * online * 100.0 if d_cpu > 0 and d_sys > 0 else 0.0
    mem = data.get("memory_stats") or {}
    detail = mem.get("stats") or {}
    cache = detail.get("inactive_file", detail.get("total_inactive_file", 0)) or 0
    usage = max(0, (mem.get("usage") or 0) - cache)
    limit = mem.get("limit") or 0
    rx = tx = rxp = txp = 0
    for n in (data.get("networks") or {}).values():
        rx += n.get("rx_bytes") or 0
        tx += n.get("tx_bytes") or 0
        rxp += n.get("rx_packets") or 0
        txp += n.get("tx_packets") or 0
    read = write = 0
    for e in (data.get("blkio_stats") or {}).get("io_service_bytes_recursive") or []:
        if (e.get("op") or "").lower() == "read":
            read += e.get("value") or 0
        elif (e.get("op") or "").lower() == "write":
            write += e.get("value") or 0
    pids = data.get("pids_stats") or {}
    return StatsSample(cid, name.lstrip("/"), time.monotonic(), cpu_total_ns=total,
                       system_ns=system, online_cpus=online, cpu_percent=percent,
                       memory_usage=usage, memory_limit=limit,
                       memory_percent=usage / limit * 100.0 if limit else 0.0,
                       net_rx=rx, net_tx=tx, net_rx_packets=rxp, net_tx_packets=txp,
                       block_read=read, block_write=write, pids=pids.get("current") or 0,
                       pids_limit=pids.get("limit") or 0)
