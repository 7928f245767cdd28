"""Docker-shaped ``inspect`` for containers, built from the models (nothing here touches the kernel)."""

from __future__ import annotations

from .models import Container
from .runtime.namespaces import host_config as host_namespaces


def _state(c: Container) -> dict:
    s = c.state
    return {"Status": s.status, "Running": s.status in ("running", "paused"),
            "Paused": s.status == "paused", "Restarting": s.status == "restarting",
            "OOMKilled": s.oom_killed, "Dead": s.status == "dead", "Pid": s.pid,
            "ExitCode": s.exit_code, "Error": s.error,
            "StartedAt": s.started_at or "0001-01-01T00:00:00Z",
            "FinishedAt": s.finished_at or "0001-01-01T00:00:00Z"}


def _config(c: Container) -> dict:
    k = c.config
    return {"Hostname": k.hostname or c.id[:12], "Domainname": k.domainname, "User": k.user,
            "AttachStdin": k.open_stdin, "AttachStdout": True, "AttachStderr": True,
            "ExposedPorts": {p: {} for p in k.exposed_ports} or None, "Tty": k.tty,
            "OpenStdin": k.open_stdin, "StdinOnce": False, "Env": k.env, "Cmd": k.cmd or None,
            "Image": k.image, "Volumes": {v: {} for v in k.image_volumes} or None,
            "WorkingDir": k.workdir, "Entrypoint": k.entrypoint or None, "OnBuild": None,
            "Labels": k.labels, "StopSignal": k.stop_signal,
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
        "Devices": k.devices, "Sysctls": k.sysctls or None, "GroupAdd": k.group_add or None,
        "UsernsMode": k.userns, "Dns": k.dns, "DnsSearch": k.dns_search,
        "DnsOptions": k.dns_options, "ExtraHosts": k.extra_hosts or None, "Init": k.init,
        "LogConfig": {"Type": "json-file", "Config": k.log_opts},
        # MemorySwap as Docker reports it: twice Memory when only Memory was given
        "Memory": r.memory, "MemorySwap": r.memory_swap or r.memory * 2,
        "MemoryReservation": r.memory_reservation, "KernelMemory": 0,
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
        "Tmpfs": {m.target: ",".join(m.options) for m in k.mounts if m.type == "tmpfs"} or None,
        **host_namespaces(c),
    }


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
    return {
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
