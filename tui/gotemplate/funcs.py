"""The functions a template can call: text/template's builtins and the docker CLI's own.

Builtins as Go's funcs.go defines them (and, or, not, len, index, slice, print, printf, println,
html, js, urlquery, call, eq, ne, lt, le, gt, ge); docker's from its templates package (json,
split, join, title, lower, upper, pad, truncate) and the header variants docker uses to print a
``table`` format's header row, which leave the column names as they are.
"""

from __future__ import annotations

from .values import MISSING, NilMap, NilSlice, Struct, gotype, is_string_map, truth


class GoError(Exception):
    """What a Go function returned as its error (text/template says "error calling f: …")."""


class Func:
    """A function's Go signature: parameter types ("any", "value" for reflect.Value, "string",
    "int", "[]string"), whether the last repeats, whether it is handed the executing state."""

    __slots__ = ("fn", "params", "variadic", "state")

    def __init__(self, fn, params: tuple, variadic: bool = False, state: bool = False):
        self.fn, self.params, self.variadic, self.state = fn, params, variadic, state


# --- comparisons --------------------------------------------------------------------------------

def _kind(v) -> str | None:
    if isinstance(v, bool):
        return "bool"
    if isinstance(v, int):
        return "int"
    if isinstance(v, float):
        return "float"
    if isinstance(v, str):
        return "string"
    return None


def _valid(v) -> bool:
    return v is not None and v is not MISSING


def eq(a, *others) -> bool:
    if not others:
        raise GoError("missing argument for comparison")
    k1 = _kind(a)
    for b in others:
        k2 = _kind(b)
        if k1 != k2:
            if _valid(a) and _valid(b):
                raise GoError("incompatible types for comparison")
            same = False
        elif k1 is not None:
            same = a == b
        elif not _valid(a) or not _valid(b) or isinstance(a, (NilSlice, NilMap)) or \
                isinstance(b, (NilSlice, NilMap)):
            same = _nil(a) == _nil(b)
        elif isinstance(a, (list, dict)) or isinstance(b, (list, dict)):
            if gotype(a) == gotype(b):
                raise GoError(f"non-comparable type {_show(b)}: {gotype(b)}")
            raise GoError(f"non-comparable types {_show(a)}: {gotype(a)}, {gotype(b)}: "
                          f"{_show(b)}")
        else:
            same = a is b
        if same:
            return True
    return False


def _nil(v) -> bool:
    return not _valid(v) or isinstance(v, (NilSlice, NilMap))


def _show(v) -> str:
    from .gofmt import sprint_value
    return sprint_value(v)


def lt(a, b) -> bool:
    k1, k2 = _kind(a), _kind(b)
    if k1 is None or k2 is None:
        raise GoError("invalid type for comparison")
    if k1 != k2:
        raise GoError("incompatible types for comparison")
    if k1 == "bool":
        raise GoError("invalid type for comparison")
    return a < b


def le(a, b) -> bool:
    return lt(a, b) or eq(a, b)


# --- containers ---------------------------------------------------------------------------------

def length(v) -> int:
    if v is MISSING:
        raise GoError("reflect: call of reflect.Value.Type on zero Value")
    if v is None:
        raise GoError("len of nil pointer")
    if isinstance(v, (NilSlice, NilMap)):
        return 0
    if isinstance(v, str):
        return len(v.encode())
    if isinstance(v, (list, tuple, dict)):
        return len(v)
    raise GoError(f"len of type {gotype(v)}")


def _index_arg(i, cap: int) -> int:
    if i is None or i is MISSING:
        raise GoError("cannot index slice/array with nil")
    if not isinstance(i, int) or isinstance(i, bool):
        raise GoError(f"cannot index slice/array with type {gotype(i)}")
    if i < 0 or i > cap:
        raise GoError(f"index out of range: {i}")
    return i


def index(state, item, *indexes):
    if item is MISSING or item is None:
        raise GoError("index of untyped nil")
    for i in indexes:
        if item is None or item is MISSING:
            raise GoError("index of nil pointer")
        if isinstance(item, str):
            data = item.encode()
            x = _index_arg(i, len(data))
            if x == len(data):
                raise GoError("reflect: string index out of range")
            item = data[x]
        elif isinstance(item, (list, tuple, NilSlice)):
            seq = item if isinstance(item, (list, tuple)) else []
            x = _index_arg(i, len(seq))
            if x == len(seq):
                raise GoError("reflect: slice index out of range")
            item = seq[x]
        elif isinstance(item, (dict, NilMap)):
            if i is None or i is MISSING:
                raise GoError("value is nil; should be of type string")
            if not isinstance(i, str):
                raise GoError(f"value has type {gotype(i)}; should be string")
            d = item if isinstance(item, dict) else {}
            if i in d:
                item = d[i]
            else:   # the zero value of the map's element type
                item = "" if state.typed and is_string_map(d) else None
        else:
            raise GoError(f"can't index item of type {gotype(item)}")
    return item


def slice_(item, *indexes):
    if item is MISSING or item is None:
        raise GoError("slice of untyped nil")
    if len(indexes) > 3:
        raise GoError(f"too many slice indexes: {len(indexes)}")
    if isinstance(item, str):
        if len(indexes) == 3:
            raise GoError("cannot 3-index slice a string")
        seq = item.encode()
    elif isinstance(item, (list, tuple, NilSlice)):
        seq = item if isinstance(item, (list, tuple)) else []
    else:
        raise GoError(f"can't slice item of type {gotype(item)}")
    idx = [0, len(seq), len(seq)]
    for n, i in enumerate(indexes):
        idx[n] = _index_arg(i, len(seq))
    if idx[0] > idx[1]:
        raise GoError(f"invalid slice index: {idx[0]} > {idx[1]}")
    if len(indexes) == 3 and idx[1] > idx[2]:
        raise GoError(f"invalid slice index: {idx[1]} > {idx[2]}")
    out = seq[idx[0]:idx[1]]
    return out.decode(errors="replace") if isinstance(out, bytes) else list(out)


def call(name: str, fn, *args):
    """Nothing a berth template sees is a Go func value, so call can only fail, as Go's does."""
    if fn is None or fn is MISSING:
        raise GoError("call of nil")
    raise GoError(f"non-function {name} of type {gotype(fn)}")


# --- printing and escaping ------------------------------------------------------------------------

def _eval_args(args) -> str:
    if len(args) == 1 and isinstance(args[0], str):
        return args[0]
    from .gofmt import sprint
    return sprint(list(args))


def html_escape(*args) -> str:
    s = _eval_args(args)
    for a, b in (("&", "&amp;"), ("'", "&#39;"), ("<", "&lt;"), (">", "&gt;"), ('"', "&#34;"),
                 ("\0", "\ufffd")):
        s = s.replace(a, b)
    return s


_JS = {"\\": "\\\\", "'": "\\'", '"': '\\"', "<": "\\u003C", ">": "\\u003E", "&": "\\u0026",
       "=": "\\u003D"}


def js_escape(*args) -> str:
    out = []
    for c in _eval_args(args):
        if c in _JS:
            out.append(_JS[c])
        elif ord(c) < 0x20 or (ord(c) >= 0x80 and not c.isprintable()):
            out.append(f"\\u{ord(c):04X}")
        else:
            out.append(c)
    return "".join(out)


def urlquery(*args) -> str:
    from urllib.parse import quote_plus
    return quote_plus(_eval_args(args), safe="")


def _sprint(*args) -> str:
    from .gofmt import sprint
    return sprint(list(args))


def _sprintf(fmt, *args) -> str:
    from .gofmt import sprintf
    return sprintf(fmt, list(args))


def _sprintln(*args) -> str:
    from .gofmt import sprintln
    return sprintln(list(args))


# --- docker's -----------------------------------------------------------------------------------

def to_json(v) -> str:
    from .gofmt import go_json
    if isinstance(v, Struct) and v.context:   # its MarshalJSON is json.Marshal's, which escapes
        return go_json(v.marshal(), escape_html=True)
    return go_json(v)


def split(s: str, sep: str) -> list[str]:
    return list(s) if sep == "" else s.split(sep)


def title(s: str) -> str:
    """strings.Title: the first letter of each word upper-cased (Go's word separators)."""
    out, prev = [], " "
    for c in s:
        out.append(_upper(c) if _separator(prev) else c)
        prev = c
    return "".join(out)


def _separator(c: str) -> bool:
    if c.isascii():
        return not (c.isalnum() or c == "_")
    if c.isalpha() or c.isdecimal():
        return False
    return c.isspace()


def _upper(c: str) -> str:
    u = c.upper()
    return u if len(u) == 1 else c


def _lower(c: str) -> str:
    u = c.lower()
    return u if len(u) == 1 else c


def upper(s: str) -> str:
    return "".join(_upper(c) for c in s)


def lower(s: str) -> str:
    return "".join(_lower(c) for c in s)


def pad(s: str, prefix: int, suffix: int) -> str:
    if s == "":
        return s
    if prefix < 0 or suffix < 0:
        raise GoError("strings: negative Repeat count")
    return " " * prefix + s + " " * suffix


def truncate(s: str, n: int) -> str:
    data = s.encode()
    if len(data) < n:
        return s
    if n < 0:
        raise GoError(f"runtime error: slice bounds out of range [:{n}]")
    return data[:n].decode(errors="replace")


def _same(v, *_):
    return v


BUILTINS = {
    "and": Func(None, ("value", "value"), True), "or": Func(None, ("value", "value"), True),
    "not": Func(lambda v: not truth(v), ("value",)),
    "len": Func(length, ("value",)),
    "index": Func(index, ("value", "value"), True, state=True),
    "slice": Func(slice_, ("value", "value"), True),
    "print": Func(_sprint, ("any",), True), "println": Func(_sprintln, ("any",), True),
    "printf": Func(_sprintf, ("string", "any"), True),
    "html": Func(html_escape, ("any",), True), "js": Func(js_escape, ("any",), True),
    "urlquery": Func(urlquery, ("any",), True),
    "call": Func(call, ("value", "value"), True),
    "eq": Func(eq, ("value", "value"), True), "ne": Func(lambda a, b: not eq(a, b),
                                                        ("value", "value")),
    "lt": Func(lt, ("value", "value")), "le": Func(le, ("value", "value")),
    "gt": Func(lambda a, b: not le(a, b), ("value", "value")),
    "ge": Func(lambda a, b: not lt(a, b), ("value", "value")),
}

DOCKER = {
    **BUILTINS,
    "json": Func(to_json, ("any",)), "split": Func(split, ("string", "string")),
    "join": Func(lambda elems, sep: sep.join(elems) if not isinstance(elems, NilSlice) else "",
                 ("[]string", "string")),
    "title": Func(title, ("string",)), "lower": Func(lower, ("string",)),
    "upper": Func(upper, ("string",)), "pad": Func(pad, ("string", "int", "int")),
    "truncate": Func(truncate, ("string", "int")),
}

# docker's HeaderFunctions: a table's header row keeps its column names as they are
DOCKER_HEADER = {
    **DOCKER,
    "json": Func(_same, ("string",)), "split": Func(_same, ("string", "string")),
    "join": Func(_same, ("string", "string")), "title": Func(_same, ("string",)),
    "lower": Func(_same, ("string",)), "upper": Func(_same, ("string",)),
    "truncate": Func(_same, ("string", "int")),
}
