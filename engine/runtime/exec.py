"""``exec``: a new process in a running container, without its monitor.

The caller (the CLI: a process without threads or asyncio) makes a sealed copy of berth-init
(sealed.init_program) and forks an intermediate that makes itself undumpable, leaves the
caller's session (the caller's terminal hangup or ctrl-c is not the command's), joins the
container's cgroup while the host's cgroup tree is still in view, then its namespaces with
``setns`` (user first, mount last: that one moves its root into the container). There it does
everything the command needs: resolves the user through the container's /etc/passwd, sets the
rlimits and the working directory, opens a terminal in the container's devpts for -t (the
master goes back to the caller over a socket), arranges the stdio, applies the container's own
security spec (bounding set, seccomp, capabilities, no_new_privs: ``security.finalize``, as the
container's pid 1 did) and execs berth-init from the sealed copy.

A pid namespace applies to children only, so the intermediate itself is never visible in the
container; the process that is, berth-init's child, forks from a static program that is no host
file, and execs the command (berth_init.c). A privileged container watching its /proc
therefore never finds the host's interpreter or libraries (CVE-2019-5736). berth-init waits and
exits with the command's status (or at once with -d); a failed execve comes back on the error
pipe with Docker's message, as any other failure of the intermediate does.

Everything the forked side runs is imported before the fork: once in the container's mount
namespace, the host's files (this package) are out of reach.
"""

from __future__ import annotations

import _signal as signal
import fcntl
import os

from ..errors import Conflict, ExecError, HostError
from ..rootless import idmap
from . import cgroups, fastjson, init, linux, process, trace
from .users import UserError, resolve as resolve_user

# joined in this order: the user namespace first (it owns the others), mnt last (it changes
# our root, and with it where every later path would resolve)
NAMESPACES = (("user", linux.CLONE_NEWUSER), ("ipc", linux.CLONE_NEWIPC),
              ("uts", linux.CLONE_NEWUTS), ("net", linux.CLONE_NEWNET),
              ("cgroup", linux.CLONE_NEWCGROUP), ("pid", linux.CLONE_NEWPID),
              ("mnt", linux.CLONE_NEWNS))
ERR_FD, PROGRAM_FD = 3, 4


class ExecProcess:
    """A started exec: ``master`` is the terminal's master with -t (the caller serves it),
    ``wait()`` the command's exit code."""

    def __init__(self, pid: int, master: int | None, detached: bool):
        self.pid = pid
        self.master = master
        self.detached = detached
        self.code: int | None = None

    def wait(self) -> int:
        if self.code is None:
            _, status = os.waitpid(self.pid, 0)
            self.code = _exit_code(status)
        return self.code

    def poll(self) -> int | None:
        if self.code is None:
            pid, status = os.waitpid(self.pid, os.WNOHANG)
            if pid:
                self.code = _exit_code(status)
        return self.code

    def pidfd(self) -> int:
        """A descriptor that becomes readable when the command (its intermediate) exits."""
        return linux.pidfd_open(self.pid)


def _exit_code(status: int) -> int:
    return os.WEXITSTATUS(status) if os.WIFEXITED(status) else 128 + os.WTERMSIG(status)


def _target(store, container) -> tuple[dict, dict]:
    """The running container's (state, start spec), or Conflict."""
    d = store.paths.container_dir(container.id)
    state = process.effective_status(process.read_state(d))
    if state.get("status") == "paused":
        raise Conflict(f"Container {container.id} is paused, unpause the container before exec")
    if state.get("status") != "running" or not state.get("pid"):
        raise Conflict(f"Container {container.id} is not running")
    spec = process.read_json(os.path.join(d, "spec.json"))
    if not spec:
        raise Conflict(f"Container {container.id} is not running (it has no start spec)")
    return state, spec


def _open_namespaces(pid: int) -> list[tuple[int, int]]:
    """(fd, type) of each namespace of ``pid`` that differs from ours (host network, no user
    namespace: nothing to join), opened now while /proc is the host's."""
    out = []
    try:
        for name, flag in NAMESPACES:
            theirs = f"/proc/{pid}/ns/{name}"
            try:
                if os.stat(theirs).st_ino == os.stat(f"/proc/self/ns/{name}").st_ino:
                    continue
                out.append((os.open(theirs, os.O_RDONLY | os.O_CLOEXEC), flag))
            except FileNotFoundError:
                if name in ("user", "cgroup"):
                    continue   # a kernel without them
                raise
    except BaseException:
        for fd, _ in out:
            os.close(fd)
        raise
    return out


def exec_in(store, container, argv: list[str], *, env: list[str] = (), workdir: str = "",
            user: str = "", tty: bool = False, detach: bool = False, privileged: bool = False,
            console_size: tuple[int, int] | None = None,
            stdio: tuple[int, int, int] | None = None) -> ExecProcess:
    """Start ``argv`` in the running ``container`` (see the module doc). ``stdio`` are the
    descriptors the command gets without -t (default /dev/null, 1, 2). ExecError (126, 127)
    when it can't be run, as Docker's messages."""
    if not argv:
        raise ExecError("no command specified: give the command to run after the container", 125)
    state, spec = _target(store, container)
    trace.mark("exec: state and start spec read")
    from . import sealed
    sec_spec = spec.get("security")
    security = None
    if sec_spec is not None:
        from . import security
        if privileged:
            from . import caps
            sec_spec = dict(sec_spec, cap_mask=caps.own_bounding())
    pty = None
    if tty:
        from . import pty
    trace.mark("exec: security, pty modules imported")
    cg = cgroups.detect(store.paths)
    pid = state["pid"]
    start = process.start_time(pid)
    namespaces = _open_namespaces(pid)
    if process.start_time(pid) != start or not start:
        _close(*(fd for fd, _ in namespaces))
        raise Conflict(f"Container {container.id} is not running")
    trace.mark("exec: cgroup found, namespaces opened")
    try:
        program = sealed.init_program()
    except BaseException:
        _close(*(fd for fd, _ in namespaces))
        raise
    null = os.open(os.devnull, os.O_RDWR | os.O_CLOEXEC)
    if stdio is None:
        stdio = (null, 1, 2)
    err_r, err_w = os.pipe()
    sock_parent = sock_child = -1
    if tty:
        import _socket
        a, b = _socket.socketpair(_socket.AF_UNIX, _socket.SOCK_STREAM)
        sock_parent, sock_child = a.detach(), b.detach()
    trace.mark("exec: berth-init sealed copy made")
    job = {"argv": list(argv), "env": list(env), "workdir": workdir, "user": user, "tty": tty,
           "detach": detach, "console_size": console_size, "spec": spec,
           "security_spec": sec_spec}
    try:
        child = os.fork()
        if child == 0:
            _intermediate(job, cg, container.id, namespaces, stdio, err_w, sock_child,
                          program, security, pty)
    finally:
        _close(err_w, sock_child, null, program, *(fd for fd, _ in namespaces))
    try:
        master = None
        if tty:
            master = pty.recv_fd(sock_parent)
        report = _read_all(err_r)
        trace.mark("exec: command started (error pipe closed)")
    finally:
        _close(err_r, sock_parent)
    proc = ExecProcess(child, master, detach)
    if report:
        proc.wait()
        if master is not None:
            os.close(master)
        msg = fastjson.loads(report)
        if msg["code"] in (126, 127):
            raise ExecError(msg["error"], msg["code"])
        raise HostError(f"exec in {container.short_id}: {msg['error']}")
    if detach:
        proc.wait()
    return proc


def _intermediate(job, cg, cid, namespaces, stdio, err_w, sock, program, security, pty) -> None:
    """The forked intermediate: into the cgroup and the namespaces, set the command up as the
    container's own, then exec berth-init, which forks it into the pid namespace."""
    err = [err_w]   # where a failure is reported: moves to ERR_FD with the stdio arrangement
    try:
        trace.role("joiner")
        trace.mark("forked")
        linux.prctl(linux.PR_SET_DUMPABLE, 0)
        signal.set_wakeup_fd(-1)
        # out of the caller's session and process group: the hangup or ctrl-c of the caller's
        # terminal is not the command's (berth-init forwards the signals it gets), as with Docker
        os.setsid()
        joins = []
        if job.get("mode") == "health":
            # the health server stays out of the container's cgroup (it is no process of the
            # container's); each check it forks joins through these (berth_init.c)
            joins = [os.open(p, os.O_WRONLY | os.O_CLOEXEC) for p in cg.join_files(cid)]
        else:
            cg.join_self(cid)
        trace.mark("left the session, joined the cgroup")
        for fd, flag in namespaces:
            linux.setns(fd, flag)
        trace.mark("joined the namespaces (setns)")
        spec = job["spec"]
        init.set_rlimits(spec.get("ulimits") or [])
        uid, gid, groups, home = resolve_user(job["user"] or spec.get("user") or "0")
        env = _environment(spec, job, home)
        workdir = job["workdir"] or spec.get("workdir") or "/"
        try:
            os.chdir(workdir)
        except OSError as e:
            raise init.StartError(f"chdir to cwd ({workdir!r}) set in config.json failed: "
                                  f"{e.strerror.lower()}", 126) from None
        path = init.find_executable(job["argv"], env)
        trace.mark("rlimits, user, environment, workdir, executable found")
        if job["tty"]:
            # in the container's devpts; berth-init makes it the command's controlling terminal
            master, slave = pty.open_pty(uid)
            size = job["console_size"]
            if size:
                pty.set_size(slave, size[0], size[1])
            pty.send_fd(sock, master)
            os.close(master)
            stdio = (slave, slave, slave)
        high = [fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, 100)
                for fd in (*stdio, err_w, program, *joins)]
        for target, fd in enumerate(high[:3]):
            os.dup2(fd, target)
        os.dup2(high[3], ERR_FD)   # inheritable: berth-init reports a failed execve on it
        err[0] = ERR_FD
        os.dup2(high[4], PROGRAM_FD, inheritable=False)
        for i, fd in enumerate(high[5:]):
            os.dup2(fd, PROGRAM_FD + 1 + i)
        init.close_from(PROGRAM_FD + 1 + len(joins))
        if security is not None and job["security_spec"]:
            security.finalize(job["security_spec"], uid, gid, groups)
        else:
            idmap.set_groups(groups)
            os.setresgid(gid, gid, gid)
            os.setresuid(uid, uid, uid)
        try:
            os.chdir(workdir)   # again as the user, as exec_command does
        except OSError:
            pass
        trace.mark("stdio arranged, privileges dropped (caps, seccomp); execve berth-init")
        flags = [*(["-t"] if job["tty"] else []), *(["-d"] if job["detach"] else []),
                 *(["-c", str(len(joins))] if joins else [])]
        os.execve(PROGRAM_FD, ["berth-init", job.get("mode", "exec"), *flags, path,
                               *job["argv"]], env)
    except init.StartError as e:
        _report(err[0], e.code, str(e))
    except UserError as e:
        _report(err[0], 126, str(e))
    except OSError as e:
        _report(err[0], 126, f"{e.strerror or e}" + (f": {e.filename}" if e.filename else ""))
    except BaseException as e:  # noqa: BLE001 - never return into the caller's code
        _report(err[0], 126, f"{type(e).__name__}: {e}")


def _environment(spec: dict, job: dict, home: str) -> dict[str, str]:
    """The container's environment with the exec's -e on top, as Docker builds it."""
    env: dict[str, str] = {}
    for item in [*spec.get("env", []), *job["env"]]:
        key, eq, value = item.partition("=")
        if eq:
            env[key] = value
        else:   # a bare name unsets it, as in the container's own environment
            env.pop(key, None)
    env.setdefault("PATH", init.DEFAULT_PATH)
    env.setdefault("HOSTNAME", spec.get("hostname") or "")
    env.setdefault("HOME", home)
    if job["tty"]:
        env.setdefault("TERM", "xterm")
    return env


def _report(fd: int, code: int, message: str) -> None:
    try:
        os.write(fd, fastjson.dumps({"code": code, "error": message}).encode())
    except OSError:
        pass
    os._exit(code)


def _read_all(fd: int) -> bytes:
    data = b""
    while True:
        chunk = os.read(fd, 65536)
        if not chunk:
            return data
        data += chunk


def _close(*fds: int) -> None:
    for fd in fds:
        if fd is not None and fd >= 0:
            os.close(fd)
