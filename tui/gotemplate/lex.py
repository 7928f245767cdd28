"""The lexer of Go's text/template: a template's text as items, with Go's positions and messages.

Follows text/template/parse/lex.go: ``{{``/``}}`` delimiters, ``{{-``/``-}}`` trim markers,
``{{/* */}}`` comments, and inside actions fields, variables, Go literals, ``:=``/``=``, ``|``
and parentheses. Lexing stops at the first error, which becomes an ``error`` item.
"""

from __future__ import annotations

LEFT, RIGHT = "{{", "}}"
SPACES = " \t\r\n"
KEYWORDS = {".": "dot", "block": "block", "break": "break", "continue": "continue",
            "define": "define", "else": "else", "end": "end", "if": "if", "range": "range",
            "nil": "nil", "template": "template", "with": "with"}
KEYWORD_TYPES = frozenset(KEYWORDS.values())


class Item:
    """One token: its type, byte position in the template, text and line."""

    __slots__ = ("typ", "pos", "val", "line")

    def __init__(self, typ: str, pos: int, val: str, line: int):
        self.typ, self.pos, self.val, self.line = typ, pos, val, line

    def __str__(self) -> str:
        # as Go's item.String(), which parse errors quote
        if self.typ == "eof":
            return "EOF"
        if self.typ == "error":
            return self.val
        if self.typ in KEYWORD_TYPES:
            return f"<{self.val}>"
        from .gofmt import go_quote
        if len(self.val) > 10:
            return go_quote(self.val[:10]) + "..."
        return go_quote(self.val)


def is_alnum(c: str) -> bool:
    return c == "_" or c.isalpha() or c.isdecimal()


def go_rune(c: str) -> str:
    """Go's %#U: U+007D '}'."""
    code = f"U+{ord(c):04X}"
    return f"{code} '{c}'" if c.isprintable() else code


class _Lexer:
    def __init__(self, text: str):
        self.text, self.items = text, []
        self.start = self.pos = 0
        self.paren = 0

    def line_at(self, pos: int) -> int:
        return self.text.count("\n", 0, pos) + 1

    def emit(self, typ: str) -> None:
        self.items.append(Item(typ, self.start, self.text[self.start:self.pos],
                               self.line_at(self.start)))
        self.start = self.pos

    def error(self, message: str) -> None:
        self.items.append(Item("error", self.start, message, self.line_at(self.start)))
        raise _Stop

    def peek(self) -> str:
        return self.text[self.pos] if self.pos < len(self.text) else ""

    def next(self) -> str:
        c = self.peek()
        if c:
            self.pos += 1
        return c

    def accept(self, chars: str) -> bool:
        c = self.peek()
        if c and c in chars:
            self.pos += 1
            return True
        return False

    def accept_run(self, chars: str) -> None:
        while self.accept(chars):
            pass

    # --- text and delimiters -------------------------------------------------------------------

    def run(self) -> list[Item]:
        try:
            while self.lex_text():
                self.lex_action()
        except _Stop:
            pass
        return self.items

    def lex_text(self) -> bool:
        """Text up to the next ``{{``; False at the end of the input."""
        x = self.text.find(LEFT, self.pos)
        if x < 0:
            self.pos = len(self.text)
            if self.pos > self.start:
                self.emit("text")
            self.items.append(Item("eof", self.pos, "", self.line_at(self.pos)))
            return False
        self.pos = x
        trim = 0
        if self._left_trim(x + 2):
            trim = len(self.text[self.start:x]) - len(self.text[self.start:x].rstrip(SPACES))
        self.pos = x - trim
        if self.pos > self.start:
            self.emit("text")
        self.pos = self.start = x
        return True

    def _left_trim(self, at: int) -> bool:
        return self.text[at:at + 1] == "-" and self.text[at + 1:at + 2] in tuple(SPACES)

    def at_right(self) -> tuple[bool, bool]:
        """(at the closing delimiter, with a trim marker before it)."""
        t, p = self.text, self.pos
        if t[p:p + 1] in tuple(SPACES) and t[p + 1:p + 2] == "-" and t.startswith(RIGHT, p + 2):
            return True, True
        return t.startswith(RIGHT, p), False

    def lex_action(self) -> None:
        self.pos += len(LEFT)
        trim = self._left_trim(self.pos)
        after = 2 if trim else 0
        if self.text.startswith("/*", self.pos + after):
            self.pos += after
            self.start = self.pos
            self.lex_comment()
            return
        self.emit("ldelim")
        self.pos += after
        self.start = self.pos
        self.paren = 0
        while True:
            delim, trim = self.at_right()
            if delim:
                if self.paren:
                    self.error("unclosed left paren")
                if trim:
                    self.pos += 2
                    self.start = self.pos
                self.pos += len(RIGHT)
                self.emit("rdelim")
                if trim:
                    self.skip_space()
                return
            self.lex_inside()

    def skip_space(self) -> None:
        rest = self.text[self.pos:]
        self.pos += len(rest) - len(rest.lstrip(SPACES))
        self.start = self.pos

    def lex_comment(self) -> None:
        self.pos += 2
        x = self.text.find("*/", self.pos)
        if x < 0:
            self.error("unclosed comment")
        self.pos = x + 2
        delim, trim = self.at_right()
        if not delim:
            self.error("comment ends before closing delimiter")
        self.pos += (2 if trim else 0) + len(RIGHT)
        self.start = self.pos
        if trim:
            self.skip_space()

    # --- inside an action --------------------------------------------------------------------

    def lex_inside(self) -> None:
        c = self.next()
        if c == "":
            self.error("unclosed action")
        elif c in SPACES:
            self.pos -= 1
            self.lex_space()
        elif c == "=":
            self.emit("assign")
        elif c == ":":
            if self.next() != "=":
                self.error("expected :=")
            self.emit("declare")
        elif c == "|":
            self.emit("pipe")
        elif c == '"':
            self.lex_quoted('"', "string", "quoted string")
        elif c == "`":
            x = self.text.find("`", self.pos)
            if x < 0:
                self.error("unterminated raw quoted string")
            self.pos = x + 1
            self.emit("rawstring")
        elif c == "$":
            self.lex_field_or_var("var")
        elif c == "'":
            self.lex_quoted("'", "charconst", "character constant")
        elif c == "." and not "0" <= self.peek() <= "9":
            self.lex_field_or_var("field")
        elif c in "+-." or "0" <= c <= "9":
            self.pos -= 1
            self.lex_number()
        elif is_alnum(c):
            self.pos -= 1
            self.lex_identifier()
        elif c == "(":
            self.paren += 1
            self.emit("lparen")
        elif c == ")":
            self.paren -= 1
            if self.paren < 0:
                self.error("unexpected right paren")
            self.emit("rparen")
        elif c.isascii() and c.isprintable():
            self.emit("char")
        else:
            self.error(f"unrecognized character in action: {go_rune(c)}")

    def lex_space(self) -> None:
        n = 0
        while self.peek() and self.peek() in SPACES:
            self.pos += 1
            n += 1
        # a space before "-}}" belongs to the trim marker
        if self.text[self.pos:self.pos + 1] == "-" and self.text.startswith(RIGHT, self.pos + 1):
            self.pos -= 1
            if n == 1:
                self.start = self.pos
                return
        self.emit("space")

    def at_terminator(self) -> bool:
        c = self.peek()
        return c == "" or c in SPACES or c in ".,|:()" or self.text.startswith(RIGHT, self.pos)

    def lex_field_or_var(self, typ: str) -> None:
        if self.at_terminator():
            self.emit("var" if typ == "var" else "dot")
            return
        while is_alnum(self.peek()):
            self.pos += 1
        if not self.at_terminator():
            self.error(f"bad character {go_rune(self.peek())}")
        self.emit(typ)

    def lex_identifier(self) -> None:
        while is_alnum(self.peek()):
            self.pos += 1
        if not self.at_terminator():
            self.error(f"bad character {go_rune(self.peek())}")
        word = self.text[self.start:self.pos]
        if word in KEYWORDS:
            self.emit(KEYWORDS[word])
        elif word in ("true", "false"):
            self.emit("bool")
        else:
            self.emit("ident")

    def lex_quoted(self, quote: str, typ: str, what: str) -> None:
        """A "…" string or a 'c' character constant (escapes skipped, no newline inside)."""
        while True:
            c = self.next()
            if c == "\\":
                c = self.next()
                if c and c != "\n":
                    continue
            if c in ("", "\n"):
                self.error(f"unterminated {what}")
            if c == quote:
                break
        self.emit(typ)

    def lex_number(self) -> None:
        if not self.scan_number():
            self.error(f"bad number syntax: {_q(self.text[self.start:self.pos])}")
        if self.peek() in ("+", "-") and self.peek():
            if not self.scan_number() or self.text[self.pos - 1] != "i":
                self.error(f"bad number syntax: {_q(self.text[self.start:self.pos])}")
            self.emit("complex")
        else:
            self.emit("number")

    def scan_number(self) -> bool:
        self.accept("+-")
        digits = "0123456789_"
        if self.accept("0"):
            if self.accept("xX"):
                digits = "0123456789abcdefABCDEF_"
            elif self.accept("oO"):
                digits = "01234567_"
            elif self.accept("bB"):
                digits = "01_"
        self.accept_run(digits)
        if self.accept("."):
            self.accept_run(digits)
        if len(digits) == 11 and self.accept("eE"):
            self.accept("+-")
            self.accept_run("0123456789_")
        if len(digits) == 23 and self.accept("pP"):
            self.accept("+-")
            self.accept_run("0123456789_")
        self.accept("i")
        if is_alnum(self.peek()):
            self.pos += 1
            return False
        return True


def _q(s: str) -> str:
    from .gofmt import go_quote
    return go_quote(s)


class _Stop(Exception):
    """Lexing ended at an error item."""


def lex(text: str) -> list[Item]:
    """Every item of ``text``, ending with an ``eof`` or an ``error`` item."""
    return _Lexer(text).run()
