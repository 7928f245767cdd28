"""Real engines on private sockets for the remote tests: Debian's dockerd (its own containerd,
data, exec root, no bridge or iptables), podman's service, and berth over ssh through a
private sshd on a free 127.0.0.1 port. Each is started in the test's own directory, killed by
its pid and cleaned up, pass or fail; nothing of the host's docker, podman or ssh is touched."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time

from helpers import BUSYBOX_MUSL, REPO

# this host's hard RLIMIT_NOFILE is 20000 and there is no CAP_SYS_RESOURCE: engines that set
# containers' limits above it by default are given limits under it
ULIMITS = ["nofile=1024:1024", "nproc=4096:4096"]


def wait_for(check, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


def _answers(path: str) -> bool:
    s = socket.socket(socket.AF_UNIX)
    try:
        s.connect(path)
        s.sendall(b"GET /_ping HTTP/1.1\r\nHost: x\r\n\r\n")
        return b" 200 " in s.recv(200)
    except OSError:
        return False
    finally:
        s.close()


def _stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def docker_archive(tmp: str) -> str:
    """busybox:musl as a `docker save` archive (dockerd 20.10 doesn't load OCI layouts)."""
    out = os.path.join(tmp, "busybox.tar")
    if not os.path.exists(out):
        subprocess.run(["skopeo", "copy", "-q", f"oci-archive:{BUSYBOX_MUSL}",
                        f"docker-archive:{out}:busybox:musl"], check=True)
    return out


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# what a dockerd run on the host's own /run and /etc would leave there
HOST_TRACES = ("/etc/docker/key.json", "/run/docker", "/run/containerd",
               "/sys/fs/cgroup/memory/docker", "/sys/fs/cgroup/pids/docker")


@contextlib.contextmanager
def dockerd(tls_port: int = 0):
    """A private dockerd: (unix URL, its tmp dir, process). With ``tls_port`` it also listens
    on tcp 127.0.0.1:PORT with --tlsverify and certificates made here (tmp/certs)."""
    tmp = tempfile.mkdtemp(prefix="berth-dockerd-", dir="/var/tmp")
    sock = os.path.join(tmp, "docker.sock")
    traces_before = {p for p in HOST_TRACES if os.path.lexists(p)}
    argv = ["dockerd", "-H", f"unix://{sock}", "--data-root", f"{tmp}/data", "--exec-root",
            f"{tmp}/exec", "--pidfile", f"{tmp}/pid", "--bridge=none", "--iptables=false",
            "--ip6tables=false", "--containerd-namespace", "berthtest",
            "--containerd-plugins-namespace", "berthtestp",
            *[f"--default-ulimit={u}" for u in ULIMITS]]
    if tls_port:
        certs = make_certs(os.path.join(tmp, "certs"))
        argv += ["-H", f"tcp://127.0.0.1:{tls_port}", "--tlsverify", f"--tlscacert={certs}/ca.pem",
                 f"--tlscert={certs}/server-cert.pem", f"--tlskey={certs}/server-key.pem"]
    cgroup_parent = f"berth-test-dockerd-{os.path.basename(tmp)}"
    argv.append(f"--cgroup-parent=/{cgroup_parent}")
    os.makedirs(f"{tmp}/etc")
    # /run and /etc/docker private to dockerd (its own mount namespace): its key.json, plugin
    # and containerd state never reach the host's; its containers' cgroups under a parent
    # of its own, removed below
    log = open(os.path.join(tmp, "log"), "wb")
    proc = subprocess.Popen(
        ["unshare", "--mount", "--propagation", "private", "sh", "-c",
         f'mount -t tmpfs tmpfs /run && mount --bind {tmp}/etc /etc/docker && exec "$@"',
         "dockerd", *argv], stdout=log, stderr=log, start_new_session=True)
    try:
        wait_for(lambda: proc.poll() is not None or _answers(sock), 60, "dockerd")
        assert proc.poll() is None, open(os.path.join(tmp, "log")).read()[-3000:]
        subprocess.run(["docker", "-H", f"unix://{sock}", "load", "-q", "-i",
                        docker_archive(tmp)], check=True, capture_output=True)
        yield f"unix://{sock}", tmp, proc
    finally:
        if proc.poll() is None:
            # its containers first: dockerd leaves running ones to containerd's shims
            subprocess.run(["docker", "-H", f"unix://{sock}", "rm", "-f", "-v",
                            *subprocess.run(["docker", "-H", f"unix://{sock}", "ps", "-aq"],
                                            capture_output=True, text=True).stdout.split()],
                           capture_output=True)
        _stop(proc)
        log.close()
        _kill_leftovers(tmp)
        _umount_below(tmp)
        _remove_cgroup(cgroup_parent)
        shutil.rmtree(tmp, ignore_errors=True)
    left = {p for p in HOST_TRACES if os.path.lexists(p)} - traces_before
    assert not left, f"dockerd left these on the host: {sorted(left)}"


def _remove_cgroup(name: str) -> None:
    """The cgroup parent dockerd's containers were under, in every hierarchy (deepest first)."""
    for hierarchy in os.listdir("/sys/fs/cgroup"):
        top = os.path.join("/sys/fs/cgroup", hierarchy, name)
        if os.path.isdir(top) and not os.path.islink(top):
            for dirpath, _dirs, _files in sorted(os.walk(top), key=lambda w: -len(w[0])):
                with contextlib.suppress(OSError):
                    os.rmdir(dirpath)


def _kill_leftovers(path: str) -> None:
    """Processes an engine left that name ``path`` (podman's exec conmons linger 300 s after
    the service is gone; containerd shims): by their pids, ours only."""
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) == os.getpid():
            continue
        try:
            with open(f"/proc/{entry}/cmdline", "rb") as f:
                cmdline = f.read()
        except OSError:
            continue
        if path.encode() in cmdline:
            with contextlib.suppress(ProcessLookupError):
                os.kill(int(entry), signal.SIGKILL)


def _umount_below(path: str) -> None:
    with open("/proc/self/mountinfo") as f:
        points = [line.split()[4] for line in f]
    for p in sorted((p for p in points if p.startswith(path + "/")), key=len, reverse=True):
        subprocess.run(["umount", "-l", p], capture_output=True)


def make_certs(d: str) -> str:
    """A CA, a server certificate for 127.0.0.1 and a client certificate, as docker's docs
    make them."""
    os.makedirs(d)

    def ssl(*args):
        subprocess.run(["openssl", *args], check=True, capture_output=True, cwd=d)

    ssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=test-ca",
        "-keyout", "ca-key.pem", "-out", "ca.pem")
    with open(os.path.join(d, "server.ext"), "w") as f:
        f.write("subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n")
    with open(os.path.join(d, "client.ext"), "w") as f:
        f.write("extendedKeyUsage=clientAuth\n")
    for who in ("server", "client"):
        ssl("req", "-newkey", "rsa:2048", "-nodes", "-subj", f"/CN={who}", "-keyout",
            f"{who}-key.pem", "-out", f"{who}.csr")
        ssl("x509", "-req", "-in", f"{who}.csr", "-CA", "ca.pem", "-CAkey", "ca-key.pem",
            "-CAcreateserial", "-days", "2", "-extfile", f"{who}.ext", "-out", f"{who}-cert.pem")
    # the names the docker CLI (and berth) look for in DOCKER_CERT_PATH
    shutil.copy(os.path.join(d, "client-cert.pem"), os.path.join(d, "cert.pem"))
    shutil.copy(os.path.join(d, "client-key.pem"), os.path.join(d, "key.pem"))
    return d


def _var_tmp_files() -> set[str]:
    """The files in /var/tmp named as podman's API handlers name their temporary files (other
    workers' tests make roots and claims there meanwhile)."""
    return {n for n in os.listdir("/var/tmp") if n.startswith(("api_load.tar", "digest.txt"))}


@contextlib.contextmanager
def podman_service():
    """``podman system service`` on a private socket, with private storage: (URL, tmp, proc)."""
    tmp = tempfile.mkdtemp(prefix="berth-podman-", dir="/var/tmp")
    sock = os.path.join(tmp, "podman.sock")
    conf = os.path.join(tmp, "containers.conf")
    with open(conf, "w") as f:
        f.write("[containers]\ndefault_ulimits = [%s]\n" % ", ".join(f'"{u}"' for u in ULIMITS))
    # the service's API handlers write their temporary files (api_load.tar*, digest.txt* of
    # a load or push) to $TMPDIR, /var/tmp by default, and leave some there
    os.mkdir(os.path.join(tmp, "api-tmp"))
    env = {**os.environ, "CONTAINERS_CONF": conf, "TMPDIR": os.path.join(tmp, "api-tmp")}
    base = ["podman", "--root", f"{tmp}/root", "--runroot", f"{tmp}/run", "--tmpdir",
            f"{tmp}/tmp"]
    log = open(os.path.join(tmp, "log"), "wb")
    proc = subprocess.Popen([*base, "system", "service", "--time", "0", f"unix://{sock}"],
                            stdout=log, stderr=log, env=env, start_new_session=True)
    try:
        wait_for(lambda: proc.poll() is not None or _answers(sock), 30, "podman service")
        assert proc.poll() is None, open(os.path.join(tmp, "log")).read()[-3000:]
        subprocess.run([*base, "load", "-q", "-i", docker_archive(tmp)], check=True,
                       capture_output=True, env=env)
        before = _var_tmp_files()
        yield f"unix://{sock}", tmp, proc
        left = _var_tmp_files() - before
        assert not left, f"the podman service left files in /var/tmp: {sorted(left)}"
    finally:
        subprocess.run([*base, "rm", "-af", "-t", "0"], capture_output=True, env=env)
        _stop(proc)
        log.close()
        subprocess.run([*base, "system", "reset", "-f"], capture_output=True, env=env)
        _kill_leftovers(tmp)
        _umount_below(tmp)
        shutil.rmtree(tmp, ignore_errors=True)


@contextlib.contextmanager
def sshd(remote_env: dict[str, str], config: str = ""):
    """A private sshd on a free 127.0.0.1 port accepting root with a key made here, whose
    sessions get ``remote_env`` (berth on PATH, the test's BERTH_ROOT); ``config``: more
    sshd_config lines. Yields (port, env):
    env has BERTH_SSH_COMMAND for the client (the key's known host file and this port's
    host key), so nothing of root's ~/.ssh is read or written."""
    tmp = tempfile.mkdtemp(prefix="berth-sshd-", dir="/var/tmp")
    _privsep_dir(+1)
    keygen = lambda path: subprocess.run(  # noqa: E731
        ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", path], check=True)
    keygen(f"{tmp}/host_key")
    keygen(f"{tmp}/id")
    options = ",".join(f'environment="{k}={v}"' for k, v in remote_env.items())
    with open(f"{tmp}/authorized_keys", "w") as f:
        f.write(f"{options} {open(f'{tmp}/id.pub').read()}")
    port = free_port()
    with open(f"{tmp}/sshd_config", "w") as f:
        f.write(f"""Port {port}
ListenAddress 127.0.0.1
HostKey {tmp}/host_key
PidFile {tmp}/sshd.pid
AuthorizedKeysFile {tmp}/authorized_keys
PermitRootLogin prohibit-password
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM yes
StrictModes no
PermitUserEnvironment yes
LogLevel ERROR
{config}""")
    with open(f"{tmp}/known_hosts", "w") as f:
        f.write(f"[127.0.0.1]:{port} {open(f'{tmp}/host_key.pub').read()}")
    log = open(f"{tmp}/log", "wb")
    proc = subprocess.Popen(["/usr/sbin/sshd", "-D", "-e", "-f", f"{tmp}/sshd_config"],
                            stdout=log, stderr=log, start_new_session=True)
    client = (f"ssh -F none -o UserKnownHostsFile={tmp}/known_hosts "
              f"-o StrictHostKeyChecking=yes -o IdentitiesOnly=yes -i {tmp}/id")
    try:
        def listening():
            with socket.socket() as s:
                return proc.poll() is not None or s.connect_ex(("127.0.0.1", port)) == 0
        wait_for(listening, 20, "sshd")
        assert proc.poll() is None, open(f"{tmp}/log").read()
        yield port, {"BERTH_SSH_COMMAND": client}, proc
    finally:
        # the sessions' processes are sshd's children in their own sessions: by their pids
        for pid in _children(proc.pid):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGTERM)
        _stop(proc)
        log.close()
        shutil.rmtree(tmp, ignore_errors=True)
        _privsep_dir(-1)


PRIVSEP = "/run/sshd"                       # sshd's compiled-in privilege separation dir
PRIVSEP_USERS = "/run/berth-test-sshd.users"   # who uses it, and whether a test made it


def _privsep_dir(delta: int) -> None:
    """Make /run/sshd for the first of the tests' sshds (on any xdist worker) and remove it
    after the last, if a test made it: removed under a running sshd, its next connection
    fails before ssh reads a byte (a client's "connection reset by peer")."""
    import fcntl
    import json
    fd = os.open(PRIVSEP_USERS, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        raw = os.read(fd, 1 << 16)
        state = json.loads(raw) if raw else {"made": not os.path.isdir(PRIVSEP), "users": []}
        users = [p for p in state["users"] if os.path.exists(f"/proc/{p}")]
        if delta > 0:
            os.makedirs(PRIVSEP, mode=0o755, exist_ok=True)
            users.append(os.getpid())
        elif os.getpid() in users:
            users.remove(os.getpid())
        if users:
            os.lseek(fd, 0, os.SEEK_SET)
            os.ftruncate(fd, 0)
            os.write(fd, json.dumps({"made": state["made"], "users": users}).encode())
            return
        if state["made"]:
            with contextlib.suppress(OSError):
                os.rmdir(PRIVSEP)
        os.unlink(PRIVSEP_USERS)
    finally:
        os.close(fd)


def _children(pid: int) -> list[int]:
    out = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as f:
                    ppid = int(f.read().rsplit(")", 1)[1].split()[1])
            except (OSError, ValueError, IndexError):
                continue
            if ppid == pid:
                out.append(int(entry))
    return out


def berth_env() -> dict[str, str]:
    """PATH for a remote session that finds this tree's berth first."""
    return {"PATH": f"{REPO}/.venv/bin:/usr/sbin:/usr/bin:/sbin:/bin"}
