"""``ps --filter`` as Docker reads it: status=, name=, label=, ancestor=, id=, exited=,
health=; and the time parsing that logs --since/--until share."""

from __future__ import annotations

import re
import time

from ..errors import InvalidArgument

STATUSES = ("created", "restarting", "running", "removing", "paused", "exited", "dead")
KEYS = ("status", "name", "label", "ancestor", "id", "exited", "before", "since", "network",
        "volume", "health")
HEALTH = ("starting", "healthy", "unhealthy", "none")


def parse_filters(specs: list[str]) -> dict[str, list[str]]:
    """``--filter key=value`` options as {key: [values]} (values of one key are ORed)."""
    out: dict[str, list[str]] = {}
    for spec in specs:
        key, sep, value = spec.partition("=")
        if not sep:
            raise InvalidArgument(f"bad format of filter (expected name=value): {spec}")
        if key not in KEYS:
            raise InvalidArgument(f"invalid filter '{key}'")
        if key == "status" and value not in STATUSES:
            raise InvalidArgument(f"invalid filter 'status={value}': use one of "
                                  + ", ".join(STATUSES))
        if key == "health":
            check_health([value])
        out.setdefault(key, []).append(value)
    return out


def _label(c, spec: str) -> bool:
    key, sep, value = spec.partition("=")
    if key not in c.config.labels:
        return False
    return not sep or c.config.labels[key] == value


def _ancestor(c, ref: str) -> bool:
    image = c.config.image
    if ref in (image, c.config.image_id) or c.config.image_id.partition(":")[2].startswith(ref):
        return True
    # "busybox" matches "busybox:latest" and "docker.io/library/busybox:latest"
    short = image.rsplit("/", 1)[-1]
    return ref in (short, short.partition(":")[0], image.partition(":")[0])


def matches(c, filters: dict[str, list[str]]) -> bool:
    for key, values in filters.items():
        if key == "status" and c.state.status not in values:
            return False
        if key == "name" and not any(re.search(v, c.name) for v in values):
            return False
        if key == "label" and not all(_label(c, v) for v in values):
            return False
        if key == "ancestor" and not any(_ancestor(c, v) for v in values):
            return False
        if key == "id" and not any(c.id.startswith(v) for v in values):
            return False
        if key == "exited" and (c.state.status != "exited"
                                or str(c.state.exit_code) not in values):
            return False
        if key == "network" and c.config.network_mode not in values:
            return False
        if key == "health" and health_status(c) not in values:
            return False
    return True


def check_health(values) -> None:
    """``health=`` values as Docker takes them, with its message for others."""
    for value in values:
        if value not in HEALTH:
            raise InvalidArgument(f"Unrecognised filter value for health: {value}")


def health_status(c) -> str:
    """What ``--filter health=`` compares: the container's health status, "none" without one."""
    return c.state.health.status if c.state.health else "none"


def rfc3339_seconds(value: str) -> float:
    """Seconds since the epoch of a stored RFC 3339 UTC time ("…Z"). By arithmetic, not
    time.strptime, whose first call imports _strptime, datetime and calendar (10-20 ms of
    every first list over ssh, which dates each container)."""
    head, _, frac = value.rstrip("Z").partition(".")
    date, _, clock = head.partition("T")
    fields = [*date.split("-"), *clock.split(":")]
    if len(fields) != 6 or not all(f.isascii() and f.isdigit() for f in fields) or (
            frac and not (frac.isascii() and frac.isdigit())):
        raise ValueError(f"time data {value!r} is not an RFC 3339 time")
    year, month, day, hour, minute, second = map(int, fields)
    if not (1 <= month <= 12 and 1 <= day <= _month_days(year, month) and hour < 24
            and minute < 60 and second < 62):
        raise ValueError(f"time data {value!r} is not an RFC 3339 time")
    # days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's days_from_civil)
    y = year - (month <= 2)
    era = y // 400
    yoe = y - era * 400
    doy = (153 * (month + (-3 if month > 2 else 9)) + 2) // 5 + day - 1
    days = era * 146097 + yoe * 365 + yoe // 4 - yoe // 100 + doy - 719468
    secs = days * 86400 + hour * 3600 + minute * 60 + second
    return secs + (float("0." + frac) if frac else 0.0)


def _month_days(year: int, month: int) -> int:
    if month == 2:
        return 29 if year % 4 == 0 and (year % 100 != 0 or year % 400 == 0) else 28
    return 30 if month in (4, 6, 9, 11) else 31


def parse_since(value: str, now: float | None = None) -> float:
    """--since/--until: a Unix time (``1700000000.5``), a duration before now (``10m``, ``1h30m``,
    ``5s``) or an RFC 3339 time."""
    now = time.time() if now is None else now
    v = value.strip()
    try:
        return float(v)
    except ValueError:
        pass
    m = re.fullmatch(r"(?:(\d+)h)?(?:(\d+)m)?(?:(\d+(?:\.\d+)?)s)?(?:(\d+)ms)?", v)
    if m and any(m.groups()):
        h, mi, s, ms = m.groups()
        return now - (int(h or 0) * 3600 + int(mi or 0) * 60 + float(s or 0) + int(ms or 0) / 1000)
    try:
        if v.endswith("Z") or "T" in v:
            return rfc3339_seconds(v if "T" in v else v + "T00:00:00Z")
        return rfc3339_seconds(v + "T00:00:00Z")
    except ValueError:
        raise InvalidArgument(f"invalid value for --since/--until: {value!r}: use a Unix time, "
                              "a duration like 10m, or an RFC 3339 time") from None
