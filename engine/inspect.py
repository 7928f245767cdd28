"""Docker-shaped ``inspect`` for containers, built from the models (nothing here touches the kernel)."""

from __future__ import annotations

from .models import Container
from .runtime import security
from .shapes import CONTAINER, complete
from .runtime.namespaces import host_config as host_namespaces


def _state(c: Container) -> dict:
    s = c.state
    return {"Status": s.status, "Running": s.status in ("running", "paused"),
            "Paused": s.status == "paused", "Restarting": s.status == "restarting",
            "OOMKilled": s.oom_killed, "Dead": s.status == "dead", "Pid": s.pid,
            "ExitCode": s.exit_code, "Error": s.error,
            "StartedAt": s.started_at or "0001-01-01T00:00:00Z",
            "FinishedAt": s.finished_at or "0001-01-01T00:00:00Z", **_health(s.health)}


def _health(h) -> dict:
    """State.Health, present once a container with a healthcheck has started (as Docker's)."""
    if h is None:
        return {}
    return {"Health": {"Status": h.status, "FailingStreak": h.failing_streak,
                       "Log": [{"Start": r.start, "End": r.end, "ExitCode": r.exit_code,
                                "Output": r.output} for r in h.log]}}


def _config(c: Container) -> dict:
    from .healthconfig import to_docker
    k = c.config
    return {"Hostname": k.hostname or c.id[:12], "Domainname": k.domainname, "User": k.user,
            "AttachStdin": k.open_stdin, "AttachStdout": True, "AttachStderr": True,
            "ExposedPorts": {p: {} for p in k.exposed_ports} or None, "Tty": k.tty,
            "OpenStdin": k.open_stdin, "StdinOnce": False, "Env": k.env, "Cmd": k.cmd or None,
            **({"Healthcheck": to_docker(k.healthcheck)} if k.healthcheck else {}),
            **({"Shell": k.shell} if k.shell else {}),
            "Image": k.image, "Volumes": {v: {} for v in k.image_volumes} or None,
            "WorkingDir": k.workdir, "Entrypoint": k.entrypoint or None, "OnBuild": None,
            "Labels": k.labels,
            # omitted by Docker unless the image or --stop-signal set one
            **({"StopSignal": k.stop_signal} if k.stop_signal != "SIGTERM" else {}),
            **({"StopTimeout": k.stop_timeout} if k.stop_timeout is not None else {})}


def _host_config(c: Container) -> dict:
    k, r = c.config, c.config.resources
    return {
        "NetworkMode": k.network_mode, "AutoRemove": k.auto_remove,
        "RestartPolicy": {"Name": k.restart_policy.name,
                          "MaximumRetryCount": k.restart_policy.max_retries},
        "PortBindings": _port_bindings(k.ports), "PublishAllPorts": k.publish_all,
        "Binds": [f"{m.source}:{m.target}{':ro' if m.read_only else ''}"
                  for m in k.mounts if m.type == "bind"] or None,
        "VolumesFrom": k.volumes_from or None, "ReadonlyRootfs": k.read_only,
        "ShmSize": k.shm_size, "CapAdd": k.cap_add or None, "CapDrop": k.cap_drop or None,
        "Privileged": k.privileged, "SecurityOpt": k.security_opt or None,
        "Devices": k.devices, "GroupAdd": k.group_add or None,
        "UsernsMode": k.userns, "Dns": k.dns, "DnsSearch": k.dns_search,
        "DnsOptions": k.dns_options, "ExtraHosts": k.extra_hosts or None,
        **({"Init": True} if k.init else {}),   # a *bool Docker omits when not given
        "LogConfig": {"Type": k.log_driver, "Config": k.log_opts},
        # MemorySwap as Docker reports it: twice Memory when only Memory was given
        "Memory": r.memory, "MemorySwap": r.memory_swap or r.memory * 2,
        "MemoryReservation": r.memory_reservation,
        "NanoCpus": r.nano_cpus, "CpuShares": r.cpu_shares, "CpuPeriod": r.cpu_period,
        "CpuQuota": r.cpu_quota, "CpusetCpus": r.cpuset_cpus, "CpusetMems": r.cpuset_mems,
        "PidsLimit": r.pids_limit or None, "BlkioWeight": r.blkio_weight,
        "BlkioWeightDevice": [{"Path": d.path, "Weight": d.weight}
                              for d in r.blkio_weight_device],
        **{name: [{"Path": d.path, "Rate": d.rate} for d in getattr(r, key)]
           for name, key in (("BlkioDeviceReadBps", "device_read_bps"),
                             ("BlkioDeviceWriteBps", "device_write_bps"),
                             ("BlkioDeviceReadIOps", "device_read_iops"),
                             ("BlkioDeviceWriteIOps", "device_write_iops"))},
        "OomKillDisable": r.oom_kill_disable, "OomScoreAdj": k.oom_score_adj,
        "Ulimits": [{"Name": u.name, "Soft": u.soft, "Hard": u.hard} for u in k.ulimits] or None,
        # --tmpfs options as they were given (Docker keeps the text)
        **_omitempty(Tmpfs={m.target: m.given if m.given is not None else ",".join(m.options)
                            for m in k.mounts if m.type == "tmpfs"}, Sysctls=k.sysctls),
        # the paths berth masks and makes read-only, as runc reports Docker's defaults
        "MaskedPaths": None if _unconfined(k) else list(security.MASKED_PATHS),
        "ReadonlyPaths": None if _unconfined(k) else list(security.READONLY_PATHS),
        **host_namespaces(c),
    }


def _omitempty(**fields) -> dict:
    """The fields Go's ``omitempty`` keeps: those with a value."""
    return {k: v for k, v in fields.items() if v}


def _unconfined(k) -> bool:
    return k.privileged or any(o.replace(":", "=") == "systempaths=unconfined"
                               for o in k.security_opt)


def _port_bindings(ports) -> dict:
    out: dict = {}
    for p in ports:
        out.setdefault(f"{p.container_port}/{p.proto}", []).append(
            {"HostIp": p.host_ip, "HostPort": str(p.host_port) if p.host_port else ""})
    return out


def _mounts(engine, c: Container) -> list[dict]:
    from .volumes import inspect_mounts
    return inspect_mounts(engine.store, c)


def _network_settings(c: Container) -> dict:
    mode = c.config.network_mode
    if mode not in ("none", "host"):
        try:
            from .network import network_settings
            return network_settings(c)
        except (ImportError, AttributeError):
            pass
    name = "host" if mode == "host" else "none"
    return {"Bridge": "", "SandboxID": "", "Ports": {}, "IPAddress": "", "Gateway": "",
            "MacAddress": "", "Networks": {name: {"NetworkID": "", "EndpointID": "",
                                                  "Gateway": "", "IPAddress": "",
                                                  "IPPrefixLen": 0, "MacAddress": ""}}}


def container_inspect(engine, c: Container) -> dict:
    d = engine.paths.container_dir(c.id)
    data = {
        "Id": c.id, "Created": c.created, "Path": ([*c.config.entrypoint, *c.config.cmd] or [""])[0],
        "Args": [*c.config.entrypoint, *c.config.cmd][1:], "State": _state(c),
        "Image": c.config.image_id, "ResolvConfPath": f"{d}/resolv.conf",
        "HostnamePath": f"{d}/hostname", "HostsPath": f"{d}/hosts", "LogPath": f"{d}/ctr.log",
        "Name": "/" + c.name, "RestartCount": c.state.restart_count, "Driver": "overlay2",
        "Platform": "linux", "HostConfig": _host_config(c),
        "GraphDriver": {"Name": "overlay2", "Data": {"UpperDir": f"{d}/upper",
                                                     "WorkDir": f"{d}/work",
                                                     "MergedDir": f"{d}/rootfs"}},
        "Mounts": _mounts(engine, c), "Config": _config(c), "NetworkSettings": _network_settings(c),
    }
    # every other key dockerd sends, with its value for a feature berth does not have
    return complete(data, CONTAINER)
