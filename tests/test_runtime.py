"""The native runtime end to end through the CLI, as a user runs it, on the real kernel."""

from __future__ import annotations

import json
import os

import pytest
import signal
import subprocess


from helpers import BERTH, REPO, cleanup_root, _monitor_pids as _monitors
from runtime_support import berth_cgroups, berth_mounts, load_images, wait_for


def _state(run, ref):
    return json.loads(run("inspect", ref).stdout)[0]["State"]


def test_run_rm_prints_and_leaves_nothing(run, root):
    assert run("run", "--rm", "--network", "none", "busybox", "echo", "hi").stdout == "hi\n"
    # the container is gone for every reader when run returns; its directory, renamed to a
    # temporary name by then, is deleted by the monitor after it told the exit code
    assert [n for n in os.listdir(os.path.join(root, "containers")) if ".tmp." not in n] == []
    assert run("ps", "-aq").stdout == ""
    wait_for(lambda: os.listdir(os.path.join(root, "containers")) == [],
             what="the monitor to delete the removed container's directory")
    wait_for(lambda: not _monitors(root), what="the monitor to exit")
    assert cleanup_root(root) == []


def test_alpine_release_and_exit_code(run):
    assert run("run", "--rm", "--network", "none", "alpine",
               "cat", "/etc/alpine-release").stdout == "3.20.3\n"
    p = run("run", "--rm", "--network", "none", "alpine", "sh", "-c", "echo err >&2; exit 3",
            check=False)
    assert (p.returncode, p.stderr) == (3, "err\n")


def test_pid_namespace_shows_only_the_container(run):
    out = run("run", "--rm", "--network", "none", "busybox", "ps", "-o", "pid,args").stdout
    lines = out.strip().splitlines()[1:]
    assert [ln.split(None, 1) for ln in lines] == [["1", "ps -o pid,args"]]


def test_hostname_default_and_flag(run):
    cid = run("run", "-d", "--network", "none", "busybox", "hostname").stdout.strip()
    run("wait", cid)
    assert run("logs", cid).stdout == cid[:12] + "\n"
    assert run("run", "--rm", "--network", "none", "--hostname", "box", "busybox",
               "hostname").stdout == "box\n"


def test_user_workdir_env(run, tmp_path):
    env_file = tmp_path / "env"
    env_file.write_text("# comment\nFROM_FILE=1\nSHARED=file\n")
    out = run("run", "--rm", "--network", "none", "-u", "nobody", "-w", "/tmp/work",
              "-e", "SHARED=flag", "--env-file", str(env_file), "-e", "EMPTY=", "alpine",
              "sh", "-c", 'id -u; id -g; pwd; echo "$FROM_FILE $SHARED [$EMPTY] $HOME"').stdout
    assert out.splitlines() == ["65534", "65534", "/tmp/work", "1 flag [] /"]
    out = run("run", "--rm", "--network", "none", "-u", "1234:daemon", "alpine",
              "sh", "-c", "id -u; id -g").stdout
    assert out.split() == ["1234", "2"]


def test_unknown_user_fails_with_docker_message(run):
    p = run("run", "--rm", "--network", "none", "-u", "nosuchuser", "busybox", "true",
            check=False)
    assert p.returncode == 126
    assert "unable to find user nosuchuser" in p.stderr


def test_missing_and_non_executable_commands(run, root):
    p = run("run", "--rm", "--network", "none", "busybox", "nosuchcmd", check=False)
    assert p.returncode == 127
    assert 'exec: "nosuchcmd": executable file not found in $PATH' in p.stderr
    p = run("run", "--rm", "--network", "none", "busybox", "/etc/passwd", check=False)
    assert p.returncode == 126
    assert 'exec: "/etc/passwd": permission denied' in p.stderr
    p = run("run", "--rm", "--network", "none", "busybox", "/no/such", check=False)
    assert p.returncode == 127
    assert run("ps", "-aq").stdout == ""   # --rm removed them all
    p = run("run", "--network", "none", "--name", "kept", "busybox", "nosuchcmd", check=False)
    state = _state(run, "kept")
    assert (state["Status"], state["ExitCode"], p.returncode) == ("created", 127, 127)


def test_detached_survives_the_cli_and_stops_within_timeout(run):
    cid = run("run", "-d", "--name", "sleeper", "--network", "none", "busybox",
              "sleep", "1000").stdout.strip()
    assert len(cid) == 64
    ps = run("ps").stdout.splitlines()
    assert ps[0].split()[:2] == ["CONTAINER", "ID"]
    assert any(line.startswith(cid[:12]) and line.endswith("sleeper") and " Up " in line
               for line in ps[1:])
    # sleep as pid 1 ignores SIGTERM: stop must SIGKILL it after -t
    run("stop", "-t", "1", "sleeper", timeout=20)
    state = _state(run, "sleeper")
    assert (state["Status"], state["ExitCode"], state["Running"]) == ("exited", 137, False)
    assert "Exited (137)" in run("ps", "-a").stdout


def test_stop_signal_reaches_a_trapping_process(run):
    run("run", "-d", "--name", "trap", "--network", "none", "busybox", "sh", "-c",
        "trap 'echo got term; exit 5' TERM; echo ready; while true; do sleep 0.1; done")
    wait_for(lambda: "ready" in run("logs", "trap").stdout, what="the trap to be set")
    run("stop", "trap")
    assert _state(run, "trap")["ExitCode"] == 5
    assert "got term" in run("logs", "trap").stdout


def test_kill_with_signal(run):
    run("run", "-d", "--name", "kk", "--network", "none", "busybox", "sh", "-c",
        "trap 'echo usr1' USR1; echo ready; while true; do sleep 0.1; done")
    wait_for(lambda: "ready" in run("logs", "kk").stdout, what="the trap to be set")
    run("kill", "-s", "USR1", "kk")
    wait_for(lambda: "usr1" in run("logs", "kk").stdout, what="USR1 to be delivered")
    assert _state(run, "kk")["Running"] is True
    run("kill", "kk")
    assert _state(run, "kk")["ExitCode"] == 137
    p = run("kill", "kk", check=False)
    assert p.returncode == 125 and "is not running" in p.stderr


def test_logs_follow_streams_until_the_container_stops(run, root):
    run("run", "-d", "--name", "talker", "--network", "none", "busybox", "sh", "-c",
        "echo one; echo two >&2; sleep 1000")
    env = {**os.environ, "BERTH_ROOT": root, **load_images(root)}
    follower = subprocess.Popen([*BERTH, "logs", "-f", "-t", "talker"], stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True, env=env, cwd=REPO)
    try:
        first = follower.stdout.readline()
        assert first.endswith(" one\n") and first[:4].isdigit()
        run("stop", "-t", "0", "talker")
        out, err = follower.communicate(timeout=30)
        assert follower.returncode == 0
        assert err.endswith(" two\n")
    finally:
        follower.kill()
    assert run("logs", "--tail", "1", "talker").stderr == "two\n"


def test_pause_and_unpause_use_the_freezer(run, root):
    cid = run("run", "-d", "--network", "none", "busybox", "sleep", "1000").stdout.strip()
    run("pause", cid)
    state = _state(run, cid)
    assert (state["Status"], state["Paused"]) == ("paused", True)
    assert "(Paused)" in run("ps").stdout
    freezer = [p for p in berth_cgroups(root) if "/freezer/" in p][0]
    with open(os.path.join(freezer, cid, "freezer.state")) as f:
        assert f.read().strip() == "FROZEN"
    run("unpause", cid)
    with open(os.path.join(freezer, cid, "freezer.state")) as f:
        assert f.read().strip() == "THAWED"
    assert _state(run, cid)["Status"] == "running"
    run("rm", "-f", cid)


def test_restart_policy_on_failure_counts_and_stops(run):
    run("run", "-d", "--name", "flaky", "--restart", "on-failure:2", "--network", "none",
        "busybox", "sh", "-c", "echo run; exit 3")
    wait_for(lambda: _state(run, "flaky")["Status"] == "exited"
             and run("logs", "flaky").stdout.count("run") == 3, what="two restarts")
    info = json.loads(run("inspect", "flaky").stdout)[0]
    assert (info["RestartCount"], info["State"]["ExitCode"]) == (2, 3)


def test_restart_always_then_stop_is_final(run):
    run("run", "-d", "--name", "again", "--restart", "always", "--network", "none",
        "busybox", "sh", "-c", "echo run; sleep 0.2")
    wait_for(lambda: run("logs", "again").stdout.count("run") >= 2, what="a restart")
    run("stop", "-t", "1", "again")
    assert _state(run, "again")["Running"] is False
    count = run("logs", "again").stdout.count("run")
    assert run("wait", "again").stdout.strip().isdigit()
    assert run("logs", "again").stdout.count("run") == count
    assert not run("ps", "-q", "--filter", "name=again").stdout


def test_rm_force_leaves_no_cgroup_mount_or_process(run, root):
    for n in range(2):
        run("run", "-d", "--name", f"c{n}", "--network", "none", "busybox", "sleep", "1000")
    p = run("rm", "c0", check=False)
    assert p.returncode == 125 and "cannot remove a running container" in p.stderr
    ids = run("ps", "-aq").stdout.split()
    run("rm", "-f", *ids)
    assert run("ps", "-aq").stdout == ""
    assert berth_mounts(root) == [] and berth_cgroups(root) == []
    assert cleanup_root(root) == []


@pytest.mark.parametrize("user", [[], ["--user", "1000:1000"], ["--user", "1000", "--init"]],
                         ids=["root", "user", "user-init"])
def test_sigkill_of_the_monitor_reports_exited_and_rm_cleans(run, root, user):
    # a credential change clears the parent-death signal: pid 1 of a non-root container must
    # ask for it again after it switched users
    run("run", "-d", "--name", "orphan", *user, "--network", "none", "busybox", "sleep", "1000")
    info = json.loads(run("inspect", "orphan").stdout)[0]
    with open(os.path.join(root, "containers", info["Id"], "state.json")) as f:
        monitor = json.load(f)["monitor_pid"]
    os.kill(monitor, signal.SIGKILL)
    wait_for(lambda: not _alive(info["State"]["Pid"]), what="pid 1 to die with its monitor")
    state = _state(run, "orphan")
    assert state["Running"] is False and state["Status"] in ("exited", "dead")
    assert "Up " not in run("ps", "-a").stdout
    run("rm", "orphan")
    assert berth_mounts(root) == [] and berth_cgroups(root) == []
    assert cleanup_root(root) == []


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(")")[-1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def test_sigkill_of_berth_mid_run_keeps_state_consistent(run, root):
    env = {**os.environ, "BERTH_ROOT": root, **load_images(root)}
    import time
    for delay in (0.0, 0.03, 0.06, 0.09, 0.12, 0.15):
        p = subprocess.Popen([*BERTH, "run", "-d", "--network", "none", "busybox", "sleep",
                              "1000"], env=env, cwd=REPO, stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL)
        time.sleep(delay)  # varies where the kill lands; the assertions hold wherever it does
        p.kill()
        p.wait()
    ps = run("ps", "-a", "--format", "json").stdout.splitlines()
    for line in ps:
        assert json.loads(line)["State"] in ("created", "running", "exited")
    ids = run("ps", "-aq").stdout.split()
    if ids:
        run("rm", "-f", *ids)
    run("run", "--rm", "--network", "none", "busybox", "true")   # the root still works
    assert run("ps", "-aq").stdout == ""
    assert cleanup_root(root) == []


def test_twenty_concurrent_runs_get_distinct_names(run, root):
    env = {**os.environ, "BERTH_ROOT": root, **load_images(root)}
    procs = [subprocess.Popen([*BERTH, "run", "-d", "--network", "none", "busybox", "sleep",
                               "1000"], env=env, cwd=REPO, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True) for _ in range(20)]
    outs = [p.communicate(timeout=120) for p in procs]
    assert [p.returncode for p in procs] == [0] * 20, outs
    rows = [json.loads(line) for line in run("ps", "--format", "json").stdout.splitlines()]
    assert len(rows) == 20 and len({r["Names"] for r in rows}) == 20
    assert {r["ID"] for r in rows} == {o[0].strip()[:12] for o in outs}
    run("rm", "-f", *[r["ID"] for r in rows])
    assert cleanup_root(root) == []


def test_name_conflict(run):
    run("create", "--name", "dup", "--network", "none", "busybox", "true")
    p = run("create", "--name", "dup", "--network", "none", "busybox", "true", check=False)
    assert p.returncode == 125
    assert 'The container name "/dup" is already in use' in p.stderr


def test_memory_limit_oom_kill(run):
    p = run("run", "--name", "hog", "--network", "none", "-m", "16m", "busybox", "tail",
            "/dev/zero", check=False)
    assert p.returncode == 137
    state = _state(run, "hog")
    assert (state["OOMKilled"], state["ExitCode"]) == (True, 137)


def test_ulimits_are_clamped_to_the_hard_limit(run):
    import resource
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    out = run("run", "--rm", "--network", "none", "--ulimit", f"nofile=512:{hard * 100}",
              "busybox", "sh", "-c", "ulimit -n; ulimit -Hn").stdout.split()
    assert out == ["512", str(hard)]


def test_init_reaps_and_passes_the_exit_code(run):
    out = run("run", "--rm", "--init", "--network", "none", "busybox", "sh", "-c",
              "ps -o pid,comm | awk '$1 == 1 || $2 == \"sh\" {print $1, $2}'; exit 7",
              check=False)
    assert out.returncode == 7
    assert out.stdout.splitlines()[:2] == ["1 berth-init", "2 sh"]


def test_network_none_has_loopback_up_and_host_shares(run):
    out = run("run", "--rm", "--network", "none", "busybox", "ip", "-o", "link").stdout
    assert [ln.split(":")[1].strip() for ln in out.splitlines()] == ["lo"]
    assert "UP" in out.split("<")[1].split(">")[0]
    host = run("run", "--rm", "--network", "host", "busybox", "hostname").stdout.strip()
    assert host == os.uname().nodename


def test_read_only_root(run):
    p = run("run", "--rm", "--read-only", "--network", "none", "busybox", "touch", "/x",
            check=False)
    assert p.returncode != 0 and "Read-only file system" in p.stderr


def test_rename_wait_and_prune(run):
    cid = run("run", "-d", "--name", "old", "--network", "none", "busybox", "sh", "-c",
              "exit 4").stdout.strip()
    assert run("wait", "old").stdout == "4\n"
    run("rename", "old", "new")
    assert json.loads(run("inspect", "new").stdout)[0]["Name"] == "/new"
    out = run("container", "prune", "-f").stdout
    assert cid in out and "Total reclaimed space" in out
    assert run("ps", "-aq").stdout == ""


def test_ps_filters_and_formats(run):
    run("create", "--name", "lab", "--label", "tier=web", "--network", "none", "busybox", "true")
    run("run", "-d", "--name", "up", "--network", "none", "alpine", "sleep", "1000")
    names = lambda *a: run("ps", *a, "--format", "{{.Names}}").stdout.split()  # noqa: E731
    assert names() == ["up"]
    assert names("-a") == ["up", "lab"]
    assert names("-a", "--filter", "status=created") == ["lab"]
    assert names("-a", "--filter", "label=tier=web") == ["lab"]
    assert names("-a", "--filter", "ancestor=alpine") == ["up"]
    assert names("-a", "--filter", "name=la") == ["lab"]
    assert names("-n", "1") == ["up"]
    run("rm", "-f", "up")


def test_start_attach_and_restart(run):
    run("create", "--name", "again2", "--network", "none", "busybox", "sh", "-c",
        "echo started; exit 2")
    p = run("start", "-a", "again2", check=False)
    assert (p.returncode, p.stdout) == (2, "started\n")
    run("run", "-d", "--name", "rs", "--network", "none", "busybox", "sleep", "1000")
    first = _state(run, "rs")["Pid"]
    run("restart", "-t", "0", "rs")
    state = _state(run, "rs")
    assert state["Running"] is True and state["Pid"] != first
    run("rm", "-f", "rs")


def test_stop_signal_and_timeout_flags(run):
    run("run", "-d", "--name", "quitter", "--stop-signal", "USR2", "--stop-timeout", "30",
        "--network", "none", "busybox", "sh", "-c",
        "trap 'exit 12' USR2; echo ready; while true; do sleep 0.1; done")
    wait_for(lambda: "ready" in run("logs", "quitter").stdout, what="the trap to be set")
    info = json.loads(run("inspect", "quitter").stdout)[0]
    assert (info["Config"]["StopSignal"], info["Config"]["StopTimeout"]) == ("SIGUSR2", 30)
    run("stop", "quitter")
    assert _state(run, "quitter")["ExitCode"] == 12


def test_limits_reach_the_cgroup(run, root):
    from engine.paths import Paths
    from engine.runtime import cgroups
    cid = run("run", "-d", "--network", "none", "-m", "64m", "--memory-swap", "128m",
              "--cpus", "0.5", "--cpu-shares", "512", "--cpuset-cpus", "0", "--pids-limit",
              "30", "busybox", "sleep", "1000").stdout.strip()
    cg = cgroups.detect(Paths.from_env(root))

    def read(ctrl, name):
        with open(os.path.join(cg.path(cid, ctrl), name)) as f:
            return f.read().strip()
    assert int(read("memory", "memory.limit_in_bytes")) == 64 << 20
    assert (read("cpu", "cpu.cfs_quota_us"), read("cpu", "cpu.cfs_period_us")) == ("50000", "100000")
    assert read("cpu", "cpu.shares") == "512"
    assert read("cpuset", "cpuset.cpus") == "0"
    assert read("pids", "pids.max") == "30"
    state = _state(run, cid)
    assert int(read("pids", "cgroup.procs").split()[0]) == state["Pid"]
    hc = json.loads(run("inspect", cid).stdout)[0]["HostConfig"]
    assert (hc["Memory"], hc["MemorySwap"], hc["NanoCpus"], hc["PidsLimit"]) == \
        (64 << 20, 128 << 20, 500_000_000, 30)
    run("rm", "-f", cid)
    assert not os.path.exists(cg.path(cid, "memory"))


def test_cgroup_namespace_root_is_the_container(run):
    out = run("run", "--rm", "--network", "none", "busybox", "cat", "/proc/self/cgroup").stdout
    assert {line.split(":", 2)[2] for line in out.splitlines()} == {"/"}


def test_events_of_a_life(run, root):
    run("run", "-d", "--name", "ev", "--network", "none", "busybox", "sleep", "1000")
    run("pause", "ev")
    run("unpause", "ev")
    run("kill", "-s", "TERM", "ev")   # ignored by sleep as pid 1
    run("rename", "ev", "ev2")
    run("stop", "-t", "0", "ev2")
    run("rm", "ev2")
    with open(os.path.join(root, "events.jsonl")) as f:
        events = [json.loads(line) for line in f if '"container"' in line]
    actions = [e["action"] for e in events if e["type"] == "container"]
    for a in ("create", "start", "pause", "unpause", "kill", "rename", "die", "stop", "destroy"):
        assert a in actions, (a, actions)
    die = next(e for e in events if e["action"] == "die")
    assert die["attributes"]["exitCode"] == "137"
    assert actions.index("create") < actions.index("start") < actions.index("die") \
        < actions.index("destroy")


def test_a_restart_after_the_monitor_settled_is_confined_again(run):
    """A settled monitor lets go of what only a start runs (slim.unload_start_modules); the
    restart after it loads them again: the restarted pid 1 has its seccomp filter and its
    capabilities cut as the first had."""
    from engine.runtime.slim import SHED_AFTER
    run("run", "-d", "--name", "settles", "--restart", "on-failure:1", "--network", "none",
        "busybox", "sh", "-c",
        f"grep -E '^(Seccomp|CapBnd):' /proc/self/status; sleep {SHED_AFTER * 3}; exit 3")
    wait_for(lambda: _state(run, "settles")["Status"] == "exited"
             and run("logs", "settles").stdout.count("Seccomp") == 2, what="one restart")
    lines = run("logs", "settles").stdout.splitlines()
    assert lines[:2] == lines[2:] and "Seccomp:\t2" in lines, lines
    assert json.loads(run("inspect", "settles").stdout)[0]["RestartCount"] == 1
