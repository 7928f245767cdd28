"""Plain data: what the engine returns and what it keeps on disk.

Every model is a plain record (see Model) that round-trips through JSON with ``to_dict`` / ``from_dict``.
The CLI and the dashboard read only these; Docker-shaped JSON (``inspect``) is produced from them
by ``engine.inspect``.
"""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

from .modelbase import MODELS, Model, dataclass, field  # noqa: F401 - the models' ground


# --- images ---------------------------------------------------------------------------

@dataclass
class Image(Model):
    """An image in the store. ``id`` is the config digest ("sha256:…"), as Docker's."""

    id: str
    repo_tags: list[str] = field(default_factory=list)      # normalised references
    repo_digests: list[str] = field(default_factory=list)   # name@sha256:manifest
    created: str = ""                                        # RFC 3339 from the config
    size: int = 0                                            # unpacked bytes of all layers
    architecture: str = "amd64"
    os: str = "linux"
    config: dict[str, Any] = field(default_factory=dict)     # the OCI config's "config"
    diff_ids: list[str] = field(default_factory=list)
    chain_ids: list[str] = field(default_factory=list)       # one per layer, bottom first
    layers: list[str] = field(default_factory=list)          # compressed blob digests
    layer_media_types: list[str] = field(default_factory=list)
    manifest_digest: str = ""
    history: list[dict[str, Any]] = field(default_factory=list)
    author: str = ""
    comment: str = ""
    # the store's own metadata, not the image's content (as dockerd's image store keeps them)
    parent: str = ""          # the image a commit was made from
    last_tag_time: str = ""   # RFC 3339, when ``tag`` (or a commit's name) last named it

    @property
    def short_id(self) -> str:
        return self.id.partition(":")[2][:12]


# --- containers -----------------------------------------------------------------------

@dataclass
class Port(Model):
    """A published port: host_ip:host_port -> container_port/proto."""

    container_port: int
    proto: str = "tcp"
    host_ip: str = ""
    host_port: int = 0
    host_port_end: int = 0     # -p 8000-8010:80: one free port of host_port..host_port_end


@dataclass
class Mount(Model):
    """Something mounted into a container: a bind, a volume or a tmpfs."""

    type: str                  # bind | volume | tmpfs
    target: str
    source: str = ""           # host path for bind, volume name for volume
    read_only: bool = False
    options: list[str] = field(default_factory=list)
    given: str | None = None   # --tmpfs's options as typed (inspect's HostConfig.Tmpfs)
    anonymous: bool = False    # a volume berth named itself (removed by rm -v and --rm)
    nocopy: bool = False


@dataclass
class Ulimit(Model):
    name: str
    soft: int
    hard: int


@dataclass
class RestartPolicy(Model):
    name: str = "no"           # no | on-failure | always | unless-stopped
    max_retries: int = 0


@dataclass
class WeightDevice(Model):
    """--blkio-weight-device PATH:WEIGHT (Docker's BlkioWeightDevice entry)."""

    path: str
    weight: int


@dataclass
class ThrottleDevice(Model):
    """--device-{read,write}-{bps,iops} PATH:RATE (bytes or operations per second)."""

    path: str
    rate: int


@dataclass
class Resources(Model):
    """cgroup limits; 0 / "" / None mean 'not set'."""

    memory: int = 0
    memory_swap: int = 0
    memory_reservation: int = 0
    nano_cpus: int = 0
    cpu_shares: int = 0
    cpu_period: int = 0
    cpu_quota: int = 0
    cpuset_cpus: str = ""
    cpuset_mems: str = ""
    pids_limit: int = 0
    blkio_weight: int = 0
    oom_kill_disable: bool = False
    blkio_weight_device: list[WeightDevice] = field(default_factory=list)
    device_read_bps: list[ThrottleDevice] = field(default_factory=list)
    device_write_bps: list[ThrottleDevice] = field(default_factory=list)
    device_read_iops: list[ThrottleDevice] = field(default_factory=list)
    device_write_iops: list[ThrottleDevice] = field(default_factory=list)


@dataclass
class Healthcheck(Model):
    """Docker's HealthConfig: ``test`` is ["CMD", argv…], ["CMD-SHELL", command], ["NONE"] or
    [] (inherit the image's); durations in nanoseconds, 0 meaning Docker's default."""

    test: list[str] = field(default_factory=list)
    interval: int = 0
    timeout: int = 0
    start_period: int = 0
    start_interval: int = 0
    retries: int = 0


@dataclass
class ContainerConfig(Model):
    """Everything `create` decided: the image config merged with the flags."""

    image: str                                   # the reference as given
    image_id: str = ""
    cmd: list[str] = field(default_factory=list)
    entrypoint: list[str] = field(default_factory=list)
    env: list[str] = field(default_factory=list)
    workdir: str = ""
    user: str = ""
    hostname: str = ""
    domainname: str = ""
    labels: dict[str, str] = field(default_factory=dict)
    tty: bool = False
    open_stdin: bool = False
    stop_signal: str = "SIGTERM"
    stop_timeout: int | None = None
    exposed_ports: list[str] = field(default_factory=list)   # "80/tcp"
    image_volumes: list[str] = field(default_factory=list)   # the image's VOLUME entries
    # host side
    init: bool = False
    auto_remove: bool = False
    restart_policy: RestartPolicy = field(default_factory=RestartPolicy)
    resources: Resources = field(default_factory=Resources)
    ulimits: list[Ulimit] = field(default_factory=list)
    network_mode: str = "bridge"                  # bridge | none | host | container:<id> | <net>
    networks: list[str] = field(default_factory=list)
    # networks --network or create's EndpointsConfig named that `network disconnect` took it off
    # (as in Docker, for good); a later `network connect` joins it again through the network's
    # own member record
    left_networks: list[str] = field(default_factory=list)
    links: list[str] = field(default_factory=list)   # --link NAME[:ALIAS]
    pid_mode: str = ""              # "" | host | container:<id>   (runtime/namespaces.py)
    ipc_mode: str = ""              # "" (private) | none | private | shareable | host | container:<id>
    uts_mode: str = ""              # "" | host
    cgroup_parent: str = ""         # below berth's own cgroup parent
    ports: list[Port] = field(default_factory=list)
    publish_all: bool = False
    mounts: list[Mount] = field(default_factory=list)
    volumes_from: list[str] = field(default_factory=list)
    read_only: bool = False
    shm_size: int = 64 * 1024 * 1024
    cap_add: list[str] = field(default_factory=list)
    cap_drop: list[str] = field(default_factory=list)
    privileged: bool = False
    security_opt: list[str] = field(default_factory=list)
    devices: list[str] = field(default_factory=list)
    sysctls: dict[str, str] = field(default_factory=dict)
    group_add: list[str] = field(default_factory=list)
    userns: str = ""
    dns: list[str] = field(default_factory=list)
    dns_search: list[str] = field(default_factory=list)
    dns_options: list[str] = field(default_factory=list)
    extra_hosts: list[str] = field(default_factory=list)
    mac_address: str = ""
    ip_address: str = ""
    aliases: list[str] = field(default_factory=list)
    log_opts: dict[str, str] = field(default_factory=dict)
    log_driver: str = "json-file"                # json-file | none (nothing is kept)
    detach_keys: str = ""
    oom_score_adj: int = 0                        # written for pid 1 before exec (-1000..1000)
    healthcheck: Healthcheck | None = None        # flags over the image's HEALTHCHECK
    shell: list[str] = field(default_factory=list)   # the image's SHELL (CMD-SHELL checks)


@dataclass
class HealthResult(Model):
    """One run of a container's healthcheck, as Docker logs it."""

    start: str = ""             # RFC 3339
    end: str = ""
    exit_code: int = 0          # -1: the check could not run or overran its timeout
    output: str = ""            # its stdout and stderr, at most 4096 bytes ("..." when cut)


@dataclass
class Health(Model):
    """State.Health: kept by the monitor while the container runs, left as it was at its exit."""

    status: str = "starting"    # starting | healthy | unhealthy
    failing_streak: int = 0
    log: list[HealthResult] = field(default_factory=list)   # the last 5, oldest first

    def label(self) -> str:
        """Docker's words for it in ps STATUS: "healthy", "unhealthy", "health: starting"."""
        return "health: starting" if self.status == "starting" else self.status or "unhealthy"


@dataclass
class ContainerState(Model):
    """What the monitor and the verbs record about a container's life."""

    status: str = "created"     # created | running | paused | restarting | exited | dead | removing
    pid: int = 0                # host pid of the container's first process
    monitor_pid: int = 0
    monitor_start: int = 0      # /proc/<pid>/stat start time, to tell a reused pid
    exit_code: int = 0
    oom_killed: bool = False
    error: str = ""
    started_at: str = ""
    finished_at: str = ""
    restart_count: int = 0
    stopped_by_user: bool = False   # for unless-stopped and on-failure
    networks: dict[str, dict[str, Any]] = field(default_factory=dict)  # name -> endpoint
    ports: list[Port] = field(default_factory=list)   # as actually bound (after -P)
    health: Health | None = None   # set at the first start of a container with a healthcheck


@dataclass
class Container(Model):
    id: str
    name: str
    created: str
    config: ContainerConfig
    state: ContainerState = field(default_factory=ContainerState)

    @property
    def short_id(self) -> str:
        return self.id[:12]

    @property
    def running(self) -> bool:
        return self.state.status in ("running", "paused", "restarting")

    # Lifecycle rules live on the state, so the CLI and the dashboard can never disagree.
    def can_start(self) -> bool:
        return self.state.status in ("created", "exited", "dead")

    def can_stop(self) -> bool:
        return self.state.status in ("running", "paused", "restarting")

    def can_pause(self) -> bool:
        return self.state.status == "running"

    def can_unpause(self) -> bool:
        return self.state.status == "paused"

    def can_remove(self, force: bool = False) -> bool:
        return force or not self.running


# --- networks and volumes -------------------------------------------------------------

@dataclass
class Network(Model):
    name: str
    id: str
    driver: str = "bridge"       # bridge | host | null
    bridge: str = ""
    subnet: str = ""
    gateway: str = ""
    ip_range: str = ""
    internal: bool = False
    labels: dict[str, str] = field(default_factory=dict)
    created: str = ""
    mtu: int = 1500
    allocations: dict[str, str] = field(default_factory=dict)   # ip -> container id
    options: dict[str, str] = field(default_factory=dict)       # driver options as the user gave them
    ipv6: bool = False
    subnet6: str = ""            # with ipv6: its IPv6 subnet (a container's address mirrors its IPv4 one)
    gateway6: str = ""


@dataclass
class Volume(Model):
    name: str
    driver: str = "local"
    mountpoint: str = ""
    created: str = ""
    labels: dict[str, str] = field(default_factory=dict)
    options: dict[str, str] = field(default_factory=dict)
    anonymous: bool = False


# --- stats and events -----------------------------------------------------------------

@dataclass
class StatsSample(Model):
    """One reading of a container's resource use; rates are filled in by the stream."""

    id: str
    name: str
    time: float                      # monotonic seconds of the reading
    cpu_total_ns: int = 0            # container CPU time
    system_ns: int = 0               # host CPU time (for docker's CPU % formula)
    online_cpus: int = 1
    cpu_percent: float = 0.0
    memory_usage: int = 0            # without inactive file cache
    memory_limit: int = 0            # the host's memory when unlimited
    memory_percent: float = 0.0
    net_rx: int = 0
    net_tx: int = 0
    net_rx_packets: int = 0
    net_tx_packets: int = 0
    block_read: int = 0
    block_write: int = 0
    pids: int = 0
    pids_limit: int = 0
    cpu_limit: float = 0.0           # CPUs the CFS quota allows (--cpus 0.5 -> 0.5); 0 = none
    limits_note: str = ""            # why no limits can exist (rootless, no cgroup delegation)


@dataclass
class Event(Model):
    """One line of events.jsonl."""

    time: float                      # seconds since the epoch, with fraction
    type: str                        # container | image | network | volume
    action: str                      # create, start, die, oom, ...
    id: str = ""
    attributes: dict[str, str] = field(default_factory=dict)


@dataclass
class LogLine(Model):
    """One line of a container's log as ``berth logs`` reads it back."""

    time: str          # RFC 3339, as written by the monitor
    stream: str        # stdout | stderr
    text: str          # the line, with its newline


@dataclass
class Finding(Model):
    """One thing ``berth system check`` found wrong in a root, and what ``--repair`` did."""

    kind: str          # container | image | layer | blob | network | volume | tempfile |
                       # process | cgroup | veth | nft | mount | lease | record
    id: str            # what it is: an id, a name or a path
    problem: str       # one line: what is wrong
    repair: str = ""   # what --repair does about it ("" when nothing can be done)
    repaired: bool = False


@dataclass
class EngineInfo(Model):
    """Which engine a client talks to: what the dashboard's header and ``connection ls`` name."""

    kind: str          # berth | docker | podman
    version: str = ""  # the engine's own version ("26.1.4", "4.3.1")
    host: str = ""     # "local", or the connection's name or address
    address: str = ""  # the root of a local berth; unix://…, tcp://…, ssh://… of a remote one

    def label(self) -> str:
        """"berth", "Docker 26", "Podman 4.3": the engine and its version as people say it."""
        name = {"docker": "Docker", "podman": "Podman"}.get(self.kind, self.kind)
        if self.kind == "berth" or not self.version:
            return name
        parts = self.version.split(".")
        return f"{name} {'.'.join(parts[:1] if self.kind == 'docker' else parts[:2])}"

MODELS.update({
    name: obj for name, obj in list(globals().items())
    if isinstance(obj, type) and issubclass(obj, Model) and obj is not Model
})
