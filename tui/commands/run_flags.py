"""The flags of ``run``, ``create`` and ``update``, and the ContainerConfig they describe
(``build_config``, shared with the dashboard's run dialog). The verbs themselves are in
containers.py."""

from __future__ import annotations

from .fastparse import REMAINDER, SUPPRESS


def run_args(p, run: bool = True) -> None:
    a = p.add_argument
    if run:
        a("-d", "--detach", action="store_true", help="run in the background and print the id")
        a("--sig-proxy", default="true", help="proxy signals to the container (default true)")
    a("--rm", action="store_true", help="remove the container when it exits")
    a("--name", help="container name")
    a("-e", "--env", action="append", default=[], help="set an environment variable")
    a("--env-file", action="append", default=[], help="read variables from a file")
    a("-w", "--workdir", default="", help="working directory inside the container")
    a("-u", "--user", default="", help="user[:group], names or numbers")
    a("-h", "--hostname", default="", help="container host name")
    a("--domainname", default="")
    a("-l", "--label", action="append", default=[])
    a("--label-file", action="append", default=[])
    a("--entrypoint", default=None, help="override the image's entrypoint")
    a("--init", action="store_true", help="run a reaper as PID 1 that forwards signals")
    a("--restart", default="no", help="no, on-failure[:N], always, unless-stopped")
    a("-m", "--memory", default=None)
    a("--memory-swap", default=None)
    a("--memory-reservation", default=None)
    a("--oom-kill-disable", action="store_true")
    a("--cpus", default=None)
    a("-c", "--cpu-shares", default="0")
    a("--cpu-period", default="0")
    a("--cpu-quota", default="0")
    a("--cpuset-cpus", default="")
    a("--cpuset-mems", default="")
    a("--pids-limit", default=None)
    a("--blkio-weight", default="0")
    a("--blkio-weight-device", action="append", default=[], help="PATH:WEIGHT (10-1000)")
    a("--device-read-bps", action="append", default=[], help="PATH:RATE, e.g. /dev/sda:1mb")
    a("--device-write-bps", action="append", default=[], help="PATH:RATE, e.g. /dev/sda:1mb")
    a("--device-read-iops", action="append", default=[], help="PATH:OPS per second")
    a("--device-write-iops", action="append", default=[], help="PATH:OPS per second")
    a("--kernel-memory", default=None, help=SUPPRESS)   # refused: deprecated
    a("--oom-score-adj", default=None, help="-1000..1000 for the container's processes")
    a("--ulimit", action="append", default=[])
    a("--network", "--net", default="bridge")
    a("--network-alias", action="append", default=[])
    a("--link", action="append", default=[], help="NAME[:ALIAS]: legacy link to a container")
    a("--pid", default="", help="PID namespace: host or container:NAME")
    a("--ipc", default="", help="IPC namespace: none, private, shareable, host, container:NAME")
    a("--uts", default="", help="UTS namespace: host")
    a("--cgroup-parent", default="", help="parent cgroup, below berth's own")
    a("--volume-driver", default="", help="only local")
    a("--ip", default="")
    a("--mac-address", default="")
    a("-p", "--publish", action="append", default=[])
    a("-P", "--publish-all", action="store_true")
    a("--expose", action="append", default=[])
    a("-v", "--volume", action="append", default=[])
    a("--mount", action="append", default=[])
    a("--tmpfs", action="append", default=[])
    a("--volumes-from", action="append", default=[])
    a("--read-only", action="store_true")
    a("--shm-size", default=None)
    a("--cap-add", action="append", default=[])
    a("--cap-drop", action="append", default=[])
    a("--privileged", action="store_true")
    a("--security-opt", action="append", default=[])
    a("--device", action="append", default=[])
    a("--sysctl", action="append", default=[])
    a("--group-add", action="append", default=[])
    a("--userns", default="")
    a("--dns", action="append", default=[])
    a("--dns-search", action="append", default=[])
    a("--dns-option", action="append", default=[])
    a("--add-host", action="append", default=[])
    a("--log-driver", default="json-file")
    a("--log-opt", action="append", default=[])
    a("--health-cmd", default="", help="command to run to check health")
    a("--health-interval", default="", help="time between checks (ms|s|m|h), default 30s")
    a("--health-timeout", default="", help="longest a check may run (ms|s|m|h), default 30s")
    a("--health-retries", default="", help="failures in a row that make it unhealthy (3)")
    a("--health-start-period", default="", help="start time before failures count (0s)")
    a("--health-start-interval", default="", help="time between checks in the start period (5s)")
    a("--no-healthcheck", action="store_true", help="disable the image's HEALTHCHECK")
    a("--stop-signal", default="")
    a("--stop-timeout", default=None)
    a("-t", "--tty", action="store_true")
    a("-i", "--interactive", action="store_true")
    a("-a", "--attach", action="append", default=[])
    a("--detach-keys", default="")
    a("--platform", default="")
    a("--pull", default="missing")
    a("-q", "--quiet", action="store_true")
    a("image")
    a("command", nargs=REMAINDER)


def build_config(args):
    """The ContainerConfig the flags describe (shared with the dashboard's run dialog)."""
    from engine import options
    from engine.errors import InvalidArgument
    from engine.models import ContainerConfig, Resources
    if args.log_driver not in ("json-file", "none"):
        raise InvalidArgument(f"log driver {args.log_driver!r} is not supported: use json-file")
    mem, swap, reservation = options.parse_memory(args.memory, args.memory_swap,
                                                  args.memory_reservation)
    res = Resources(memory=mem, memory_swap=swap, memory_reservation=reservation,
                    nano_cpus=options.parse_cpus(args.cpus) if args.cpus else 0,
                    cpuset_cpus=args.cpuset_cpus, cpuset_mems=args.cpuset_mems,
                    pids_limit=options.parse_pids_limit(args.pids_limit) if args.pids_limit else 0,
                    oom_kill_disable=args.oom_kill_disable, **int_flags(args))
    _device_limits(args, res)
    network = args.network
    entrypoint = None
    if args.entrypoint is not None:
        entrypoint = [args.entrypoint] if args.entrypoint else [""]
    config = ContainerConfig(
        image=args.image, cmd=list(args.command), entrypoint=entrypoint or [],
        env=options.parse_env(args.env, args.env_file), workdir=args.workdir, user=args.user,
        hostname=args.hostname, domainname=args.domainname,
        labels=options.parse_labels(args.label, args.label_file), tty=args.tty,
        open_stdin=args.interactive,
        stop_signal=options.parse_stop_signal(args.stop_signal) if args.stop_signal else "SIGTERM",
        stop_timeout=(options.parse_int(args.stop_timeout, "--stop-timeout")
                      if args.stop_timeout is not None else None),
        exposed_ports=[p for e in args.expose for p in _expose(e)],
        init=args.init, auto_remove=args.rm, restart_policy=options.parse_restart(args.restart),
        resources=res, ulimits=[options.parse_ulimit(u) for u in args.ulimit],
        network_mode=network, publish_all=args.publish_all, read_only=args.read_only,
        cap_add=args.cap_add, cap_drop=args.cap_drop, privileged=args.privileged,
        security_opt=args.security_opt, devices=args.device,
        sysctls=dict(s.partition("=")[::2] for s in args.sysctl), group_add=args.group_add,
        userns=args.userns, dns=args.dns, dns_search=args.dns_search,
        dns_options=args.dns_option, extra_hosts=args.add_host, mac_address=args.mac_address,
        ip_address=args.ip, aliases=args.network_alias,
        log_opts=options.parse_log_opts(args.log_opt), log_driver=args.log_driver,
        detach_keys=args.detach_keys)
    config.links, config.pid_mode, config.ipc_mode = args.link, args.pid, args.ipc
    config.uts_mode, config.cgroup_parent = args.uts, args.cgroup_parent
    if args.volume_driver not in ("", "local"):
        raise InvalidArgument(f'error looking up volume plugin {args.volume_driver}: plugin '
                              f'"{args.volume_driver}" not found')
    if getattr(args, "oom_score_adj", None) is not None:
        from engine.resource_options import parse_oom_score_adj
        config.oom_score_adj = parse_oom_score_adj(args.oom_score_adj)
    if args.shm_size:
        config.shm_size = options.parse_shm_size(args.shm_size)
    if config.restart_policy.name != "no" and config.auto_remove:
        raise InvalidArgument("Conflicting options: --restart and --rm")
    if network not in ("bridge", "default", "none", "host") and not network.startswith("container:"):
        config.networks = [network]
    if args.publish:
        from engine.public import parse_publish
        config.ports = [p for spec in args.publish for p in parse_publish(spec)]
    if args.volume or args.mount or args.tmpfs:
        from engine.public import parse_mount, parse_tmpfs, parse_volume
        config.mounts = ([parse_volume(v) for v in args.volume]
                         + [parse_mount(m) for m in args.mount]
                         + [parse_tmpfs(t) for t in args.tmpfs])
    config.volumes_from = args.volumes_from
    config.healthcheck = _healthcheck(args)
    return config, args.entrypoint is not None


def _healthcheck(args):
    """--health-* and --no-healthcheck as the docker CLI turns them into a HealthConfig."""
    from engine.public import health_from_flags as from_flags
    return from_flags(args.health_cmd, args.health_interval, args.health_timeout,
                      args.health_start_period, args.health_start_interval,
                      args.health_retries, none=args.no_healthcheck)


def int_flags(args) -> dict[str, int]:
    """The integer resource flags, parsed with the docker CLI's messages (argparse's type=int
    would exit 2 with a usage text instead of one line and 125)."""
    from engine.options import parse_int
    return {key: parse_int(getattr(args, key), "--" + key.replace("_", "-"))
            for key in ("cpu_shares", "cpu_period", "cpu_quota", "blkio_weight")}


def _device_limits(args, res) -> None:
    """--blkio-weight-device and --device-{read,write}-{bps,iops} into ``res``; --kernel-memory
    refused as Docker deprecated it."""
    from engine import resource_options as options
    from engine.errors import InvalidArgument
    if getattr(args, "kernel_memory", None):
        raise InvalidArgument(options.KERNEL_MEMORY_REFUSED)
    res.blkio_weight_device = [options.parse_weight_device(v)
                               for v in getattr(args, "blkio_weight_device", ())]
    for key in ("device_read_bps", "device_write_bps", "device_read_iops", "device_write_iops"):
        parse = options.parse_throttle_bps if key.endswith("bps") else options.parse_throttle_iops
        flag = "--" + key.replace("_", "-")
        setattr(res, key, [parse(v, flag) for v in getattr(args, key, ())])


def _expose(spec: str) -> list[str]:
    """--expose PORT[-PORT][/PROTO] as the ports it names (Docker expands a range)."""
    from engine.errors import InvalidArgument
    ports, _, proto = spec.partition("/")
    low, sep, high = ports.partition("-")
    if sep and low.isdigit() and high.isdigit() and int(low) <= int(high) <= 65535:
        return [f"{n}/{proto or 'tcp'}" for n in range(int(low), int(high) + 1)]
    if sep:
        raise InvalidArgument(f"invalid range format for --expose: {spec}")
    return [f"{ports}/{proto or 'tcp'}"]


def update_args(p):
    a = p.add_argument
    a("-m", "--memory", default=None, help="memory limit")
    a("--memory-reservation", default=None, help="memory soft limit")
    a("--memory-swap", default=None, help="memory plus swap; -1 for unlimited swap")
    a("--kernel-memory", default=None, help=SUPPRESS)   # refused: deprecated
    a("--cpus", default=None, help="number of CPUs")
    a("-c", "--cpu-shares", default="0", help="CPU shares (relative weight)")
    a("--cpu-period", default="0", help="CFS period (microseconds)")
    a("--cpu-quota", default="0", help="CFS quota (microseconds)")
    a("--cpuset-cpus", default="", help="CPUs to run on (0-3, 0,1)")
    a("--cpuset-mems", default="", help="memory nodes to use (0-3, 0,1)")
    a("--pids-limit", default=None, help="process limit; -1 for unlimited")
    a("--blkio-weight", default="0", help="block I/O weight (10-1000)")
    a("--restart", default=None, help="no, on-failure[:N], always, unless-stopped")
