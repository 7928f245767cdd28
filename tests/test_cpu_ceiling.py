"""The CPU ceiling a container may use (--cpus, berth update --cpus) is read from its cgroup
and drawn across its CPU graph, so a limit changed with `u` shows where the graph must flatten."""

from __future__ import annotations

import time
from types import SimpleNamespace

from engine.stats import cpu_limit, parse_cpu_max


def test_quota_over_period_is_the_cpus_allowed():
    assert parse_cpu_max("50000 100000\n") == 0.5
    assert parse_cpu_max("max 100000\n") == 0.0
    assert cpu_limit(150000, 100000) == 1.5
    assert cpu_limit(-1, 100000) == 0.0          # v1's "no quota"
    assert cpu_limit(None, None) == 0.0


def _limit(engine, cid: str) -> float:
    (sample,) = engine.stats_once([cid])
    return sample.cpu_limit


def test_the_ceiling_follows_cpus_and_update(cli, engine, busybox):
    cid = cli("run", "-d", "--network", "none", "--cpus", "0.5", busybox,
              "sleep", "1000").stdout.strip()
    free = cli("run", "-d", "--network", "none", busybox, "sleep", "1000").stdout.strip()
    try:
        assert _limit(engine, cid) == 0.5
        assert _limit(engine, free) == 0.0
        cli("update", "--cpus", "0.25", cid)
        assert _limit(engine, cid) == 0.25
    finally:
        cli("rm", "-f", cid, free)


def _history(cpu_limit_value: float):
    from tui.widgets.history import ContainerHistory
    h = ContainerHistory("busy")
    for t in range(5):
        h.add(SimpleNamespace(id="c", name="busy", time=float(t), cpu_percent=24.0,
                              memory_usage=1 << 20, memory_limit=0, net_rx=0, net_tx=0,
                              block_read=0, block_write=0, cpu_limit=cpu_limit_value))
    return h


def test_the_cpu_graph_draws_the_ceiling_as_a_line():
    from tui.widgets.graphs import ContainerGraphs
    limited = dict(ContainerGraphs("c", _history(0.25))._layout(60))["cpu"][0]
    label, _, _, top, line = limited
    assert line == 25.0 and top == 100.0
    assert label.endswith("/ 25%")
    unlimited = dict(ContainerGraphs("c", _history(0.0))._layout(60))["cpu"][0]
    assert unlimited[4] is None and "/" not in unlimited[0]
    # a ceiling above one CPU raises the graph's top to it
    assert dict(ContainerGraphs("c", _history(2.0))._layout(60))["cpu"][0][3] == 200.0
