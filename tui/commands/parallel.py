"""Verbs over several containers at once, as docker's CLI runs `stop`, `kill`, `rm`, `pause`
and `unpause` (its parallelOperation): every name at once, at most PARALLEL engine calls at a
time, and the outcomes reported in the order the names were given, each as soon as it and
every one before it are done. Used by the CLI's bulk verbs and the dashboard's.

One name is called in the caller's thread: the hot path imports nothing more.
"""

from __future__ import annotations

PARALLEL = 8
"""Engine calls at once: enough that stopping containers that ignore SIGTERM takes one stop
timeout, not one each; few enough that starting many doesn't swamp two cores."""


def each(refs, fn, limit: int = PARALLEL):
    """Yield (ref, None or the BerthError it raised) for each of ``refs`` in their order, each
    once ``fn(ref)`` and every call before it are done; up to ``limit`` calls run at once, in
    threads. Another exception is raised here, in the caller's thread, when its ref's turn
    comes."""
    refs = list(refs)
    if len(refs) <= 1:
        for ref in refs:
            yield ref, _outcome(_call(fn, ref))
        return
    import threading
    slots = threading.BoundedSemaphore(limit)
    results: list = [None] * len(refs)
    done = [threading.Event() for _ in refs]

    def run(i: int) -> None:
        try:
            results[i] = _call(fn, refs[i])
        finally:
            slots.release()
            done[i].set()

    def launch() -> None:
        for i in range(len(refs)):
            slots.acquire()
            threading.Thread(target=run, args=(i,), daemon=True,
                             name=f"berth-bulk-{i}").start()

    threading.Thread(target=launch, daemon=True, name="berth-bulk").start()
    for i, ref in enumerate(refs):
        done[i].wait()
        yield ref, _outcome(results[i])


def _call(fn, ref):
    try:
        fn(ref)
    except Exception as e:
        return e
    return None


def _outcome(error):
    from engine.errors import BerthError
    if error is not None and not isinstance(error, BerthError):
        raise error
    return error


def naming(name: str, error) -> str:
    """The error's message, prefixed with the container's name unless it says it already
    (one failure among several names must say which)."""
    message = str(error)
    return message if name in message else f"{name}: {message}"
