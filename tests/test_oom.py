"""OOM kills are seen as they happen, not only when the container exits."""

from __future__ import annotations

import json
import time


def _actions(cli, cid: str) -> list[str]:
    out = cli("events", "--since", "0", "--until", str(int(time.time()) + 1),
              "--filter", f"container={cid}", "--format", "json").stdout
    return [(json.loads(line).get("Action") or json.loads(line).get("action"))
            for line in out.splitlines()]


def test_oom_of_a_child_is_an_event_while_pid_1_lives_on(cli, busybox):
    # sort keeps all its input in memory: the kernel kills it, the shell (pid 1) carries on
    cid = cli("run", "-d", "--network", "none", "--memory", "32m", busybox, "sh", "-c",
              "head -c 100000000 /dev/zero | sort >/dev/null; sleep 60").stdout.strip()
    try:
        deadline = time.monotonic() + 20
        while "oom" not in _actions(cli, cid) and time.monotonic() < deadline:
            time.sleep(0.2)
        state = json.loads(cli("inspect", cid).stdout)[0]["State"]
        assert "oom" in _actions(cli, cid), cli("events", "--since", "0", "--until", str(int(time.time()) + 1)).stdout
        assert state["Running"] is True          # seen live, not at the exit
        assert "die" not in _actions(cli, cid)
    finally:
        cli("rm", "-f", cid)
    assert json.loads(cli("inspect", cid, check=False).stdout or "[]") == []
