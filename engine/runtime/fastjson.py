"""JSON for the monitor without the json package: the C accelerator ``_json`` alone.

``import json`` costs the monitor 5 ms and 1 MiB, nearly all of it ``re`` and ``enum``, which
only the pure-Python fallbacks need. The C scanner and encoder produce and accept exactly what
``json`` does (compact separators, no indentation).
"""

from __future__ import annotations

import _json


class _Context:
    # the attributes _json.make_scanner reads from a json.JSONDecoder
    strict = True
    object_hook = None
    object_pairs_hook = None
    parse_float = float
    parse_int = int
    parse_constant = None
    memo: dict = {}

    def __init__(self):
        self.parse_constant = {"NaN": float("nan"), "Infinity": float("inf"),
                               "-Infinity": float("-inf")}.__getitem__


_scan = _json.make_scanner(_Context())
_encode = _json.make_encoder(None, None, _json.encode_basestring_ascii, None, ": ", ", ",
                             True, False, True)
_compact = _json.make_encoder(None, None, _json.encode_basestring, None, ":", ",", False, False,
                              True)
_WS = " \t\n\r"


def loads(data: bytes | str):
    text = data.decode() if isinstance(data, (bytes, bytearray)) else data
    start = len(text) - len(text.lstrip(_WS))
    try:
        obj, end = _scan(text, start)
    except StopIteration as e:  # the C scanner's way of saying "no value at this index"
        raise ValueError(f"expecting a JSON value at {e.value}") from None
    except SystemError:
        # the C scanner raises its syntax errors as json.decoder.JSONDecodeError, found only
        # when json.decoder is imported already; without it, this is what a torn record gives
        raise ValueError("not valid JSON") from None
    if text[end:].strip(_WS):
        raise ValueError(f"extra data at {end}")
    return obj


def dumps(obj, compact: bool = False) -> str:
    """Sorted keys and ASCII by default; ``compact``: keys in order, UTF-8 text, no spaces (a
    json-file log line, as Docker writes it)."""
    return "".join((_compact if compact else _encode)(obj, 0))
