"""berth's CLI as a client of podman's Docker-compatible service on a private socket (private
storage; its containers' rlimits under this host's hard limits), and a service killed while a
client follows its logs."""

from __future__ import annotations

import os
import signal
import subprocess
import sys

import pytest

from helpers import REPO
from remote_engines import berth_env, podman_service, sshd, wait_for
from test_remote_docker import berth, exercise

pytestmark = pytest.mark.xdist_group("remote-podman")


@pytest.fixture(scope="module")
def podman_host():
    with podman_service() as (url, tmp, proc):
        yield url, proc


def test_every_other_verb_through_podman(podman_host, tmp_path):
    from remote_verbs import exercise_verbs
    url, _ = podman_host
    # podman 4.3's compat API has no update (4.4 has), and its search does not use the
    # X-Registry-Auth it is sent (its push does)
    exercise_verbs(["-H", url], tmp_path, "docker.io/library/busybox:musl",
                   lacks={"update": "has no POST /containers/verbs/update in its API",
                          "search": "authentication required"},
                   registry_name="localhost")


def _forward_dirs() -> set[str]:
    import glob
    import tempfile
    return set(glob.glob(os.path.join(tempfile.gettempdir(), "berth-ssh-*")))


def test_podman_over_ssh_at_its_socket(podman_host, tmp_path):
    """podman's own form of a connection, ssh://USER@HOST[:PORT]/SOCKET: the service's socket
    on the far end, reached through the tests' sshd with ssh -L (nothing but sshd there);
    the CLI's verbs through it, exec's hijacked stream with stdin's end included; saved as a
    connection; a socket that isn't there is one line; no ssh or socket directory is left."""
    url, _ = podman_host
    sock = url[len("unix://"):]
    before = _forward_dirs()
    with sshd(berth_env()) as (port, env, _):
        target = f"ssh://root@127.0.0.1:{port}{sock}"
        import engine
        os.environ.update(env)
        try:
            e = engine.connect(target)
            assert e.engine_info().kind == "podman", e.engine_info()
            e.close()
        finally:
            for k in env:
                os.environ.pop(k)
        exercise(["-H", target], env=env, name="over-ssh", image="docker.io/library/busybox:musl")
        home = {**env, "HOME": str(tmp_path)}
        assert berth("connection", "add", "pm", target, env=home).returncode == 0
        assert "busybox" in berth("--connection", "pm", "images", env=home).stdout
        p = berth("-H", f"{target}.missing", "ps", env=env)
        assert p.returncode == 125 and p.stderr.count("\n") == 1, p
        assert f"ssh could not open {sock}.missing there" in p.stderr, p
        # each command's ssh ended with it, and took its local socket's directory along
        wait_for(lambda: not [pid for pid in os.listdir("/proc") if pid.isdigit()
                              and f"-p\0{port}\0".encode() in _cmdline(pid)], 10,
                 "the commands' ssh forwards to end")
        wait_for(lambda: _forward_dirs() <= before, 10, "their socket directories to go")


def _cmdline(pid: str) -> bytes:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return f.read()
    except OSError:
        return b""


def test_cli_through_podman_and_a_killed_service(podman_host):
    """Last in this file: it kills the service."""
    import engine
    url, proc = podman_host
    if True:
        info = engine.connect(url).engine_info()
        assert info.kind == "podman" and info.label().startswith("Podman "), info
        exercise(["-H", url], image="docker.io/library/busybox:musl")
        p = berth("-H", url, "run", "-d", "--name", "talker", "--network", "none",
                  "docker.io/library/busybox:musl", "sh", "-c",
                  "while :; do echo tick; sleep 0.2; done")
        assert p.returncode == 0, p.stderr
        env = {k: v for k, v in os.environ.items() if not k.startswith(("BERTH_", "DOCKER_"))}
        follower = subprocess.Popen([sys.executable, "-m", "tui.cli", "-H", url, "logs", "-f",
                                     "talker"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                    cwd=REPO, env=env)
        try:
            assert follower.stdout.readline() == b"tick\n"
            proc.send_signal(signal.SIGKILL)   # the host goes away mid-session
            proc.wait()
            wait_for(lambda: follower.poll() is not None, 20, "the follower to notice")
            err = follower.stderr.read().decode()
            assert follower.returncode == 125 and err.startswith("berth: ") \
                and err.count("\n") == 1, (follower.returncode, err)
        finally:
            if follower.poll() is None:
                follower.kill()
            follower.wait()
        p = berth("-H", url, "ps")
        assert p.returncode == 125 and "cannot reach" in p.stderr, p
