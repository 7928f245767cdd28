"""The Dockerfile parser: text to stages of instructions, by the rules of Docker's parser (moby
buildkit frontend/dockerfile/parser) and with its messages.

This module reads the file as Docker does: parser directives (``# syntax=``, ``# escape=``,
``# check=``) only in the comment lines at the very top; comments; line continuations with the
escape token (comment lines inside a continuation skipped, empty ones warned about);
here-document bodies after their line (RUN, COPY, ADD); then stages. instructions.py makes each
line an Instruction. Variables are not expanded here (expand.py is, at build time, with the
values then in effect). Errors are InvalidArgument ``Dockerfile:LINE: message``.
"""

from __future__ import annotations

import re

from ..errors import InvalidArgument
from ..models import Model, field
from .instructions import (WS, Fail, HEREDOC_INSTRUCTIONS, Heredoc, Instruction, heredocs_in,
                           instruction, is_json_array, split_command)

__all__ = ["Dockerfile", "Stage", "Instruction", "Heredoc", "parse", "parse_trigger"]

_DIRECTIVE = re.compile(r"^#\s*([a-zA-Z][a-zA-Z0-9]*)\s*=\s*(.+?)\s*$")
_LEADING_TABS = re.compile(r"^\t+", re.M)
DIRECTIVES = ("syntax", "escape", "check")


class Stage(Model):
    """A build stage: its FROM (``base`` unexpanded, ``name`` lower-cased, "" without AS) and the
    instructions after it."""

    index: int
    name: str
    base: str
    platform: str = ""
    line: int = 0
    instructions: list = field(default_factory=list)


class Dockerfile(Model):
    """A parsed Dockerfile: its parser directives, the ARGs before the first FROM, the stages, and
    Docker's warnings (empty continuation lines)."""

    directives: dict = field(default_factory=dict)
    args: list = field(default_factory=list)
    stages: list = field(default_factory=list)
    warnings: list = field(default_factory=list)

    @property
    def escape(self) -> str:
        return self.directives.get("escape", "\\")

    def stage(self, ref: str) -> Stage | None:
        """The stage named ``ref`` (any case) or numbered ``ref``; None if there is none."""
        ref = ref.lower()
        for s in self.stages:
            if s.name and s.name == ref:
                return s
        if ref.isdigit() and int(ref) < len(self.stages):
            return self.stages[int(ref)]
        return None


# --- lines -----------------------------------------------------------------------------------

class _Directives:
    def __init__(self):
        self.escape = "\\"
        self.values: dict[str, str] = {}
        self.done = False
        self._cont = re.compile(r"\\[ \t]*$")

    def see(self, line: str) -> None:
        """Take ``line`` as a parser directive if directives may still come."""
        if self.done:
            return
        m = _DIRECTIVE.match(line)
        key = m.group(1).lower() if m else ""
        if key not in DIRECTIVES:
            self.done = True
            return
        if key in self.values:
            raise Fail(f"only one {key} parser directive can be used")
        value = m.group(2)
        if key == "escape":
            if value not in ("`", "\\"):
                raise Fail(f"invalid escape token '{value}' does not match ` or \\")
            self.escape = value
            self._cont = re.compile(re.escape(value) + r"[ \t]*$")
        self.values[key] = value

    def trim_continuation(self, line: str) -> tuple[str, bool]:
        m = self._cont.search(line)
        if m:
            return line[:m.start()], False
        return line, True


def _is_comment(line: str) -> bool:
    return line.lstrip().startswith("#")


def _strip_comment(line: str) -> str:
    return "" if line.startswith("#") else line


def _logical_lines(text: str, d: _Directives, warnings: list[str]):
    """Yield (start line, end line, joined line, heredocs) for each instruction of ``text``."""
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    lines = [ln[:-1] if ln.endswith("\r") else ln for ln in lines]
    if lines and lines[0].startswith("\ufeff"):
        lines[0] = lines[0][1:]
    i, n = 0, len(lines)
    while i < n:
        raw = lines[i].lstrip()
        try:
            d.see(raw)
        except Fail as e:
            raise _Located(i + 1, str(e)) from None
        i += 1
        start = i
        line, end = d.trim_continuation(_strip_comment(raw))
        if end and line == "":
            continue
        empty_cont = False
        while not end and i < n:
            raw = lines[i]
            d.see(raw)   # directives are over by now; this only marks them done
            i += 1
            if _is_comment(raw):
                continue
            if not raw.strip():
                empty_cont = True
                continue
            part, end = d.trim_continuation(_strip_comment(raw))
            line += part
        if empty_cont:
            warnings.append("[WARNING]: Empty continuation line found in:\n    " + line)
        heredocs: list[Heredoc] = []
        cmd = WS.split(line.strip(), maxsplit=1)[0].upper()
        if _may_have_heredocs(cmd, line) and "<<" in line:
            for doc in heredocs_in(line):
                content, done = [], False
                while i < n:
                    body = lines[i]
                    i += 1
                    candidate = body.lstrip("\t") if doc.chomp else body
                    if candidate == doc.name:
                        done = True
                        break
                    content.append(body + "\n")
                if not done:
                    raise _Located(start, "unterminated heredoc")
                doc.content = "".join(content)
                if doc.chomp:
                    doc.content = _LEADING_TABS.sub("", doc.content)
                heredocs.append(doc)
        yield start, i, line, heredocs


def _may_have_heredocs(cmd: str, line: str) -> bool:
    rest = WS.split(line.strip(), maxsplit=1)
    if cmd == "ONBUILD" and len(rest) == 2:
        return _may_have_heredocs(WS.split(rest[1].strip(), maxsplit=1)[0].upper(), rest[1])
    if cmd not in HEREDOC_INSTRUCTIONS:
        return False
    _, _, args = split_command(line)
    return not is_json_array(args)


class _Located(Exception):
    def __init__(self, line: int, message: str):
        super().__init__(message)
        self.line, self.message = line, message


# --- the file ------------------------------------------------------------------------------------

def _instructions(text: str, name: str, d: _Directives, warnings: list[str]):
    for start, _end, line, heredocs in _logical_lines(text, d, warnings):
        try:
            yield instruction(line, start, heredocs, d.escape)
        except Fail as e:
            raise InvalidArgument(f"{name}:{start}: {e}") from None


def parse(text: str, name: str = "Dockerfile") -> Dockerfile:
    """Parse a Dockerfile's text; InvalidArgument ``NAME:LINE: message`` where Docker would
    refuse it."""
    d = _Directives()
    result = Dockerfile()
    try:
        instructions = list(_instructions(text, name, d, result.warnings))
    except _Located as e:
        raise InvalidArgument(f"{name}:{e.line}: {e.message}") from None
    result.directives = dict(d.values)
    if not instructions:
        raise InvalidArgument(f"{name}:1: file with no instructions")
    seen: dict[str, int] = {}
    for ins in instructions:
        if ins.cmd == "FROM":
            words = WS.split(ins.args[0])
            stage = Stage(index=len(result.stages), name=words[2].lower() if len(words) == 3
                          else "", base=words[0], platform=ins.flags.get("platform", ""),
                          line=ins.line)
            if stage.name:
                if stage.name in seen:
                    raise InvalidArgument(f'{name}:{ins.line}: duplicate stage name '
                                          f'"{stage.name}"')
                seen[stage.name] = ins.line
            result.stages.append(stage)
        elif result.stages:
            result.stages[-1].instructions.append(ins)
        elif ins.cmd == "ARG":
            result.args.append(ins)
        else:
            raise InvalidArgument(f"{name}:{ins.line}: no build stage in current context")
    if not result.stages:
        raise InvalidArgument(f"{name}:{instructions[-1].line}: dockerfile contains no stages "
                              "to build")
    return result


def parse_trigger(expression: str, escape: str = "\\", name: str = "ONBUILD") -> Instruction:
    """An image's ONBUILD trigger (as kept in its config's OnBuild) as the instruction it runs."""
    d = _Directives()
    d.done = True
    if escape != "\\":
        d.escape = escape
        d._cont = re.compile(re.escape(escape) + r"[ \t]*$")
    try:
        found = list(_instructions(expression, name, d, []))
    except _Located as e:
        raise InvalidArgument(f"{name}: {e.message}") from None
    if len(found) != 1:
        raise InvalidArgument(f"{name}: not one instruction: {expression!r}")
    ins = found[0]
    if ins.cmd in ("ONBUILD", "FROM", "MAINTAINER"):
        raise InvalidArgument(f"{name}: {ins.cmd} isn't allowed as an ONBUILD trigger")
    return ins
