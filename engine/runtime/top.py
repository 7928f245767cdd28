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


def ps(pids: list[int], args: list[str]) -> tuple[list[str], list[list[str]]]:
    """``docker top C ARGS``, as dockerd answers it: the host's ``ps ARGS`` (asked for the
    container's pids with ``-q``, or filtered afterwards when ARGS can't take ``-q``), the
    header's titles, and the rows of the container's processes, the last column keeping the
    rest of the line (moby's parsePSOutput)."""
    import re
    import subprocess
    from ..errors import HostError, InvalidArgument
    for key, value in re.findall(r"\s+(\S*)=\s*(PID\S*)", " " + " ".join(args)):
        if key != "pid":
            raise InvalidArgument(f'specifying "{key}={value}" is not allowed')
    wanted = ",".join(str(p) for p in sorted(pids))
    try:
        out = subprocess.run(["ps", *args, "-q", wanted], capture_output=True)
        if out.returncode != 0:   # some options (f) refuse -q
            out = subprocess.run(["ps", *args], capture_output=True)
    except FileNotFoundError:
        raise HostError("ps: executable file not found in $PATH") from None
    if out.returncode != 0:
        first = out.stderr.decode(errors="replace").strip().splitlines()[:1]
        raise HostError("ps: " + (first[0] if first else f"exit status {out.returncode}"))
    lines = out.stdout.decode(errors="replace").split("\n")
    titles = lines[0].split()
    if "PID" not in titles:
        raise HostError("Couldn't find PID field in ps output")
    at, rows, inside = titles.index("PID"), [], False
    for line in lines[1:]:
        fields = line.split()
        if not fields:
            continue
        if fields[at] == "-":   # a thread line (ps m) of the process above
            if inside:
                rows.append(_fit(fields, len(titles)))
            continue
        if not fields[at].isdigit():
            raise HostError(f"Unexpected pid '{fields[at]}'")
        inside = int(fields[at]) in pids
        if inside:
            rows.append(_fit(fields, len(titles)))
    return titles, rows


def _fit(fields: list[str], n: int) -> list[str]:
    return [*fields[:n - 1], " ".join(fields[n - 1:])]
