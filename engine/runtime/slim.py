"""A running container's monitor, made small once its container has settled (bench/start
measures it: target <= 6 MiB resident).

Of a fresh monitor's ~9 MiB, 4 MiB are pages of libpython's and libc's code that starting an
interpreter and a container touched once (shared with every other Python, but counted in each
process's resident set), and the rest is the interpreter's heap. ``shed`` runs once the loop
has been idle for SHED_AFTER seconds (never on a short-lived container's path): a full
collection (of what a forked monitor inherited from the CLI too, frozen until now),
``malloc_trim`` so glibc returns its free heap to the kernel, and
``madvise(MADV_DONTNEED)`` on read-only file mappings that hold no private page (code and
constants: the kernel drops its mapping of them, and maps again from the page cache what the
monitor's loop still runs, as it does for any clean page under memory pressure). A mapping
with a private page (RELRO after relocation, anything written) is never touched.
"""

from __future__ import annotations

SHED_AFTER = 0.5
MADV_DONTNEED = 4
# what only a start runs (pid 1's setup, the security spec's enforcement), ~0.25 MiB of code
# objects and functions. Loaded by the prestart (prestart.py), never by the monitor but for a
# healthcheck's exec or --userns auto (monitor_start._containment): unloading what was loaded
# gives back little (pymalloc keeps the freed pools), never loading it does
START_MODULES = ("engine.runtime.init", "engine.runtime.security", "engine.runtime.seccomp",
                 "engine.runtime.caps", "engine.runtime.users", "engine.rootless.idmap",
                 "engine.rootless.overlay")


def unload_start_modules() -> None:
    """Forget START_MODULES (sys.modules and their packages' attributes): nothing of the
    monitor's refers to them once the container runs, so shed's collection frees them."""
    import sys
    for name in START_MODULES:
        if sys.modules.pop(name, None) is not None:
            parent, _, attr = name.rpartition(".")
            try:
                delattr(sys.modules[parent], attr)
            except (KeyError, AttributeError):
                pass


def shed() -> None:
    """Give back what the monitor no longer uses (see the module doc); never raises."""
    import gc
    try:
        # read first: its garbage (a /proc/self/smaps worth of bytes) is collected and trimmed
        ranges = _clean_code_mappings()
    except (OSError, ValueError):
        ranges = []
    gc.unfreeze()   # what a monitor forked from the CLI inherited (monitor_fork): looked at once
    gc.collect()
    try:
        from . import linux
        linux.malloc_trim()
        # as little Python as possible runs between these calls and the loop's next wait:
        # what runs maps its code again (in 64 KiB steps: the kernel's fault-around)
        madvise = linux.madvise
        for start, end in ranges:
            madvise(start, end - start, MADV_DONTNEED)
    except (OSError, ValueError, AttributeError):
        pass


def _clean_code_mappings() -> list[tuple[int, int]]:
    """(start, end) of each read-only, file-backed private mapping with no anonymous page."""
    out = []
    with open("/proc/self/smaps", "rb") as f:
        data = f.read()
    current = None
    for line in data.split(b"\n"):
        head = line.split(b" ", 1)[0]
        if b"-" in head and not head.endswith(b":"):
            fields = line.split()
            current = None
            if len(fields) >= 6 and fields[1] in (b"r-xp", b"r--p") \
                    and fields[5].startswith(b"/"):
                lo, _, hi = head.partition(b"-")
                current = (int(lo, 16), int(hi, 16))
        elif current is not None and head == b"Anonymous:":
            if line.split()[1] == b"0":
                out.append(current)
            current = None
    return out
