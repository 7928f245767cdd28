"""One Dockerfile instruction from its (continuation-joined) line, by the rules of Docker's parser
(moby buildkit frontend/dockerfile/parser, instructions): the command word, the leading
``--flags`` checked against the ones the instruction takes, exec form (a JSON array of strings)
or shell form, and the arguments checked as Docker checks them, with its messages. Also the
here-document words (``<<EOF``) and the models both this and dockerfile.py return.
"""

from __future__ import annotations

import json
import re

from ..errors import InvalidArgument
from ..models import Model, field
from .expand import ExpandError, _Lexer, raw_words, split_pairs
from .runmount import parse_mount

WS = re.compile(r"[\t\v\f\r ]+")
_HEREDOC = re.compile(r"^(\d*)<<(-?)([^<]*)$")
_STAGE_NAME = re.compile(r"^[a-z][a-z0-9-_.]*$")
HEREDOC_INSTRUCTIONS = ("RUN", "COPY", "ADD")
INSTRUCTIONS = ("ADD", "ARG", "CMD", "COPY", "ENTRYPOINT", "ENV", "EXPOSE", "FROM",
                "HEALTHCHECK", "LABEL", "MAINTAINER", "ONBUILD", "RUN", "SHELL", "STOPSIGNAL",
                "USER", "VOLUME", "WORKDIR")
# the flags each instruction takes (Docker's): bool, a string, or strings (may repeat)
FLAGS: dict[str, dict[str, str]] = {
    "ADD": {"chown": "string", "chmod": "string", "link": "bool", "keep-git-dir": "bool",
            "checksum": "string"},
    "COPY": {"chown": "string", "from": "string", "chmod": "string", "link": "bool"},
    "FROM": {"platform": "string"},
    "RUN": {"mount": "strings", "network": "string", "security": "string"},
    "HEALTHCHECK": {"interval": "string", "timeout": "string", "start-period": "string",
                    "start-interval": "string", "retries": "string"},
}
NETWORK_MODES = ("default", "none", "host")


class Fail(Exception):
    """A parse error not yet placed at its line."""


class Heredoc(Model):
    """A here-document of RUN/COPY/ADD. ``content`` ends with a newline per line; with ``chomp``
    (``<<-``) its leading tabs are already removed. ``expand`` is False when the delimiter was
    quoted (Docker then copies the content as written)."""

    name: str
    content: str
    expand: bool = True
    chomp: bool = False


class Instruction(Model):
    """One instruction. ``args``: exec form, the JSON list; shell form, one string, the rest of
    the line after the flags with continuations joined (HEALTHCHECK: the type word, then the
    command as for CMD; ONBUILD: the trigger as written). ``flags``: the ones given, bools as
    "true"/"false", RUN's ``mount`` a list. ``original``: the line as Docker keeps it."""

    cmd: str
    args: list = field(default_factory=list)
    json_form: bool = False
    flags: dict = field(default_factory=dict)
    heredocs: list = field(default_factory=list)
    line: int = 0
    original: str = ""

# --- heredocs -----------------------------------------------------------------------------------

def parse_heredoc(word: str) -> Heredoc | None:
    """The here-document a word such as ``<<EOF``, ``<<-"EOF"`` or ``3<<'END'`` opens, or None."""
    m = _HEREDOC.match(word)
    if not m or not m.group(3):
        return None
    rest = m.group(3)
    try:
        words = _Lexer(rest, {}, "\\", skip_unset=True).run()[1]
        if len(words) != 1:
            return None
        raw = _Lexer(rest, {}, "\\", skip_unset=True, raw_quotes=True).run()[1]
    except ExpandError:
        return None
    quotes = words[0].count("'") + words[0].count('"')
    raw_quotes = raw[0].count("'") + raw[0].count('"')
    return Heredoc(name=words[0], content="", expand=(quotes == raw_quotes),
                   chomp=(m.group(2) == "-"))


def heredocs_in(line: str) -> list[Heredoc]:
    try:
        words = _Lexer(line, {}, "\\", raw_quotes=True, raw_escapes=True).run()[1]
    except ExpandError:
        return []
    return [doc for doc in map(parse_heredoc, words) if doc is not None]


# --- one instruction ----------------------------------------------------------------------------

def split_command(line: str) -> tuple[str, list[str], str]:
    parts = WS.split(line.strip(), maxsplit=1)
    if len(parts) < 2:
        return parts[0], [], ""
    flags, rest = _extract_flags(parts[1])
    return parts[0], flags, rest.strip()


def _extract_flags(line: str) -> tuple[list[str], str]:
    """The leading ``--flag[=value]`` words (quotes removed) and the rest of the line."""
    words: list[str] = []
    word, quote, blank_ok, in_word = "", "", False, False
    pos, n = 0, len(line)
    while pos <= n:
        ch = line[pos] if pos < n else ""
        if not in_word:
            if pos == n:
                break
            if ch.isspace():
                pos += 1
                continue
            if not line.startswith("--", pos):
                return words, line[pos:]
            in_word = True
        if pos == n:
            if word != "--" and (blank_ok or word):
                words.append(word)
            break
        if quote and ch == quote:
            quote = ""
            pos += 1
            continue
        if not quote:
            if ch.isspace():
                if word == "--":
                    return words, line[pos:]
                if blank_ok or word:
                    words.append(word)
                word, blank_ok, in_word = "", False, False
                pos += 1
                continue
            if ch in ("'", '"'):
                quote, blank_ok = ch, True
                pos += 1
                continue
        if ch == "\\":
            if pos + 1 == n:     # a trailing backslash is dropped (and ends a quote)
                quote = ""
                pos += 1
                continue
            pos += 1
            ch = line[pos]
        word += ch
        pos += 1
    return words, ""


def _parse_flags(cmd: str, raw: list[str]) -> dict:
    spec = FLAGS.get(cmd, {})
    out: dict = {}
    for arg in raw:
        if not arg.startswith("--"):
            raise Fail(f"Arg should start with -- : {arg}")
        if arg == "--":
            break
        name, eq, value = arg[2:].partition("=")
        kind = spec.get(name)
        if kind is None:
            raise Fail(f"Unknown flag: {name}")
        if name in out and kind != "strings":
            raise Fail(f"Duplicate flag specified: {name}")
        if kind == "bool":
            if eq and value == "":
                raise Fail(f"Missing a value on flag: {name}")
            low = value.lower()
            if low not in ("", "true", "false"):
                raise Fail(f"Expecting boolean value for flag {name}, not: {value}")
            out[name] = low or "true"
        elif not eq:
            raise Fail(f"Missing a value on flag: {name}")
        elif kind == "strings":
            out.setdefault(name, []).append(value)
        else:
            out[name] = value
    return out


def is_json_array(rest: str) -> bool:
    try:
        _json_list(rest)
        return True
    except (ValueError, Fail):
        return False


def _reject_constant(name: str):
    raise ValueError(name)


def _json_list(rest: str) -> list[str]:
    """``rest`` as an exec-form array; ValueError if it is not JSON (then it is shell form),
    Fail if it is an array of something other than strings (Docker refuses that)."""
    rest = rest.lstrip()
    if not rest.startswith("["):
        raise ValueError("not a JSON array")
    try:
        value = json.loads(rest, parse_constant=_reject_constant)
    except RecursionError:
        raise ValueError("nested too deep") from None
    if not isinstance(value, list):
        raise ValueError("not a JSON array")
    if not all(isinstance(v, str) for v in value):
        raise Fail("when using JSON array syntax, arrays must be comprised of strings only")
    return value


def _maybe_json(rest: str) -> tuple[list[str], bool]:
    if not rest:
        return [], False
    try:
        return _json_list(rest), True
    except ValueError:
        return [rest], False


def _need_one(cmd: str, rest: str) -> None:
    if not rest:
        raise Fail(f"{cmd} requires exactly one argument")


def instruction(line: str, start: int, heredocs: list[Heredoc], escape: str) -> Instruction:
    word, raw_flags, rest = split_command(line)
    cmd = word.upper()
    if cmd not in INSTRUCTIONS:
        hint = _closest(cmd)
        raise Fail(f"unknown instruction: {cmd}" + (f" (did you mean {hint}?)" if hint else ""))
    ins = Instruction(cmd=cmd, line=start, original=line, heredocs=heredocs)
    check = _CHECKS.get(cmd)
    if cmd == "HEALTHCHECK":
        _check_healthcheck(ins, raw_flags, rest)
        return ins
    ins.flags = _parse_flags(cmd, raw_flags)
    if cmd in ("RUN", "CMD", "ENTRYPOINT", "SHELL"):
        ins.args, ins.json_form = _maybe_json(rest)
    elif cmd in ("COPY", "ADD", "VOLUME"):
        try:
            ins.args, ins.json_form = _json_list(rest), True
        except ValueError:
            ins.args = [rest] if rest else []
    else:
        ins.args = [rest] if rest else []
    if check:
        check(ins, rest, escape)
    return ins


def _closest(word: str) -> str:
    """The instruction ``word`` is one slip away from (a letter added, dropped, changed, or two
    swapped), for Docker's "did you mean" hint; "" when none is that close."""
    for name in INSTRUCTIONS:
        if abs(len(name) - len(word)) > 1:
            continue
        if len(name) == len(word):
            diff = [i for i in range(len(word)) if word[i] != name[i]]
            if len(diff) == 1 or (len(diff) == 2 and diff[1] == diff[0] + 1
                                  and word[diff[0]] == name[diff[1]]
                                  and word[diff[1]] == name[diff[0]]):
                return name
            continue
        short, long_ = sorted((word, name), key=len)
        if any(long_[:i] + long_[i + 1:] == short for i in range(len(long_))):
            return name
    return ""


def _check_copy(ins: Instruction, rest: str, escape: str) -> None:
    words = ins.args if ins.json_form else WS.split(rest) if rest else []
    if len(words) < 2:
        raise Fail(f"{ins.cmd} requires at least two arguments, but only one was provided. "
                    "Destination could not be determined")
    if parse_heredoc(words[-1]) is not None:
        raise Fail(f"{ins.cmd} cannot accept a heredoc as a destination")


def _check_from(ins: Instruction, rest: str, escape: str) -> None:
    words = WS.split(rest) if rest else []
    if len(words) == 3 and words[1].lower() == "as":
        if not _STAGE_NAME.match(words[2].lower()):
            raise Fail(f'invalid name for build stage: "{words[2]}", name can\'t start with a '
                        "number or contain symbols")
    elif len(words) != 1:
        raise Fail("FROM requires either one or three arguments")


def _check_pairs(ins: Instruction, rest: str, escape: str) -> None:
    try:
        pairs = split_pairs(rest, escape, ins.cmd)
    except InvalidArgument as e:
        raise Fail(str(e)) from None
    if not pairs:
        raise Fail(f"{ins.cmd} requires at least one argument")
    if any(not key for key, _ in pairs):
        raise Fail(f"{ins.cmd} names can not be blank")


def _check_arg(ins: Instruction, rest: str, escape: str) -> None:
    words = raw_words(rest, escape)
    if not words:
        raise Fail("ARG requires at least one argument")
    if any(w.startswith("=") for w in words):
        raise Fail("ARG names can not be blank")


def _check_expose(ins: Instruction, rest: str, escape: str) -> None:
    if not rest:
        raise Fail("EXPOSE requires at least one argument")


def _check_volume(ins: Instruction, rest: str, escape: str) -> None:
    if not ins.args:
        raise Fail("VOLUME requires at least one argument")
    if ins.json_form and any(not v.strip() for v in ins.args):
        raise Fail("VOLUME specified can not be an empty string")


def _check_shell(ins: Instruction, rest: str, escape: str) -> None:
    if not ins.json_form and ins.args:
        raise Fail("SHELL requires the arguments to be in JSON form")
    if not ins.args:
        raise Fail("SHELL requires at least one argument")


def _check_run(ins: Instruction, rest: str, escape: str) -> None:
    network = ins.flags.get("network")
    if network is not None and network not in NETWORK_MODES:
        raise Fail(f'unsupported network mode "{network}"')
    security = ins.flags.get("security")
    if security is not None and security not in ("sandbox", "insecure"):
        raise Fail(f'unsupported security mode "{security}"')
    for spec in ins.flags.get("mount", []):
        try:
            parse_mount(spec)   # as Docker at parse time: the syntax, and no variable in from=
        except InvalidArgument as e:
            raise Fail(str(e)) from None


def _check_onbuild(ins: Instruction, rest: str, escape: str) -> None:
    if not rest:
        raise Fail("ONBUILD requires at least one argument")
    trigger = WS.split(rest, maxsplit=1)[0].upper()
    if trigger == "ONBUILD":
        raise Fail("Chaining ONBUILD via `ONBUILD ONBUILD` isn't allowed")
    if trigger in ("MAINTAINER", "FROM"):
        raise Fail(f"{trigger} isn't allowed as an ONBUILD trigger")
    expression = re.sub(r"(?i)^\s*ONBUILD\s*", "", ins.original)
    for doc in ins.heredocs:
        expression += "\n" + doc.content + doc.name
    ins.args = [expression]


def _one_arg(ins: Instruction, rest: str, escape: str) -> None:
    _need_one(ins.cmd, rest)


def _check_healthcheck(ins: Instruction, raw_flags: list[str], rest: str) -> None:
    from ..healthconfig import parse_go_duration
    if not rest:
        raise Fail("HEALTHCHECK requires at least one argument")
    parts = re.split(r"\s+", rest, maxsplit=1)
    typ = parts[0].upper()
    cmd, ins.json_form = _maybe_json(parts[1].strip() if len(parts) > 1 else "")
    if typ == "NONE":
        if cmd:
            raise Fail("HEALTHCHECK NONE takes no arguments")
        ins.args = ["NONE"]
        return
    ins.flags = _parse_flags("HEALTHCHECK", raw_flags)
    if typ != "CMD":
        raise Fail(f'Unknown type "{typ}" in HEALTHCHECK (try CMD)')
    if not cmd:
        raise Fail("Missing command after HEALTHCHECK CMD")
    ins.args = ["CMD", *cmd]
    for name in ("interval", "timeout", "start-period", "start-interval"):
        value = ins.flags.get(name, "")
        if not value:
            continue
        try:
            ns = parse_go_duration(value)
        except ValueError as e:
            raise Fail(str(e)) from None
        if 0 < ns < 1_000_000 or ns < 0:
            raise Fail(f'Interval "{name}" cannot be less than 1ms')
    retries = ins.flags.get("retries", "")
    if retries:
        if not re.fullmatch(r"[+-]?\d+", retries) or abs(int(retries)) >= 1 << 31:
            raise Fail(f'strconv.ParseInt: parsing "{retries}": invalid syntax')
        if int(retries) < 0:
            raise Fail(f"--retries cannot be negative ({int(retries)})")


_CHECKS = {"COPY": _check_copy, "ADD": _check_copy, "FROM": _check_from, "ENV": _check_pairs,
           "LABEL": _check_pairs, "ARG": _check_arg, "EXPOSE": _check_expose,
           "VOLUME": _check_volume, "SHELL": _check_shell, "RUN": _check_run,
           "ONBUILD": _check_onbuild, "USER": _one_arg, "WORKDIR": _one_arg,
           "MAINTAINER": _one_arg, "STOPSIGNAL": _one_arg}
