"""The dashboard in a real terminal (tmux): Textual's terminal driver with berth's input thread
(tui/driver.py), which sleeps until there is input instead of waking ten times a second."""

from __future__ import annotations

import os
import shutil
import subprocess
import time

import pytest

from helpers import REPO
from tui.driver import INPUT_THREAD

pytestmark = pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux (SYSTEM_PACKAGES)")


def _pane(session: str) -> str:
    return subprocess.run(["tmux", "capture-pane", "-p", "-t", session], capture_output=True,
                          text=True).stdout


def _until(session: str, text: str, seconds: float = 30) -> str:
    deadline = time.monotonic() + seconds
    while text not in (pane := _pane(session)) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert text in pane, pane
    return pane


def _wakeups(pid: int) -> dict[tuple[int, str], int]:
    """Voluntary context switches (each a wait that ended) of every thread of ``pid``, by
    (thread id, name)."""
    out = {}
    for tid in os.listdir(f"/proc/{pid}/task"):
        try:
            with open(f"/proc/{pid}/task/{tid}/comm") as f:
                name = f.read().strip()
            with open(f"/proc/{pid}/task/{tid}/status") as f:
                out[(int(tid), name)] = next(int(line.split()[1]) for line in f
                                             if line.startswith("voluntary_ctxt_switches"))
        except (OSError, StopIteration):
            pass
    return out


@pytest.mark.parametrize("driver", ["berth's", "Textual's"])
def test_an_idle_dashboard_has_no_thread_polling_and_keys_and_quit_still_work(root, driver):
    session = f"berth-term-{os.getpid()}"
    env = {"BERTH_ROOT": root, "TERM": "xterm-256color", "HOME": os.environ.get("HOME", "/root")}
    if driver == "Textual's":    # the same dashboard on Textual's own driver, for contrast
        env["TEXTUAL_DRIVER"] = "textual.drivers.linux_driver:LinuxDriver"
    command = " ".join(f"{k}={v}" for k, v in env.items())
    subprocess.run(["tmux", "new", "-d", "-s", session, "-x", "120", "-y", "36",
                    f"cd {REPO} && env {command} {REPO}/.venv/bin/python -m tui.cli"],
                   check=True)
    try:
        _until(session, "containers(all)[0]")
        pid = int(subprocess.run(["tmux", "list-panes", "-t", session, "-F", "#{pane_pid}"],
                                 capture_output=True, text=True, check=True).stdout)
        time.sleep(1.0)
        before = _wakeups(pid)
        time.sleep(3.0)
        after = _wakeups(pid)
        woke = {t: after[t] - before.get(t, 0) for t in after}
        if driver == "Textual's":
            # its input thread: select(0.1) in a loop, ~30 times in 3 s (fewer on a busy
            # machine); no other thread of the dashboard wakes that often
            assert max(woke.values()) >= 20, woke
        else:
            (inputs,) = [n for (_, name), n in woke.items() if name == INPUT_THREAD]
            assert inputs <= 2, woke
            subprocess.run(["tmux", "send-keys", "-t", session, "3"], check=True)
            _until(session, "volumes(")
            subprocess.run(["tmux", "send-keys", "-t", session, "1"], check=True)
            _until(session, "containers(all)[0]")
            # a lone Esc is told from the start of a sequence by the parser's timeout, which
            # the thread now waits for instead of polling
            subprocess.run(["tmux", "send-keys", "-t", session, "?"], check=True)
            _until(session, "Keys")
            subprocess.run(["tmux", "send-keys", "-t", session, "Escape"], check=True)
            _until(session, "containers(all)[0]", 5)
            t = time.monotonic()
            subprocess.run(["tmux", "send-keys", "-t", session, "q"], check=True)
            while os.path.exists(f"/proc/{pid}") and time.monotonic() - t < 10:
                time.sleep(0.02)
            assert not os.path.exists(f"/proc/{pid}"), "q did not end the dashboard"
            assert time.monotonic() - t < 3
    finally:
        subprocess.run(["tmux", "kill-session", "-t", session], capture_output=True)
