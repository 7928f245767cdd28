"""``top``: the processes of a container (those in its cgroup), read from the host's /proc.

Each row has the host pid and the pid the container sees (the last NSpid), the user as the
container names it (its /etc/passwd, read safely under its root), CPU as ps computes %CPU
(CPU time over time alive), resident memory, and the command line.
"""

from __future__ import annotations

import os

HEADERS = ["UID", "PID", "CONTAINER PID", "PPID", "%CPU", "RSS", "TIME", "CMD"]


def _status(pid: int) -> dict[str, str]:
    out = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            key, _, value = line.partition(":")
            out[key] = value.strip()
    return out


def _users(pid: int) -> dict[int, str]:
    """uid -> name from the container's own /etc/passwd (never a path followed out of it)."""
    from ..containerfs import open_in_root
    try:
        root = os.open(f"/proc/{pid}/root", os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
    except OSError:
        return {}
    try:
        fd = open_in_root(root, "/etc/passwd", os.O_RDONLY | os.O_NONBLOCK)
        with os.fdopen(fd, "r", errors="replace") as f:
            text = f.read(1 << 20)
    except OSError:
        return {}
    finally:
        os.close(root)
    users = {}
    for line in text.splitlines():
        fields = line.split(":")
        if len(fields) > 2 and fields[2].isdigit():
            users.setdefault(int(fields[2]), fields[0])
    return users


def _clock(ticks: float) -> str:
    secs = int(ticks)
    return f"{secs // 3600:02d}:{secs % 3600 // 60:02d}:{secs % 60:02d}"


def processes(pids: list[int], init_pid: int) -> tuple[list[str], list[list[str]]]:
    """(headers, rows) for ``pids``, the container's processes; ``init_pid`` its pid 1."""
    hz = os.sysconf("SC_CLK_TCK")
    with open("/proc/uptime") as f:
        uptime = float(f.read().split()[0])
    users = _users(init_pid) if init_pid else {}
    rows = []
    for pid in sorted(pids):
        try:
            st = _status(pid)
            with open(f"/proc/{pid}/stat", "rb") as f:
                raw = f.read()
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                cmdline = f.read()
        except OSError:
            continue   # it exited while we looked
        fields = raw[raw.rfind(b")") + 2:].split()
        utime, stime, started = int(fields[11]), int(fields[12]), int(fields[19])
        cpu_secs = (utime + stime) / hz
        alive = max(uptime - started / hz, 1e-9)
        uid = int(st.get("Uid", "0").split()[0])
        cmd = cmdline.replace(b"\0", b" ").decode(errors="replace").strip() \
            or f"[{st.get('Name', '')}]"
        rss_kb = int(st.get("VmRSS", "0 kB").split()[0])
        rows.append([users.get(uid, str(uid)), str(pid), st.get("NSpid", str(pid)).split()[-1],
                     st.get("PPid", "0"), f"{100 * cpu_secs / alive:.1f}", _kib(rss_kb),
                     _clock(cpu_secs), cmd])
    return HEADERS, rows


def _kib(kb: int) -> str:
    if kb >= 1024 * 1024:
        return f"{kb / 1024 / 1024:.1f}G"
    if kb >= 1024:
        return f"{kb / 1024:.1f}M"
    return f"{kb}K"
