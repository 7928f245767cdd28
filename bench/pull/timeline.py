"""Where one `berth pull` spends its time: run by `bench/pull/run --profile` in a fresh
interpreter (BERTH_ROOT and BERTH_RUN set by the caller), it pulls the reference given as its
argument as the CLI does and prints a timeline of wall-clock marks from the interpreter's first
instruction (imports, manifest, each blob's download and ingest, each layer's unpack, the
image record), the CPU seconds of the process, and cProfile's top functions of the main thread
(the unpacking threads show in the timeline)."""

from __future__ import annotations

import os
import sys
import threading
import time

T0 = time.perf_counter()
MARKS: list[tuple[float, str, str]] = []


def mark(what: str) -> None:
    MARKS.append((time.perf_counter() - T0, threading.current_thread().name, what))


def main() -> None:
    import cProfile
    import pstats
    prof = cProfile.Profile()
    prof.enable()
    from engine.images import httpclient  # noqa: F401 - the registry client's HTTP
    mark("HTTP client imported")
    from engine.engine import Engine
    from engine.images import layers, pull, registry_client, store
    mark("engine imported")
    short = {}

    def wrap(owner, name: str, label, arg: int) -> None:
        """Mark the start and end of ``owner.name``, naming the digest in argument ``arg``."""
        f = getattr(owner, name)

        def what(a):
            v = a[arg] if len(a) > arg else ""
            v = v.get("digest", "") if isinstance(v, dict) else str(v)
            return short.setdefault(v, v.partition(":")[2][:12] or v[:12])
        def w(*a, **k):
            mark(f"{label} {what(a)} starts")
            try:
                return f(*a, **k)
            finally:
                mark(f"{label} {what(a)} ends")
        setattr(owner, name, w)

    wrap(registry_client.RegistryClient, "get_manifest", "manifest", 2)
    wrap(registry_client.RegistryClient, "_fetch_blob", "download", 2)
    wrap(store.ImageStore, "ingest_blob", "ingest", 2)
    wrap(layers.Layers, "_unpack_into_place", "unpack layer", 1)
    wrap(store.ImageStore, "add_image", "image record", 99)
    del pull
    engine = Engine()
    engine.pull_sync(sys.argv[1], tls_verify=False)
    mark("pull done")
    prof.disable()
    cpu = os.times()
    print(f"profile of one berth pull (wall ms from the interpreter's first instruction; "
          f"CPU {cpu.user:.3f}s user + {cpu.system:.3f}s system):")
    for t, thread, what in MARKS:
        print(f"  {t * 1000:8.1f} ms  {thread[:12]:12} {what}")
    print("cProfile, main thread, by own time:")
    stats = pstats.Stats(prof)
    stats.sort_stats("tottime")
    rows = sorted(stats.stats.items(), key=lambda kv: kv[1][2], reverse=True)[:12]
    for (file, line, fn), (_, calls, tottime, cumtime, _) in rows:
        where = f"{os.path.basename(file)}:{line}" if line else file
        print(f"  {tottime * 1000:7.1f} ms own {cumtime * 1000:7.1f} ms cum {calls:6d} calls  "
              f"{fn} ({where})")


if __name__ == "__main__":
    main()
