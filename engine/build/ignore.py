""".dockerignore as Docker reads and applies it (moby/patternmatcher with its ignorefile reader, and
the walk of moby's archive package): a line per pattern, ``#`` comments only at the start of a
line, whitespace trimmed, paths cleaned as Go's filepath.Clean and made relative (a leading ``/``
dropped), ``!`` exceptions, Go's filepath.Match syntax (``*``, ``?``, ``[...]``, backslash
escapes) plus ``**`` for any number of directories. A path is excluded when the last pattern that
matches it or one of its parent directories is not an exception.
"""

from __future__ import annotations

import os
import posixpath
import re
import warnings

from ..errors import InvalidArgument

_ESCAPED = set(".+()|{}$")
_EXACT, _PREFIX, _SUFFIX, _REGEXP = range(4)


def go_clean(path: str) -> str:
    """Go's filepath.Clean on a slash path: "" is ".", "//a/" is "/a", "a/../b" is "b"."""
    if not path:
        return "."
    cleaned = posixpath.normpath(path)
    if cleaned.startswith("//"):
        cleaned = "/" + cleaned.lstrip("/")
    return cleaned


class _Pattern:
    """One pattern, compiled as patternmatcher compiles it (exact, prefix, suffix or regexp)."""

    def __init__(self, text: str, exclusion: bool):
        self.text, self.exclusion = text, exclusion
        self.kind, self.regexp = self._compile(text)

    @staticmethod
    def _compile(pattern: str):
        out = ["^"]
        kind = _EXACT
        i, n, step = 0, len(pattern), 0
        while i < n:
            ch = pattern[i]
            i += 1
            if ch == "*":
                if i < n and pattern[i] == "*":
                    i += 1
                    if i < n and pattern[i] == "/":
                        i += 1
                    if i >= n:
                        if kind == _EXACT:
                            kind = _PREFIX
                        else:
                            out.append(".*")
                            kind = _REGEXP
                    else:
                        out.append("(.*/)?")
                        kind = _REGEXP
                    if step == 0:
                        kind = _SUFFIX
                else:
                    out.append("[^/]*")
                    kind = _REGEXP
            elif ch == "?":
                out.append("[^/]")
                kind = _REGEXP
            elif ch in _ESCAPED:
                out.append("\\" + ch)
            elif ch == "\\":
                if i < n:
                    out.append("\\" + pattern[i])
                    i += 1
                    kind = _REGEXP
                else:
                    out.append("\\\\")
            elif ch in "[]":
                out.append(ch)
                kind = _REGEXP
            else:
                out.append(ch)
            step += 1
        if kind != _REGEXP:
            return kind, None
        out.append("$")
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                return kind, re.compile("".join(out), re.S)
        except re.error:
            return kind, None    # patternmatcher: this pattern then matches nothing

    def match(self, path: str) -> bool:
        if self.kind == _EXACT:
            return path == self.text
        if self.kind == _PREFIX:
            return path.startswith(self.text[:-2])
        if self.kind == _SUFFIX:
            suffix = self.text[2:]
            return path.endswith(suffix) or (suffix[:1] == "/" and path == suffix[1:])
        return bool(self.regexp and self.regexp.match(path))


def _check_syntax(pattern: str) -> None:
    """Refuse what Go's filepath.Match refuses: an unclosed or empty ``[...]``, a bad range, a
    trailing backslash inside a class, a lone ``!``."""
    i, n = 0, len(pattern)
    while i < n:
        ch = pattern[i]
        if ch == "\\":
            i += 2
            if i > n:
                raise InvalidArgument(f".dockerignore: syntax error in pattern: {pattern}")
            continue
        if ch == "[":
            i += 1
            if i < n and pattern[i] == "^":
                i += 1
            count = 0
            while True:
                if i >= n:
                    raise InvalidArgument(f".dockerignore: syntax error in pattern: {pattern}")
                if pattern[i] == "]" and count:
                    break
                lo, i = _class_char(pattern, i)
                if i < n and pattern[i] == "-":
                    hi, i = _class_char(pattern, i + 1)
                    if hi < lo:
                        raise InvalidArgument(f".dockerignore: syntax error in pattern: "
                                              f"{pattern}")
                count += 1
        i += 1


def _class_char(pattern: str, i: int) -> tuple[str, int]:
    if i >= len(pattern) or pattern[i] in "-]":
        raise InvalidArgument(f".dockerignore: syntax error in pattern: {pattern}")
    if pattern[i] == "\\":
        i += 1
        if i >= len(pattern):
            raise InvalidArgument(f".dockerignore: syntax error in pattern: {pattern}")
    return pattern[i], i + 1


def read_patterns(text: str) -> list[str]:
    """The patterns of a .dockerignore's text as ignorefile.ReadAll gives them."""
    out = []
    for n, line in enumerate(text.split("\n")):
        if n == 0 and line.startswith("\ufeff"):
            line = line[1:]
        if line.startswith("#"):
            continue
        line = line.strip()
        if not line:
            continue
        invert = line[0] == "!"
        if invert:
            line = line[1:].strip()
        if line:
            line = go_clean(line)
            if len(line) > 1 and line[0] == "/":
                line = line[1:]
        out.append("!" + line if invert else line)
    return out


class IgnoreRules:
    """The rules of one .dockerignore; ``excluded(path)`` and ``walk(dir)`` apply them."""

    def __init__(self, patterns: list[str]):
        self.patterns: list[_Pattern] = []
        for p in patterns:
            p = p.strip()
            if not p:
                continue
            p = go_clean(p)
            exclusion = p[0] == "!"
            if exclusion:
                if len(p) == 1:
                    raise InvalidArgument('.dockerignore: illegal exclusion pattern: "!"')
                p = p[1:]
            _check_syntax(p)
            self.patterns.append(_Pattern(p, exclusion))
        self.exceptions = any(p.exclusion for p in self.patterns)

    @classmethod
    def from_text(cls, text: str) -> "IgnoreRules":
        return cls(read_patterns(text))

    @classmethod
    def from_file(cls, path: str) -> "IgnoreRules":
        """The rules of the file at ``path``; none when it does not exist."""
        try:
            with open(path, encoding="utf-8", errors="surrogateescape") as f:
                return cls.from_text(f.read())
        except FileNotFoundError:
            return cls([])

    @classmethod
    def for_context(cls, context_dir: str) -> "IgnoreRules":
        return cls.from_file(os.path.join(context_dir, ".dockerignore"))

    def __bool__(self) -> bool:
        return bool(self.patterns)

    def excluded(self, relpath: str) -> bool:
        """Whether ``relpath`` (slash-separated, relative to the context) is left out: the last
        pattern matching it or a parent directory decides (MatchesOrParentMatches)."""
        path = go_clean(relpath.lstrip("/") or ".")
        if path == ".":
            return False
        parent = posixpath.dirname(path)
        parents = parent.split("/") if parent else []
        matched = False
        for p in self.patterns:
            if p.exclusion != matched:
                continue
            hit = p.match(path)
            if not hit and parents:
                hit = any(p.match("/".join(parents[:i + 1])) for i in range(len(parents)))
            if hit:
                matched = not p.exclusion
        return matched

    def _match_with_parent(self, path: str, parent: list[bool] | None) -> tuple[bool, list[bool]]:
        matched = False
        info = []
        for i, p in enumerate(self.patterns):
            hit = bool(parent and parent[i])
            if not hit and p.exclusion == matched:
                hit = p.match(path)
            info.append(hit)
            if hit:
                matched = not p.exclusion
        return matched, info

    def _may_hold_exception(self, reldir: str) -> bool:
        prefix = reldir + "/"
        return any(p.exclusion and (p.text + "/").startswith(prefix) for p in self.patterns)

    def walk(self, context_dir: str):
        """Yield the slash-separated relative paths of ``context_dir`` that are sent to the
        builder, parents before children, in lexical order, as Docker's archive walk does: an
        excluded directory is entered only when an exception pattern may reach inside it (its
        included children are then yielded without it). Symbolic links are not followed."""
        def visit(absdir: str, reldir: str, parent_info: list[bool] | None):
            try:
                entries = sorted(os.scandir(absdir), key=lambda e: e.name)
            except FileNotFoundError:
                return
            for entry in entries:
                rel = f"{reldir}/{entry.name}" if reldir else entry.name
                if self.patterns:
                    skip, info = self._match_with_parent(rel, parent_info)
                else:
                    skip, info = False, None
                is_dir = entry.is_dir(follow_symlinks=False)
                if skip:
                    if not is_dir or not self.exceptions or not self._may_hold_exception(rel):
                        continue
                else:
                    yield rel
                if is_dir:
                    yield from visit(entry.path, rel, info)
        yield from visit(context_dir, "", None)
