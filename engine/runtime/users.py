"""``-u user[:group]`` resolved as Docker does, through the container's own /etc/passwd and
/etc/group (read after pivot_root, so the paths are the container's)."""

from __future__ import annotations


class UserError(Exception):
    """The user or group named by -u does not exist in the container."""


def _entries(path: str) -> list[list[str]]:
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            return [ln.rstrip("\n").split(":") for ln in f if ln.strip() and not ln.startswith("#")]
    except OSError:
        return []


def resolve(spec: str, group_add: list[str] = (), passwd: str = "/etc/passwd",
            group: str = "/etc/group") -> tuple[int, int, list[int], str]:
    """(uid, gid, supplementary gids, home) for ``user[:group]``; names or numbers."""
    user_s, _, group_s = (spec or "0").partition(":")
    users = [e for e in _entries(passwd) if len(e) >= 6]
    groups = [e for e in _entries(group) if len(e) >= 3]
    match = next((e for e in users if e[0] == user_s), None)
    if match is None and user_s.isdigit():
        match = next((e for e in users if e[2] == user_s), None)
    if match is not None:
        uid, gid, home, name = int(match[2]), int(match[3]), match[5] or "/", match[0]
    elif user_s.isdigit():
        uid, gid, home, name = int(user_s), 0, "/", ""
    else:
        raise UserError(f"unable to find user {user_s}: no matching entries in passwd file")
    if group_s:
        gid = _group_id(group_s, groups)
    # supplementary groups: those that list the user, unless the group was given explicitly
    extra = [] if group_s else [int(g[2]) for g in groups
                                if name and len(g) > 3 and name in g[3].split(",")]
    for g in group_add:
        extra.append(_group_id(g, groups))
    seen: list[int] = []
    for g in [gid, *extra]:
        if g not in seen:
            seen.append(g)
    return uid, gid, seen, home


def _group_id(spec: str, groups: list[list[str]]) -> int:
    match = next((g for g in groups if g[0] == spec), None)
    if match is not None:
        return int(match[2])
    if spec.isdigit():
        return int(spec)
    raise UserError(f"unable to find group {spec}: no matching entries in group file")
