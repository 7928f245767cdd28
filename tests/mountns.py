"""Running a function in a forked child with its own mount namespace, for mount tests that must
not change the host's mounts whatever the code under test does."""

from __future__ import annotations

import json
import os
import traceback


def in_mount_ns(fn, *args):
    """Fork; the child unshares its mount namespace, makes every mount private (so nothing
    propagates back to the host), runs ``fn(*args)`` and sends back its JSON-able result, or
    the exception's type and message. Returns ``("ok", result)`` or ``("error", type, text)``."""
    from engine.runtime import linux
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - child
        os.close(r)
        try:
            linux.unshare(linux.CLONE_NEWNS)
            linux.mount(None, "/", None, linux.MS_REC | linux.MS_PRIVATE)
            out = ["ok", fn(*args)]
        except BaseException as e:  # noqa: BLE001 - everything goes back to the test
            out = ["error", type(e).__name__, f"{e}\n{traceback.format_exc()}"]
        try:
            os.write(w, json.dumps(out).encode())
        finally:
            os._exit(0)
    os.close(w)
    chunks = []
    while True:
        b = os.read(r, 65536)
        if not b:
            break
        chunks.append(b)
    os.close(r)
    os.waitpid(pid, 0)
    if not chunks:
        raise AssertionError("the mount-namespace child died without an answer")
    return tuple(json.loads(b"".join(chunks)))


def mount_points() -> list[str]:
    """Mount points in the caller's namespace (field 5 of mountinfo, octal escapes decoded)."""
    out = []
    with open("/proc/self/mountinfo") as f:
        for line in f:
            p = line.split()[4]
            out.append(p.encode().decode("unicode_escape"))
    return out
