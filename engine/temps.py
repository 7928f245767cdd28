"""Temporary files that outlived the process that made them: a berth command or monitor killed
between writing a record's temporary file and renaming it into place.

``write_atomic`` names its temporaries ``<record>.tmp.<pid>.<thread>``, blobs and rotated logs
``<name>.tmp.<pid>[...]``, the ``--userns auto`` slots ``<name>.<pid>.tmp``. One is stray once
its pid runs no more, or runs a process that started after the file was last written (the pid
was given to another). Only the directories that hold berth's records are looked at, never the
files of a container, a layer or a volume (a ``x.tmp.1`` there is somebody's data). The images
area's scratch directories in ``tmp/`` are its own (``ImageStore.sweep_tmp``).

``berth system prune`` sweeps them; ``berth system check`` reports them (``stray_temp_files``).
"""

from __future__ import annotations

import os

# directories of records; "*" is every entry of the one before it (one level, never deeper)
_RECORD_DIRS = ((), ("images",), ("networks",), ("blobs", "sha256"), ("cache", "seccomp"),
                ("userns",), ("containers", "*"), ("volumes", "*"), ("layers", "*"))


def stray_temp_files(store) -> list[str]:
    """The paths of the temporary files under ``store``'s root whose writer is gone, sorted."""
    boot = _boot_time()
    out = []
    for d in _record_dirs(store.root):
        try:
            entries = list(os.scandir(d))
        except (FileNotFoundError, NotADirectoryError):
            continue
        for e in entries:
            pid = _writer_pid(e.name)
            if pid and e.is_file(follow_symlinks=False) and _gone(pid, e, boot):
                out.append(e.path)
    return sorted(out)


def sweep_temp_files(store) -> list[str]:
    """Remove the stray temporary files of ``store``'s root; the paths removed."""
    removed = []
    for path in stray_temp_files(store):
        try:
            os.unlink(path)
        except FileNotFoundError:
            continue   # its writer was not gone after all, or another sweep took it
        removed.append(path)
    return removed


def _record_dirs(root: str):
    for parts in _RECORD_DIRS:
        if parts and parts[-1] == "*":
            base = os.path.join(root, *parts[:-1])
            try:
                names = os.listdir(base)
            except FileNotFoundError:
                continue
            for name in names:
                yield os.path.join(base, name)
        else:
            yield os.path.join(root, *parts)


def _writer_pid(name: str) -> int:
    """The pid in a temporary file's name, 0 when the name is not one of berth's temporaries."""
    if name.endswith(".tmp"):
        digits = name[:-4].rpartition(".")[2]
    else:
        _, sep, rest = name.rpartition(".tmp.")
        digits = rest.partition(".")[0] if sep else ""
    return int(digits) if digits.isdigit() else 0


def _gone(pid: int, entry: os.DirEntry, boot: float) -> bool:
    from .runtime.process import start_time
    ticks = start_time(pid)
    if not ticks:
        return True   # no such process (or a zombie: its work is over)
    try:
        mtime = entry.stat(follow_symlinks=False).st_mtime
    except FileNotFoundError:
        return False  # renamed or removed meanwhile: nothing to sweep
    # a process started after the file was last written can't be the one writing it
    return boot > 0 and boot + ticks / os.sysconf("SC_CLK_TCK") > mtime + 1


def _boot_time() -> float:
    try:
        with open("/proc/stat", "rb") as f:
            for line in f:
                if line.startswith(b"btime "):
                    return float(line.split()[1])
    except OSError:
        pass
    return 0.0
