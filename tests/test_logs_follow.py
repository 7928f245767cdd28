"""A follower of a container's log misses nothing written between its first read and its
follow, even when the container ends right then (docker-py's containers.run reads the output
with logs(follow=True) just after start: a quick container's output came back empty)."""

from __future__ import annotations

import json
import os

from engine.runtime import logs, process


def _line(text: str, t: str = "2026-12-07T00:00:00.000000000Z") -> bytes:
    return (json.dumps({"time": t, "stream": "stdout", "log": text}) + "\n").encode()


def test_follow_goes_on_from_where_the_read_stopped(tmp_path):
    d = str(tmp_path)
    with open(os.path.join(d, logs.LOG), "wb") as f:
        f.write(_line("first\n") + _line("half")[:20])   # a line still being written
    read, mark = logs.read_lines_from(d)
    assert [text for _, _, text in read] == ["first\n"]
    with open(os.path.join(d, logs.LOG), "r+b") as f:   # the rest of it, and one more
        f.seek(len(_line("first\n")))
        f.write(_line("half") + _line("last\n"))
    got = [text for _, _, text in logs.follow(d, lambda: False, since_mark=mark)]
    assert got == ["half", "last\n"]


def test_a_line_written_as_the_container_ends_reaches_the_follower(engine, monkeypatch):
    """The engine's follower: the container writes its line and exits between the read of
    the log and the follow."""
    from engine.models import ContainerConfig, Image
    engine.image = lambda ref: Image(id="sha256:" + "b" * 64, repo_tags=["bb:latest"],
                                     config={"Cmd": ["true"]})
    engine.image_layer_dirs = lambda img: []
    c = engine.create(ContainerConfig(image="bb", cmd=["true"]), name="quick")
    d = engine.paths.container_dir(c.id)
    process.update_state(d, status="running", pid=os.getpid())
    real = logs.read_lines_from

    def read_then_the_container_ends(directory, tail=None):
        out = real(directory, tail)
        with open(os.path.join(directory, logs.LOG), "ab") as f:
            f.write(_line("PEER_NAME=/linker/peer\n"))
        process.update_state(directory, status="exited", pid=0, exit_code=0)
        return out
    monkeypatch.setattr(logs, "read_lines_from", read_then_the_container_ends)
    assert [line.text for line in engine.logs("quick", follow=True)] == \
        ["PEER_NAME=/linker/peer\n"]


def test_a_follower_sleeps_until_the_log_changes(tmp_path):
    """A follower with nothing to read sleeps until something in the directory changes
    (inotify), looking at the container at most every QUIET_LOOK seconds instead of every
    50 ms; a line written wakes it at once, and so does the state the exit is recorded in."""
    import queue
    import threading
    import time
    d = str(tmp_path)
    with open(os.path.join(d, logs.LOG), "wb") as f:
        f.write(_line("old\n"))
    _, mark = logs.read_lines_from(d)
    looks, running = [], [True]

    def still_running() -> bool:
        looks.append(time.monotonic())
        return running[0]
    got: queue.Queue = queue.Queue()

    def reader():
        for _, _, text in logs.follow(d, still_running, since_mark=mark):
            got.put((time.monotonic(), text))
        got.put((time.monotonic(), None))
    threading.Thread(target=reader, daemon=True).start()
    time.sleep(1.5)
    assert len(looks) <= 3, len(looks)     # polling looked 30 times in 1.5 s
    t = time.monotonic()
    with open(os.path.join(d, logs.LOG), "ab") as f:
        f.write(_line("new\n"))
    when, text = got.get(timeout=5)
    assert text == "new\n" and when - t < 0.5
    running[0] = False
    t = time.monotonic()
    with open(os.path.join(d, "state.json.tmp"), "w") as f:   # as the monitor writes it
        f.write("{}")
    os.rename(os.path.join(d, "state.json.tmp"), os.path.join(d, "state.json"))
    when, text = got.get(timeout=5)
    assert text is None and when - t < 0.5
