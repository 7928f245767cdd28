"""Healthchecks through the CLI, as Docker runs them: the container's monitor has its health
server (berth-init's health mode) run the check inside the container, and State.Health, ps,
the events and ``--filter health=`` say what came of it (engine/runtime/health.py)."""

from __future__ import annotations

import json
import os
import time

import pytest

FAST = ["--health-interval", "100ms", "--health-start-interval", "100ms"]


def _inspect(cli, name: str) -> dict:
    return json.loads(cli("inspect", name).stdout)[0]


def _until(cli, name: str, cond, timeout: float = 30.0) -> dict:
    """The container's inspect once ``cond(inspect)`` holds (polled, with a deadline)."""
    deadline = time.monotonic() + timeout
    while True:
        data = _inspect(cli, name)
        if cond(data):
            return data
        if time.monotonic() > deadline:
            raise AssertionError(f"never held; last State: {json.dumps(data['State'])}")
        time.sleep(0.05)


def _status(data: dict) -> str:
    return ((data["State"].get("Health") or {}).get("Status")) or ""


def _health_servers(monitor_pid: int) -> list[int]:
    """The monitor's children that are health servers (berth-init's health mode)."""
    out = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                stat = f.read()
        except OSError:
            continue
        name = stat.partition(" (")[2].rpartition(")")[0]
        ppid = int(stat.rpartition(")")[2].split()[1])
        if name == "berth-health" and ppid == monitor_pid:
            out.append(int(entry))
    return out


def test_a_passing_check_runs_as_the_container_and_turns_healthy(cli, busybox, root):
    cli("run", "-d", "--name", "web", "--network", "none", "-u", "1000", "-w", "/tmp",
        "-e", "FOO=bar", "--health-cmd", "id -u; pwd; echo $FOO; hostname", *FAST,
        busybox, "sleep", "300")
    cli("run", "-d", "--name", "plain", "--network", "none", busybox, "sleep", "300")
    data = _until(cli, "web", lambda d: _status(d) == "healthy")
    cid = data["Id"]
    last = data["State"]["Health"]["Log"][-1]
    # the container's user, working directory, environment and UTS namespace
    assert last["ExitCode"] == 0 and last["Output"] == f"1000\n/tmp\nbar\n{cid[:12]}\n"
    assert last["Start"] <= last["End"] and data["State"]["Health"]["FailingStreak"] == 0
    assert data["Config"]["Healthcheck"] == {"Test": ["CMD-SHELL",
                                                      "id -u; pwd; echo $FOO; hostname"],
                                             "Interval": 100_000_000,
                                             "StartInterval": 100_000_000}
    assert "(healthy)" in cli("ps", "--filter", "name=web").stdout
    assert cli("ps", "--filter", "health=healthy", "--format", "{{.Names}}").stdout == "web\n"
    assert cli("ps", "--filter", "health=none", "--format", "{{.Names}}").stdout == "plain\n"
    assert cli("ps", "--filter", "health=unhealthy", "-q").stdout == ""
    bad = cli("ps", "--filter", "health=fine", check=False)
    assert bad.returncode == 125 and "Unrecognised filter value for health: fine" in bad.stderr
    until = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + 1))
    events = cli("events", "--since", "0", "--until", until, "--filter",
                 "event=health_status").stdout
    assert f"container health_status: healthy {cid}" in events and "name=web" in events
    # the server lives outside the container: top shows the container's own process only
    assert len(cli("top", "web").stdout.strip().splitlines()) == 2
    monitor = json.load(open(os.path.join(root, "containers", cid, "state.json")))["monitor_pid"]
    servers = _health_servers(monitor)
    assert len(servers) == 1
    # a stopped container keeps its Health as it was (Docker), and its server is gone
    cli("stop", "-t", "0", "web")
    stopped = _inspect(cli, "web")
    assert _status(stopped) == "healthy" and stopped["State"]["Health"]["Log"]
    assert not os.path.exists(f"/proc/{servers[0]}/exe")   # gone (or a zombie, a moment)
    assert "(healthy)" not in cli("ps", "-a", "--filter", "name=web").stdout
    assert cli("ps", "-a", "--filter", "health=healthy", "-q").stdout.strip() == cid[:12]
    # a start begins again: starting, a streak of 0, the log kept
    cli("start", "web")
    restarted = _inspect(cli, "web")
    assert _status(restarted) in ("starting", "healthy")
    assert len(restarted["State"]["Health"]["Log"]) >= 1


def test_a_failing_check_turns_unhealthy_after_its_retries_and_nothing_restarts(cli, busybox):
    cli("run", "-d", "--name", "db", "--network", "none", "--restart", "always",
        "--health-cmd", "head -c 5000 /dev/zero | tr '\\0' x; exit 3", "--health-retries", "2",
        *FAST,
        busybox, "sleep", "300")
    data = _until(cli, "db", lambda d: _status(d) == "unhealthy")
    health = data["State"]["Health"]
    assert health["FailingStreak"] >= 2
    # Docker keeps 4096 bytes of output and says it cut the rest
    assert all(e["ExitCode"] == 3 and e["Output"] == "x" * 4096 + "..." for e in health["Log"])
    assert len(health["Log"]) <= 5
    assert "(unhealthy)" in cli("ps").stdout
    # an unhealthy container is left running, as Docker leaves it
    time.sleep(0.5)
    data = _inspect(cli, "db")
    assert data["State"]["Running"] and data["RestartCount"] == 0
    until = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + 1))
    events = cli("events", "--since", "0", "--until", until, "--filter", "container=db").stdout
    assert "health_status: unhealthy" in events and "health_status: healthy" not in events


def test_a_check_past_its_timeout_is_killed_not_the_container(cli, busybox):
    cli("run", "-d", "--name", "slow", "--network", "none", "--health-cmd",
        "echo begun; sleep 60 & sleep 60", "--health-timeout", "300ms",
        "--health-retries", "1", *FAST, busybox, "sleep", "300")
    data = _until(cli, "slow", lambda d: _status(d) == "unhealthy")
    entry = data["State"]["Health"]["Log"][0]
    assert entry["ExitCode"] == -1
    assert entry["Output"] == "Health check exceeded timeout (300ms): begun\n"
    assert data["State"]["Running"]
    # the whole tree went: neither sleep 60 is left in the container
    deadline = time.monotonic() + 10
    while "sleep 60" in cli("top", "slow").stdout:
        assert time.monotonic() < deadline, cli("top", "slow").stdout
        time.sleep(0.1)


def test_failures_in_the_start_period_do_not_count(cli, busybox):
    cli("run", "-d", "--name", "boot", "--network", "none", "--health-cmd", "exit 1",
        "--health-retries", "1", "--health-start-period", "2s", *FAST,
        busybox, "sleep", "300")
    data = _until(cli, "boot", lambda d: (d["State"].get("Health") or {}).get("Log"))
    started = _seconds(data["State"]["StartedAt"])
    health = data["State"]["Health"]
    first = health["Log"][0]
    if _seconds(first["Start"]) - started < 1.5:   # surely inside the period: not counted
        assert first["ExitCode"] == 1
        assert health["Status"] == "starting" and health["FailingStreak"] == 0
    data = _until(cli, "boot", lambda d: _status(d) == "unhealthy")
    failing = [e for e in data["State"]["Health"]["Log"]
               if _seconds(e["Start"]) - started >= 2]
    assert failing and data["State"]["Health"]["FailingStreak"] >= 1


def _seconds(rfc3339: str) -> float:
    from engine.runtime.filters import rfc3339_seconds
    return rfc3339_seconds(rfc3339)


def test_the_images_healthcheck_and_no_healthcheck_over_it(cli, busybox):
    cli("run", "-d", "--name", "base", "--network", "none", busybox, "sleep", "300")
    cli("commit", "--change", "HEALTHCHECK --interval=100ms --retries=2 CMD [\"true\"]",
        "base", "checked:1")
    image = json.loads(cli("image", "inspect", "checked:1").stdout)[0]["Config"]
    assert image["Healthcheck"] == {"Test": ["CMD", "true"], "Interval": 100_000_000,
                                    "Retries": 2}
    cli("run", "-d", "--name", "inherits", "--network", "none", "--health-timeout", "5s",
        "checked:1", "sleep", "300")
    data = _until(cli, "inherits", lambda d: _status(d) == "healthy")
    assert data["Config"]["Healthcheck"] == {"Test": ["CMD", "true"], "Interval": 100_000_000,
                                             "Timeout": 5_000_000_000, "Retries": 2}
    cli("run", "-d", "--name", "off", "--network", "none", "--no-healthcheck", "checked:1",
        "sleep", "300")
    off = _inspect(cli, "off")
    assert off["Config"]["Healthcheck"]["Test"] == ["NONE"] and "Health" not in off["State"]
    assert cli("ps", "--filter", "health=none", "--format", "{{.Names}}").stdout.split() == \
        ["off", "base"]


@pytest.mark.parametrize("flags, message", [
    (["--health-interval", "500us", "--health-cmd", "true"],
     "Interval in Healthcheck cannot be less than 1ms"),
    (["--health-start-period", "10ns", "--health-cmd", "true"],
     "StartPeriod in Healthcheck cannot be less than 1ms"),
    (["--health-timeout=-1s", "--health-cmd", "true"], "--health-timeout cannot be negative"),
    (["--health-retries", "-1", "--health-cmd", "true"], "--health-retries cannot be negative"),
    (["--health-interval", "5", "--health-cmd", "true"],
     'invalid argument "5" for "--health-interval" flag: time: missing unit in duration "5"'),
    (["--no-healthcheck", "--health-cmd", "true"],
     "--no-healthcheck conflicts with --health-* options"),
])
def test_bad_health_flags_are_refused_with_dockers_words(cli, busybox, flags, message):
    p = cli("create", *flags, busybox, "true", check=False)
    assert p.returncode == 125 and p.stderr.strip() == f"berth: {message}"
    assert cli("ps", "-aq").stdout == ""
