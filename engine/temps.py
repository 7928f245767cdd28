"""Temporary files that outlived the process that made them: a berth command or monitor killed
between writing a record's temporary file and renaming it into place, or between renaming a
container or volume directory away and deleting it.

``write_atomic`` names its temporaries ``<record>.tmp.<pid>.<thread>``, rotated logs
``<name>.tmp.<pid>``, the ``--userns auto`` slots ``<name>.<pid>.tmp``; a container or volume
being built or removed is a directory ``containers/<id>.tmp.<pid>.<thread>`` (or
``volumes/<name>...``). One is stray once its pid runs no more, or runs a process that started
after the entry last changed (the pid was given to another). Only the directories that hold
berth's records are looked at, never the files of a container or a volume (a ``x.tmp.1`` there
is somebody's data).

One owner per directory: this module owns the root's own entries, networks/, cache/seccomp/,
userns/, containers/ and volumes/ and each container's and volume's directory. The image store
owns images/, blobs/, layers/ and tmp/: its garbage collection (engine/images/garbage.py) judges
them under the image store's locks, where no rule about pids is needed.

``berth system prune`` sweeps them (``sweep_temp_files``); ``berth system check`` reports them
(``stray_temp_files``, engine/check.py) and ``--repair`` removes them (``remove``); every
create and rm of a container, volume or network sweeps its own directory (``sweep_temp_files(store,
"containers")``), so removing everything leaves nothing for check to find.
"""

from __future__ import annotations

import os

# directories of records; "*" is every entry of the one before it (one level, never deeper)
_RECORD_DIRS = ((), ("networks",), ("cache", "seccomp"), ("userns",), ("containers",),
                ("containers", "*"), ("volumes",), ("volumes", "*"))


def stray_temp_files(store, sub: str = "") -> list[str]:
    """The paths of the temporary files and directories under ``store``'s root (only in its
    directory ``sub`` when given) whose writer is gone, sorted."""
    boot = _boot_time()
    out = []
    dirs = [store.path(sub)] if sub else _record_dirs(store.root)
    for d in dirs:
        try:
            entries = list(os.scandir(d))
        except (FileNotFoundError, NotADirectoryError):
            continue
        for e in entries:
            pid = _writer_pid(e.name)
            if pid and not e.is_symlink() and _gone(pid, e, boot):
                out.append(e.path)
    return sorted(out)


def sweep_temp_files(store, sub: str = "") -> list[str]:
    """Remove the stray temporaries of ``store``'s root (only in ``sub`` when given); the paths
    removed."""
    return [path for path in stray_temp_files(store, sub) if remove(path)]


def remove(path: str) -> bool:
    """Remove a stray temporary file, or a directory with all it holds; False when it was gone
    already (its writer was not gone after all, or another sweep took it)."""
    from .runtime.process import remove_tree
    try:
        if not os.path.isdir(path) or os.path.islink(path):
            os.unlink(path)
            return True
    except FileNotFoundError:
        return False
    remove_tree(path)
    return True


def _record_dirs(root: str):
    for parts in _RECORD_DIRS:
        if parts and parts[-1] == "*":
            base = os.path.join(root, *parts[:-1])
            try:
                names = os.listdir(base)
            except FileNotFoundError:
                continue
            for name in names:
                if not _writer_pid(name):   # a temporary directory is one entry, not a dir of them
                    yield os.path.join(base, name)
        else:
            yield os.path.join(root, *parts)


def _writer_pid(name: str) -> int:
    """The pid in a temporary file's name, 0 when the name is not one of berth's temporaries."""
    if name.endswith(".tmp"):
        digits = name[:-4].rpartition(".")[2]
    else:
        head, sep, rest = name.rpartition(".tmp.")
        digits = rest.partition(".")[0] if sep and head else ""
    return int(digits) if digits.isdigit() else 0


def _gone(pid: int, entry: os.DirEntry, boot: float) -> bool:
    from .runtime.process import start_time
    ticks = start_time(pid)
    if not ticks:
        # no such process (or a zombie: its work is over). Listed before it renamed the file
        # into place and exited, the file is gone now: a dead writer renames nothing more, so
        # what is still there is what it left
        return os.path.lexists(entry.path)
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
