"""`berth connection add|ls|rm|use`, docker's contexts and the environment's hosts, and the
one-line refusals of what isn't a connection or an address."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from helpers import REPO


@pytest.fixture
def home(tmp_path):
    """A HOME of the test's own: connections and docker's contexts are per user."""
    return str(tmp_path)


def berth(home, *args, env=None):
    full = {k: v for k, v in os.environ.items()
            if not k.startswith(("BERTH_", "DOCKER_", "XDG_")) and k != "CONTAINER_HOST"}
    full.update({"HOME": home, **(env or {})})
    return subprocess.run([sys.executable, "-m", "tui.cli", *args], capture_output=True,
                          text=True, cwd=REPO, env=full, timeout=60)


def names(home, env=None):
    p = berth(home, "connection", "ls", "--format", "json", env=env)
    assert p.returncode == 0, p.stderr
    return {r["Name"]: r for r in json.loads(p.stdout)}


def test_add_ls_use_rm(home, tmp_path):
    key = tmp_path / "id"
    key.write_text("not really a key, only a file")
    assert berth(home, "connection", "add", "web", "ssh://root@127.0.0.1:2222",
                 "--identity", str(key)).returncode == 0
    assert berth(home, "connection", "add", "dk", "unix:///run/other/docker.sock",
                 "--default").returncode == 0
    rows = names(home)
    assert rows["local"]["Default"] is False and rows["dk"]["Default"] is True
    assert rows["web"]["URI"] == "ssh://root@127.0.0.1:2222"
    assert rows["web"]["Identity"] == str(key)
    stored = json.load(open(os.path.join(home, ".config", "berth", "connections.json")))
    assert stored["default"] == "dk"
    assert os.stat(os.path.join(home, ".config", "berth", "connections.json")).st_mode & 0o077 == 0
    assert berth(home, "connection", "use", "web").returncode == 0
    assert names(home)["web"]["Default"] is True
    assert berth(home, "connection", "rm", "web").returncode == 0
    rows = names(home)
    assert "web" not in rows and rows["local"]["Default"] is True   # its default went with it
    assert berth(home, "connection", "use", "local").returncode == 0


@pytest.mark.parametrize("args, words", [
    (("connection", "add", "x", "ftp://host"), "not an engine address"),
    (("connection", "add", "x", "ssh://"), "needs a host"),
    (("connection", "add", "local", "unix:///a"), "invalid connection name"),
    (("connection", "add", "-bad", "unix:///a"), None),
    (("connection", "add", "x", "ssh://h", "--identity", "/no/such/key"), "no such file"),
    (("connection", "rm", "never"), "no connection named 'never'"),
    (("connection", "use", "never"), "no connection named 'never'"),
    (("--connection", "never", "ps"), "no connection named 'never'"),
    (("-H", "gopher://x", "ps"), "not an engine address"),
])
def test_bad_input_is_one_line(home, args, words):
    p = berth(home, *args)
    assert p.returncode in (2, 125), p
    if words:
        assert p.returncode == 125 and p.stderr.startswith("berth: ") and words in p.stderr, p
        assert p.stderr.count("\n") == 1
    assert not os.path.exists(os.path.join(home, ".config", "berth", "connections.json"))


def test_unreachable_engine_is_one_line(home, tmp_path):
    p = berth(home, "-H", f"unix://{tmp_path}/nothing.sock", "ps")
    assert p.returncode == 125 and p.stderr.startswith("berth: cannot reach unix://"), p
    assert p.stderr.count("\n") == 1


def test_docker_contexts_and_environment_are_listed(home, tmp_path):
    env = {"DOCKER_CONFIG": str(tmp_path / "docker")}
    made = subprocess.run(["docker", "context", "create", "elsewhere", "--docker",
                           f"host=unix://{tmp_path}/d.sock"], capture_output=True, text=True,
                          env={**os.environ, **env})
    assert made.returncode == 0, made.stderr
    rows = names(home, {**env, "DOCKER_HOST": "tcp://127.0.0.1:2375",
                        "CONTAINER_HOST": "ssh://core@127.0.0.1"})
    assert rows["elsewhere"]["URI"] == f"unix://{tmp_path}/d.sock"
    assert rows["elsewhere"]["Source"] == "docker context"
    assert rows["DOCKER_HOST"]["URI"] == "tcp://127.0.0.1:2375"
    assert rows["CONTAINER_HOST"]["URI"] == "ssh://core@127.0.0.1"
    # and usable by name: nothing listens there, which the error says
    p = berth(home, "--connection", "elsewhere", "ps", env=env)
    assert p.returncode == 125 and f"cannot reach unix://{tmp_path}/d.sock" in p.stderr, p


def test_the_dashboard_on_a_host_that_cant_be_reached_is_one_line(home, tmp_path):
    """The engine is asked who it is before the dashboard opens: a host that isn't there is
    one line, not a blank screen."""
    p = subprocess.run(["script", "-qec", f"{sys.executable} -m tui.cli -H unix://{tmp_path}/x.sock",
                        "/dev/null"], capture_output=True, text=True, cwd=REPO, timeout=60,
                       env={**{k: v for k, v in os.environ.items() if not k.startswith("BERTH_")},
                            "HOME": home})
    assert f"berth: cannot reach unix://{tmp_path}/x.sock" in p.stdout, p


def test_only_commands_for_an_engine_start_its_ssh_early(home, tmp_path, root):
    """With an ssh connection as the default, a command for an engine starts its ssh at once
    (tui/cli.py _dial_early), but what serves this machine's berth (`system dial-stdio`, which
    every ssh connection to this host runs) or works on no engine (`connection ls`) starts
    none."""
    log = tmp_path / "ssh.log"
    fake = tmp_path / "ssh"
    # an "ssh" that says it was started and then fails as an unreachable host does
    fake.write_text(f"#!/bin/sh\necho \"$*\" >> {log}\nexit 255\n")
    fake.chmod(0o755)
    env = {"BERTH_SSH_COMMAND": str(fake), "BERTH_ROOT": root}
    assert berth(home, "connection", "add", "far", "ssh://core@far.invalid", "--default",
                 env=env).returncode == 0
    assert berth(home, "connection", "ls", env=env).returncode == 0
    p = subprocess.run([sys.executable, "-m", "tui.cli", "system", "dial-stdio"],
                       input=b"GET /_ping HTTP/1.1\r\nHost: x\r\n\r\n", capture_output=True,
                       cwd=REPO, timeout=60, env={**os.environ, "HOME": home, **env})
    assert p.returncode == 0 and p.stdout.endswith(b"OK"), p
    assert not log.exists(), log.read_text()
    p = berth(home, "ps", env=env)
    assert p.returncode == 125 and p.stderr.startswith("berth: "), p
    assert log.read_text().count("far.invalid") >= 1
