"""The container's first process, from fork to execve: one small named step after another.

Runs as pid 1 of the new pid namespace, already in the container's mount, uts, ipc, net and cgroup
namespaces (the monitor's intermediate process unshared them). Everything it uses is imported
before the fork: after ``pivot_root`` the host's files are gone. A failure is reported to the
monitor as one JSON line on a close-on-exec pipe (``{"code", "error"}``), so ``start`` can print
Docker's message and exit 125, 126 or 127; a successful execve closes the pipe silently.
"""

from __future__ import annotations

import _signal as signal  # signal.py would import enum, 2 ms of the monitor's start
import errno
import fcntl
import os
import resource
import select  # imported here: nothing can be imported after pivot_root
import stat
import struct
import sys

from ..paths import rootless
from ..rootless import idmap, overlay
from . import fastjson, linux, trace
from .users import UserError, resolve as resolve_user

DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
ERR_FD, GO_FD, CONSOLE_FD, INIT_FD = 3, 4, 5, 6

DEVICES = (("null", 1, 3), ("zero", 1, 5), ("full", 1, 7), ("random", 1, 8), ("urandom", 1, 9),
           ("tty", 5, 0))
DEV_LINKS = (("ptmx", "pts/ptmx"), ("fd", "/proc/self/fd"), ("stdin", "/proc/self/fd/0"),
             ("stdout", "/proc/self/fd/1"), ("stderr", "/proc/self/fd/2"), ("core", "/proc/kcore"))


class StartError(Exception):
    """The container can't be started; ``code`` is the exit code Docker gives for it."""

    def __init__(self, message: str, code: int = 125):
        super().__init__(message)
        self.code = code


# --- entry ------------------------------------------------------------------------------------

def container_main(spec: dict, stdio: tuple[int, int, int], err_fd: int, go_fd: int,
                   security=None, volumes=None, console_fd: int | None = None,
                   init_fd: int | None = None) -> None:
    """Set the container up and exec its command; never returns. ``console_fd`` (with -t) is
    the socket on which the monitor waits for the terminal's master; ``init_fd`` (--init) the
    sealed copy of berth-init the monitor made (sealed.init_program)."""
    try:
        trace.mark("forked, signals reset")
        _arrange_fds(stdio, err_fd, go_fd, console_fd, init_fd)
        rootfs = prepare_root(spec, security, volumes)
        trace.mark("root prepared: overlay, /proc, /dev, /sys, binds")
        pivot_into(rootfs)
        trace.mark("pivot_root")
        configure_kernel(spec, security)
        set_rlimits(spec.get("ulimits") or [])
        set_oom_score_adj(spec.get("oom_score_adj") or 0)
        uid, gid, groups, env = resolve_identity(spec)
        if console_fd is not None:
            env.setdefault("TERM", "xterm")   # as Docker does for -t
        workdir = enter_workdir(spec["workdir"] or "/")
        path = find_executable(spec["argv"], env)
        if console_fd is not None:
            take_terminal(spec, uid)
        own_stdio(uid)
        trace.mark("kernel settings, rlimits, user, executable found")
        wait_for_monitor()
        trace.mark("waited for the monitor's go")
        linux.close_range(CONSOLE_FD, INIT_FD - 1)
        close_from(INIT_FD + 1 if spec.get("init") else INIT_FD)   # --init keeps berth-init
        drop_privileges(spec, uid, gid, groups, security)
        trace.mark("privileges dropped: capabilities, no_new_privs, seccomp; execve")
        if spec.get("init"):
            exec_init(path, spec["argv"], env, workdir, console_fd is not None)
        exec_command(path, spec["argv"], env, workdir)
    except StartError as e:
        _report(e.code, str(e))
    except UserError as e:
        _report(126, str(e))
    except OSError as e:
        _report(125, f"{e.strerror or e}" + (f": {e.filename}" if e.filename else ""))
    except BaseException as e:  # noqa: BLE001 - the child must never return into the monitor
        _report(125, f"{type(e).__name__}: {e}")


def _report(code: int, message: str) -> None:
    try:
        os.write(ERR_FD, fastjson.dumps({"code": code, "error": message}).encode())
    finally:
        os._exit(code)


def _arrange_fds(stdio: tuple[int, int, int], err_fd: int, go_fd: int,
                 console_fd: int | None = None, init_fd: int | None = None) -> None:
    # lift every descriptor above the targets first, so no dup2 overwrites one still needed
    high = [fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, 100) if fd is not None else None
            for fd in (*stdio, err_fd, go_fd, console_fd, init_fd)]
    for target, fd in enumerate(high[:3]):
        os.dup2(fd, target)              # inheritable: the command's stdio
    for target, fd in zip((ERR_FD, GO_FD, CONSOLE_FD, INIT_FD), high[3:]):
        if fd is not None:
            os.dup2(fd, target, inheritable=False)
    close_from(INIT_FD + 1 if init_fd is not None else
                (GO_FD if console_fd is None else CONSOLE_FD) + 1)


def close_from(first: int) -> None:
    """Close every descriptor from ``first`` up, but a trace's (close-on-exec: the command
    never sees it; see trace.py)."""
    keep = trace.fd()
    if keep < first:
        linux.close_range(first)
    else:
        if keep > first:
            linux.close_range(first, keep - 1)
        linux.close_range(keep + 1)


def own_stdio(uid: int) -> None:
    """Give the command's stdio to its user, as runc does (fixStdioPermissions): the monitor's
    pipes are root's, mode 0600, and a non-root process could not open /dev/stdout. /dev/null
    and what the user owns already are left alone; a descriptor the kernel won't let us
    change (an unmapped owner in a user namespace) stays as it is."""
    for fd in (0, 1, 2):
        try:
            st = os.fstat(fd)
            if st.st_uid == uid or (stat.S_ISCHR(st.st_mode) and st.st_rdev == os.makedev(1, 3)):
                continue
            os.fchown(fd, uid, -1)
        except OSError:
            pass


def take_terminal(spec: dict, uid: int) -> None:
    """-t: open a terminal in the container's devpts, make it our stdio and controlling
    terminal, and send its master to the monitor (which serves it to attachers)."""
    from . import pty   # loaded by the monitor before the fork (nothing loads after pivot_root)
    master, slave = pty.open_pty(uid)
    size = spec.get("console_size")
    if size:
        pty.set_size(slave, size[0], size[1])
    pty.send_fd(CONSOLE_FD, master)
    os.close(master)
    os.close(CONSOLE_FD)
    pty.become_session_leader(slave)


# --- the root filesystem (still seeing the host's files) ------------------------------------

def prepare_root(spec: dict, security, volumes) -> str:
    make_mounts_private()
    # [containment] --userns auto: userns.enter (in the intermediate) mounted the overlay and the
    # /etc files and left our cwd in the root; the host directories above it are closed to us now
    in_userns = ((spec.get("security") or {}).get("userns") or {}).get("mode") == "auto"
    if in_userns:
        from . import userns
        userns.own_root()
    # [rootless] the intermediate mounted it already (prestart._mount_root_early)
    rootfs = "." if in_userns else spec["rootfs"] if spec.get("rootfs_mounted") else \
        mount_overlay(spec)
    user_mounts = spec.get("mounts") if volumes is not None and not in_userns else None
    if user_mounts:
        volumes.mount_all(rootfs, user_mounts, "early")
    mount_proc(rootfs, host_pid=((spec.get("namespaces") or {}).get("pid") or {}).get("mode") == "host")
    mount_dev(rootfs, spec["shm_size"], bind_nodes=in_userns or rootless(),
              ipc=(spec.get("namespaces") or {}).get("ipc"))
    mount_sys(rootfs, host_net=spec["network_mode"] == "host")
    if not in_userns:
        bind_etc_files(rootfs, spec.get("etc_dir") or spec["cdir"])
    if user_mounts:
        # after berth's own /proc, /dev, /sys and /etc files, so a user's mount on one of those
        # paths (--tmpfs /dev/shm, -v ./hosts:/etc/hosts) wins, as with Docker
        volumes.mount_all(rootfs, user_mounts, "late")
    if security is not None and spec.get("security"):
        security.create_devices(spec["security"], rootfs)
    return rootfs


def make_mounts_private() -> None:
    # nothing mounted in here may propagate back to the host
    linux.mount(None, "/", None, linux.MS_REC | linux.MS_PRIVATE)


def mount_overlay(spec: dict) -> str:
    rootfs = spec["rootfs"]
    lower = ":".join(spec["lower"])
    opts = f"lowerdir={lower},upperdir={spec['upper']},workdir={spec['work']}"
    try:
        overlay.mount(rootfs, opts)
    except OSError as e:
        if rootless():
            raise StartError(f"mount the container's root filesystem (overlay) in your user "
                             f"namespace: {e.strerror}; without root berth needs Linux 5.11 or "
                             "later, whose overlayfs mounts in a user namespace, or "
                             "fuse-overlayfs") from None
        raise StartError(f"mount the container's root filesystem (overlay): {e.strerror}") from None
    return rootfs


def _mount_point(rootfs: str, name: str, kind: str = "dir") -> str:
    """``rootfs/name`` made safe to mount on: an image's symlink there is replaced (it would
    resolve against the host's root) and a missing one is created."""
    path = os.path.join(rootfs, name)
    parent = os.path.dirname(path)
    if os.path.realpath(parent) != os.path.abspath(parent):   # [containment] abspath: rootfs may be "."
        raise StartError(f"{os.path.dirname(name) or '/'} in the image is a symlink; refusing to "
                         f"mount on {name}")
    if os.path.islink(path):
        os.unlink(path)
    if not os.path.lexists(path):
        if kind == "dir":
            os.mkdir(path, 0o755)
        else:
            os.close(os.open(path, os.O_CREAT | os.O_WRONLY | os.O_CLOEXEC, 0o644))
    return path


def mount_proc(rootfs: str, host_pid: bool = False) -> None:
    if host_pid and rootless():
        # [rootless] a procfs can be mounted only by the owner of the pid namespace: with the
        # host's, bind the host's /proc, as rootless podman does
        linux.mount("/proc", _mount_point(rootfs, "proc"), None, linux.MS_BIND | linux.MS_REC)
        return
    linux.mount("proc", _mount_point(rootfs, "proc"), "proc",
                linux.MS_NOSUID | linux.MS_NODEV | linux.MS_NOEXEC)


def mount_dev(rootfs: str, shm_size: int, bind_nodes: bool = False, ipc: dict | None = None) -> None:
    dev = _mount_point(rootfs, "dev")
    linux.mount("tmpfs", dev, "tmpfs", linux.MS_NOSUID | linux.MS_STRICTATIME,
                "mode=755,size=65536k")
    for name, major, minor in DEVICES:
        path = f"{dev}/{name}"
        if bind_nodes:
            # [containment] in a user namespace mknod is refused: bind the host's node (as runc)
            open(path, "a").close()
            linux.mount(f"/dev/{name}", path, None, linux.MS_BIND)
            continue
        os.mknod(path, stat.S_IFCHR | 0o666, os.makedev(major, minor))
        os.chmod(path, 0o666)  # mknod's mode is filtered by the umask
    for name, target in DEV_LINKS:
        os.symlink(target, f"{dev}/{name}")
    ipc_mode = (ipc or {}).get("mode")
    for sub in ("pts", "shm", "mqueue"):
        if sub != "shm" or ipc_mode != "none":   # --ipc none: no /dev/shm at all, as Docker
            os.mkdir(f"{dev}/{sub}", 0o755)
    # [rootless] with a single-id map there is no group 5 (tty) to give the terminals
    tty_gid = ",gid=5" if idmap.own_id(5) == 5 else ""
    linux.mount("devpts", f"{dev}/pts", "devpts", linux.MS_NOSUID | linux.MS_NOEXEC,
                f"newinstance,ptmxmode=0666,mode=0620{tty_gid}")
    if ipc_mode == "host":
        linux.mount("/dev/shm", f"{dev}/shm", None, linux.MS_BIND | linux.MS_REC)
    elif ipc_mode == "container":
        bind_donor_shm(ipc["pid"], f"{dev}/shm")
    elif ipc_mode != "none":
        linux.mount("shm", f"{dev}/shm", "tmpfs",
                    linux.MS_NOSUID | linux.MS_NODEV | linux.MS_NOEXEC, f"mode=1777,size={shm_size}")
    if ipc_mode == "host" and rootless():   # [rootless] as /proc: the host's, bound (if any)
        if os.path.isdir("/dev/mqueue"):
            linux.mount("/dev/mqueue", f"{dev}/mqueue", None, linux.MS_BIND)
        return
    linux.mount("mqueue", f"{dev}/mqueue", "mqueue",
                linux.MS_NOSUID | linux.MS_NODEV | linux.MS_NOEXEC)


def bind_donor_shm(pid: int, target: str) -> None:
    """--ipc container:X: X's /dev/shm, a mount only X's mount namespace has. A tree can be
    cloned (open_tree) only from the namespace we are in, so step into X's for that one call
    and back into ours (which resets our root and cwd to its own: the paths here are
    absolute), then attach the clone here."""
    own = os.open("/proc/self/ns/mnt", os.O_RDONLY | os.O_CLOEXEC)
    try:
        theirs = os.open(f"/proc/{pid}/ns/mnt", os.O_RDONLY | os.O_CLOEXEC)
        try:
            linux.setns(theirs, linux.CLONE_NEWNS)
            try:
                tree = linux.open_tree("/dev/shm")
            finally:
                linux.setns(own, linux.CLONE_NEWNS)
        finally:
            os.close(theirs)
    except OSError as e:
        raise StartError(f"join the IPC namespace of the donor container: its /dev/shm: "
                         f"{e.strerror}") from None
    finally:
        os.close(own)
    try:
        linux.move_mount(tree, target)
    finally:
        os.close(tree)


def mount_sys(rootfs: str, host_net: bool = False) -> None:
    if host_net and rootless():
        # [rootless] sysfs can be mounted only by the owner of the network namespace: with the
        # host's network, bind the host's /sys (read-only), as rootless podman does
        target = _mount_point(rootfs, "sys")
        linux.mount("/sys", target, None, linux.MS_BIND | linux.MS_REC)
        linux.mount(None, target, None, linux.MS_REMOUNT | linux.MS_BIND | linux.MS_RDONLY
                    | linux.MS_NOSUID | linux.MS_NODEV | linux.MS_NOEXEC)
        return
    linux.mount("sysfs", _mount_point(rootfs, "sys"), "sysfs",
                linux.MS_RDONLY | linux.MS_NOSUID | linux.MS_NODEV | linux.MS_NOEXEC)


def bind_etc_files(rootfs: str, cdir: str) -> None:
    _mount_point(rootfs, "etc")
    for name in ("hosts", "resolv.conf", "hostname"):
        src = os.path.join(cdir, name)
        if os.path.exists(src):
            linux.mount(src, _mount_point(rootfs, f"etc/{name}", "file"), None, linux.MS_BIND)


def pivot_into(rootfs: str) -> None:
    # pivot_root(".", ".") stacks the old root on top of the new one; detaching it leaves only
    # the container's files visible (runc does the same)
    os.chdir(rootfs)
    linux.pivot_root(".", ".")
    linux.umount2(".", linux.MNT_DETACH)
    os.chdir("/")
    seal_imports()


def seal_imports() -> None:
    """From here on an import that finds no loaded module fails instead of reading the image's
    files: berth's tree path (sys.path, engine/codebundle.py) now names whatever the image put
    there. Built-in and frozen modules, which read no file, still load."""
    sys.meta_path[:] = [f for f in sys.meta_path
                        if getattr(f, "__name__", "") in ("BuiltinImporter", "FrozenImporter")]
    sys.path[:] = []
    sys.path_importer_cache.clear()


# --- the process (inside the new root) -------------------------------------------------------

def configure_kernel(spec: dict, security) -> None:
    if not (spec.get("namespaces") or {}).get("uts"):   # --uts host: the host's, left alone
        if spec.get("hostname"):
            linux.sethostname(spec["hostname"])
        if spec.get("domainname"):
            linux.setdomainname(spec["domainname"])
    if security is not None and spec.get("security"):
        security.apply_sysctls(spec["security"])
        security.apply_paths(spec["security"])
    if spec["network_mode"] not in ("host",) and not spec["network_mode"].startswith("container:"):
        bring_up_loopback()


def bring_up_loopback() -> None:
    SIOCGIFFLAGS, SIOCSIFFLAGS, IFF_UP = 0x8913, 0x8914, 0x1
    fd = linux.socket(2, 2)  # AF_INET, SOCK_DGRAM: any socket will carry the interface ioctls
    try:
        req = struct.pack("16sH22x", b"lo", 0)
        flags = struct.unpack("16sH22x", fcntl.ioctl(fd, SIOCGIFFLAGS, req))[1]
        fcntl.ioctl(fd, SIOCSIFFLAGS, struct.pack("16sH22x", b"lo", flags | IFF_UP))
    finally:
        os.close(fd)


def set_rlimits(ulimits: list) -> None:
    """--ulimit values, each clamped to the current hard limit: raising one needs
    CAP_SYS_RESOURCE, which a host may not grant (this one doesn't), and Docker's own defaults
    would make such a host refuse every container."""
    for u in ulimits:
        res = getattr(resource, "RLIMIT_" + u["name"].upper())
        _, cur_hard = resource.getrlimit(res)
        hard = u["hard"] if cur_hard == resource.RLIM_INFINITY else min(u["hard"], cur_hard)
        resource.setrlimit(res, (min(u["soft"], hard), hard))


def set_oom_score_adj(value: int) -> None:
    """--oom-score-adj for pid 1, inherited by everything it starts. Written while still root
    and before exec; lowering it below the monitor's needs CAP_SYS_RESOURCE."""
    if not value:
        return
    try:
        with open("/proc/self/oom_score_adj", "w") as f:
            f.write(str(value))
    except PermissionError:
        raise StartError(f"set oom_score_adj to {value}: permission denied (a negative value "
                         "needs CAP_SYS_RESOURCE, which this host does not give berth)") from None


def resolve_identity(spec: dict) -> tuple[int, int, list[int], dict[str, str]]:
    uid, gid, groups, home = resolve_user(spec.get("user") or "0")
    env: dict[str, str] = {}
    for item in spec["env"]:
        key, eq, value = item.partition("=")
        if eq:
            env[key] = value
        else:   # a bare name unsets it (moby's ReplaceOrAppendEnvValues)
            env.pop(key, None)
    env.setdefault("PATH", DEFAULT_PATH)
    env.setdefault("HOSTNAME", spec.get("hostname") or "")
    env.setdefault("HOME", home)
    return uid, gid, groups, env


def enter_workdir(workdir: str) -> str:
    # Docker creates a missing working directory
    os.makedirs(workdir, 0o755, exist_ok=True)
    os.chdir(workdir)
    return workdir


def find_executable(argv: list[str], env: dict[str, str]) -> str:
    """The command's path as execve needs it, or Docker's message with 127 or 126."""
    if not argv:
        raise StartError("no command specified", 125)
    name = argv[0]
    if "/" in name:
        try:
            st = os.stat(name)
        except OSError as e:
            raise StartError(f'exec: "{name}": stat {name}: {e.strerror.lower()}', 127) from None
        if stat.S_ISDIR(st.st_mode) or not os.access(name, os.X_OK):
            raise StartError(f'exec: "{name}": permission denied', 126)
        return name
    denied = None
    for d in env.get("PATH", DEFAULT_PATH).split(":"):
        candidate = os.path.join(d or ".", name)
        try:
            st = os.stat(candidate)
        except OSError:
            continue
        if stat.S_ISDIR(st.st_mode):
            continue
        if os.access(candidate, os.X_OK):
            return candidate
        denied = denied or candidate
    if denied:
        raise StartError(f'exec: "{name}": permission denied', 126)
    raise StartError(f'exec: "{name}": executable file not found in $PATH', 127)


def wait_for_monitor() -> None:
    """Block until the monitor (our parent now that the intermediate exited) says go, then ask
    to die with it: SIGKILL of the monitor takes the whole container down."""
    if os.read(GO_FD, 1) != b"g":
        os._exit(1)
    die_with_monitor()


def die_with_monitor() -> None:
    """Ask for SIGKILL when the monitor dies. Asked again once the user is switched: the kernel
    clears the parent-death signal on every change of uid or gid, and a --user container's
    pid 1 would otherwise outlive a killed monitor. GO_FD stays open until then because the
    monitor may die between asks: its end of the pipe tells."""
    try:
        linux.prctl(linux.PR_SET_PDEATHSIG, signal.SIGKILL)
        r, _, _ = select.select([GO_FD], [], [], 0)
    except OSError:   # a seccomp profile that refuses prctl or select: nothing more to do
        return
    if r and os.read(GO_FD, 1) == b"":
        os._exit(1)


def drop_privileges(spec: dict, uid: int, gid: int, groups: list[int], security) -> None:
    if security is not None and spec.get("security"):
        security.finalize(spec["security"], uid, gid, groups, after_setuid=die_with_monitor)
    else:
        idmap.set_groups(groups)
        os.setresgid(gid, gid, gid)
        os.setresuid(uid, uid, uid)
        die_with_monitor()


def exec_command(path: str, argv: list[str], env: dict[str, str], workdir: str) -> None:
    try:
        os.chdir(workdir)
    except OSError:
        pass
    try:
        os.execve(path, argv, env)
    except OSError as e:
        code = 127 if e.errno == errno.ENOENT else 126
        raise StartError(f'exec: "{argv[0]}": {e.strerror.lower()}', code) from None


# --- --init: a reaper as pid 1 ----------------------------------------------------------------

def exec_init(path: str, argv: list[str], env: dict[str, str], workdir: str, tty: bool) -> None:
    """--init: become berth-init (berth_init.c), a static reaper run from the sealed copy on
    INIT_FD, which forks the command, forwards signals to it, reaps every orphan and exits with
    the command's status. Pid 1 of a running container is never the host's interpreter, which a
    privileged container could otherwise reach through /proc/1/exe and /proc/1/map_files
    (CVE-2019-5736's class). The error pipe stays open for berth-init's report on the command."""
    try:
        os.chdir(workdir)
    except OSError:
        pass
    os.set_inheritable(ERR_FD, True)
    try:
        os.execve(INIT_FD, ["berth-init", "init", *(["-t"] if tty else []), path, *argv], env)
    except OSError as e:
        raise StartError(f"start berth-init (--init): {e.strerror.lower()}") from None
