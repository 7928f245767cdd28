"""The argv of the hot verbs (run, start, stop, rm, exec, pull, and ``system dial-stdio``, which
every ssh connection to this host starts with) read without argparse, whose import
(re, enum, functools, collections, gettext) and parser building cost every `berth run` ~15 ms.

The flags are the ones argparse is given: the verbs' own ``add_argument`` functions
(run_flags.run_args, containers.ARGS, interactive_args.ARGS, registry.pull_args,
cli.global_args) are run against a
recorder here, so there is one list of flags. Only the plain shapes are read (exact option
names, ``--opt=value``, ``-it``, a value that doesn't start with a dash, positionals after the
options, an optional value (``nargs="?"``) given with ``=``, one of its choices); anything else (``--help``, abbreviations, ``--``, a dash-led value, a missing
argument, an unknown flag) returns None and argparse parses the line, with its messages.
tests/test_fastparse.py compares the two on many command lines.
"""

from __future__ import annotations

# argparse's own values for these (tests/test_fastparse.py checks): the verbs' flag functions
# use them so that reading their flags doesn't import argparse
SUPPRESS = "==SUPPRESS=="
REMAINDER = "..."

VERBS = ("run", "start", "stop", "rm", "exec", "pull")
# two-word commands without options, read whole: (command, subcommand) -> the subcommand's dest
PLAIN = {("system", "dial-stdio"): "system_command"}


class Args:
    """The parsed command line, as argparse's Namespace has it (attributes by dest)."""

    def __init__(self, **values):
        self.__dict__.update(values)

    def __repr__(self) -> str:
        return f"Args({self.__dict__!r})"


class _Flags:
    """What ``add_argument`` calls declare, recorded: option word -> (dest, kind), each dest's
    default, and the positionals in order as (dest, nargs)."""

    def __init__(self, record) -> None:
        self.options: dict[str, tuple[str, str]] = {}
        self.defaults: dict[str, object] = {}
        self.choices: dict[str, tuple] = {}
        self.positionals: list[tuple[str, object]] = []
        record(self)

    def add_argument(self, *words: str, action: str | None = None, default=None,
                     nargs=None, dest: str | None = None, choices=None, **_ignored) -> None:
        if not words[0].startswith("-"):
            self.positionals.append((words[0], nargs))
            return
        if dest is None:
            longs = [w for w in words if w.startswith("--")]
            dest = (longs or list(words))[0].lstrip("-").replace("-", "_")
        kind = {"store_true": "flag", "append": "append", "help": "help",
                None: "value"}.get(action, "unknown")
        if nargs == "?" and kind == "value":
            kind = "optional"    # read only as --opt=value
        elif nargs is not None:
            kind = "unknown"
        if choices is not None:
            self.choices[dest] = tuple(choices)
        if kind == "flag" and default is None:
            default = False
        if kind not in ("help", "unknown"):
            self.defaults[dest] = default
        for w in words:
            self.options[w] = (dest, kind)


def _read_options(flags: _Flags, argv: list[str], i: int, values: dict) -> int | None:
    """Read the options from argv[i] into ``values`` up to the first positional; its index, or
    None when a word needs argparse."""
    while i < len(argv):
        word = argv[i]
        if not word.startswith("-"):
            return i
        name, eq, value = word.partition("=") if word.startswith("--") else (word, "", "")
        found = flags.options.get(name)
        if found is None:
            # -it: short flags run together (and nothing else)
            each = [flags.options.get(f"-{c}") for c in word[1:]]
            if word.startswith("--") or "=" in word or len(word) < 3 \
                    or not all(e and e[1] == "flag" for e in each):
                return None
            values.update((dest, True) for dest, _kind in each)
        elif found[1] == "flag" and not eq:
            values[found[0]] = True
        elif found[1] in ("value", "append") or (found[1] == "optional" and eq):
            if not eq:
                i += 1
                if i >= len(argv) or argv[i].startswith("-"):
                    return None
                value = argv[i]
            dest = found[0]
            if dest in flags.choices and value not in flags.choices[dest]:
                return None
            values[dest] = [*values[dest], value] if found[1] == "append" else value
        else:
            return None   # --help, a flag given a value, an action not read here
        i += 1
    return i


def _read_positionals(flags: _Flags, rest: list[str], values: dict) -> bool:
    """The positionals of the verbs read here: NAME REST... (run, exec), NAME... (start, stop,
    rm) or NAME (pull). False when argparse must decide."""
    shape = [nargs for _, nargs in flags.positionals]
    if shape == [None]:
        if len(rest) != 1 or rest[0].startswith("-"):
            return False
        values[flags.positionals[0][0]] = rest[0]
        return True
    if shape == [None, REMAINDER]:
        if not rest:
            return False
        values[flags.positionals[0][0]] = rest[0]
        values[flags.positionals[1][0]] = rest[1:]
        return True
    if shape == ["+"]:
        # an option among the names: argparse either takes it or calls the rest unrecognised
        if not rest or any(w.startswith("-") for w in rest):
            return False
        values[flags.positionals[0][0]] = list(rest)
        return True
    return False


def _verb_flags(verb: str):
    """(add_argument function, handler) of a hot verb, from the module that owns it."""
    if verb == "pull":
        from . import registry
        return registry.pull_args, registry.cmd_pull
    if verb == "exec":
        from . import interactive
        from .interactive_args import ARGS
        return ARGS[verb], interactive.cmd_exec
    from . import containers
    if verb == "run":
        return containers.ARGS[verb], containers.cmd_run
    return containers.ARGS[verb], getattr(containers, f"cmd_{verb}")


def _plain(command: str, sub: str, values: dict) -> Args:
    import importlib
    module = importlib.import_module(f"tui.commands.{command}")
    return Args(**values, command=command, **{PLAIN[command, sub]: sub},
                func=getattr(module, f"cmd_{sub.replace('-', '_')}"))


def parse(argv: list[str], global_args) -> Args | None:
    """The Args of ``berth [GLOBAL OPTIONS] VERB ...`` for a hot verb, as argparse would give
    them (func set to the verb's handler); None when argparse must read this line.
    ``global_args`` declares the options before the verb (cli.global_args)."""
    top = _Flags(global_args)
    values = {dest: default for dest, default in top.defaults.items()}
    i = _read_options(top, argv, 0, values)
    if i is not None and tuple(argv[i:]) in PLAIN:
        return _plain(argv[i], argv[i + 1], values)
    if i is None or i >= len(argv) or argv[i] not in VERBS:
        return None
    verb = argv[i]
    record, handler = _verb_flags(verb)
    flags = _Flags(record)
    own = {dest: list(default) if isinstance(default, list) else default
           for dest, default in flags.defaults.items()}
    j = _read_options(flags, argv, i + 1, own)
    if j is None or not _read_positionals(flags, argv[j:], own):
        return None
    # the subcommand's name goes to dest "command", which run's and exec's positional of that
    # name then overwrites, as argparse's subparsers do
    values["command"] = verb
    values.update(own)
    values["func"] = handler
    return Args(**values)
