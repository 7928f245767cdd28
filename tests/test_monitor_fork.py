"""A container's monitor forked from `berth run`'s CLI (engine/runtime/monitor_fork.py) is what
an exec'd one is (its own session, nothing of the CLI's open, a fresh process's signal state)
and is found as one by everything that looks for the monitors of a root; the exec'd path stays
where forking is unsafe (a threaded caller, PYTHON* variables that shaped the interpreter)."""

from __future__ import annotations

import json
import os

import pytest

from crash_support import monitors, root_processes
from helpers import berth


def _monitor(root: str, cid: str) -> int:
    with open(os.path.join(root, "containers", cid, "state.json")) as f:
        return json.load(f)["monitor_pid"]


def _status(pid: int) -> dict[str, str]:
    with open(f"/proc/{pid}/status") as f:
        return dict(line.rstrip("\n").split(":\t", 1) for line in f if ":\t" in line)


def _cmdline(pid: int) -> bytes:
    with open(f"/proc/{pid}/cmdline", "rb") as f:
        return f.read()


def _fds(pid: int) -> dict[int, str]:
    out = {}
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            out[int(fd)] = os.readlink(f"/proc/{pid}/fd/{fd}")
        except OSError:
            pass
    return out


def test_a_forked_monitor_is_an_exec_d_one_and_is_found_as_one(root, busybox, tmp_path):
    from engine.check_host import root_processes as engine_root_processes
    from engine.runtime.monitor_fork import MONITOR_MARK, is_monitor
    stray = os.open(tmp_path / "stray", os.O_RDWR | os.O_CREAT)   # the CLI's: not the monitor's
    try:
        import subprocess
        from helpers import BERTH, REPO
        env = {**os.environ, "BERTH_ROOT": root, "PYTHONUNBUFFERED": "1"}
        env.pop("BERTH_RUN", None)
        forked = subprocess.run([*BERTH, "run", "-d", "--network", "none", busybox, "sleep", "60"],
                                env=env, cwd=REPO, capture_output=True, text=True, timeout=60,
                                pass_fds=(stray,), check=True).stdout.strip()
    finally:
        os.close(stray)
    exec_d = berth(root, "run", "-d", "--network", "none", busybox, "sleep", "60",
                   env={"BERTH_MONITOR_FORK": "0"}).stdout.strip()
    pf, pe = _monitor(root, forked), _monitor(root, exec_d)
    assert b"tui.cli" in _cmdline(pf) and b"engine.runtime.monitor" not in _cmdline(pf)
    assert b"engine.runtime.monitor" in _cmdline(pe)
    for pid in (pf, pe):
        assert _status(pid)["Name"] == MONITOR_MARK
        assert os.readlink(f"/proc/{pid}/cwd") == os.path.realpath(root)
        # a session of its own (led by its first process, which exited at once)
        assert os.getsid(pid) == os.getpgid(pid) != os.getsid(0)
        assert is_monitor(pid, root) and not is_monitor(pid, str(tmp_path))
    # signals ignored, caught, blocked: as a fresh interpreter's monitor has them (but for
    # glibc's own 32 and 33, which its posix_spawn leaves ignored in what it starts)
    internal = ~(3 << 31)
    assert [int(_status(pf)[k], 16) & internal for k in ("SigIgn", "SigCgt", "SigBlk")] \
        == [int(_status(pe)[k], 16) & internal for k in ("SigIgn", "SigCgt", "SigBlk")]
    fds = _fds(pf)
    assert not any(t.endswith("/stray") for t in fds.values()), fds
    assert {fds[n] for n in (0, 1, 2)} == {"/dev/null"}
    assert sorted(_fds(pe)) == sorted(fds)   # the same descriptors, none more
    # found by every finder of a root's monitors
    assert {pf, pe} <= monitors(root)
    assert root_processes(root)[pf] == "monitor"
    assert engine_root_processes(root)[pf] == "engine.runtime.monitor"
    assert berth(root, "system", "check").returncode == 0
    # and it serves its container as the exec'd one does
    out = berth(root, "exec", forked, "echo", "hi").stdout
    assert out == "hi\n"
    berth(root, "rm", "-f", forked, exec_d)
    assert not {pf, pe} & monitors(root)


def test_the_monitor_is_exec_d_when_forking_is_unsafe(root, busybox, engine):
    from engine.models import ContainerConfig
    # a PYTHON* variable that may have shaped the CLI's interpreter
    shaped = berth(root, "run", "-d", "--network", "none", busybox, "sleep", "60",
                   env={"PYTHONWARNINGS": "ignore"}).stdout.strip()
    assert b"engine.runtime.monitor" in _cmdline(_monitor(root, shaped))
    # in-process (the API service, the dashboard: threaded callers)
    c = engine.run(ContainerConfig(image=busybox, cmd=["sleep", "60"], network_mode="none"))
    assert b"engine.runtime.monitor" in _cmdline(_monitor(root, c.id))
    assert {_monitor(root, shaped), _monitor(root, c.id)} <= monitors(root)
    berth(root, "rm", "-f", shaped, c.id)


def test_run_rm_with_a_forked_monitor_reports_its_exit(root, busybox):
    p = berth(root, "run", "--rm", "--network", "none", busybox, "sh", "-c", "echo out; exit 7",
              check=False)
    assert (p.returncode, p.stdout) == (7, "out\n"), p.stderr


def test_a_start_whose_monitor_died_before_its_id_came_says_so(root, busybox, engine):
    """The monitor launched ahead of the record (process.MonitorLaunch) is killed before the
    start hands it the container: the start fails with one clear error (not a BrokenPipeError,
    which the CLI would take for its own stdout closing and exit 0 in silence), and leaves the
    container as it was."""
    import signal
    import time

    from crash_support import has_cgroup
    from engine.errors import BerthError
    from engine.models import ContainerConfig
    from engine.runtime.process import MonitorLaunch
    c = engine.create(ContainerConfig(image=busybox, cmd=["true"], network_mode="none"))
    from engine.runtime.monitor_fork import is_monitor
    launch = MonitorLaunch(engine.paths.root, engine.paths.run, engine.paths.cgroup_parent)
    deadline = time.monotonic() + 20
    # the monitor once it has detached and marked itself: not its first process, which is one
    # by its command line until it forks and exits (killed, it may have forked already)
    while not (waiting := {p for p in monitors(root) if is_monitor(p, root)}) \
            and time.monotonic() < deadline:
        time.sleep(0.01)
    (pid,) = waiting
    os.kill(pid, signal.SIGKILL)
    while pid in monitors(root) and time.monotonic() < deadline:
        time.sleep(0.01)
    with pytest.raises(BerthError, match="the monitor exited before the container started"):
        engine.start(c.id, _launch=launch)
    assert engine.container(c.id).state.status == "created"
    assert not has_cgroup(root, c.id)
    assert not monitors(root)


def test_a_forked_monitor_has_the_cycle_collector_on_though_the_cli_had_it_off(tmp_path):
    """`berth run`'s launcher turns the collector off while it starts (tui/berth.in); the
    monitor it forks lives as long as its container and gets it back, as a fresh interpreter
    has it: over what it makes itself. What it inherited from the CLI is frozen (a collection
    would write to every object's header, copying the pages it shares with the CLI) until
    slim.shed looks at it once."""
    import subprocess
    import sys
    import textwrap
    from helpers import REPO
    out = tmp_path / "gc"
    code = textwrap.dedent(f"""
        import gc, os, sys
        sys.path.insert(0, {str(REPO)!r})
        gc.disable()
        from engine.runtime import monitor, monitor_fork
        def main(argv):
            with open({str(out)!r}, "w") as f:
                f.write(f"{{gc.isenabled()}} {{gc.get_freeze_count() > 1000}}")
            return 0
        monitor.main = main
        r, w = os.pipe()
        pid = monitor_fork.fork_monitor({{"BERTH_ROOT": {str(tmp_path)!r}}}, ["-"], w, None, None)
        os.waitpid(pid, 0)
        print(gc.isenabled())
    """)
    p = subprocess.run([sys.executable, "-S", "-c", code], capture_output=True, text=True,
                       timeout=60, cwd="/")
    assert p.returncode == 0, p.stderr
    from runtime_support import wait_for
    # the pid reaped is the first process, which detached the monitor and exited
    wait_for(lambda: out.exists() and out.read_text(), what="the monitor's answer")
    assert p.stdout.strip() == "False" and out.read_text() == "True True"


def test_shed_collects_what_a_forked_monitor_inherited(tmp_path):
    """The frozen objects a forked monitor inherited (what the launcher's modules held among
    them) are looked at once, when the container has settled: slim.shed unfreezes them and
    frees the garbage among them."""
    import subprocess
    import sys
    import textwrap
    from helpers import REPO
    code = textwrap.dedent(f"""
        import gc, sys
        sys.path.insert(0, {str(REPO)!r})
        from engine.runtime import slim
        class Cycle:
            pass
        a = Cycle()
        a.me = a
        del a
        gc.freeze()
        frozen = gc.get_freeze_count()
        slim.shed()
        print(frozen > 0, gc.get_freeze_count(), any(type(o) is Cycle for o in gc.get_objects()))
    """)
    p = subprocess.run([sys.executable, "-S", "-c", code], capture_output=True, text=True,
                       timeout=60, cwd="/")
    assert p.returncode == 0, p.stderr
    assert p.stdout.split() == ["True", "0", "False"]
