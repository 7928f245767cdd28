"""Containment: what a container may do, decided at create, prepared before the fork, applied in
the child just before execve.

The runtime calls, in this order:

    validate(config)                      at create: refuses bad flags with Docker-like messages
                                          (and embeds a seccomp=FILE profile's content)
    prepare(config, cid=, root=) -> spec  at start, before the monitor forks (a JSON-able dict; the
                                          BPF is compiled once and cached, so the child only
                                          installs it; a --userns auto range is reserved)
    device_cgroup_rules(config)           v1 devices.allow lines (after "a" in devices.deny)
    create_devices(spec, rootfs)          in the child, after /dev is mounted in the new root,
                                          before pivot_root (needs the host's /dev for binds)
    apply_sysctls(spec)                   in the child after pivot_root (writes /proc/sys/...)
    apply_paths(spec)                     in the child after pivot_root and apply_sysctls: masked
                                          and read-only paths, --read-only root
    finalize(spec, uid, gid, groups)      right before execve: bounding set, seccomp, user switch,
                                          capabilities, no_new_privs
    release(root, cid)                    at removal: gives the --userns auto range back

--userns auto itself (the user namespace, idmapped layers) is engine/runtime/userns.py.
Everything the child runs imports only the standard library and this package's small modules.
"""

from __future__ import annotations

import errno
import os
import stat

from engine.errors import InvalidArgument
from engine.paths import rootless
from engine.rootless import idmap
from engine.runtime import caps as _caps
from engine.runtime import linux
# Imported here, not in finalize: after pivot_root the host's files (this package) are gone.
from engine.runtime import seccomp as _seccomp

# moby oci/defaults.go plus runc's: masked paths get /dev/null (files) or a read-only tmpfs (dirs).
MASKED_PATHS = [
    "/proc/asound", "/proc/acpi", "/proc/interrupts", "/proc/kcore", "/proc/keys",
    "/proc/latency_stats", "/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug",
    "/proc/scsi", "/sys/firmware", "/sys/devices/virtual/powercap",
]
READONLY_PATHS = ["/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"]

# Device cgroup: Docker's default allow list (moby oci/defaults.go + runc's AllowedDevices).
DEFAULT_DEVICE_RULES = [
    "c *:* m", "b *:* m",
    "c 1:3 rwm",      # null
    "c 1:5 rwm",      # zero
    "c 1:7 rwm",      # full
    "c 1:8 rwm",      # random
    "c 1:9 rwm",      # urandom
    "c 5:0 rwm",      # tty
    "c 5:1 rwm",      # console
    "c 5:2 rwm",      # ptmx
    "c 136:* rwm",    # pts
    "c 10:200 rwm",   # net/tun
]

# Sysctls that belong to a namespace the container has its own of (runc's validate.go).
_IPC_SYSCTLS = {"kernel.msgmax", "kernel.msgmnb", "kernel.msgmni", "kernel.sem", "kernel.shmall",
                "kernel.shmmax", "kernel.shmmni", "kernel.shm_rmid_forced"}

_SECURITY_OPT_HELP = ("expected no-new-privileges[=true|false], seccomp=unconfined, "
                      "seccomp=PROFILE.json, systempaths=unconfined, apparmor=… or label=…")


# --- create ---------------------------------------------------------------------------------

def parse_security_opts(opts: list[str]) -> dict:
    """Docker's --security-opt values as {"no_new_privs", "seccomp", "systempaths_unconfined"};
    seccomp is None (default profile), "unconfined", a profile path, or a profile's JSON (what
    validate embeds)."""
    out = {"no_new_privs": False, "seccomp": None, "systempaths_unconfined": False}
    for opt in opts:
        if opt == "no-new-privileges":
            out["no_new_privs"] = True
            continue
        key, sep, value = opt.partition("=")
        if not sep:
            key, sep, value = opt.partition(":")   # Docker's legacy "seccomp:unconfined"
        if not sep:
            raise InvalidArgument(f"invalid --security-opt {opt!r}: {_SECURITY_OPT_HELP}")
        if key == "no-new-privileges":
            if value not in ("true", "false", "1", "0"):
                raise InvalidArgument(f"invalid --security-opt {opt!r}: no-new-privileges takes true or false")
            out["no_new_privs"] = value in ("true", "1")
        elif key == "seccomp":
            if not value:
                raise InvalidArgument(f"invalid --security-opt {opt!r}: seccomp needs unconfined or a profile path")
            out["seccomp"] = value
        elif key == "systempaths":
            if value != "unconfined":
                raise InvalidArgument(f"invalid --security-opt {opt!r}: systempaths only takes unconfined")
            out["systempaths_unconfined"] = True
        elif key in ("apparmor", "label"):
            pass   # this host has neither AppArmor nor SELinux; Docker accepts these and ignores them too
        else:
            raise InvalidArgument(f"invalid --security-opt {opt!r}: {_SECURITY_OPT_HELP}")
    return out


def parse_device(spec: str) -> dict:
    """``--device HOST[:CONTAINER][:PERMS]`` as {"host", "container", "perms"}."""
    parts = spec.split(":")
    if not parts[0] or len(parts) > 3:
        raise InvalidArgument(f"invalid --device {spec!r}: expected HOST[:CONTAINER][:rwm]")
    host, container, perms = parts[0], parts[0], "rwm"
    if len(parts) == 2:
        if parts[1] and set(parts[1]) <= set("rwm") and not parts[1].startswith("/"):
            perms = parts[1]
        else:
            container = parts[1]
    elif len(parts) == 3:
        container, perms = parts[1], parts[2]
    if not host.startswith("/") or not container.startswith("/"):
        raise InvalidArgument(f"invalid --device {spec!r}: paths must be absolute")
    if not perms or not set(perms) <= set("rwm"):
        raise InvalidArgument(f"invalid --device {spec!r}: permissions must be a combination of r, w and m")
    return {"host": host, "container": container, "perms": perms}


def _device_node(host: str, container: str, perms: str) -> dict:
    """What mknod needs for one host device node."""
    try:
        st = os.stat(host)
    except OSError as e:
        raise InvalidArgument(f"error gathering device information while adding custom device {host!r}: "
                              f"{e.strerror}") from None
    if stat.S_ISCHR(st.st_mode):
        kind = "c"
    elif stat.S_ISBLK(st.st_mode):
        kind = "b"
    else:
        raise InvalidArgument(f"{host} is not a device node: --device takes /dev/… nodes")
    return {"path": container, "host": host, "type": kind, "major": os.major(st.st_rdev),
            "minor": os.minor(st.st_rdev), "perms": perms, "mode": stat.S_IMODE(st.st_mode),
            "uid": st.st_uid, "gid": st.st_gid}


def _devices(config) -> list[dict]:
    out = []
    for spec in config.devices:
        d = parse_device(spec)
        if os.path.isdir(d["host"]):
            # Docker adds every node under a directory given to --device.
            for dirpath, _, files in os.walk(d["host"]):
                for name in sorted(files):
                    p = os.path.join(dirpath, name)
                    mode = os.lstat(p).st_mode
                    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
                        rel = os.path.relpath(p, d["host"])
                        out.append(_device_node(p, os.path.join(d["container"], rel), d["perms"]))
        else:
            out.append(_device_node(d["host"], d["container"], d["perms"]))
    return out


def check_sysctl(key: str, network_mode: str = "bridge", hostname_set: bool = False) -> None:
    """Refuse, by name, a sysctl that is not isolated by one of the container's namespaces."""
    if key in _IPC_SYSCTLS or key.startswith("fs.mqueue."):
        return
    if key.startswith("net."):
        if network_mode == "host":
            raise InvalidArgument(f"sysctl {key!r} is not allowed with --network host: it would change the host")
        if network_mode.startswith("container:"):
            raise InvalidArgument(f"sysctl {key!r} is not allowed with --network {network_mode}: "
                                  "set it on that container")
        return
    if key == "kernel.domainname":
        return
    if key == "kernel.hostname":
        raise InvalidArgument("sysctl 'kernel.hostname' is not allowed: use --hostname")
    raise InvalidArgument(f"sysctl {key!r} is not in a separate kernel namespace, so a container "
                          "can't set it (namespaced: kernel.msg*, kernel.sem, kernel.shm*, fs.mqueue.*, net.*)")


def parse_userns(mode: str) -> dict:
    """``--userns`` as {"mode": "host"} or {"mode": "auto", "size": N}."""
    if mode in ("", "host"):
        return {"mode": "host"}
    if mode == "auto" or mode.startswith("auto:"):
        size = 65536
        for opt in mode.partition(":")[2].split(",") if ":" in mode else []:
            k, _, v = opt.partition("=")
            if k != "size" or not v.isdigit() or not 1 <= int(v) <= 65536:
                raise InvalidArgument(f"invalid --userns {mode!r}: the only option is size=1..65536")
            size = int(v)
        return {"mode": "auto", "size": size}
    raise InvalidArgument(f"invalid --userns {mode!r}: expected host or auto")


def validate(config) -> None:
    """Refuse, at create, anything the containment flags can't honour, with Docker-like messages.

    It also embeds the content of a ``--security-opt seccomp=FILE.json`` profile in the config
    (``seccomp={...}``), as Docker's CLI does, so the container keeps the profile it was created
    with whatever later happens to the file."""
    for flag, names in (("--cap-add", config.cap_add), ("--cap-drop", config.cap_drop)):
        for name in names:
            n = _caps.normalize(name)
            if n != "ALL" and n not in _caps.CAP_NUMBER:
                raise InvalidArgument(f"unknown capability: \"CAP_{n}\" (in {flag})")
    _withheld_by_name(config)
    parse_security_opts(config.security_opt)   # refuses what it can't read
    for i, opt in enumerate(config.security_opt):
        key, sep, value = opt.partition("=")
        if not sep:
            key, sep, value = opt.partition(":")
        if key != "seccomp" or value == "unconfined":
            continue
        if value.lstrip().startswith("{"):
            _seccomp.parse_profile(value, "given inline")
            continue
        import json
        profile = _seccomp.load_profile(value)
        config.security_opt[i] = "seccomp=" + json.dumps(profile, separators=(",", ":"))
    for spec in config.devices:
        parse_device(spec)
    _devices(config)
    for key in config.sysctls:
        check_sysctl(key, config.network_mode, bool(config.hostname))
    for g in config.group_add:
        if not g.strip():
            raise InvalidArgument("invalid --group-add '': give a group name or number")
    userns = parse_userns(config.userns)
    if userns["mode"] != "host" and config.privileged:
        raise InvalidArgument("--privileged is incompatible with --userns auto: "
                              "use --userns host to run privileged")
    if userns["mode"] != "host":
        from engine.volumes.mounts import is_late
        for m in config.mounts:
            if is_late(m.target):
                raise InvalidArgument(
                    f"--userns auto can't mount on {m.target}: berth mounts that path itself "
                    "inside the user namespace; mount elsewhere or use --userns host")


def _withheld_by_name(config) -> int:
    """A capability this host withholds from berth itself can't be given to a container: refuse
    one asked for by name (ALL and --privileged just go without it). Returns our bounding set."""
    own = _caps.own_bounding()
    for name in config.cap_add:
        n = _caps.normalize(name)
        if n in _caps.CAP_NUMBER and not own & (1 << _caps.CAP_NUMBER[n]):
            from engine.errors import HostError
            raise HostError(f"this host does not give berth CAP_{n}, so --cap-add {n} can't be "
                            "honoured; drop that flag")
    return own


# --- monitor ---------------------------------------------------------------------------------

def _default_root() -> str:
    from engine.paths import Paths
    return Paths.from_env().root


def prepare(config, cache_dir: str | None = None, cid: str = "", root: str | None = None) -> dict:
    """The containment spec the child applies: plain JSON-able data, computed before fork so the
    child does no parsing and no compiling. ``cache_dir`` holds compiled BPF programs (default
    ``<root>/cache/seccomp``); ``cid`` and ``root`` find the container's --userns auto range."""
    root = root or _default_root()
    opts = parse_security_opts(config.security_opt)
    capnames = _caps.compute(config.cap_add, config.cap_drop, config.privileged)
    own = _withheld_by_name(config)
    capnames = [c for c in capnames if own & (1 << _caps.CAP_NUMBER[c])]
    seccomp_prog = None
    if not config.privileged and opts["seccomp"] != "unconfined":
        value = opts["seccomp"]
        profile = None if value is None else value.encode() if value.lstrip().startswith("{") \
            else _seccomp.profile_bytes(value)
        seccomp_prog = _seccomp.cached_bpf(
            profile, capnames, cache_dir or os.path.join(root, "cache", "seccomp")).hex()
    unconfined_paths = config.privileged or opts["systempaths_unconfined"]
    return {
        "privileged": config.privileged,
        "caps": capnames,
        "cap_mask": _caps.mask(capnames),
        "no_new_privs": opts["no_new_privs"],
        "seccomp_bpf": seccomp_prog,
        "masked_paths": [] if unconfined_paths else list(MASKED_PATHS),
        "readonly_paths": [] if unconfined_paths else list(READONLY_PATHS),
        "read_only": config.read_only,
        "sysctls": dict(config.sysctls),
        "devices": _host_devices() if config.privileged else _devices(config),
        "group_add": list(config.group_add),
        "userns": _userns_spec(config, cid, root),
    }


def _userns_spec(config, cid: str, root: str) -> dict:
    u = parse_userns(config.userns)
    if u["mode"] == "auto":
        from engine.runtime import userns
        u["host_uid"] = userns.allocate(root, cid or "0" * 64)
    return u


def release(root: str, cid: str) -> None:
    """At container removal: give back what prepare reserved for it (its --userns range)."""
    from engine.runtime import userns
    userns.release(root, cid)


def _host_devices() -> list[dict]:
    """--privileged: every device node of the host's /dev (top level and its subdirectories, but
    not pts, shm or mqueue, which the container has its own of)."""
    out = []
    for dirpath, dirs, files in os.walk("/dev"):
        dirs[:] = [d for d in dirs if d not in ("pts", "shm", "mqueue", "fd")]
        for name in files:
            p = os.path.join(dirpath, name)
            try:
                mode = os.lstat(p).st_mode
            except OSError:
                continue
            if (stat.S_ISCHR(mode) or stat.S_ISBLK(mode)) and p not in ("/dev/console", "/dev/ptmx", "/dev/tty"):
                try:
                    out.append(_device_node(p, p, "rwm"))
                except InvalidArgument:
                    pass
    return out


def device_cgroup_rules(config) -> list[str]:
    """cgroup v1 devices.allow lines: Docker's defaults plus each --device (written after "a" to
    devices.deny); --privileged allows everything."""
    if config.privileged:
        return ["a *:* rwm"]
    rules = list(DEFAULT_DEVICE_RULES)
    for d in _devices(config):
        rules.append(f"{d['type']} {d['major']}:{d['minor']} {d['perms']}")
    return rules


# --- child -----------------------------------------------------------------------------------

MS_RDONLY, MS_NOSUID, MS_NODEV, MS_NOEXEC = linux.MS_RDONLY, linux.MS_NOSUID, linux.MS_NODEV, linux.MS_NOEXEC
MS_REMOUNT, MS_BIND, MS_REC = linux.MS_REMOUNT, linux.MS_BIND, linux.MS_REC
_mount = linux.mount


def _statvfs_flags(path: str) -> int:
    """The MS_* flags a mount already has (a bind remount must keep nosuid/nodev/noexec or the
    kernel refuses it with EPERM in a user namespace)."""
    f = os.statvfs(path).f_flag
    out = 0
    for st_flag, ms in ((os.ST_NOSUID, MS_NOSUID), (os.ST_NODEV, MS_NODEV), (os.ST_NOEXEC, MS_NOEXEC)):
        if f & st_flag:
            out |= ms
    return out


def create_devices(spec: dict, rootfs: str) -> None:
    """Make the --device nodes (or, with --privileged, the host's) under ``rootfs``/dev: mknod, or a
    bind of the host node in a user namespace where mknod is not allowed. Call it in the child
    after /dev is mounted in the new root and before pivot_root."""
    in_userns = spec["userns"]["mode"] != "host" or rootless()   # [rootless] bind, no mknod
    for d in spec["devices"]:
        target = os.path.join(rootfs, d["path"].lstrip("/"))
        os.makedirs(os.path.dirname(target), exist_ok=True)
        if os.path.lexists(target):
            if spec["privileged"]:
                continue      # the runtime's own /dev nodes (null, zero, …) stay as they are
            os.unlink(target)
        if in_userns:
            open(target, "a").close()
            _mount(d["host"], target, None, MS_BIND)
            continue
        kind = stat.S_IFCHR if d["type"] == "c" else stat.S_IFBLK
        os.mknod(target, kind | d["mode"], os.makedev(d["major"], d["minor"]))
        os.chown(target, d["uid"], d["gid"])


def apply_sysctls(spec: dict) -> None:
    """Write the --sysctl values through the container's own /proc (after pivot_root)."""
    for key, value in spec["sysctls"].items():
        path = "/proc/sys/" + key.replace(".", "/")
        try:
            with open(path, "w") as f:
                f.write(value)
        except OSError as e:
            raise OSError(e.errno, f"setting sysctl {key}={value}: {e.strerror}") from None


def apply_paths(spec: dict) -> None:
    """Masked paths (/dev/null over files, an empty read-only tmpfs over directories), read-only
    paths (bind then remount read-only) and the --read-only root, as runc does. After pivot_root."""
    for path in spec["masked_paths"]:
        try:
            if os.path.isdir(path):
                _mount("tmpfs", path, "tmpfs", MS_RDONLY, None)
            else:
                _mount("/dev/null", path, None, MS_BIND)
        except FileNotFoundError:
            continue
        except OSError as e:
            if e.errno == errno.ENOENT:    # this kernel has no such file
                continue
            raise
    for path in spec["readonly_paths"]:
        try:
            _mount(path, path, None, MS_BIND | MS_REC)
        except OSError as e:
            if e.errno == errno.ENOENT:
                continue
            raise
        _mount(path, path, None, MS_BIND | MS_REMOUNT | MS_RDONLY | _statvfs_flags(path))
    if spec["privileged"]:
        # Docker gives --privileged a writable /sys (the runtime mounts it read-only)
        try:
            _mount("sysfs", "/sys", None, MS_REMOUNT | MS_NOSUID | MS_NODEV | MS_NOEXEC)
        except OSError:
            pass
    if spec["read_only"]:
        _mount("/", "/", None, MS_BIND | MS_REMOUNT | MS_RDONLY | _statvfs_flags("/"))


def _resolve_group(name: str) -> int:
    """A --group-add entry as a gid: a number, or a name from the container's /etc/group."""
    if name.isdigit():
        return int(name)
    try:
        with open("/etc/group") as f:
            for line in f:
                fields = line.strip().split(":")
                if len(fields) >= 3 and fields[0] == name and fields[2].isdigit():
                    return int(fields[2])
    except OSError:
        pass
    raise OSError(2, f"unable to find group {name}: no matching entries in the container's /etc/group")


def finalize(spec: dict, uid: int, gid: int, groups: list[int], after_setuid=None) -> None:
    """Switch to the container's user and give up what it must not keep, right before execve.

    Order as runc: bounding set dropped first; the seccomp filter installed while we still have
    CAP_SYS_ADMIN (unless no_new_privs is set, then it goes last, just before execve, so the
    filter does not have to allow the setup syscalls); user switched with PR_SET_KEEPCAPS; the
    permitted/effective sets set to the container's caps and inheritable/ambient emptied. execve
    then gives root the full container set and a non-root user an empty permitted/effective set
    with the bounding set kept, which is what Docker shows.
    """
    all_groups = list(groups) + [_resolve_group(g) for g in spec["group_add"]]
    keep = spec["cap_mask"]
    _caps.drop_bounding(keep)
    prog = bytes.fromhex(spec["seccomp_bpf"]) if spec["seccomp_bpf"] else None
    if prog and not spec["no_new_privs"]:
        _seccomp.install(prog)
    _caps.set_keepcaps(True)
    idmap.set_groups(sorted(set(all_groups)))   # [rootless] not where the namespace denies it
    os.setresgid(gid, gid, gid)
    os.setresuid(uid, uid, uid)
    if after_setuid is not None:
        after_setuid()   # what the credential change undid (the parent-death signal)
    _caps.set_keepcaps(False)
    try:
        _caps.capset(keep, keep, 0)
    except OSError as e:
        if e.errno != errno.EPERM:
            raise
        # A non-root user after setresuid without CAP_SETPCAP can only lower; do that.
        eff, prm, _ = _caps.capget()
        _caps.capset(keep & eff, keep & prm, 0)
    _caps.clear_ambient()
    if spec["no_new_privs"]:
        linux.prctl(linux.PR_SET_NO_NEW_PRIVS, 1)
        if prog:
            _seccomp.install(prog)
