"""berth on another host over ssh: `-H ssh://root@127.0.0.1:PORT` runs `berth system
dial-stdio` there through Debian's ssh (a private sshd on a free port, its own host key, a key
made here), and the CLI works on that berth as on dockerd; a host that drops mid-session ends
the command with one line."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest

from helpers import REPO
from remote_engines import _children, berth_env, sshd, wait_for
from test_remote_docker import berth, exercise


@pytest.fixture
def remote(root, busybox):
    with sshd({**berth_env(), "BERTH_ROOT": root}) as (port, env, proc):
        yield f"ssh://root@127.0.0.1:{port}", env, proc


def test_cli_through_ssh_to_a_daemonless_berth(remote, tmp_path):
    url, env, proc = remote
    started = time.monotonic()
    p = berth("-H", url, "ps", env=env)
    first_list = time.monotonic() - started
    assert p.returncode == 0 and p.stdout.startswith("CONTAINER ID"), p
    import engine
    e = engine.connect(url)
    os.environ.update(env)
    try:
        assert e.engine_info().kind == "berth" and e.engine_info().label() == "berth"
    finally:
        for k in env:
            os.environ.pop(k)
        e.close()
    exercise(["-H", url], env=env, image="busybox:1.38.0-musl")
    # and as a saved connection with its key
    home = {**env, "HOME": str(tmp_path)}
    assert berth("connection", "add", "web", url, env=home).returncode == 0
    assert "busybox" in berth("--connection", "web", "images", env=home).stdout
    print(f"first list over ssh: {first_list:.2f}s")
    # nothing listens on the far end between commands: no daemon was left behind
    assert not [pid for pid in _children(proc.pid)
                if os.path.exists(f"/proc/{pid}")
                and b"dial-stdio" in open(f"/proc/{pid}/cmdline", "rb").read()]


def test_a_host_that_drops_mid_session(remote):
    url, env, proc = remote
    p = berth("-H", url, "run", "-d", "--name", "talker", "--network", "none",
              "busybox:1.38.0-musl", "sh", "-c", "while :; do echo tick; sleep 0.2; done",
              env=env)
    assert p.returncode == 0, p.stderr
    full = {k: v for k, v in os.environ.items() if not k.startswith(("BERTH_", "DOCKER_"))}
    follower = subprocess.Popen([sys.executable, "-m", "tui.cli", "-H", url, "logs", "-f",
                                 "talker"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                cwd=REPO, env={**full, **env})
    try:
        assert follower.stdout.readline() == b"tick\n"
        sessions = _children(proc.pid)
        assert sessions
        for pid in sessions:   # the connection's sshd: the host is gone for this client
            os.kill(pid, signal.SIGKILL)
        wait_for(lambda: follower.poll() is not None, 20, "the follower to notice")
        err = follower.stderr.read().decode()
        assert follower.returncode == 125 and err.startswith("berth: lost the connection to ssh://"), err
        assert err.count("\n") == 1, err
    finally:
        if follower.poll() is None:
            follower.kill()
        follower.wait()
    # the container lives on (no daemon held it), and the host answers again
    p = berth("-H", url, "ps", "--format", "{{.Names}}", env=env)
    assert p.stdout.split() == ["talker"], p
    assert berth("-H", url, "rm", "-f", "talker", env=env).returncode == 0
