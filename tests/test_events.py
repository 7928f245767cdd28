"""The event log: rotation that bounds it, a follower that misses nothing across rotations, the
filters and Docker's --since/--until forms, and `berth events` as a user runs it."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
from datetime import datetime

import pytest

from engine import events
from engine.errors import InvalidArgument
from helpers import BERTH, REPO


class P:
    def __init__(self, root):
        self.events_file = os.path.join(root, "events.jsonl")


@pytest.fixture
def log(tmp_path):
    return P(str(tmp_path))


def _emit_n(path: str, start: int, n: int, max_bytes: int) -> None:
    for i in range(start, start + n):
        line = json.dumps({"time": time.time(), "type": "container", "action": "start",
                           "id": f"{i:06d}", "attributes": {}}) + "\n"
        events.append_line(path, line.encode(), max_bytes)


# --- writing and rotation -------------------------------------------------------------------------

def test_emit_appends_one_json_line(log):
    events.emit(log, "container", "die", "abc", {"exitCode": "3", "name": "web"})
    (ev,) = events.read_events(log.events_file)
    assert (ev["type"], ev["action"], ev["id"], ev["attributes"]) == \
        ("container", "die", "abc", {"exitCode": "3", "name": "web"})
    assert abs(ev["time"] - time.time()) < 60


def test_emit_never_raises(tmp_path):
    events.emit(P(str(tmp_path / "missing" / "dir")), "container", "start", "x")


def test_rotation_bounds_the_log_and_keeps_the_newest(log):
    _emit_n(log.events_file, 0, 500, max_bytes=4000)
    assert os.path.getsize(log.events_file) <= 4000 + 200
    assert os.path.getsize(log.events_file + ".1") <= 4000 + 200
    ids = [e["id"] for e in events.read_events(log.events_file)]
    # the two files hold a contiguous, ordered tail ending at the newest event
    assert ids == [f"{i:06d}" for i in range(500 - len(ids), 500)]
    assert len(ids) > 40


# --- following ------------------------------------------------------------------------------------

def test_follower_starts_at_the_end_and_crosses_rotations(log):
    path = log.events_file
    _emit_n(path, 0, 5, 1 << 20)
    f = events.Follower(path)
    try:
        assert f.poll() == []
        _emit_n(path, 5, 3, 1 << 20)
        assert [e["id"] for e in f.poll()] == ["000005", "000006", "000007"]
        # one rotation between polls: the rest of the old file, then the new one
        size = os.path.getsize(path)
        _emit_n(path, 8, 10, size + 50)
        assert os.path.exists(path + ".1")
        assert [e["id"] for e in f.poll()] == [f"{i:06d}" for i in range(8, 18)]
        # two rotations between polls: the file in between is read from events.jsonl.1
        line = len(json.dumps({"time": time.time(), "type": "container", "action": "start",
                               "id": "000000", "attributes": {}})) + 1
        _emit_n(path, 18, 1, 1 << 20)
        assert [e["id"] for e in f.poll()] == ["000018"]
        # ours fills up and rotates (19-22), the next one too (23-27), the third is current
        _emit_n(path, 19, 11, 4 * line + line // 2)
        assert [e["id"] for e in f.poll()] == [f"{i:06d}" for i in range(19, 30)]
        assert f.poll() == []
    finally:
        f.close()


def test_follower_from_start_reads_the_rotated_file_first(log):
    path = log.events_file
    _emit_n(path, 0, 100, max_bytes=3000)
    f = events.Follower(path, from_start=True)
    try:
        ids = [e["id"] for e in f.poll()]
    finally:
        f.close()
    assert ids == [e["id"] for e in events.read_events(path)]
    assert ids[-1] == "000099"


def test_follower_waits_for_a_partial_line(log):
    path = log.events_file
    f = events.Follower(path)
    try:
        with open(path, "ab") as out:
            out.write(b'{"time": 1, "type": "container", "action": "st')
            out.flush()
            assert f.poll() == []
            out.write(b'art", "id": "x", "attributes": {}}\n')
        assert [e["action"] for e in f.poll()] == ["start"]
    finally:
        f.close()


def test_readers_skip_torn_and_foreign_lines_in_the_middle_of_the_log(cli, root):
    """A line a crash (or an older berth on a full disk) tore, with or without the next event
    glued to it, and lines that are JSON but no event: every reader (history, a follower, the
    CLI) skips them and reads every whole event around them."""
    def line(i: int) -> bytes:
        return json.dumps({"time": time.time() - 60 + i, "type": "container", "action": "start",
                           "id": f"c{i}", "attributes": {"name": f"n{i}"}},
                          separators=(",", ":")).encode() + b"\n"
    with open(os.path.join(root, "events.jsonl"), "wb") as f:
        f.write(line(1))
        f.write(line(2)[:30] + b"\n")          # torn, then the writer's crash
        f.write(line(3)[:25] + line(4))         # torn, and the next event glued to it
        f.write(b'[1, 2]\nnull\n"text"\n{"time": "soon", "type": "x", "action": "y"}\n')
        f.write(b'{"time": 5, "type": "container", "action": "start", "attributes": 7}\n')
        f.write(line(6))
    path = os.path.join(root, "events.jsonl")
    assert [e["id"] for e in events.read_events(path)] == ["c1", "c4", "c6"]
    follower = events.Follower(path, from_start=True)
    try:
        assert [e["id"] for e in follower.poll()] == ["c1", "c4", "c6"]
    finally:
        follower.close()
    out = cli("events", "--since", "1h", "--until", "0s").stdout.splitlines()
    assert [row.split()[3] for row in out] == ["c1", "c4", "c6"], out


WRITER = """
import json, sys, time
sys.path.insert(0, {repo!r})
from engine import events
path, name, n, max_bytes = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
for i in range(n):
    line = json.dumps({{"time": time.time(), "type": "container", "action": "start",
                       "id": f"{{name}}-{{i}}", "attributes": {{}}}}) + "\\n"
    events.append_line(path, line.encode(), max_bytes)
"""


def test_concurrent_writers_and_rotations_lose_nothing(log):
    """Four processes append 1500 events each while the log rotates every ~2500 events; a
    follower woken by inotify sees every event exactly once, each writer's in order."""
    path = log.events_file
    f = events.Follower(path)
    writers = [subprocess.Popen([sys.executable, "-c", WRITER.format(repo=str(REPO)), path,
                                 f"w{k}", "1500", str(256 * 1024)]) for k in range(4)]
    seen: list[str] = []
    try:
        import select
        while True:
            running = [w for w in writers if w.poll() is None]
            seen += [e["id"] for e in f.poll()]
            if not running:
                seen += [e["id"] for e in f.poll()]
                break
            select.select([f], [], [], 0.5)
    finally:
        for w in writers:
            if w.poll() is None:
                w.kill()
            w.wait()
        f.close()
    assert all(w.returncode == 0 for w in writers)
    assert os.path.exists(path + ".1"), "the log never rotated: the test tested nothing"
    assert len(seen) == len(set(seen)) == 6000
    for k in range(4):
        mine = [int(s.split("-")[1]) for s in seen if s.startswith(f"w{k}-")]
        assert mine == list(range(1500))


# --- times and filters ----------------------------------------------------------------------------

NOW = 1_700_000_000.0


@pytest.mark.parametrize("value,want", [
    ("1700000000", 1700000000.0),
    ("1699999999.5", 1699999999.5),
    ("10m", NOW - 600),
    ("1h30m", NOW - 5400),
    ("1.5h", NOW - 5400),
    ("300ms", NOW - 0.3),
    ("2023-11-14T22:13:20Z", 1700000000.0),
    ("2023-11-14T23:13:20+01:00", 1700000000.0),
    ("2023-11-14T22:13:20.123456789Z", 1700000000.123456),
])
def test_parse_timestamp_takes_dockers_forms(value, want):
    assert events.parse_timestamp(value, now=NOW) == pytest.approx(want, abs=1e-6)


def test_parse_timestamp_without_a_zone_is_local_time():
    assert events.parse_timestamp("2024-05-01") == datetime(2024, 5, 1).timestamp()
    assert events.parse_timestamp("2024-05-01T10:30:00") == datetime(2024, 5, 1, 10, 30).timestamp()


@pytest.mark.parametrize("value", ["yesterday", "10x", "2024-13-01", ""])
def test_parse_timestamp_rejects_other_forms(value):
    with pytest.raises(InvalidArgument, match="invalid time"):
        events.parse_timestamp(value)


def _ev(type="container", action="start", id="a1b2c3", **attrs):
    return {"time": NOW, "type": type, "action": action, "id": id, "attributes": attrs}


def test_filters():
    web = _ev(name="web", image="docker.io/library/alpine:latest", team="a")
    pulled = _ev("image", "pull", "docker.io/library/alpine:latest", name="alpine")
    f = events.parse_filters
    assert events.matches(web, f(["type=container"]))
    assert not events.matches(pulled, f(["type=container"]))
    assert events.matches(web, f(["event=die", "event=start"]))          # same key: OR
    assert not events.matches(web, f(["event=start", "type=image"]))     # other keys: AND
    assert events.matches(web, f(["container=web"]))
    assert events.matches(web, f(["container=a1b2"]))                     # id prefix
    assert not events.matches(web, f(["container=we"]))                   # names match exactly
    assert events.matches(web, f(["image=alpine"]))
    assert events.matches(web, f(["image=docker.io/library/alpine:latest"]))
    assert events.matches(pulled, f(["image=alpine"]))
    assert not events.matches(web, f(["image=busybox"]))
    assert events.matches(web, f(["label=team=a"])) and events.matches(web, f(["label=team"]))
    assert not events.matches(web, f(["label=team=b"]))
    assert events.matches(web, {})


def test_unknown_filter_says_which_exist():
    with pytest.raises(InvalidArgument, match="type, event, container"):
        events.parse_filters(["colour=red"])
    with pytest.raises(InvalidArgument, match="name=value"):
        events.parse_filters(["type"])


# --- through the Engine and the CLI ---------------------------------------------------------------

def test_engine_events_since_until_and_filters(engine):
    engine.emit("container", "start", "c1", name="one")
    engine.emit("container", "die", "c1", name="one", exitCode="0")
    engine.emit("volume", "create", "v1")
    got = engine.events(since="1m", until=time.time() + 1, filters={"type": ["container"]})
    assert [(e.action, e.id) for e in got] == [("start", "c1"), ("die", "c1")]
    assert engine.events(until=time.time() - 3600) == []


def test_engine_follow_events_yields_new_matching_events(engine):
    engine.emit("container", "start", "old")

    async def main():
        got = []

        async def collect():
            async for ev in engine.follow_events(filters={"event": ["die", "oom"]}):
                got.append(ev)
                if ev.action == "die":
                    return
        task = asyncio.create_task(collect())
        await asyncio.sleep(0.2)
        # from another process, as a monitor would
        code = ("import sys; sys.path.insert(0, %r)\nfrom engine import Engine\ne = Engine(%r)\n"
                "e.emit('container', 'start', 'c9')\ne.emit('container', 'oom', 'c9')\n"
                "e.emit('container', 'die', 'c9', exitCode='137')" % (str(REPO), engine.paths.root))
        proc = await asyncio.create_subprocess_exec(sys.executable, "-c", code)
        assert await proc.wait() == 0
        await asyncio.wait_for(task, 30)
        return got
    got = asyncio.run(main())
    assert [(e.action, e.id, e.attributes.get("exitCode")) for e in got] == \
        [("oom", "c9", None), ("die", "c9", "137")]


def test_cli_events_history_and_json(cli, engine):
    engine.emit("container", "start", "c1", name="web", image="alpine")
    engine.emit("container", "die", "c1", name="web", image="alpine", exitCode="3")
    out = cli("events", "--since", "1h", "--until", "0s").stdout.splitlines()
    assert len(out) == 2
    assert out[1].endswith("container die c1 (exitCode=3, image=alpine, name=web)")
    (line,) = cli("events", "--since", "1h", "--until", "0s", "--format", "json",
                  "--filter", "event=die").stdout.splitlines()
    obj = json.loads(line)
    assert (obj["Action"], obj["Actor"]["ID"], obj["Actor"]["Attributes"]["exitCode"],
            obj["from"]) == ("die", "c1", "3", "alpine")
    bad = cli("events", "--since", "soon", check=False)
    assert bad.returncode == 125 and "invalid time 'soon'" in bad.stderr


def test_cli_events_follows_until_interrupted(root, engine):
    env = {**os.environ, "BERTH_ROOT": root}
    p = subprocess.Popen([*BERTH, "events", "--filter", "type=container"], stdout=subprocess.PIPE,
                         text=True, env=env, cwd=REPO)
    try:
        # the follower only shows what comes after it started: keep emitting until one arrives
        import select
        for i in range(100):
            engine.emit("container", "start", f"c{i}")
            if select.select([p.stdout], [], [], 0.2)[0]:
                break
        first = p.stdout.readline()
        assert " container start c" in first
        engine.emit("volume", "create", "v")
        engine.emit("container", "die", "zz", exitCode="1")
        while True:
            line = p.stdout.readline()
            assert line, "berth events exited"
            if " die " in line:
                break
            assert " start " in line   # the volume event is filtered out
        assert line.rstrip().endswith("container die zz (exitCode=1)")
        p.send_signal(2)
        assert p.wait(30) == 0
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
