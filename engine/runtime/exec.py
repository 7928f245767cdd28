"""``exec``: a new process in a running container, without its monitor.

The caller (the CLI: a process without threads or asyncio) forks an intermediate that makes
itself undumpable (its /proc/<pid>/exe is the host's interpreter), joins the container's cgroup
while the host's cgroup tree is still in view, then its namespaces with ``setns`` (user first,
mount last: that one moves its root into the container). A pid namespace applies to children
only, so the intermediate forks the process itself, which resolves the user through the
container's /etc/passwd, opens a terminal in the container's devpts for -t (the master goes back
to the caller over a socket), applies the container's own security spec (bounding set, seccomp,
capabilities, no_new_privs: ``security.finalize``, as the container's pid 1 did) and execs. The
intermediate waits and exits with the command's status; with -d it exits at once.

Everything the forked side runs is imported before the fork: once in the container's mount
namespace, the host's files (this package) are out of reach.
"""

from __future__ import annotations

import _signal as signal
import fcntl
import os

from ..errors import Conflict, ExecError, HostError
from . import cgroups, fastjson, init, linux, process
from .users import UserError, resolve as resolve_user

# joined in this order: the user namespace first (it owns the others), mnt last (it changes
# our root, and with it where every later path would resolve)
NAMESPACES = (("user", linux.CLONE_NEWUSER), ("ipc", linux.CLONE_NEWIPC),
              ("uts", linux.CLONE_NEWUTS), ("net", linux.CLONE_NEWNET),
              ("cgroup", linux.CLONE_NEWCGROUP), ("pid", linux.CLONE_NEWPID),
              ("mnt", linux.CLONE_NEWNS))
ERR_FD = 3


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
    cg = cgroups.detect(store.paths)
    pid = state["pid"]
    start = process.start_time(pid)
    namespaces = _open_namespaces(pid)
    if process.start_time(pid) != start or not start:
        _close(*(fd for fd, _ in namespaces))
        raise Conflict(f"Container {container.id} is not running")
    null = os.open(os.devnull, os.O_RDWR | os.O_CLOEXEC)
    if stdio is None:
        stdio = (null, 1, 2)
    err_r, err_w = os.pipe()
    sock_parent = sock_child = -1
    if tty:
        import _socket
        a, b = _socket.socketpair(_socket.AF_UNIX, _socket.SOCK_STREAM)
        sock_parent, sock_child = a.detach(), b.detach()
    job = {"argv": list(argv), "env": list(env), "workdir": workdir, "user": user, "tty": tty,
           "console_size": console_size, "spec": spec, "security_spec": sec_spec}
    try:
        child = os.fork()
        if child == 0:
            _intermediate(job, cg, container.id, namespaces, stdio, err_w, sock_child,
                          detach, security, pty)
    finally:
        _close(err_w, sock_child, null, *(fd for fd, _ in namespaces))
    try:
        master = None
        if tty:
            master = pty.recv_fd(sock_parent)
        report = _read_all(err_r)
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


def _intermediate(job, cg, cid, namespaces, stdio, err_w, sock, detach, security, pty) -> None:
    """The forked intermediate: into the cgroup and the namespaces, then fork the command."""
    try:
        linux.prctl(linux.PR_SET_DUMPABLE, 0)
        signal.set_wakeup_fd(-1)
        cg.join_self(cid)
        for fd, flag in namespaces:
            linux.setns(fd, flag)
        child = os.fork()
        if child == 0:
            _command(job, stdio, err_w, sock, security, pty)
        # our copies must close, so the caller sees EOF when the command has exec'd
        _close(err_w, sock, *(fd for fd, _ in namespaces))
        if detach:
            os._exit(0)
        while True:
            try:
                _, status = os.waitpid(child, 0)
                break
            except InterruptedError:  # pragma: no cover - PEP 475 retries
                continue
        os._exit(_exit_code(status))
    except BaseException as e:  # noqa: BLE001 - never return into the caller's code
        try:
            os.write(err_w, fastjson.dumps({"code": 126, "error": f"{e}"}).encode())
        finally:
            os._exit(126)


def _command(job, stdio, err_w, sock, security, pty) -> None:
    """In the container's pid namespace: set the process up as the container's own and exec."""
    err = [err_w]   # where a failure is reported: moves to ERR_FD with the stdio arrangement
    try:
        spec = job["spec"]
        for sig in range(1, signal.NSIG):
            if sig not in (signal.SIGKILL, signal.SIGSTOP):
                try:
                    signal.signal(sig, signal.SIG_DFL)
                except (OSError, ValueError):
                    pass
        signal.pthread_sigmask(signal.SIG_SETMASK, [])
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
        if job["tty"]:
            master, slave = pty.open_pty(uid)
            size = job["console_size"]
            if size:
                pty.set_size(slave, size[0], size[1])
            pty.send_fd(sock, master)
            os.close(master)
            pty.become_session_leader(slave)
        else:
            os.setsid()   # out of the caller's session: its terminal is not ours to steer
            high = [fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, 100) for fd in stdio]
            for target, fd in enumerate(high):
                os.dup2(fd, target)
        os.dup2(err_w, ERR_FD, inheritable=False)
        err[0] = ERR_FD
        linux.close_range(ERR_FD + 1)
        if security is not None and job["security_spec"]:
            security.finalize(job["security_spec"], uid, gid, groups)
        else:
            os.setgroups(groups)
            os.setresgid(gid, gid, gid)
            os.setresuid(uid, uid, uid)
        init.exec_command(path, job["argv"], env, workdir)
    except init.StartError as e:
        _report(err[0], e.code, str(e))
    except UserError as e:
        _report(err[0], 126, str(e))
    except OSError as e:
        _report(err[0], 126, f"{e.strerror or e}" + (f": {e.filename}" if e.filename else ""))
    except BaseException as e:  # noqa: BLE001
        _report(err[0], 126, f"{type(e).__name__}: {e}")


def _environment(spec: dict, job: dict, home: str) -> dict[str, str]:
    """The container's environment with the exec's -e on top, as Docker builds it."""
    env: dict[str, str] = {}
    for item in [*spec.get("env", []), *job["env"]]:
        key, _, value = item.partition("=")
        env[key] = value
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
