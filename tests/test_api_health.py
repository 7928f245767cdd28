"""Healthchecks through ``berth system service`` as Docker's clients use them: docker-py's
``healthcheck=``, the docker CLI's ``--health-*`` flags and ``docker ps``, and a compose 1.29
project whose web waits for its db to be ``service_healthy``."""

from __future__ import annotations

import json
import shutil
import subprocess
import time

import pytest

from test_api_support import service  # noqa: F401

COMPOSE = shutil.which("docker-compose")


def _until(get, cond, timeout: float = 30.0):
    deadline = time.monotonic() + timeout
    while True:
        value = get()
        if cond(value):
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"never held; last: {value}")
        time.sleep(0.1)


def test_docker_py_healthcheck_inspect_list_and_events(service, busybox):
    docker = pytest.importorskip("docker")
    client = docker.DockerClient(base_url=service.url, timeout=120)
    try:
        since = int(time.time()) - 1
        c = client.containers.run(busybox, ["sleep", "300"], detach=True, name="hc",
                                  network_mode="none",
                                  healthcheck={"test": ["CMD", "sh", "-c", "echo ok"],
                                               "interval": 100_000_000, "retries": 2})

        def state():
            c.reload()
            return c.attrs["State"]
        st = _until(state, lambda s: (s.get("Health") or {}).get("Status") == "healthy")
        assert c.health == "healthy"
        assert st["Health"]["FailingStreak"] == 0
        assert st["Health"]["Log"][-1]["ExitCode"] == 0
        assert st["Health"]["Log"][-1]["Output"] == "ok\n"
        assert c.attrs["Config"]["Healthcheck"] == {"Test": ["CMD", "sh", "-c", "echo ok"],
                                                    "Interval": 100_000_000, "Retries": 2}
        assert [x.name for x in client.containers.list(filters={"health": "healthy"})] == ["hc"]
        assert client.containers.list(filters={"health": "unhealthy"}) == []
        events = list(client.events(since=since, until=int(time.time()) + 1, decode=True,
                                    filters={"event": "health_status"}))
        assert [e["Action"] for e in events] == ["health_status: healthy"]
        with pytest.raises(docker.errors.APIError) as e:
            client.containers.create(busybox, ["true"],
                                     healthcheck={"test": ["CMD", "true"], "interval": 500_000})
        assert e.value.status_code == 400
        assert "Interval in Healthcheck cannot be less than 1ms" in str(e.value)
        with pytest.raises(docker.errors.APIError) as e:
            client.containers.list(filters={"health": "fine"})
        assert "Unrecognised filter value for health: fine" in str(e.value)
        c.remove(force=True)
    finally:
        client.close()


def test_docker_cli_health_flags_and_ps(service, busybox):
    service.docker("run", "-d", "--name", "web", "--network", "none", "--health-cmd",
                   "echo up", "--health-interval", "100ms", busybox, "sleep", "300")
    _until(lambda: service.docker("inspect", "-f", "{{.State.Health.Status}}", "web").stdout,
           lambda out: out.strip() == "healthy")
    status = service.docker("ps", "--format", "{{.Names}} {{.Status}}").stdout.strip()
    assert status.startswith("web Up ") and status.endswith(" (healthy)")
    assert service.docker("ps", "-q", "--filter", "health=healthy").stdout.strip()
    log = json.loads(service.docker("inspect", "-f", "{{json .State.Health}}", "web").stdout)
    assert log["Log"][-1]["Output"] == "up\n"
    service.docker("rm", "-f", "web")


HEALTHY_PROJECT = """\
version: "2.4"
services:
  db:
    image: busybox:latest
    command: ["sh", "-c", "sleep 1; touch /tmp/ready; exec sleep 300"]
    healthcheck:
      test: ["CMD", "test", "-f", "/tmp/ready"]
      interval: 200ms
      timeout: 2s
      retries: 30
  web:
    image: busybox:latest
    command: ["sleep", "300"]
    volumes: ["data:/data"]
    depends_on:
      db:
        condition: service_healthy
volumes:
  data: {}
"""


@pytest.mark.skipif(COMPOSE is None, reason="docker-compose is not installed")
def test_compose_web_waits_for_a_healthy_db_and_down_leaves_nothing(service, busybox,
                                                                      tmp_path):
    service.docker("tag", busybox, "busybox:latest")
    (tmp_path / "docker-compose.yml").write_text(HEALTHY_PROJECT)

    def compose(*args: str) -> subprocess.CompletedProcess:
        p = subprocess.run([COMPOSE, "-p", "hc", *args], cwd=tmp_path, env=service.env(),
                           capture_output=True, text=True, timeout=180)
        assert p.returncode == 0, p.stdout + p.stderr
        return p

    compose("up", "-d")
    out = service.docker("ps", "--format", "{{.Names}} {{.Status}}").stdout
    rows = dict(line.split(" ", 1) for line in out.strip().splitlines())
    assert set(rows) == {"hc_db_1", "hc_web_1"}
    assert rows["hc_db_1"].endswith("(healthy)")
    # web started once db was healthy
    events = service.docker("events", "--since", "0", "--until", str(int(time.time()) + 1),
                            "--format", "{{.Actor.Attributes.name}} {{.Action}}").stdout
    order = [line for line in events.splitlines()
             if line in ("hc_db_1 health_status: healthy", "hc_web_1 start")]
    assert order == ["hc_db_1 health_status: healthy", "hc_web_1 start"], events
    compose("down", "-v", "-t", "1")
    assert service.docker("ps", "-aq").stdout == ""
    assert service.docker("volume", "ls", "-q").stdout == ""
    assert "hc_default" not in service.docker("network", "ls").stdout
