"""Go's printing of values, as text/template's output and its print functions produce it.

Values are JSON-shaped Python data standing for Go's: None is nil, int is int, float is float64,
a list is a slice, a dict is a map (sorted when printed, as fmt does), a Struct a struct. Here:
``%v`` printing, ``fmt.Sprint``/``Sprintln``/``Sprintf`` with Go's verbs, flags and ``%!``
errors, ``strconv.Quote`` and the literals' unquoting, and encoding/json's compact output.
"""

from __future__ import annotations

from .values import MISSING, NilMap, NilSlice, Struct, gotype, is_string_map


# --- literals ---------------------------------------------------------------------------------

_ESCAPES = {"a": "\a", "b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t", "v": "\v",
            "\\": "\\"}


def _unescape(body: str, quote: str) -> str | None:
    out, i, n = [], 0, len(body)
    while i < n:
        c = body[i]
        if c != "\\":
            if c == quote and quote == '"':
                return None
            out.append(c)
            i += 1
            continue
        if i + 1 >= n:
            return None
        e = body[i + 1]
        if e in _ESCAPES:
            out.append(_ESCAPES[e])
            i += 2
        elif e == quote:
            out.append(e)
            i += 2
        elif e in "xuU":
            size = {"x": 2, "u": 4, "U": 8}[e]
            digits = body[i + 2:i + 2 + size]
            if len(digits) != size or any(d not in "0123456789abcdefABCDEF" for d in digits):
                return None
            code = int(digits, 16)
            if e != "x" and (code > 0x10FFFF or 0xD800 <= code < 0xE000):
                return None
            out.append(chr(code))
            i += 2 + size
        elif e in "01234567":
            digits = body[i + 1:i + 4]
            if len(digits) != 3 or any(d not in "01234567" for d in digits) or \
                    int(digits, 8) > 255:
                return None
            out.append(chr(int(digits, 8)))
            i += 4
        else:
            return None
    return "".join(out)


def unquote(quoted: str) -> str | None:
    """strconv.Unquote of a "…" or `…` literal; None where Go says invalid syntax."""
    if len(quoted) >= 2 and quoted[0] == quoted[-1] == "`":
        return quoted[1:-1].replace("\r", "")
    if len(quoted) >= 2 and quoted[0] == quoted[-1] == '"':
        return _unescape(quoted[1:-1], '"')
    return None


def unquote_char(quoted: str) -> int | None:
    """The rune of a 'c' literal, or None."""
    s = _unescape(quoted[1:-1], "'") if len(quoted) >= 3 else None
    return ord(s) if s is not None and len(s) == 1 else None


def parse_number(text: str):
    """(value, is_int, int_value) of a Go number literal as text/template reads it, or None."""
    t = text.replace("_", "") if any(p in text.lower() for p in ("0x", "0o", "0b")) else text
    if "_" in t and not _digits_ok(t):
        return None
    value = None
    low = t.lower().lstrip("+-")
    try:
        if low.startswith("0x") and "p" in low:
            value = float.fromhex(t)
        elif low.startswith(("0x", "0o", "0b")):
            value = int(t, 0)
        elif low.isdigit():
            value = int(t, 8) if len(low) > 1 and low[0] == "0" else int(t, 10)
        else:
            value = float(t)
    except ValueError:
        return None
    if isinstance(value, int):
        if not -(1 << 63) <= value < (1 << 64):
            return None
        return value, value < (1 << 63), value
    is_int = value == value and abs(value) < 2 ** 63 and value == int(value)
    # text/template reads 1e3 as a float, but as an int where an int is wanted
    has_point = any(c in t for c in ".eEpP") and not low.startswith("0x")
    return (value if has_point else int(value)), is_int, int(value) if is_int else 0


def _digits_ok(t: str) -> bool:
    return "__" not in t and not t.startswith("_") and not t.endswith("_")


def go_quote(s: str, ascii_only: bool = False) -> str:
    """strconv.Quote (QuoteToASCII with ``ascii_only``)."""
    out = ['"']
    for c in s:
        o = ord(c)
        if c in ('"', "\\"):
            out.append("\\" + c)
        elif c.isprintable() and (o < 0x80 or not ascii_only) and c != "\x7f":
            out.append(c)
        elif c in "\a\b\f\n\r\t\v":
            out.append("\\" + "abfnrtv"["\a\b\f\n\r\t\v".index(c)])
        elif o < 0x20 or o == 0x7f:
            out.append(f"\\x{o:02x}")
        elif o < 0x10000:
            out.append(f"\\u{o:04x}")
        else:
            out.append(f"\\U{o:08x}")
    out.append('"')
    return "".join(out)


def quote_rune(code: int) -> str:
    """strconv.QuoteRune: 'a', '\\n'."""
    if code == ord("'"):
        return "'\\''"
    if code == ord('"'):
        return "'\"'"
    return "'" + go_quote(chr(code))[1:-1] + "'"


# --- %v -----------------------------------------------------------------------------------------

def shortest_float(f: float, eprec: int = 6, verb: str = "e") -> str:
    """Go's shortest %v / %g of a float64: 1e+06, 123456, 1.5, 1e-05."""
    if f != f:
        return "NaN"
    if f in (float("inf"), float("-inf")):
        return "+Inf" if f > 0 else "-Inf"
    sign = "-" if f < 0 or (f == 0 and str(f).startswith("-")) else ""
    digits, exp = _decimal(abs(f))
    if exp < -4 or exp >= eprec:
        mant = digits[0] + ("." + digits[1:] if len(digits) > 1 else "")
        return f"{sign}{mant}{verb}{'-' if exp < 0 else '+'}{abs(exp):02d}"
    if exp < 0:
        return f"{sign}0.{'0' * (-exp - 1)}{digits}"
    if len(digits) <= exp + 1:
        return sign + digits + "0" * (exp + 1 - len(digits))
    return f"{sign}{digits[:exp + 1]}.{digits[exp + 1:]}"


def _decimal(f: float) -> tuple[str, int]:
    """The shortest round-tripping digits of f > 0 and its exponent (d.ddd × 10**exp)."""
    if f == 0:
        return "0", 0
    mant, _, e = repr(f).partition("e")
    whole, _, frac = mant.partition(".")
    digits = whole + frac
    point = len(whole) + (int(e) if e else 0)
    stripped = digits.lstrip("0")
    point -= len(digits) - len(stripped)
    return stripped.rstrip("0") or "0", point - 1


def sprint_value(v, verb: str = "v") -> str:
    """Go's %v of a value (text/template prints actions this way)."""
    if v is MISSING:
        return "<no value>"
    return Printer().value(v, verb, 0)


# --- fmt ------------------------------------------------------------------------------------

class Printer:
    """One fmt verb's flags, width and precision, and the printing of values under them."""

    def __init__(self):
        self.clear()

    def clear(self):
        self.minus = self.plus = self.sharp = self.space = self.zero = False
        self.wid = self.prec = None

    # padding
    def pad(self, s: str, zero_ok: bool = True) -> str:
        if self.wid is None or len(s) >= self.wid:
            return s
        fill = self.wid - len(s)
        if self.minus:
            return s + " " * fill
        return ("0" if self.zero and zero_ok else " ") * fill + s

    def string(self, s: str, verb: str) -> str:
        if verb in ("v", "s"):
            return self.pad(s if self.prec is None else s[:self.prec])
        if verb == "q":
            s = s if self.prec is None else s[:self.prec]
            if self.sharp and "`" not in s and all(c.isprintable() or c == "\t" for c in s):
                return self.pad("`" + s + "`")
            return self.pad(go_quote(s, ascii_only=self.plus))
        if verb in ("x", "X"):
            data = s.encode("utf-8", "surrogateescape")
            if self.prec is not None:
                data = data[:self.prec]
            h = data.hex() if verb == "x" else data.hex().upper()
            sep = " " if self.space else ""
            pairs = [h[i:i + 2] for i in range(0, len(h), 2)]
            pre = ("0" + verb) if self.sharp else ""
            return self.pad(sep.join(pre + p for p in pairs) if self.space else pre + h)
        return None

    def integer(self, n: int, verb: str) -> str | None:
        if verb == "c":
            return self.pad(chr(n) if 0 <= n <= 0x10FFFF else "\ufffd")
        if verb == "q":
            return self.pad(quote_rune(n) if 0 <= n <= 0x10FFFF else "'\ufffd'")
        if verb == "U":
            s = f"U+{n:04X}"
            if self.sharp and 0 <= n <= 0x10FFFF and chr(n).isprintable():
                s += f" '{chr(n)}'"
            return self.pad(s)
        base = {"v": 10, "d": 10, "b": 2, "o": 8, "O": 8, "x": 16, "X": 16}.get(verb)
        if base is None:
            return None
        neg, u = n < 0, abs(n)
        if self.prec is not None and self.prec == 0 and u == 0:
            return " " * (self.wid or 0)
        digits = {2: f"{u:b}", 8: f"{u:o}", 10: str(u), 16: f"{u:x}"}[base]
        if verb == "X":
            digits = digits.upper()
        prec = self.prec or 0
        if self.prec is None and self.zero and not self.minus and self.wid is not None:
            prec = self.wid - (1 if neg or self.plus or self.space else 0)
        digits = digits.rjust(prec, "0")
        if self.sharp:
            if base == 2:
                digits = "0b" + digits
            elif base == 8 and not digits.startswith("0"):
                digits = "0" + digits
            elif base == 16:
                digits = "0" + verb + digits
        if verb == "O":
            digits = "0o" + digits
        sign = "-" if neg else "+" if self.plus else " " if self.space else ""
        return self.pad(sign + digits, zero_ok=False)

    def floating(self, f: float, verb: str) -> str | None:
        if verb not in "vgGeEfF":
            return None
        if f != f or f in (float("inf"), float("-inf")):
            num = "NaN" if f != f else "+Inf" if f > 0 else "-Inf"
            return self.pad(num, zero_ok=False)
        if verb in "vgG" and self.prec is None:
            num = shortest_float(f, 6, "E" if verb == "G" else "e")
        elif verb in "vgG":
            num = f"{f:.{self.prec or 1}{'G' if verb == 'G' else 'g'}}"
        else:
            num = f"{f:.{6 if self.prec is None else self.prec}{'f' if verb == 'F' else verb}}"
        neg = num.startswith("-")
        body = num[1:] if neg else num
        sign = "-" if neg else "+" if self.plus else " " if self.space else ""
        if sign and self.zero and not self.minus and self.wid is not None:
            return sign + body.rjust(self.wid - 1, "0")
        return self.pad(sign + body)

    def value(self, v, verb: str, depth: int) -> str:
        """printValue: one value under the current verb and flags."""
        if v is None or v is MISSING:
            if depth == 0 and verb not in ("v", "T"):
                return f"%!{verb}(<nil>)"
            return self.pad("<nil>", zero_ok=False)
        if verb == "T":
            return self.pad(gotype(v))
        if isinstance(v, bool):
            if verb in ("v", "t"):
                return self.pad("true" if v else "false")
        elif isinstance(v, int):
            s = self.integer(v, verb)
            if s is not None:
                return s
        elif isinstance(v, float):
            s = self.floating(v, verb)
            if s is not None:
                return s
        elif isinstance(v, str):
            s = self.string(v, verb)
            if s is not None:
                return s
        elif isinstance(v, NilSlice):
            return "[]"
        elif isinstance(v, NilMap):
            return "map[]"
        elif isinstance(v, (list, tuple)):
            return "[" + " ".join(self.value(e, verb, depth + 1) for e in v) + "]"
        elif isinstance(v, dict):
            return "map[" + " ".join(f"{self.value(k, verb, depth + 1)}:"
                                     f"{self.value(v[k], verb, depth + 1)}"
                                     for k in sorted(v, key=_sort_key)) + "]"
        elif isinstance(v, Struct):
            return v.go_string()
        else:
            return self.pad(str(v))
        return f"%!{verb}({gotype(v)}={Printer().value(v, 'v', depth + 1)})"


def _sort_key(k):
    return (0, k, "") if isinstance(k, (int, float)) else (1, 0, str(k))


def _atoi(fmt: str, i: int) -> tuple[int | None, int]:
    j = i
    while j < len(fmt) and fmt[j].isdigit():
        j += 1
    return (int(fmt[i:j]) if j > i else None), j


def sprintf(fmt: str, args: list) -> str:
    """fmt.Sprintf with Go's verbs, flags, width/precision (and ``*``), %!-errors and EXTRA."""
    out, i, n, argn = [], 0, len(fmt), 0
    p = Printer()
    while i < n:
        j = fmt.find("%", i)
        if j < 0:
            out.append(fmt[i:])
            break
        out.append(fmt[i:j])
        i = j + 1
        p.clear()
        while i < n and fmt[i] in "#0+- ":
            c = fmt[i]
            if c == "#":
                p.sharp = True
            elif c == "0":
                p.zero = not p.minus
            elif c == "+":
                p.plus = True
            elif c == "-":
                p.minus, p.zero = True, False
            else:
                p.space = True
            i += 1
        if i < n and fmt[i] == "*":
            i += 1
            if argn < len(args) and isinstance(args[argn], int) and \
                    not isinstance(args[argn], bool):
                p.wid = args[argn]
                if p.wid < 0:
                    p.wid, p.minus, p.zero = -p.wid, True, False
            else:
                out.append("%!(BADWIDTH)")
            argn += 1
        else:
            p.wid, i = _atoi(fmt, i)
        if i + 1 < n and fmt[i] == ".":
            i += 1
            if i < n and fmt[i] == "*":
                i += 1
                if argn < len(args) and isinstance(args[argn], int) and \
                        not isinstance(args[argn], bool) and args[argn] >= 0:
                    p.prec = args[argn]
                else:
                    out.append("%!(BADPREC)")
                argn += 1
            else:
                p.prec, i = _atoi(fmt, i)
                p.prec = p.prec or 0
        if i >= n:
            out.append("%!(NOVERB)")
            break
        verb = fmt[i]
        i += 1
        if verb == "%":
            out.append("%")
        elif argn >= len(args):
            out.append(f"%!{verb}(MISSING)")
        else:
            if verb == "v":
                p.sharp = p.plus = False
            out.append(p.value(args[argn], verb, 0))
            argn += 1
    if argn < len(args):
        extra = ", ".join("<nil>" if a is None or a is MISSING
                          else f"{gotype(a)}={sprint_value(a)}" for a in args[argn:])
        out.append(f"%!(EXTRA {extra})")
    return "".join(out)


def sprint(args: list) -> str:
    """fmt.Sprint: spaces between operands when neither side is a string."""
    out = []
    for i, a in enumerate(args):
        if i and not isinstance(a, str) and not isinstance(args[i - 1], str):
            out.append(" ")
        out.append(Printer().value(a, "v", 0) if a is not MISSING else "<nil>")
    return "".join(out)


def sprintln(args: list) -> str:
    return " ".join(Printer().value(a, "v", 0) if a is not MISSING else "<nil>"
                    for a in args) + "\n"


# --- encoding/json ----------------------------------------------------------------------------

def _plain(v):
    """The value with maps sorted as Go marshals them, ready for the json module."""
    if isinstance(v, bool) or v is None or isinstance(v, (int, str)):
        return v
    if v is MISSING or isinstance(v, (NilSlice, NilMap)):
        return None
    if isinstance(v, float):
        return int(v) if v == v and abs(v) < 1e21 and v == int(v) else v
    if isinstance(v, (list, tuple)):
        return [_plain(e) for e in v]
    if isinstance(v, dict):
        keys = sorted(v) if is_string_map(v) else v
        return {k: _plain(v[k]) for k in keys}
    if isinstance(v, Struct):
        return _plain(v.marshal())
    return str(v)


def go_json(v, escape_html: bool = False) -> str:
    """encoding/json's compact encoding (escaping <, > and & only with ``escape_html``)."""
    import json
    s = json.dumps(_plain(v), ensure_ascii=False, separators=(",", ":"))
    s = s.replace("\u2028", "\\u2028").replace("\u2029", "\\u2029")
    if escape_html:
        s = s.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
    return s
