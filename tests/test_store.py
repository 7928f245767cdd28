"""The store: atomic records and a lock that excludes other processes and other threads."""

from __future__ import annotations

import json
import multiprocessing
import os
import threading
import time

from engine.paths import Paths
from engine.store import Store, read_json, write_json


def _bump(root: str, n: int) -> None:
    store = Store(Paths.from_env(root))
    for _ in range(n):
        with store.lock():
            rec = store.read("counter.json") or {"n": 0}
            rec["n"] += 1
            store.write(rec, "counter.json", fsync=False)


def test_concurrent_processes_never_lose_an_update(root):
    ctx = multiprocessing.get_context("fork")
    procs = [ctx.Process(target=_bump, args=(root, 50)) for _ in range(4)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
    assert [p.exitcode for p in procs] == [0] * 4
    assert Store(Paths.from_env(root)).read("counter.json") == {"n": 200}


def test_threads_sharing_one_store_exclude_each_other(root):
    store = Store(Paths.from_env(root))
    inside = []
    overlap = []

    def work():
        for _ in range(20):
            with store.lock():
                with store.lock():  # re-entrant within the thread
                    inside.append(1)
                    if len(inside) > 1:
                        overlap.append(1)
                    time.sleep(0.001)
                    inside.pop()

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert overlap == []
    assert store._held == {}


def test_readers_never_see_half_a_record(root):
    path = os.path.join(root, "big.json")
    big = {"x": "y" * 200_000}
    write_json(path, {"x": ""})
    stop = threading.Event()
    bad = []

    def reader():
        while not stop.is_set():
            rec = read_json(path)
            if rec not in ({"x": ""}, big):
                bad.append(rec)

    t = threading.Thread(target=reader)
    t.start()
    for i in range(30):
        write_json(path, big if i % 2 else {"x": ""}, fsync=False)
    stop.set()
    t.join()
    assert bad == []
    assert not [n for n in os.listdir(root) if ".tmp." in n]
    assert json.loads(open(path).read()) in ({"x": ""}, big)


def test_a_roots_host_names_are_what_they_were_with_zlib():
    """What a root names on the host (run directory, cgroup parent, bridge, nftables table)
    carries zlib.crc32 of its path: computed without zlib now, the same names, so a root made
    before finds what it made."""
    import zlib

    from engine.paths import DEFAULT_ROOT, _suffix, crc32
    for n in range(64):
        data = os.urandom(n)
        assert crc32(data) == zlib.crc32(data)
    for root in ("/var/tmp/berth-test-x", "/tmp/a", "/srv/berth/ü"):
        assert _suffix(root) == f"{zlib.crc32(root.encode()) & 0xFFFF:04x}"
    assert _suffix(DEFAULT_ROOT) == ""
    assert Paths.from_env("/tmp/a").cgroup_parent.endswith(_suffix("/tmp/a"))
