"""Resource graphs: the bounded history (units) and the graphs screen on real containers."""

from __future__ import annotations

from types import SimpleNamespace

from dashboard_support import make_app, running


def _sample(cid="c1", t=0.0, cpu=0.0, mem=0, limit=0, rx=0, tx=0, br=0, bw=0, name="n"):
    return SimpleNamespace(id=cid, name=name, time=t, cpu_percent=cpu, memory_usage=mem,
                           memory_limit=limit, net_rx=rx, net_tx=tx, block_read=br,
                           block_write=bw)


def test_series_keeps_fine_points_and_folds_coarse_ones_bounded():
    from tui.widgets.history import Series
    s = Series(fine=5, fold=3, coarse=2)
    for v in range(1, 13):
        s.add(float(v))
    assert s.points() == [8.0, 9.0, 10.0, 11.0, 12.0]
    assert s.points(n=2) == [11.0, 12.0]
    # folds: (1,2,3) (4,5,6) (7,8,9) (10,11,12) -> means, the oldest dropped
    assert s.points(coarse=True) == [8.0, 11.0]
    assert s.last == 12.0 and len(s) == 5


def test_history_turns_counters_into_rates_and_forgets_stopped_containers():
    from tui.widgets.history import HistoryBook
    book = HistoryBook()
    book.add([_sample("a", 10.0, rx=1000, bw=0), _sample("b", 10.0, cpu=50, name="b")])
    book.add([_sample("a", 12.0, cpu=5, rx=5000, bw=4096, mem=7, limit=100),
              _sample("b", 12.0, cpu=80, name="b")])
    a = book.by_id["a"]
    assert a["net_rx"].points() == [0.0, 2000.0]
    assert a["blk_write"].last == 2048.0
    assert a["mem"].last == 7 and a.memory_limit == 100
    assert book.hottest() == ["b", "a"]
    book.add([_sample("b", 13.0, name="b")])
    assert list(book.by_id) == ["b"]


def test_history_is_bounded_in_containers():
    from tui.widgets.history import HistoryBook
    book = HistoryBook(max_containers=3)
    book.add([_sample(f"c{i}") for i in range(10)])
    assert len(book) == 3


def test_bars_scale_and_right_align():
    from tui.widgets.graphs import bars
    assert bars([0.0, 50.0, 100.0], 5, 2, 100.0) == ["    █", "   ██"]
    assert bars([200.0], 1, 1, 100.0) == ["█"]      # clipped at the top
    assert bars([12.5], 1, 1, 100.0) == ["▁"]


async def _until(pilot, cond, rounds=600):
    for _ in range(rounds):
        if cond():
            return True
        await pilot.pause(0.05)
    return cond()


async def test_cpu_graph_rises_while_a_busy_loop_runs(engine, cli, busybox):
    from tui.screens.graphs import GraphsScreen, open_graphs
    cli("run", "-d", "--network", "none", "--name", "idle", busybox, "sleep", "3600")
    cli("run", "-d", "--network", "none", "--memory", "64m", "--name", "busy", busybox,
        "sh", "-c", "while :; do :; done")
    busy = cli("inspect", "-f", "{{.Id}}", "busy").stdout.strip()
    idle = cli("inspect", "-f", "{{.Id}}", "idle").stdout.strip()
    app = make_app(engine, live=False)
    async with running(app) as pilot:
        await open_graphs(app, engine)
        screen = app.screen
        assert isinstance(screen, GraphsScreen)
        book = screen.book

        def risen():
            h = book.by_id.get(busy)
            return h is not None and max(h["cpu"].points(), default=0) > 30
        assert await _until(pilot, risen), {k: h["cpu"].points() for k, h in book.by_id.items()}
        assert max(book.by_id[idle]["cpu"].points()) < 10
        # the limit is what the engine reports for the container
        assert book.by_id[busy].memory_limit == 64 * 1024 * 1024
        # hottest first, once the cards are re-sorted
        assert await _until(pilot, lambda: screen.shown_order()[:1] == [busy]), \
            screen.shown_order()
        card = screen.cards()[busy]
        assert "cpu" in card.text() and "/ 64" in card.text()
        assert any(ch in card.text() for ch in "▄▅▆▇█")
        await pilot.press("o")
        assert await _until(pilot, lambda: screen.shown_order() == sorted(
            [busy, idle], key=lambda c: book.by_id[c].name)), screen.shown_order()
        await pilot.press("escape")
        assert app.screen is app.dashboard


async def test_one_stats_stream_feeds_the_graphs_and_the_dashboard(engine, cli, busybox):
    """Once the graphs are open their 1 s stream goes on for the session; the dashboard then
    takes its samples from it instead of reading the same cgroup files in a stream of its own."""
    from tui.screens.graphs import open_graphs
    cli("run", "-d", "--network", "none", "--name", "fed", busybox, "sleep", "3600")
    cid = cli("inspect", "-f", "{{.Id}}", "fed").stdout.strip()
    app = make_app(engine)
    async with running(app) as pilot:
        dash = app.dashboard
        assert await _until(pilot, lambda: cid in dash.samples)
        assert [w for w in app.workers if w.group == "stats" and not w.is_finished]
        await open_graphs(app, engine)
        await pilot.press("escape")
        assert dash.fed_by_graphs
        before = dash.samples[cid]
        assert await _until(pilot, lambda: dash.samples[cid] is not before)
        assert not [w for w in app.workers if w.group == "stats" and not w.is_finished]
        streams = [w for w in app.workers if w.group == "graph-stats" and not w.is_finished]
        assert len(streams) == 1
        # a container started later reaches the dashboard through the graphs' stream too
        cli("run", "-d", "--network", "none", "--name", "late", busybox, "sleep", "3600")
        late = cli("inspect", "-f", "{{.Id}}", "late").stdout.strip()
        assert await _until(pilot, lambda: late in dash.samples)
        assert not [w for w in app.workers if w.group == "stats" and not w.is_finished]


async def test_the_pane_graphs_read_as_plots_at_any_height():
    """Each graph says what its top stands for, with its unit (the two rates of a line share
    one, at its right), the limits are named lines, the time axis is under them; and a height
    too low for all four sections (the detail pane at 80x24) leaves out blk, then net, rather
    than cutting cpu's and memory's rows and the time axis off the bottom."""
    from textual.app import App

    from test_dashboard_snapshots import _history
    from tui.widgets.graphs import ContainerGraphs
    from tui.widgets.history import ContainerHistory
    history = ContainerHistory()
    for sample in _history("c" * 64, "web", limit=64 << 20, cpus=0.5):
        history.add(sample)

    class Host(App):
        CSS = "ContainerGraphs { height: 1fr; border: none; padding: 0; }"   # (as the pane's)

        def compose(self):
            yield ContainerGraphs("c" * 64, history, fill=True)

    for height, sections in ((40, ("cpu", "mem", "net", "blk")), (6, ("cpu", "mem"))):
        async with Host().run_test(size=(60, height)) as pilot:
            await pilot.pause()
            lines = pilot.app.query_one(ContainerGraphs).text().splitlines()
        labels = [line for line in lines if line.split(" ", 1)[0] in ("cpu", "mem", "net", "blk")]
        assert [line.split(" ", 1)[0] for line in labels] == list(sections), lines
        assert all("▲" in line for line in labels), labels
        assert len(lines) <= height and lines[-1].rstrip().endswith("now"), lines
        assert lines[-1].startswith("-"), lines
        if height == 40:
            assert any("limit 50%" in line for line in lines), lines
            assert any("limit 64.0MiB" in line for line in lines), lines
