"""Support for the Docker API tests: ``berth system service`` started as a subprocess on a
socket inside the test's root, and the docker CLI pointed at it. Holds no tests itself."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import tempfile
import time

import pytest

from helpers import REPO

DOCKER = "/usr/local/bin/docker"


def _answers(path: str) -> bool:
    try:
        with socket.socket(socket.AF_UNIX) as s:
            s.connect(path)
            s.sendall(b"GET /_ping HTTP/1.0\r\n\r\n")
            return s.recv(64).startswith(b"HTTP/1.")
    except OSError:
        return False


class Service:
    """A running ``berth system service`` and what a client needs to reach it."""

    def __init__(self, root: str, path: str, proc: subprocess.Popen, config_dir: str):
        self.root, self.path, self.proc, self.config_dir = root, path, proc, config_dir

    @property
    def url(self) -> str:
        return f"unix://{self.path}"

    def env(self) -> dict:
        """The environment of a docker CLI (or compose, or lazydocker) aimed at this service."""
        return {**os.environ, "DOCKER_HOST": self.url, "DOCKER_CONFIG": self.config_dir,
                "BERTH_ROOT": self.root}

    def docker(self, *args: str, check: bool = True, timeout: float = 120,
               input: str | None = None) -> subprocess.CompletedProcess:
        p = subprocess.run([DOCKER, *args], capture_output=True, text=True, timeout=timeout,
                           env=self.env(), input=input)
        if check and p.returncode != 0:
            raise AssertionError(f"docker {' '.join(args)} exited {p.returncode}\n"
                                 f"stdout: {p.stdout}\nstderr: {p.stderr}")
        return p


def start_service(root: str, *extra: str) -> tuple[subprocess.Popen, str]:
    path = os.path.join(root, "docker.sock")
    # credentials a test logs in with stay in the test's root
    env = {**os.environ, "BERTH_ROOT": root, "BERTH_AUTH_FILE": os.path.join(root, "auth.json")}
    env.pop("BERTH_RUN", None)
    proc = subprocess.Popen([sys.executable, "-m", "tui.cli", "system", "service", "--socket",
                             path, *extra], cwd=REPO, env=env, stderr=subprocess.PIPE,
                            start_new_session=True)
    deadline = time.monotonic() + 30
    while not _answers(path):
        if proc.poll() is not None:
            raise AssertionError(f"the service exited: {proc.stderr.read().decode()}")
        if time.monotonic() > deadline:
            stop_service(proc)
            raise AssertionError("the service did not answer on its socket")
        time.sleep(0.05)
    return proc, path


def stop_service(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


@pytest.fixture
def service(root):
    """The Docker API of this test's root, served until the test ends."""
    proc, path = start_service(root, "--timeout", "0")
    config_dir = tempfile.mkdtemp(prefix="berth-docker-config-", dir="/var/tmp")
    try:
        yield Service(root, path, proc, config_dir)
    finally:
        stop_service(proc)
        subprocess.run(["rm", "-rf", config_dir])
