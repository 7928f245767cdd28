"""cgroups without root: a delegated cgroup v2 subtree when systemd gives the user one, else none.

With cgroup v2 and systemd's delegation, the user owns
``/sys/fs/cgroup/user.slice/user-UID.slice/user@UID.service``: berth keeps its containers below
it and the ordinary v2 backend sets their limits there. Without delegation (cgroup v1, as on
many hosts, or v2 without a writable subtree) there is nothing the user may write: ``NoCgroup``
stands in, with no limits (options that need them are refused, ``refuse_limits``), no pause, and
processes found through /proc by the container's pid namespace, as rootless podman does.
"""

from __future__ import annotations

import os

from ..errors import HostError
from ..runtime.cgroup_common import signal_each

NO_DELEGATION = "limits unavailable (no cgroup delegation)"
REFUSED = ("{flag} needs cgroup delegation, which berth without root doesn't have on this host "
           "(cgroup v1, or v2 without systemd's user delegation): run it as root, or on a cgroup "
           "v2 host inside your systemd user session (systemd-run --user --scope berth …)")


def delegated_subtree(mount: str, uid: int, owner: int | None = None,
                      own_cgroup: str | None = None) -> str | None:
    """The user's delegated v2 subtree, relative to the cgroup2 ``mount``: systemd's
    ``user@UID.service`` when it has controllers, systemd gave it to the user (it, its
    cgroup.procs and cgroup.subtree_control owned by ``owner``, the user as this process
    sees it: uid 0 inside berth's user namespace), and berth runs inside it (``own_cgroup``,
    from /proc/self/cgroup): the kernel lets a process move others only between cgroups
    below one it may write, so from a login session's scope the subtree is out of reach."""
    owner = os.geteuid() if owner is None else owner
    rel = f"user.slice/user-{uid}.slice/user@{uid}.service"
    if own_cgroup is None:
        own_cgroup = _own_cgroup()
    if not (own_cgroup + "/").startswith(f"/{rel}/"):
        return None
    d = os.path.join(mount, rel)
    try:
        with open(os.path.join(d, "cgroup.controllers")) as f:
            controllers = f.read().split()
        owned = all(os.stat(os.path.join(d, n)).st_uid == owner
                    for n in ("", "cgroup.procs", "cgroup.subtree_control"))
    except OSError:
        return None
    return rel if controllers and owned else None


def _own_cgroup() -> str:
    """This process's cgroup v2 path ("" when it has none)."""
    try:
        with open("/proc/self/cgroup") as f:
            for line in f:
                if line.startswith("0::"):
                    return line[3:].strip()
    except OSError:
        pass
    return ""


def backend(parent: str, v2_mount: str | None, uid: int, root: str, owner: int | None = None,
            own_cgroup: str | None = None):
    """The backend for a user's berth: the v2 one below the user's delegated subtree, or
    NoCgroup."""
    if v2_mount:
        rel = delegated_subtree(v2_mount, uid, owner, own_cgroup)
        if rel:
            from ..runtime.cgroup_v2 import V2
            return V2(f"{rel}/{parent}", v2_mount)
    return NoCgroup(parent, root)


class NoCgroup:
    """No cgroup at all: every operation that only organises does nothing, those that need a
    controller (limits, pause) are refused, and a container's processes are those in the pid
    namespace of its pid 1 (found through its state record under ``root``)."""

    version = 0
    delegated = False

    def __init__(self, parent: str, root: str):
        self.parent = parent
        self.root = root

    def path(self, cid: str, controller: str = "") -> str:
        raise KeyError(controller or "cgroup")

    def create(self, cid: str, resources=None, device_rules=None) -> None:
        self.set_resources(cid, resources)

    def set_resources(self, cid: str, resources=None) -> None:
        flags = limit_flags(resources)
        if flags:
            raise HostError(REFUSED.format(flag=flags[0]))

    def set_devices(self, cid: str, rules) -> None:
        pass

    def warnings(self, resources) -> list[str]:
        return []

    def add(self, cid: str, pid: int) -> None:
        pass

    def join_files(self, cid: str) -> list[str]:
        return []

    def join_self(self, cid: str) -> None:
        pass

    def freeze(self, cid: str) -> None:
        raise HostError(REFUSED.format(flag="pause"))

    thaw = freeze

    def frozen(self, cid: str) -> bool:
        return False

    def _pid1(self, cid: str) -> int:
        from ..runtime.process import read_state
        try:
            return int(read_state(os.path.join(self.root, "containers", cid)).get("pid") or 0)
        except (TypeError, ValueError):
            return 0

    def pids(self, cid: str) -> list[int]:
        pid1 = self._pid1(cid)
        return pidns_members(pid1) if pid1 else []

    def kill_all(self, cid: str, sig: int = 9) -> None:
        signal_each(self.pids(cid), sig)

    def remove(self, cid: str) -> None:
        pass

    def oom_kill_count(self, cid: str) -> int:
        return 0


def pidns_members(pid1: int, proc: str = "/proc") -> list[int]:
    """The processes in the pid namespace of ``pid1`` (and those below it), pid1 first. The
    namespace's members are the processes whose pid namespace link matches pid1's, or whose
    NSpid line is longer than pid1's (a nested namespace)."""
    try:
        ns = os.readlink(f"{proc}/{pid1}/ns/pid")
    except OSError:
        return []
    out = [pid1]
    for name in os.listdir(proc):
        if not name.isdigit() or int(name) == pid1:
            continue
        try:
            if os.readlink(f"{proc}/{name}/ns/pid") == ns:
                out.append(int(name))
        except OSError:
            continue
    return out


_LIMIT_FLAGS = (("memory", "--memory"), ("memory_swap", "--memory-swap"),
                ("memory_reservation", "--memory-reservation"), ("nano_cpus", "--cpus"),
                ("cpu_quota", "--cpu-quota"), ("cpu_period", "--cpu-period"),
                ("cpu_shares", "--cpu-shares"), ("cpuset_cpus", "--cpuset-cpus"),
                ("cpuset_mems", "--cpuset-mems"), ("pids_limit", "--pids-limit"),
                ("blkio_weight", "--blkio-weight"), ("blkio_weight_device", "--blkio-weight-device"),
                ("device_read_bps", "--device-read-bps"), ("device_write_bps", "--device-write-bps"),
                ("device_read_iops", "--device-read-iops"),
                ("device_write_iops", "--device-write-iops"),
                ("oom_kill_disable", "--oom-kill-disable"))


def limit_flags(resources) -> list[str]:
    """The flags of the limits ``resources`` sets (its model or its JSON), as typed."""
    if resources is None:
        return []
    res = resources if isinstance(resources, dict) else resources.to_dict()
    return [flag for key, flag in _LIMIT_FLAGS if res.get(key) not in (None, 0, "", [], False)]
