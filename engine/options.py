"""Docker's run flags turned into berth's values, with Docker's rules and messages.

The command line, the dashboard's run dialog and the Docker API all parse through these, so a bad
``--memory`` reads the same everywhere. Every function raises ``InvalidArgument`` with a sentence
that names the flag and the value.
"""

from __future__ import annotations

import os

from .errors import InvalidArgument
from .models import RestartPolicy, Ulimit

# re is loaded by the parsers that use it: a plain `berth run` (no sizes) does without it and
# the enum, functools and collections it loads
_SIZE = r"^(\d+(?:\.\d+)?)\s*([kmgtp]?)(?:i?b)?$"
_UNITS = {"": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40, "p": 1 << 50}

ULIMITS = {  # name -> resource module constant name
    "as": "RLIMIT_AS", "core": "RLIMIT_CORE", "cpu": "RLIMIT_CPU", "data": "RLIMIT_DATA",
    "fsize": "RLIMIT_FSIZE", "locks": "RLIMIT_LOCKS", "memlock": "RLIMIT_MEMLOCK",
    "msgqueue": "RLIMIT_MSGQUEUE", "nice": "RLIMIT_NICE", "nofile": "RLIMIT_NOFILE",
    "nproc": "RLIMIT_NPROC", "rss": "RLIMIT_RSS", "rtprio": "RLIMIT_RTPRIO",
    "rttime": "RLIMIT_RTTIME", "sigpending": "RLIMIT_SIGPENDING", "stack": "RLIMIT_STACK",
}
RESTART_POLICIES = ("no", "always", "on-failure", "unless-stopped")
LOG_OPTS = ("max-size", "max-file", "compress", "labels", "env", "tag", "mode",
            "max-buffer-size")
MIN_MEMORY = 6 * 1024 * 1024


INT64_MAX = (1 << 63) - 1   # Docker's sizes, limits and counts are Go int64s


def _shown(value) -> str:
    from .runtime.names import shown
    return shown(value)


def parse_int(value: str | int, flag: str, low: int = -INT64_MAX - 1,
              high: int = INT64_MAX) -> int:
    """An integer flag as the docker CLI parses it (strconv.ParseInt's messages), kept to
    ``low``..``high``: a number no kernel interface or Go client could hold is refused here,
    not at start."""
    text = str(value).strip()
    try:
        if "_" in text:   # Python's int() takes 1_000; Go's ParseInt does not
            raise ValueError(text)
        n = value if isinstance(value, int) else int(text, 10)
    except ValueError:
        raise InvalidArgument(f'invalid argument "{_shown(value)}" for "{flag}" flag: '
                              f'strconv.ParseInt: parsing "{_shown(text)}": invalid '
                              "syntax") from None
    if not low <= n <= high:
        raise InvalidArgument(f'invalid argument "{_shown(value)}" for "{flag}" flag: '
                              f'strconv.ParseInt: parsing "{_shown(text)}": value out of range')
    return n


def parse_size(value: str | int, flag: str = "--memory") -> int:
    """Bytes from Docker's RAMInBytes notation: ``128m``, ``1g``, ``512k``, ``1.5g``, ``1024``;
    at most what a Go int64 holds."""
    if isinstance(value, int) and not isinstance(value, bool):
        n = value
    else:
        import re
        m = re.match(_SIZE, value.strip(), re.IGNORECASE) if isinstance(value, str) else None
        if not m:
            raise InvalidArgument(f'invalid argument "{_shown(value)}" for "{flag}" flag: '
                                  f"invalid size: '{_shown(value)}'")
        size = float(m.group(1)) * _UNITS[m.group(2).lower()]   # inf for a long enough number
        n = int(size) if size <= INT64_MAX else INT64_MAX + 1
    if not -1 <= n <= INT64_MAX:
        raise InvalidArgument(f'invalid argument "{_shown(value)}" for "{flag}" flag: invalid '
                              f"size: '{_shown(value)}': out of range (at most 8 EiB)")
    return n


def parse_memory(memory: str | None, swap: str | None = None,
                 reservation: str | None = None) -> tuple[int, int, int]:
    """(memory, memory_swap, reservation) with Docker's checks; -1 swap means unlimited."""
    mem = parse_size(memory, "--memory") if memory else 0
    if mem and mem < MIN_MEMORY:
        raise InvalidArgument("Minimum memory limit allowed is 6MB")
    sw = 0
    if swap:
        sw = -1 if str(swap).strip() == "-1" else parse_size(swap, "--memory-swap")
        if not mem:
            raise InvalidArgument("You should always set the Memory limit when using "
                                  "Memoryswap limit, see usage")
        if sw != -1 and sw < mem:
            raise InvalidArgument("Minimum memoryswap limit should be larger than memory "
                                  "limit, see usage")
    res = parse_size(reservation, "--memory-reservation") if reservation else 0
    return mem, sw, res


def parse_cpus(value: str) -> int:
    """nano-CPUs from ``--cpus 1.5``."""
    from fractions import Fraction   # Go's big.Rat: "1.5", "3/2", "2e-1"; no nan, no inf
    text = str(value).strip()
    try:
        # a short exponent only: Fraction("1e999999999") would compute 10**999999999
        import re
        if not re.fullmatch(r"(\d+(\.\d*)?|\.\d+)([eE][+-]?\d{1,3})?|\d+/\d+|-[\d.]+", text):
            raise ValueError(text)
        cpus = Fraction(text)
    except (ValueError, ZeroDivisionError):
        raise InvalidArgument(f'invalid argument "{_shown(value)}" for "--cpus" flag: failed to '
                              f"parse {_shown(value)} as a rational number") from None
    if (cpus * 1_000_000_000).denominator != 1:
        raise InvalidArgument(f'invalid argument "{_shown(value)}" for "--cpus" flag: value is '
                              "too precise")
    if cpus < 0:
        raise InvalidArgument(f'invalid argument "{_shown(value)}" for "--cpus": it must be '
                              "positive")
    cores = os.cpu_count() or 1
    if cpus > cores:
        raise InvalidArgument(f"range of CPUs is from 0.01 to {cores:.2f}, as there are only "
                              f"{cores} CPUs available")
    return int(cpus * 1_000_000_000)


def parse_ulimit(spec: str) -> Ulimit:
    """``name=soft[:hard]`` (``nofile=1024:2048``)."""
    name, sep, limits = spec.partition("=")
    if not sep or not limits:
        raise InvalidArgument(f"invalid ulimit argument: {_shown(spec)}")
    if name not in ULIMITS:
        raise InvalidArgument(f"invalid ulimit type: {_shown(name)}")
    soft_s, _, hard_s = limits.partition(":")
    try:
        soft = int(soft_s)
        hard = int(hard_s) if hard_s else soft
    except ValueError:
        raise InvalidArgument(f"invalid ulimit argument: {_shown(spec)}: limits must be "
                              "integers") from None
    if not (-1 <= soft <= INT64_MAX and -1 <= hard <= INT64_MAX):
        raise InvalidArgument(f"invalid ulimit argument: {_shown(spec)}: limits are -1 "
                              f"(unlimited) or 0 to {INT64_MAX}")
    if soft > hard:
        raise InvalidArgument(f"ulimit soft limit must be less than or equal to hard limit: "
                              f"{soft} > {hard}")
    return Ulimit(name, soft, hard)


def parse_restart(spec: str) -> RestartPolicy:
    """``no``, ``always``, ``unless-stopped``, ``on-failure[:N]``."""
    name, _, count = (spec or "no").partition(":")
    if name not in RESTART_POLICIES:
        raise InvalidArgument(f"invalid restart policy: unknown policy '{_shown(name)}'; use "
                              "one of 'no', 'always', 'on-failure', or 'unless-stopped'")
    retries = 0
    if count:
        if name != "on-failure":
            raise InvalidArgument("invalid restart policy: maximum retry count can only be "
                                  "used with 'on-failure'")
        try:
            retries = int(count)
        except ValueError:
            retries = None
        if retries is None or retries > INT64_MAX:
            raise InvalidArgument("invalid restart policy format: maximum retry count must "
                                  "be an integer")
        if retries < 0:
            raise InvalidArgument("invalid restart policy: maximum retry count cannot be "
                                  "negative")
    return RestartPolicy(name, retries)


def read_env_file(path: str) -> list[str]:
    """The variables of a Docker env file: KEY=VALUE lines, # comments, bare KEY from the host."""
    try:
        with open(path, encoding="utf-8") as f:
            lines = f.read().splitlines()
    except OSError as e:
        raise InvalidArgument(f"open {path}: {e.strerror}") from None
    out = []
    for n, line in enumerate(lines, 1):
        line = line.lstrip()
        if not line or line.startswith("#"):
            continue
        key = line.partition("=")[0]
        if not key or any(c.isspace() for c in key):
            raise InvalidArgument(f"{path}:{n}: variable '{key}' contains whitespaces")
        out.append(line)
    return out


def parse_env(values: list[str] = (), env_files: list[str] = ()) -> list[str]:
    """-e and --env-file merged in Docker's order (files first); ``-e KEY`` takes the host's
    value and is dropped when the host has none."""
    out: list[str] = []
    for spec in [*[v for f in env_files for v in read_env_file(f)], *values]:
        key, sep, _ = spec.partition("=")
        if not key:
            raise InvalidArgument(f"invalid environment variable: {spec}")
        if not sep:
            if key in os.environ:
                out.append(f"{key}={os.environ[key]}")
            continue
        out.append(spec)
    return out


def validate_env(entries) -> None:
    """Docker's daemon-side ValidateEnv for every variable (``=x`` has no name), and a NUL byte
    refused: no process environment can carry one."""
    if not isinstance(entries, (list, tuple)):
        raise InvalidArgument(f"invalid environment: {_shown(entries)} is not a list of "
                              "KEY=VALUE strings")
    for spec in entries:
        if not isinstance(spec, str) or not spec.partition("=")[0]:
            raise InvalidArgument(f"invalid environment variable: {_shown(spec)}")
        if "\0" in spec:
            raise InvalidArgument(f"invalid environment variable: {_shown(spec)}: it holds a "
                                  "NUL byte, which no process environment can carry")


def validate_labels(labels, what: str = "label") -> None:
    """The docker CLI's ValidateLabel for every key of ``labels`` (a dict): a name, without
    whitespace; values are free text."""
    if not isinstance(labels, dict):
        raise InvalidArgument(f"invalid {what}s: {_shown(labels)} is not a map of names to "
                              "values")
    for key, value in labels.items():
        if not isinstance(key, str) or not key.strip():
            raise InvalidArgument(f"invalid {what} '{_shown(key)}={_shown(value)}': empty name")
        if not key.isprintable() or any(c.isspace() for c in key):
            raise InvalidArgument(f"{what} '{_shown(key)}' contains whitespaces")
        if not isinstance(value, str):
            raise InvalidArgument(f"invalid {what} '{_shown(key)}': its value "
                                  f"{_shown(value)} is not a string")


def merge_env(base: list[str], override: list[str]) -> list[str]:
    """Image env overridden by the flags', keeping the image's order for keys it defines."""
    merged: dict[str, str] = {}
    for spec in [*base, *override]:
        key, _, _ = spec.partition("=")
        merged[key] = spec
    return list(merged.values())


def parse_labels(values: list[str] = (), label_files: list[str] = ()) -> dict[str, str]:
    """--label KEY=VALUE (a bare KEY gets an empty value) and --label-file lines."""
    specs = list(values)
    for path in label_files:
        try:
            with open(path, encoding="utf-8") as f:
                specs += [ln.strip() for ln in f if ln.strip() and not ln.startswith("#")]
        except OSError as e:
            raise InvalidArgument(f"open {path}: {e.strerror}") from None
    labels = {}
    for spec in specs:
        key, _, value = spec.partition("=")
        if not key:
            raise InvalidArgument(f"invalid label '{spec}': empty name")
        labels[key] = value
    return labels


def signal_number(spec: str | int) -> int:
    """A signal as a number from ``9``, ``KILL`` or ``SIGKILL`` (any case)."""
    import signal
    if isinstance(spec, int):
        return spec
    s = str(spec).strip()
    if s.isdigit():
        n = int(s)
        if not 0 < n < 65:
            raise InvalidArgument(f"invalid signal: {spec}")
        return n
    name = s.upper()
    if not name.startswith("SIG"):
        name = "SIG" + name
    num = getattr(signal, name, None)
    if not isinstance(num, int) or name.startswith("SIG_"):
        raise InvalidArgument(f"invalid signal: {spec}")
    return int(num)


def parse_stop_signal(spec: str) -> str:
    """--stop-signal normalised to the SIGNAME form Docker shows in inspect."""
    import signal
    n = signal_number(spec)
    try:
        return signal.Signals(n).name
    except ValueError:
        return str(n)


def parse_log_opts(values: list[str] = ()) -> dict[str, str]:
    """--log-opt key=value for the json-file driver: max-size (a size), max-file (>= 1)."""
    opts: dict[str, str] = {}
    for spec in values:
        key, sep, value = spec.partition("=")
        if not sep:
            raise InvalidArgument(f"invalid log opt '{spec}': expected key=value")
        if key not in LOG_OPTS:
            raise InvalidArgument(f"unknown log opt '{key}' for json-file log driver")
        opts[key] = value
    if "max-size" in opts:
        if parse_size(opts["max-size"], "--log-opt max-size") <= 0:
            raise InvalidArgument("max-size must be a positive number")
    if "max-file" in opts:
        try:
            n = int(opts["max-file"])
        except ValueError:
            n = 0
        if n < 1:
            raise InvalidArgument("max-file cannot be less than 1")
        if n > 1 and "max-size" not in opts:
            raise InvalidArgument("max-file can only be used together with max-size")
    return opts


def parse_shm_size(value: str) -> int:
    size = parse_size(value, "--shm-size")
    if size <= 0:
        raise InvalidArgument("invalid value for --shm-size: it must be positive")
    return size


def parse_pids_limit(value: str | int) -> int:
    n = parse_int(value, "--pids-limit")
    return -1 if n <= 0 else n


def validate_name(name: str) -> str:
    """Container names as Docker allows them: [a-zA-Z0-9][a-zA-Z0-9_.-]+ (a leading / is dropped)."""
    if not isinstance(name, str):
        raise InvalidArgument(f"Invalid container name ({_shown(name)}): a name is a string")
    name = name[1:] if name.startswith("/") else name
    import re
    if not re.fullmatch(r"[a-zA-Z0-9][a-zA-Z0-9_.-]+", name):
        raise InvalidArgument(f"Invalid container name ({_shown(name)}), only "
                              "[a-zA-Z0-9][a-zA-Z0-9_.-] are allowed")
    return name
