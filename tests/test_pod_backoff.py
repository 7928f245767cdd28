"""The crash-loop backoff of a berth node's pod containers (engine/kube/pods.py) counts from
when the last run ended, as its record says, not from when the agent first saw it: an agent
started again (which has lost what it knew) keeps a container's backoff instead of counting it
anew. No cluster needed: the runner's restart step with made-up runs."""

from __future__ import annotations

import time
from types import SimpleNamespace

from engine.clock import now_rfc3339
from engine.kube.pods import BACKOFF_MAX, PodRunner
from engine.kube.podspec import L_ATTEMPT


def _run(attempt: int, ended_ago: float | None):
    ended = now_rfc3339(time.time() - ended_ago) if ended_ago is not None else ""
    return SimpleNamespace(id=f"c{attempt}", state=SimpleNamespace(finished_at=ended),
                           config=SimpleNamespace(labels={L_ATTEMPT: str(attempt)}))


def _runner():
    runner = PodRunner.__new__(PodRunner)    # an agent started afresh: nothing remembered
    runner.backoff, runner.waiting, runner.started, runner.removed = {}, {}, [], []
    runner._start = lambda pod, spec, kind, n, infra, ip: runner.started.append(n)
    runner._remove = runner.removed.append
    return runner


def test_a_restarted_agent_keeps_the_backoff_of_a_run_that_ended_before_it():
    spec = {"name": "app"}
    # attempt 2 ended 15 s ago: its backoff (20 s) has 5 s to go, not 20
    runner = _runner()
    runner._restart(None, spec, "app", [_run(1, 40), _run(2, 15)], None, "")
    assert runner.started == [] and runner.waiting == {"app": "CrashLoopBackOff"}
    assert abs(runner.backoff["c2"] - (time.time() + 5)) < 1.5
    # attempt 2 ended 25 s ago: due already, restarted at once (the older run removed)
    runner = _runner()
    runner._restart(None, spec, "app", [_run(1, 60), _run(2, 25)], None, "")
    assert runner.started == [3] and runner.removed == ["c1"] and "c2" not in runner.backoff
    # the longest backoff is BACKOFF_MAX; a run whose end isn't recorded counts from now
    runner = _runner()
    runner._restart(None, spec, "app", [_run(12, None)], None, "")
    assert abs(runner.backoff["c12"] - (time.time() + BACKOFF_MAX)) < 1.5
