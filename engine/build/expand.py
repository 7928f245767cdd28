"""Variable expansion and word splitting in Dockerfile arguments, by the rules of moby's shell
lexer (buildkit frontend/dockerfile/shell): ``$VAR``, ``${VAR}``, ``${VAR:-x}``, ``${VAR-x}``,
``${VAR:+x}``, ``${VAR+x}``, ``${VAR:?msg}``, ``${VAR#pat}``/``##``, ``${VAR%pat}``/``%%``,
``${VAR/pat/repl}``/``//``; the escape token (backslash or backtick) escapes any character outside
quotes and only ``" $`` and itself inside double quotes; single quotes are literal.

Which instructions expand (Docker's list): ``EXPANDING``. RUN, CMD, ENTRYPOINT and SHELL never do;
the shell of the container does it for them. USER, WORKDIR, STOPSIGNAL and FROM take their
argument whole (``expand``); EXPOSE, and COPY/ADD/VOLUME in shell form, take several words
(``expand_words``); ENV and LABEL take ``key=value`` pairs (``parse_pairs``); ARG takes names with
optional defaults (``parse_arg``).
"""

from __future__ import annotations

import re
from typing import Mapping

from ..errors import InvalidArgument

# instructions whose arguments Docker expands with the build's ARG/ENV values (ONBUILD's trigger
# is expanded when it fires, as the instruction it names)
EXPANDING = frozenset({"ADD", "COPY", "ENV", "EXPOSE", "FROM", "LABEL", "STOPSIGNAL", "USER",
                       "VOLUME", "WORKDIR", "ARG"})

_SPECIAL = set("@*#?-$!0")
_WS = re.compile(r"[\t\v\f\r ]+")


class ExpandError(InvalidArgument):
    """A malformed ``${...}`` or an unterminated quote: Docker's message, wrapped as
    ``failed to process "WORD": ...``."""


class _Lexer:
    """One pass over a word: the expanded text and the words it splits into."""

    def __init__(self, text: str, env: Mapping[str, str], escape: str, *, raw_quotes=False,
                 raw_escapes=False, skip_unset=False):
        self.s, self.i, self.env, self.esc = text, 0, env, escape
        self.raw_quotes, self.raw_escapes, self.skip_unset = raw_quotes, raw_escapes, skip_unset

    def peek(self) -> str:
        return self.s[self.i] if self.i < len(self.s) else ""

    def next(self) -> str:
        if self.i >= len(self.s):
            return ""
        ch = self.s[self.i]
        self.i += 1
        return ch

    def run(self) -> tuple[str, list[str]]:
        try:
            return self.stop_on("", self.raw_escapes)
        except _LexError as e:
            raise ExpandError(f'failed to process "{self.s}": {e}') from None

    def stop_on(self, stop: str, raw_escapes: bool) -> tuple[str, list[str]]:
        saved, self.raw_escapes = self.raw_escapes, raw_escapes
        try:
            return self._stop_on(stop)
        finally:
            self.raw_escapes = saved

    def _stop_on(self, stop: str) -> tuple[str, list[str]]:
        out: list[str] = []
        words = _Words()
        while self.i < len(self.s):
            ch = self.peek()
            if stop and ch == stop:
                self.next()
                return "".join(out), words.get()
            if ch == "$":
                val = self.dollar()
                out.append(val)
                words.add(val)          # a variable's value splits at its spaces
            elif ch in ("'", '"'):
                val = self.quoted()
                out.append(val)
                words.add_raw(val)   # quoted text never splits
            else:
                ch = self.next()
                if ch == self.esc:
                    if self.raw_escapes:
                        words.add_raw(ch)
                        out.append(ch)
                    ch = self.next()
                    if not ch:
                        break
                    words.add_raw(ch)
                else:
                    words.add(ch)
                out.append(ch)
        if stop:
            raise _LexError(f"unexpected end of statement while looking for matching {stop}")
        return "".join(out), words.get()

    def quoted(self) -> str:
        """A single-quoted string (all literal) or a double-quoted one (``$`` expands, the escape
        token escapes only ``" $`` and itself); the quotes kept with ``raw_quotes``."""
        quote = self.next()
        out = [quote] if self.raw_quotes else []
        double = quote == '"'
        while True:
            ch = self.peek()
            if not ch:
                raise _LexError("unexpected end of statement while looking for matching "
                                + ("double-quote" if double else "single-quote"))
            if ch == quote:
                self.next()
                if self.raw_quotes:
                    out.append(ch)
                return "".join(out)
            if double and ch == "$":
                out.append(self.dollar())
                continue
            ch = self.next()
            if double and ch == self.esc:
                if self.raw_escapes:
                    out.append(ch)
                nxt = self.peek()
                if not nxt:
                    continue
                if nxt in ('"', "$", self.esc):
                    ch = self.next()
            out.append(ch)

    def name(self) -> str:
        start = self.i
        ch = self.peek()
        if ch.isdigit():
            while self.peek().isdigit():
                self.i += 1
            return self.s[start:self.i]
        if ch and ch in _SPECIAL:
            self.i += 1
            return ch
        while True:
            ch = self.peek()
            if not ch or not (ch.isalnum() or ch == "_"):
                break
            self.i += 1
        return self.s[start:self.i]

    def lookup(self, name: str) -> tuple[str, bool]:
        if name in self.env:
            return self.env[name], True
        return "", False

    def dollar(self) -> str:
        self.next()
        if self.peek() != "{":
            name = self.name()
            if not name:
                return "$"
            value, found = self.lookup(name)
            if not found and self.skip_unset:
                return "$" + name
            return value
        self.next()
        ch = self.peek()
        if not ch:
            raise _LexError("syntax error: missing '}'")
        if ch in "{}:":
            raise _LexError("syntax error: bad substitution")
        name = self.name()
        ch = self.next()
        if not ch:   # moby prints "unsupported modifier (\ufffd)" here; this says what is wrong
            raise _LexError("syntax error: missing '}'")
        mod = ch
        null_is_unset = False
        if ch == "}":
            value, found = self.lookup(name)
            if not found and self.skip_unset:
                return "${%s}" % name
            return value
        if ch == ":":
            null_is_unset = True
            ch = self.next()
            mod += ch
            if not ch or ch not in "+-?#%":
                # moby reads the word and then refuses the modifier
                self._word_until_brace(ch)
                raise _LexError(f"unsupported modifier ({mod}) in substitution")
        if ch and ch in "+-?#%":
            word = self._word_until_brace(ch)
            value, found = self.lookup(name)
            if self.skip_unset and not found:
                return "${%s%s%s}" % (name, mod, word)
            if ch == "-":
                return word if not found or (null_is_unset and value == "") else value
            if ch == "+":
                return "" if not found or (null_is_unset and value == "") else word
            if ch == "?":
                if not found:
                    raise _LexError(f"{name}: {word or 'is not allowed to be unset'}")
                if null_is_unset and value == "":
                    raise _LexError(f"{name}: {word or 'is not allowed to be empty'}")
                return value
            greedy = word.startswith(ch)
            if greedy:
                word = word[1:]
            return _trim(value, word, greedy, suffix=(ch == "%"))
        if ch == "/":
            replace_all = self.peek() == "/"
            if replace_all:
                self.next()
            try:
                pattern, _ = self.stop_on("/", True)
            except _LexError:
                if not self.peek():
                    raise _LexError("syntax error: missing '/' in ${}") from None
                raise
            try:
                repl, _ = self.stop_on("}", True)
            except _LexError:
                if not self.peek():
                    raise _LexError("syntax error: missing '}'") from None
                raise
            value, found = self.lookup(name)
            if self.skip_unset and not found:
                return "${%s/%s/%s}" % (name, pattern, repl)
            rx = _pattern(pattern, greedy=True, anchored=False)
            return rx.sub(lambda m: repl, value, count=0 if replace_all else 1)
        raise _LexError(f"unsupported modifier ({mod}) in substitution")

    def _word_until_brace(self, ch: str) -> str:
        try:
            word, _ = self.stop_on("}", bool(ch) and ch in "#%")
        except _LexError:
            if not self.peek():
                raise _LexError("syntax error: missing '}'") from None
            raise
        return word


class _LexError(Exception):
    pass


class _Words:
    """The words of a lexed string: unquoted spaces end a word, quoted text never does."""

    def __init__(self):
        self.words: list[str] = []
        self.word = ""
        self.in_word = False

    def add(self, text: str) -> None:
        for ch in text:
            if ch.isspace():
                if self.in_word and self.word:
                    self.words.append(self.word)
                    self.word, self.in_word = "", False
            else:
                self.word += ch
                self.in_word = True

    def add_raw(self, text: str) -> None:
        self.word += text
        self.in_word = True

    def get(self) -> list[str]:
        if self.word:
            self.words.append(self.word)
            self.word, self.in_word = "", False
        return self.words


def _pattern(pattern: str, greedy: bool, anchored: bool) -> re.Pattern:
    """A shell wildcard (``*``, ``?``, backslash escapes; no brackets) as a regular expression."""
    out = ["^"] if anchored else []
    i = 0
    while i < len(pattern):
        ch = pattern[i]
        i += 1
        if ch == "*":
            out.append(".*" if greedy else ".*?")
        elif ch == "?":
            out.append(".")
        elif ch == "\\":
            nxt = pattern[i] if i < len(pattern) else ""
            if nxt in ("}", "/"):
                continue
            i += 1
            if nxt not in ("*", "?", "\\"):
                raise _LexError(f"invalid pattern ({pattern}) in substitution: "
                                f"invalid escape '\\{nxt}'")
            out.append(re.escape(nxt))
        else:
            out.append(re.escape(ch))
    return re.compile("".join(out), re.S)


def _trim(value: str, word: str, greedy: bool, suffix: bool) -> str:
    if not suffix:
        m = _pattern(word, greedy, True).search(value)
        return value[m.end():] if m else value
    # a suffix is a prefix of the reversed value, with the pattern reversed too
    rev = _reverse_pattern(word)
    m = _pattern(rev, greedy, True).search(value[::-1])
    return value[::-1][m.end():][::-1] if m else value


def _reverse_pattern(pattern: str) -> str:
    """The pattern read backwards, keeping each escape before the character it escapes."""
    units: list[str] = []
    i = 0
    while i < len(pattern):
        if pattern[i] == "\\" and i + 1 < len(pattern):
            units.append(pattern[i:i + 2])
            i += 2
        else:
            units.append(pattern[i])
            i += 1
    return "".join(reversed(units))


def expand(word: str, env: Mapping[str, str], escape: str = "\\") -> str:
    """``word`` with its variables replaced and its quotes and escapes removed (moby's
    ProcessWord): what USER, WORKDIR, STOPSIGNAL, FROM and each COPY/ADD word get."""
    return _Lexer(word, env, escape).run()[0]


def expand_words(text: str, env: Mapping[str, str], escape: str = "\\") -> list[str]:
    """``text`` expanded and split into words at unquoted whitespace, the values of variables
    splitting too (moby's ProcessWords): EXPOSE's ports, COPY/ADD/VOLUME's shell-form words."""
    return _Lexer(text, env, escape).run()[1]


def split_pairs(text: str, escape: str = "\\", what: str = "ENV") -> list[tuple[str, str]]:
    """ENV's or LABEL's ``key=value ...`` (or the legacy ``key value``) split as written, quotes
    still in place: Docker's parse-time check. Raises InvalidArgument with Docker's messages."""
    words = raw_words(text, escape)
    if not words:
        return []
    if "=" not in words[0]:
        parts = _WS.split(text.strip(), maxsplit=1)
        if len(parts) < 2:
            raise InvalidArgument(f"{what} must have two arguments")
        return [(parts[0], parts[1])]
    pairs = []
    for w in words:
        if "=" not in w:
            raise InvalidArgument(f"Syntax error - can't find = in {_go_quote(w)}. "
                                  "Must be of the form: name=value")
        key, _, value = w.partition("=")
        pairs.append((key, value))
    return pairs


def parse_pairs(text: str, env: Mapping[str, str], escape: str = "\\",
                what: str = "ENV") -> list[tuple[str, str]]:
    """ENV's or LABEL's pairs, keys and values expanded with ``env`` and unquoted. ENV applies
    them one by one: a later pair of the same line does not see an earlier one (as Docker)."""
    out = []
    for key, value in split_pairs(text, escape, what):
        key = expand(key, env, escape)
        if not key:
            raise InvalidArgument(f"{what} names can not be blank")
        out.append((key, expand(value, env, escape)))
    return out


def parse_arg(text: str, env: Mapping[str, str] | None = None,
              escape: str = "\\") -> list[tuple[str, str | None]]:
    """ARG's ``name`` or ``name=default`` words: the default expanded with ``env`` (None when
    there is none); without ``env``, the words as written, unquoted."""
    out: list[tuple[str, str | None]] = []
    for w in raw_words(text, escape):
        if "=" in w:
            key, _, value = w.partition("=")
            if not key:
                raise InvalidArgument("ARG names can not be blank")
            out.append((expand(key, env or {}, escape), expand(value, env or {}, escape)))
        else:
            out.append((expand(w, env or {}, escape), None))
    return out


def raw_words(text: str, escape: str = "\\") -> list[str]:
    """``text`` split at whitespace outside quotes, the quotes and escapes kept (moby's
    parseWords); what ENV, LABEL and ARG are split into before they are expanded."""
    words: list[str] = []
    cur: list[str] = []
    blank_ok = False
    quote = ""
    i, n = 0, len(text)
    in_word = False
    while i < n:
        ch = text[i]
        if not in_word and not quote:
            if ch.isspace():
                i += 1
                continue
            in_word = True
        if quote and ch == quote:
            quote = ""
        elif not quote and ch.isspace():
            if blank_ok or cur:
                words.append("".join(cur))
            cur, blank_ok, in_word = [], False, False
            i += 1
            continue
        elif not quote and ch in ("'", '"'):
            quote, blank_ok = ch, True
        elif ch == escape and quote != "'":
            if i + 1 == n:       # a trailing escape is dropped (and ends a quote)
                quote = ""
                i += 1
                continue
            cur.append(ch)       # kept, with what it escapes: expansion reads it later
            i += 1
            ch = text[i]
        cur.append(ch)
        i += 1
    if in_word and (blank_ok or cur):
        words.append("".join(cur))
    return words


def _go_quote(s: str) -> str:
    """``s`` as Go's %q prints it, for messages that quote the word."""
    out = ['"']
    for ch in s:
        if ch in '"\\':
            out.append("\\" + ch)
        elif ch == "\n":
            out.append("\\n")
        elif ch == "\t":
            out.append("\\t")
        elif ord(ch) < 0x20:
            out.append("\\x%02x" % ord(ch))
        else:
            out.append(ch)
    out.append('"')
    return "".join(out)
