"""Kubernetes resource quantities ("128Mi", "500m", "1.5", "2G") as numbers berth's cgroup
limits take."""

from __future__ import annotations

from ..errors import InvalidArgument

_BINARY = {"Ki": 1 << 10, "Mi": 1 << 20, "Gi": 1 << 30, "Ti": 1 << 40, "Pi": 1 << 50, "Ei": 1 << 60}
_DECIMAL = {"n": 1e-9, "u": 1e-6, "m": 1e-3, "": 1, "k": 1e3, "M": 1e6, "G": 1e9, "T": 1e12,
            "P": 1e15, "E": 1e18}


def parse(text) -> float:
    """The quantity's value in its base unit (bytes, or cores for cpu)."""
    s = str(text).strip()
    for suffix, factor in _BINARY.items():
        if s.endswith(suffix):
            return _number(s[:-2], text) * factor
    if s[-1:] in _DECIMAL and not s[-1:].isdigit():
        return _number(s[:-1], text) * _DECIMAL[s[-1]]
    return _number(s, text)


def _number(s: str, text) -> float:
    try:
        return float(s)
    except ValueError:
        raise InvalidArgument(f"quantity {text!r} is not a Kubernetes quantity") from None


def memory_bytes(text) -> int:
    return int(parse(text))


def nano_cpus(text) -> int:
    return int(round(parse(text) * 1e9))


def milli_cpus(text) -> int:
    return int(round(parse(text) * 1000))
