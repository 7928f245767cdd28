"""The intermediate process of a container's start, forked from its monitor before the monitor
knows the container, so that what only a start needs is loaded there and never in the monitor.

The container's pid 1 is forked by an intermediate that joins the cgroup and unshares the
namespaces (a process enters a new pid namespace only through its children). pid 1 runs
init.py, and after pivot_root it can import nothing: init, security and seccomp (and what they
import) must be loaded before the fork. When the monitor loaded them, they stayed in its heap for
the container's whole life. pymalloc keeps freed pools resident, so unloading them later gave
back next to nothing. With them, an idle monitor was 6.2 MiB resident; without them it is
5.9 MiB (bench/start's target is 6).

So the monitor forks this process (the "prestart") at once, with every pipe a start can need:
- the prestart loads those modules while the monitor waits for its container's id;
- ``prepare(cdir)`` sends it the container's directory as soon as the id comes. It then reads the
  spec and loads what that spec needs (pty, volumes, berth-init's sealed copy) while the monitor
  records itself and waits for the cgroup;
- ``go()`` lets it join the cgroup, unshare, fork pid 1 and report pid 1's pid. Then it exits,
  and pid 1 is reparented to the monitor, its subreaper.

The monitor reaps it. A restart forks a fresh one, which loads the modules on that restart's path.
A monitor that exits first (no container came) closes the control pipe, and the prestart exits
on EOF.
"""

from __future__ import annotations

import _signal as signal  # not signal.py: it imports enum
import os

from . import linux, process, trace
from .monitor_start import _userns_auto

COMM = "berth-prestart"   # its /proc/<pid>/comm: it is no monitor (monitor_fork.is_monitor)
NAMESPACES = (linux.CLONE_NEWPID | linux.CLONE_NEWNS | linux.CLONE_NEWUTS | linux.CLONE_NEWIPC
              | linux.CLONE_NEWCGROUP)


class Prestart:
    """The monitor's handle on its prestart: the pipes' monitor ends and the process."""

    def __init__(self):
        out_r, out_w = os.pipe()
        err_r, err_w = os.pipe()
        fail_r, fail_w = os.pipe()
        go_r, go_w = os.pipe()            # the monitor's go to pid 1 (init.wait_for_monitor)
        pid_r, pid_w = os.pipe()
        stdin_r, stdin_w = os.pipe()      # pid 1's stdin with -i and no -t
        ctl_r, self.ctl = os.pipe()       # the container's directory, then "g"
        import _socket
        a, b = _socket.socketpair(_socket.AF_UNIX, _socket.SOCK_STREAM)   # -t's master
        console, console_child = a.detach(), b.detach()
        mine = (out_r, err_r, fail_r, go_w, pid_r, stdin_w, self.ctl, console)
        theirs = (out_w, err_w, fail_w, go_r, pid_w, stdin_r, ctl_r, console_child)
        self.pid = os.fork()
        if self.pid == 0:
            for fd in mine:
                os.close(fd)
            _serve(ctl_r, (stdin_r, out_w, err_w), fail_w, go_r, pid_w, console_child)
        for fd in theirs:
            os.close(fd)
        self.out_r, self.err_r, self.fail_r, self.go_w, self.pid_r, self.stdin_w = mine[:6]
        self.console = console

    def prepare(self, cdir: str) -> None:
        """The container is known: the prestart reads its spec and loads what it needs."""
        self._tell(f"{cdir}\n".encode())

    def go(self) -> None:
        """The cgroup is ready: join it, unshare, fork pid 1."""
        self._tell(b"g")
        os.close(self.ctl)
        self.ctl = -1

    def _tell(self, data: bytes) -> None:
        try:
            os.write(self.ctl, data)
        except BrokenPipeError:
            pass   # it died: its pid pipe is empty, which start_container reports

    def reap(self) -> None:
        if self.pid:
            os.waitpid(self.pid, 0)
            self.pid = 0

    def take(self, stdin: bool) -> tuple[int, ...]:
        """The monitor's ends for this start: out_r, err_r, fail_r, pid_r, go_w, console and
        stdin_w (-1 unless ``stdin``: -i without -t, whose pipe is closed otherwise). This
        handle keeps only the control pipe."""
        if not stdin:
            os.close(self.stdin_w)
        fds = (self.out_r, self.err_r, self.fail_r, self.pid_r, self.go_w, self.console,
               self.stdin_w if stdin else -1)
        del self.out_r, self.err_r, self.fail_r, self.pid_r, self.go_w, self.console, \
            self.stdin_w
        return fds

    def cancel(self) -> None:
        """No start after all: the prestart reads EOF on its control pipe, exits, is reaped."""
        os.close(self.ctl)
        self.ctl = -1
        self.reap()


def preload() -> None:
    """What pid 1 runs and enforces (it can import nothing after pivot_root)."""
    from . import init, security, seccomp  # noqa: F401
    linux.load_ctypes()


def _serve(ctl: int, stdio, fail_w: int, go_r: int, pid_w: int, console: int) -> None:
    """The prestart's life (never returns)."""
    code = 1
    try:
        try:
            with open("/proc/self/comm", "w") as f:
                f.write(COMM)
        except OSError:
            pass
        null = os.open(os.devnull, os.O_RDWR)
        os.dup2(null, 2)   # what goes wrong is told on fail_w (and the monitor's 2 is null too)
        os.close(null)
        # (the monitor's other descriptors stay open here, as in any fork of it: by a restart
        # their numbers may be this prestart's own pipes; pid 1 closes all it doesn't use)
        trace.role("intermediate")
        preload()
        cdir = process.read_line(ctl)
        if not cdir:
            os._exit(0)   # the monitor went without a container
        spec = process.read_json(os.path.join(cdir, "spec.json"))
        seams = _seams(spec)
        trace.mark("spec read, what it needs loaded")
        if os.read(ctl, 1) != b"g":
            os._exit(0)
        os.close(ctl)
        trace.mark("told to go")
        intermediate(spec, seams, stdio, fail_w, go_r, pid_w,
                     console if spec.get("tty") else -1)
        code = 0
    except BaseException as e:  # noqa: BLE001
        from . import fastjson
        try:
            os.write(fail_w, fastjson.dumps({"code": 125, "error": f"{e}"}).encode())
        except OSError:
            pass
    finally:
        os._exit(code)


def _seams(spec: dict) -> dict:
    """What pid 1 needs of this spec, loaded now (nothing loads after pivot_root)."""
    from . import cgroups, security
    out = {"security": security if spec.get("security") is not None else None,
           "volumes": None, "init_fd": None,
           "cg": cgroups.of_spec(spec)}
    if spec.get("tty"):
        from . import pty  # noqa: F401 - init.take_terminal's
    if spec.get("mounts"):
        from .. import volumes
        from ..volumes import copyup, inroot  # noqa: F401 - mount_all imports them lazily
        out["volumes"] = volumes
    if spec.get("init"):
        from . import sealed
        out["init_fd"] = sealed.init_program()
    return out


def intermediate(spec: dict, seams: dict, stdio, fail_w: int, go_r: int, pid_w: int,
                 console: int) -> None:
    """Join the cgroup (so pid 1 is born in it), unshare, fork pid 1, report its pid."""
    stdin = stdio[0]
    if not (spec.get("open_stdin") and not spec.get("tty")):
        os.close(stdin)
        stdin = os.open(os.devnull, os.O_RDONLY | os.O_CLOEXEC)
    linux.prctl(linux.PR_SET_DUMPABLE, 0)
    seams["cg"].join_self(spec["id"])
    trace.mark("joined the cgroup")
    early_mount = _mount_root_early(spec)
    if _userns_auto(spec):
        # [containment] --userns auto: overlay on idmapped layers, then join the user
        # namespace, so the namespaces unshared below belong to it (engine/runtime/userns.py)
        from . import userns
        userns.enter(spec)
    flags = _join_shared(NAMESPACES & ~early_mount, spec.get("namespaces"))
    if spec.get("netns_pid"):
        # --network container:NAME: join that container's network namespace
        fd = os.open(f"/proc/{spec['netns_pid']}/ns/net", os.O_RDONLY | os.O_CLOEXEC)
        linux.setns(fd, linux.CLONE_NEWNET)
        os.close(fd)
    elif spec["network_mode"] != "host":
        flags |= linux.CLONE_NEWNET
    linux.unshare(flags)
    trace.mark("unshared the namespaces")
    child = os.fork()
    if child == 0:
        trace.role("init")
        _reset_signals()
        from . import init   # loaded by preload: a lookup
        init.container_main(spec, (stdin, stdio[1], stdio[2]), fail_w, go_r, seams["security"],
                            seams["volumes"], console if console >= 0 else None,
                            seams["init_fd"])
    os.write(pid_w, str(child).encode())
    trace.mark("forked pid 1, reported it")


def _mount_root_early(spec: dict) -> int:
    """[rootless] In the intermediate, before any other namespace: the container's mount
    namespace, and its root filesystem mounted there, by this process, which is in none of the
    container's other namespaces yet. Where that is fuse-overlayfs (rootless/overlay.py), its
    daemon is then no process of the container's pid namespace (pid 1 would see it in ps) and
    ends when the container's mount namespace does. Returns the flag it unshared (0 with root,
    whose pid 1 mounts the overlay itself)."""
    from ..paths import rootless
    if not rootless() or _userns_auto(spec):
        return 0
    from . import init   # loaded by preload
    linux.unshare(linux.CLONE_NEWNS)
    init.make_mounts_private()
    init.mount_overlay(spec)
    spec["rootfs_mounted"] = True    # this process's copy, which pid 1 inherits
    return linux.CLONE_NEWNS


# --pid, --ipc, --uts (engine/runtime/namespaces.py): kind -> its clone flag
SHARABLE = (("pid", linux.CLONE_NEWPID), ("ipc", linux.CLONE_NEWIPC), ("uts", linux.CLONE_NEWUTS))


def _join_shared(flags: int, namespaces: dict | None) -> int:
    """In the intermediate, before it unshares: enter the namespaces the container shares with
    another container (a pid namespace holds for the children forked after), and return the
    unshare flags without those and the host's it keeps."""
    for kind, flag in SHARABLE:
        how = (namespaces or {}).get(kind) or {}
        if how.get("mode") in ("host", "container"):
            flags &= ~flag
        if how.get("mode") == "container":
            fd = os.open(f"/proc/{how['pid']}/ns/{kind}", os.O_RDONLY | os.O_CLOEXEC)
            try:
                linux.setns(fd, flag)
            finally:
                os.close(fd)
    return flags


def _reset_signals() -> None:
    """Give the container the signal dispositions of a fresh process (ignored signals would
    survive execve)."""
    signal.set_wakeup_fd(-1)
    for sig in (signal.SIGCHLD, signal.SIGUSR1, signal.SIGTERM, signal.SIGINT, signal.SIGHUP,
                signal.SIGPIPE, signal.SIGXFSZ):
        signal.signal(sig, signal.SIG_DFL)
    signal.pthread_sigmask(signal.SIG_SETMASK, [])
