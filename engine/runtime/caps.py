"""Linux capabilities: names, Docker's default set (and how flags change it), and the bounding,
keepcaps and ambient steps of dropping them.

Only linux.py (ctypes) is imported here: these functions run in the container's child process
between fork and execve, on the start hot path.
"""

from __future__ import annotations

from engine.runtime import linux

# Numbers from <linux/capability.h>; the kernel's own order.
CAPS = [
    "CHOWN", "DAC_OVERRIDE", "DAC_READ_SEARCH", "FOWNER", "FSETID", "KILL", "SETGID", "SETUID",
    "SETPCAP", "LINUX_IMMUTABLE", "NET_BIND_SERVICE", "NET_BROADCAST", "NET_ADMIN", "NET_RAW",
    "IPC_LOCK", "IPC_OWNER", "SYS_MODULE", "SYS_RAWIO", "SYS_CHROOT", "SYS_PTRACE", "SYS_PACCT",
    "SYS_ADMIN", "SYS_BOOT", "SYS_NICE", "SYS_RESOURCE", "SYS_TIME", "SYS_TTY_CONFIG", "MKNOD",
    "LEASE", "AUDIT_WRITE", "AUDIT_CONTROL", "SETFCAP", "MAC_OVERRIDE", "MAC_ADMIN", "SYSLOG",
    "WAKE_ALARM", "BLOCK_SUSPEND", "AUDIT_READ", "PERFMON", "BPF", "CHECKPOINT_RESTORE",
]
CAP_NUMBER = {name: i for i, name in enumerate(CAPS)}

# Docker's default (moby oci/caps/defaults.go): CapBnd/CapPrm/CapEff = 00000000a80425fb.
DEFAULT_CAPS = [
    "CHOWN", "DAC_OVERRIDE", "FSETID", "FOWNER", "MKNOD", "NET_RAW", "SETGID", "SETUID",
    "SETFCAP", "SETPCAP", "NET_BIND_SERVICE", "SYS_CHROOT", "KILL", "AUDIT_WRITE",
]

PR_CAPBSET_READ = 23
PR_CAPBSET_DROP = 24
PR_SET_KEEPCAPS = 8
PR_CAP_AMBIENT = 47
PR_CAP_AMBIENT_RAISE = 2
PR_CAP_AMBIENT_CLEAR_ALL = 4

# The raw capset/capget/prctl wrappers are the runtime's (engine/runtime/linux.py).
capset = linux.capset
capget = linux.capget


def last_cap() -> int:
    """The highest capability number the running kernel knows."""
    try:
        with open("/proc/sys/kernel/cap_last_cap") as f:
            return int(f.read())
    except OSError:
        return len(CAPS) - 1


def normalize(name: str) -> str:
    """'net_admin', 'CAP_NET_ADMIN' and 'NET_ADMIN' are all 'NET_ADMIN' ('ALL' stays 'ALL')."""
    name = name.strip().upper()
    return name[4:] if name.startswith("CAP_") else name


def all_caps() -> list[str]:
    """Every capability the running kernel knows, by name."""
    return CAPS[: last_cap() + 1]


def own_bounding() -> int:
    """This process's bounding set: nothing outside it can be given to a container."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("CapBnd:"):
                return int(line.split()[1], 16)
    return mask(all_caps())


def compute(cap_add: list[str], cap_drop: list[str], privileged: bool) -> list[str]:
    """The capability set a container gets, as Docker computes it (moby oci/caps.TweakCapabilities):
    --cap-add ALL gives every capability but the dropped ones; otherwise --cap-drop ALL leaves only
    the added ones; otherwise the defaults minus the drops plus the adds."""
    if privileged:
        # Every capability this host lets us have (a host may withhold some, e.g. SYS_RESOURCE).
        bnd = own_bounding()
        return [c for c in all_caps() if bnd & (1 << CAP_NUMBER[c])]
    adds = {normalize(c) for c in cap_add}
    drops = {normalize(c) for c in cap_drop}
    known = all_caps()
    if "ALL" in adds:
        chosen = set(known) - drops
    elif "ALL" in drops:
        chosen = adds
    else:
        chosen = (set(DEFAULT_CAPS) - drops) | adds
    return [c for c in known if c in chosen]


def mask(names: list[str]) -> int:
    """The capability names as a bit mask, as /proc/<pid>/status shows them."""
    m = 0
    for n in names:
        m |= 1 << CAP_NUMBER[n]
    return m


def drop_bounding(keep: int) -> None:
    """Drop from the bounding set every capability not in the mask ``keep`` (needs CAP_SETPCAP)."""
    for n in range(last_cap() + 1):
        if not keep & (1 << n) and linux.prctl(PR_CAPBSET_READ, n) == 1:
            linux.prctl(PR_CAPBSET_DROP, n)


def set_keepcaps(on: bool) -> None:
    """Keep the permitted set across setuid from root to non-root (PR_SET_KEEPCAPS)."""
    linux.prctl(PR_SET_KEEPCAPS, 1 if on else 0)


def clear_ambient() -> None:
    """Empty the ambient set (kernels without ambient capabilities have nothing to clear)."""
    try:
        linux.prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL)
    except OSError:
        pass


def raise_ambient(m: int) -> None:
    """Raise each capability in the mask into the ambient set (it must be permitted and inheritable)."""
    for n in range(last_cap() + 1):
        if m & (1 << n):
            linux.prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, n)
