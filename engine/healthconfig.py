"""A container's healthcheck as Docker configures it: the ``--health-*`` flags (the docker CLI's
rules and messages), the image's HEALTHCHECK merged under them (the daemon's merge), the
daemon's validation, Docker's JSON (durations in nanoseconds), the HEALTHCHECK instruction of
``commit``/``import --change``, and Go's durations both ways.

Running the check is the monitor's (engine/runtime/health.py); this module only decides what
runs and when. Light: the monitor imports it for ``go_duration`` and ``DEFAULTS``.
"""

from __future__ import annotations

SECOND = 1_000_000_000
MINIMUM = 1_000_000    # containertypes.MinimumDuration: 1ms
# Docker's defaults (daemon/health.go), used where a duration or the retries are 0
DEFAULTS = {"interval": 30 * SECOND, "timeout": 30 * SECOND, "start_period": 0,
            "start_interval": 5 * SECOND, "retries": 3}
FLAGS = ("interval", "timeout", "start_period", "start_interval")
_UNITS = {"ns": 1, "us": 1_000, "µs": 1_000, "μs": 1_000, "ms": 1_000_000, "s": SECOND,
          "m": 60 * SECOND, "h": 3600 * SECOND}
_DOCKER = (("Interval", "interval"), ("Timeout", "timeout"), ("StartPeriod", "start_period"),
           ("StartInterval", "start_interval"))


def _invalid(message: str):
    from .errors import InvalidArgument
    return InvalidArgument(message)


# --- Go durations --------------------------------------------------------------------------------

def parse_go_duration(text: str) -> int:
    """Go's time.ParseDuration in nanoseconds ("1m30s", "1.5s", "-2ms", "0"); ValueError with
    Go's message."""
    s = text
    neg = s[:1] == "-"
    if s[:1] in ("-", "+"):
        s = s[1:]
    if s == "0":
        return 0
    if not s:
        raise ValueError(f'time: invalid duration "{text}"')
    total, i = 0, 0
    while i < len(s):
        j = i
        while j < len(s) and s[j].isascii() and s[j].isdigit():
            j += 1
        whole, frac = s[i:j], ""
        if j < len(s) and s[j] == ".":
            k = j + 1
            while k < len(s) and s[k].isascii() and s[k].isdigit():
                k += 1
            frac, j = s[j + 1:k], k
        if not whole and not frac:
            raise ValueError(f'time: invalid duration "{text}"')
        k = j
        while k < len(s) and not (s[k] == "." or s[k].isascii() and s[k].isdigit()):
            k += 1
        unit = s[j:k]
        if not unit:
            raise ValueError(f'time: missing unit in duration "{text}"')
        if unit not in _UNITS:
            raise ValueError(f'time: unknown unit "{unit}" in duration "{text}"')
        scale = _UNITS[unit]
        total += int(whole or 0) * scale + (int(frac) * scale // 10 ** len(frac) if frac else 0)
        if total >= 1 << 63:
            raise ValueError(f'time: invalid duration "{text}"')
        i = k
    return -total if neg else total


def _fraction(value: int, prec: int) -> str:
    whole, frac = divmod(value, 10 ** prec)
    digits = f"{frac:0{prec}d}".rstrip("0") if frac else ""
    return f"{whole}.{digits}" if digits else str(whole)


def go_duration(ns: int) -> str:
    """Go's Duration.String(): "30s", "1m30s", "1h0m0s", "500ms", "1.5µs", "0s"."""
    sign, u = ("-", -ns) if ns < 0 else ("", ns)
    if u == 0:
        return "0s"
    if u < SECOND:
        unit, prec = ("ns", 0) if u < 1_000 else ("µs", 3) if u < 1_000_000 else ("ms", 6)
        return sign + _fraction(u, prec) + unit
    seconds, frac = divmod(u, SECOND)
    out = _fraction((seconds % 60) * SECOND + frac, 9) + "s"
    minutes = seconds // 60
    if minutes:
        out = f"{minutes % 60}m{out}"
        if minutes // 60:
            out = f"{minutes // 60}h{out}"
    return sign + out


def parse_flag(value, flag: str) -> int:
    """A duration flag's value as the docker CLI's pflag reads it, in nanoseconds."""
    if value is None or value == "":
        return 0
    try:
        return parse_go_duration(str(value))
    except ValueError as e:
        raise _invalid(f'invalid argument "{value}" for "{flag}" flag: {e}') from None


# --- the flags, the image, the daemon's rules ----------------------------------------------------

def from_flags(cmd: str = "", interval=None, timeout=None, start_period=None, start_interval=None,
               retries=None, none: bool = False):
    """The Healthcheck the docker CLI sends for these flags (None when none was given)."""
    from .models import Healthcheck
    from .options import parse_int
    durations = {"interval": parse_flag(interval, "--health-interval"),
                 "timeout": parse_flag(timeout, "--health-timeout"),
                 "start_period": parse_flag(start_period, "--health-start-period"),
                 "start_interval": parse_flag(start_interval, "--health-start-interval")}
    count = parse_int(retries, "--health-retries") if retries not in (None, "") else 0
    given = bool(cmd) or count != 0 or any(durations.values())
    if none:
        if given:
            raise _invalid("--no-healthcheck conflicts with --health-* options")
        return Healthcheck(test=["NONE"])
    if not given:
        return None
    for key, value in durations.items():
        if value < 0:
            raise _invalid(f"--health-{key.replace('_', '-')} cannot be negative")
    if count < 0:
        raise _invalid("--health-retries cannot be negative")
    return Healthcheck(test=["CMD-SHELL", cmd] if cmd else [], retries=count, **durations)


def merge(user, image: dict | None):
    """The daemon's merge: the image's Healthcheck fills what the container's left unset."""
    from .models import Healthcheck
    theirs = from_docker(image) if image else None
    if user is None:
        return theirs
    if theirs is not None:
        for name in ("test", *FLAGS, "retries"):
            if not getattr(user, name):
                setattr(user, name, getattr(theirs, name))
    return Healthcheck.from_dict(user.to_dict())


def validate(hc) -> None:
    """The daemon's validateHealthCheck, and a check that the test names a command."""
    if hc is None:
        return
    for docker_name, key in (("Interval", "interval"), ("Timeout", "timeout")):
        value = getattr(hc, key)
        if not isinstance(value, int) or value != 0 and value < MINIMUM:
            raise _invalid(f"{docker_name} in Healthcheck cannot be less than 1ms")
    if not isinstance(hc.retries, int) or hc.retries < 0:
        raise _invalid("Retries in Healthcheck cannot be negative")
    for docker_name, key in (("StartPeriod", "start_period"), ("StartInterval", "start_interval")):
        value = getattr(hc, key)
        if not isinstance(value, int) or value != 0 and value < MINIMUM:
            raise _invalid(f"{docker_name} in Healthcheck cannot be less than 1ms")
    test = hc.test
    if not isinstance(test, list) or not all(isinstance(t, str) for t in test):
        raise _invalid("Healthcheck.Test must be a list of strings, as [\"CMD-SHELL\", \"curl -f "
                       "http://localhost/\"]")
    if test and test[0] in ("CMD", "CMD-SHELL") and not any(test[1:]):
        raise _invalid(f"Healthcheck.Test {test!r} names no command: give [\"CMD\", PROGRAM, "
                       "ARG…] or [\"CMD-SHELL\", COMMAND]")
    if test and test[0] not in ("CMD", "CMD-SHELL", "NONE"):
        raise _invalid(f"unknown type {test[0]!r} in Healthcheck.Test: use CMD, CMD-SHELL or NONE")


def probe(hc, shell: list[str] | None = None) -> list[str] | None:
    """The argv a check runs (None: no check, as a NONE test or none at all)."""
    if hc is None or not hc.test or hc.test[0] not in ("CMD", "CMD-SHELL"):
        return None
    if hc.test[0] == "CMD":
        return list(hc.test[1:])
    return [*(shell or ["/bin/sh", "-c"]), *hc.test[1:]]


def schedule(hc) -> dict:
    """What the monitor needs of ``hc`` besides its argv: Docker's defaults filled in, seconds."""
    out = {k: (getattr(hc, k) or DEFAULTS[k]) / SECOND for k in FLAGS}
    out["retries"] = hc.retries if hc.retries > 0 else DEFAULTS["retries"]
    return out


# --- Docker's JSON -------------------------------------------------------------------------------

def from_docker(doc: dict | None):
    """A Healthcheck from Docker's HealthConfig JSON (None for none)."""
    from .models import Healthcheck
    if not doc:
        return None
    test = doc.get("Test") or []
    hc = Healthcheck(test=[test] if isinstance(test, str) else list(test),
                     retries=doc.get("Retries") or 0,
                     **{key: doc.get(name) or 0 for name, key in _DOCKER})
    return hc


def to_docker(hc) -> dict | None:
    """Docker's HealthConfig JSON, zero fields left out as Go's omitempty does."""
    if hc is None:
        return None
    out = {"Test": list(hc.test)} if hc.test else {}
    out.update((name, getattr(hc, key)) for name, key in _DOCKER if getattr(hc, key))
    if hc.retries:
        out["Retries"] = hc.retries
    return out


def parse_instruction(value: str) -> dict:
    """``HEALTHCHECK [--interval=D …] CMD command`` or ``HEALTHCHECK NONE`` (commit and import
    --change) as the image config's Healthcheck, with the Dockerfile's messages."""
    words = value.strip().split(None, 1)
    options: dict[str, str] = {}
    while words and words[0].startswith("--"):
        name, eq, arg = words[0][2:].partition("=")
        if not eq or name not in ("interval", "timeout", "start-period", "start-interval",
                                  "retries"):
            raise _invalid(f"unknown flag: {words[0]} in HEALTHCHECK: use --interval, "
                           "--timeout, --start-period, --start-interval or --retries")
        options[name] = arg
        words = words[1].split(None, 1) if len(words) > 1 else []
    kind = words[0].upper() if words else ""
    rest = words[1] if len(words) > 1 else ""
    if kind == "NONE":
        if rest or options:
            raise _invalid("HEALTHCHECK NONE takes no arguments")
        return {"Test": ["NONE"]}
    if kind != "CMD":
        raise _invalid(f'Unknown type "{kind}" in HEALTHCHECK (try CMD)')
    if not rest.strip():
        raise _invalid("HEALTHCHECK CMD needs a command")
    test = None
    if rest.lstrip().startswith("["):
        import json
        try:
            items = json.loads(rest)
        except ValueError:
            items = None
        if isinstance(items, list) and items and all(isinstance(i, str) for i in items):
            test = ["CMD", *items]
    if test is None:
        test = ["CMD-SHELL", rest.strip()]
    doc: dict = {"Test": test}
    for name, key in _DOCKER:
        flag = "--" + key.replace("_", "-")
        text = options.get(flag[2:])
        if text is None:
            continue
        try:
            ns = parse_go_duration(text)
        except ValueError as e:
            raise _invalid(f"{flag} in HEALTHCHECK: {e}") from None
        if ns < 0:
            raise _invalid(f'{name} "{text}" cannot be negative')
        if 0 < ns < MINIMUM:
            raise _invalid(f'{name} "{text}" cannot be less than 1ms')
        if ns:
            doc[name] = ns
    if "retries" in options:
        text = options["retries"]
        if not text.lstrip("-").isdigit():
            raise _invalid(f'--retries in HEALTHCHECK: "{text}" is not a number')
        if int(text) < 0:
            raise _invalid(f"--retries cannot be negative ({text})")
        if int(text):
            doc["Retries"] = int(text)
    return doc
