"""The user's subordinate id ranges (/etc/subuid, /etc/subgid) and the maps made from them.

Container root is the user; ids 1..N come from the first subordinate range (N up to 65536),
written with the setuid helpers newuidmap/newgidmap. Without a range only the user's own id is
mapped, which an unprivileged process may write itself: then files of other owners in a layer
can't be created as theirs (they become the user's) and ``chown`` inside a container fails.
"""

from __future__ import annotations

import os

SUBUID, SUBGID = "/etc/subuid", "/etc/subgid"
MAX_IDS = 65536

NO_RANGE_WARNING = ("no subordinate ids for {user} in /etc/subuid and /etc/subgid: containers get "
                    "only your own id (files of other owners in images become yours, chown to "
                    "another user fails); add a range with 'usermod --add-subuids 100000-165535 "
                    "--add-subgids 100000-165535 {user}'")


def subordinate(path: str, user: str, uid: int) -> tuple[int, int] | None:
    """The first range (start, count) of ``path`` for ``user`` (by name or by uid), or None."""
    try:
        with open(path) as f:
            lines = f.read().splitlines()
    except OSError:
        return None
    for line in lines:
        parts = line.strip().split(":")
        if len(parts) != 3 or parts[0] not in (user, str(uid)):
            continue
        try:
            start, count = int(parts[1]), int(parts[2])
        except ValueError:
            continue
        if start > 0 and count > 0:
            return start, min(count, MAX_IDS)
    return None


class IdMaps:
    """The uid and gid maps of the user's namespace: ``(inside, outside, count)`` triples."""

    def __init__(self, uid: int, gid: int, user: str):
        self.uid, self.gid, self.user = uid, gid, user
        self.subuid = subordinate(SUBUID, user, uid)
        self.subgid = subordinate(SUBGID, user, uid)

    @classmethod
    def for_current_user(cls) -> "IdMaps":
        import pwd
        uid, gid = os.geteuid(), os.getegid()
        try:
            name = pwd.getpwuid(uid).pw_name
        except KeyError:
            name = str(uid)
        return cls(uid, gid, name)

    @property
    def full(self) -> bool:
        """Whether there are subordinate ids for both uids and gids (else a single-id map)."""
        return self.subuid is not None and self.subgid is not None

    def triples(self, own: int, sub: tuple[int, int] | None) -> list[tuple[int, int, int]]:
        if sub is None or not self.full:
            return [(0, own, 1)]
        return [(0, own, 1), (1, sub[0], sub[1])]

    @property
    def uid_map(self) -> list[tuple[int, int, int]]:
        return self.triples(self.uid, self.subuid)

    @property
    def gid_map(self) -> list[tuple[int, int, int]]:
        return self.triples(self.gid, self.subgid)

    def write(self, pid: int) -> None:
        """Write the maps of ``pid``'s (new, still unmapped) user namespace."""
        if not self.full:
            # one's own id needs no helper, but gid_map only after setgroups is denied
            with open(f"/proc/{pid}/setgroups", "w") as f:
                f.write("deny")
            for name, (inside, outside, count) in (("uid_map", self.uid_map[0]),
                                                   ("gid_map", self.gid_map[0])):
                with open(f"/proc/{pid}/{name}", "w") as f:
                    f.write(f"{inside} {outside} {count}\n")
            return
        import subprocess
        for helper, triples in (("newuidmap", self.uid_map), ("newgidmap", self.gid_map)):
            args = [helper, str(pid)] + [str(n) for t in triples for n in t]
            try:
                done = subprocess.run(args, stdin=subprocess.DEVNULL, capture_output=True,
                                      text=True, close_fds=True)
            except FileNotFoundError:
                from ..errors import HostError
                raise HostError(f"{helper} is not installed: install the uidmap package, or "
                                "remove your /etc/subuid range to run with a single id") from None
            if done.returncode != 0:
                from ..errors import HostError
                why = done.stderr.strip().splitlines()[-1:] or [f"exit {done.returncode}"]
                raise HostError(f"{helper} refused to map your subordinate ids: {why[0]}")


def own_id(n: int) -> int:
    """An owner from a layer as this namespace can store it: itself when mapped, else 0 (the
    user: with a single-id map, files of other owners become the user's)."""
    return n if n == 0 or _mapped(n) else 0


_ranges: list[tuple[int, int]] = []


def _mapped(n: int) -> bool:
    from ..paths import rootless
    if not rootless():
        return True
    if not _ranges:
        with open("/proc/self/uid_map") as f:
            for line in f:
                inside, _outside, count = (int(x) for x in line.split())
                _ranges.append((inside, inside + count))
    return any(lo <= n < hi for lo, hi in _ranges)


def set_groups(groups: list[int]) -> None:
    """os.setgroups, except where the user namespace forbids it (a single-id map is written
    with setgroups denied): there the process keeps the groups it has, as under rootless
    podman. A process with CAP_SETGID that is refused can only be in such a namespace; with
    root (rootless() false, also the answer when /proc can't tell) the refusal stands."""
    try:
        os.setgroups(groups)
    except PermissionError:
        from ..paths import rootless
        if not rootless():
            raise
