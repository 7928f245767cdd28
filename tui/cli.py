"""The berth command line: Docker-style subcommands over the same Engine as the dashboard.

Only the module that owns the subcommand being run is imported (``berth ps`` loads neither
textual nor rich nor pyroute2); ``berth --help`` loads them all. Each module in
``tui/commands`` has ``register(subparsers)`` that adds its subcommands with
``set_defaults(func=handler)``; a handler takes the parsed args and returns an exit code.
"""

from __future__ import annotations

from engine.public import trace

trace.mark("interpreter up (site too, unless started with -S)")

import importlib  # noqa: E402
import os  # noqa: E402
import sys  # noqa: E402

TYPE_CHECKING = False
if TYPE_CHECKING:   # argparse (with re and enum) loads after `berth run` has launched its monitor
    import argparse

# subcommand -> module in tui.commands that registers it
COMMANDS: dict[str, str] = {
    # images (engine foundation)
    "images": "images", "image": "images", "load": "images", "save": "images",
    "import": "images", "tag": "images", "rmi": "images", "history": "images",
    # registry
    "pull": "registry", "push": "registry", "login": "registry", "logout": "registry",
    "search": "registry",
    # containers
    "create": "containers", "run": "containers", "start": "containers", "stop": "containers",
    "kill": "containers", "restart": "containers", "rm": "containers", "ps": "containers",
    "logs": "containers", "wait": "containers", "inspect": "containers", "rename": "containers",
    "pause": "containers", "unpause": "containers", "container": "containers",
    "attach": "interactive", "exec": "interactive", "top": "interactive", "cp": "interactive",
    "diff": "interactive", "commit": "interactive", "export": "interactive",
    "port": "interactive", "update": "containers",
    # networks, volumes, stats and events, system
    "network": "networks", "volume": "volumes", "stats": "stats", "events": "stats",
    "system": "system", "connection": "connection", "tui": "dashboard", "build": "build", "builder": "build",
    "node": "node", "kube": "kube",
}


def _parser_class():
    """argparse's parser, but its formatters (made for every add_argument) take the terminal's
    width from os, not shutil, whose import (fnmatch, zlib, bz2, lzma) costs `berth run` 4 ms."""
    import argparse
    # argparse sends each of its messages through gettext, which looks for a catalogue on disk
    # at every call (70 calls and locale's import: 4 ms of `berth run`). Python ships none for
    # argparse, and berth's own messages are English: the messages stay as they are.
    argparse._ = lambda message: message
    argparse.ngettext = lambda singular, plural, n: singular if n == 1 else plural

    class Parser(argparse.ArgumentParser):
        def _get_formatter(self):
            return self.formatter_class(prog=self.prog, width=_columns() - 2)

    return Parser


def _columns() -> int:
    """The terminal's width as shutil.get_terminal_size gives it: $COLUMNS, stdout's, or 80."""
    try:
        columns = int(os.environ.get("COLUMNS", "0"))
    except ValueError:
        columns = 0
    if columns <= 0:
        try:
            columns = os.get_terminal_size(sys.__stdout__.fileno()).columns
        except (AttributeError, ValueError, OSError):
            columns = 0
    return columns or 80


def global_args(parser) -> None:
    """The options before the subcommand (argparse's, and tui/commands/fastparse.py's)."""
    parser.add_argument("--root", help="state directory (default $BERTH_ROOT or /var/lib/berth)")
    parser.add_argument("-H", "--host", help="the engine at this address: unix:///PATH, "
                        "tcp://HOST:PORT, ssh://USER@HOST[:PORT] (default: the local berth)")
    parser.add_argument("-c", "--connection", "--context", dest="connection",
                        help="the engine of this connection (berth connection ls)")
    parser.add_argument("--tls", action="store_true", help="tcp with TLS, no verification")
    parser.add_argument("--tlsverify", action="store_true", help="tcp with TLS, verified")
    for name in ("tlscacert", "tlscert", "tlskey"):
        parser.add_argument(f"--{name}", help=f"TLS {name[3:]} file (as docker's)")


def build_parser(only: str | None = None) -> argparse.ArgumentParser:
    parser = _parser_class()(
        prog="berth",
        description="Containers without a daemon. With no command, opens the dashboard.")
    global_args(parser)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    modules = [only] if only else sorted(set(COMMANDS.values()))
    for name in modules:
        try:
            module = importlib.import_module(f"tui.commands.{name}")
        except ModuleNotFoundError as e:
            if e.name != f"tui.commands.{name}":
                raise
            continue
        module.register(sub)
    return parser


# global options that take a value
_VALUED = ("--root", "-H", "--host", "-c", "--connection", "--context", "--tlscacert",
           "--tlscert", "--tlskey")


def _option_of(argv: list[str], *names: str) -> str | None:
    """The value of a global option (one of ``names``, before the subcommand) in argv."""
    it = iter(argv)
    for word in it:
        name, eq, value = word.partition("=")
        if eq and name in names and name.startswith("--"):
            return value
        if word in names:
            return next(it, None)
        if word in _VALUED:
            next(it, None)
        elif not word.startswith("-"):
            return None
    return None


def _root_of(argv: list[str]) -> str | None:
    """The --root option's value in argv (before the subcommand), if given."""
    return _option_of(argv, "--root")


def _dial_early(argv: list[str], command: str | None) -> None:
    """A command for an engine over ssh: its handshake starts now and runs while this
    process imports and parses (engine/client/transport.py dial_early)."""
    if command in ("connection", "node") or any(a in ("-h", "--help") for a in argv):
        return
    if command == "system" and _words_after(argv, "system")[:1] in (["dial-stdio"],
                                                                  ["service"]):
        return   # they serve this machine's berth, whatever the default connection is
    host = _option_of(argv, "-H", "--host")
    name = _option_of(argv, "-c", "--connection", "--context")
    if host is None and name is None:
        host, name = os.environ.get("BERTH_HOST", ""), os.environ.get("BERTH_CONNECTION", "")
    if host and not host.startswith("ssh://"):
        return
    if not (host or name):
        from engine.public import connections_file
        if not os.path.exists(connections_file()):
            return   # the local engine, unless a default connection says otherwise
    from engine.public import dial_early
    dial_early(host or "", name or "")


def _words_after(argv: list[str], command: str) -> list[str]:
    """argv's words after the subcommand ``command`` (after the global options)."""
    for i, word in enumerate(argv):
        if word == command and _command_of(argv[i:]) == command \
                and _command_of(argv[:i] + ["x"]) == "x":
            return argv[i + 1:]
    return []


def _launch_monitor_early(argv: list[str]) -> None:
    """``berth run``: the container's monitor boots while this process parses and creates
    (engine/runtime/process.py launch_early)."""
    if any(a in ("-h", "--help") for a in argv) or not _runs_here(argv):
        return
    from engine.public import launch_monitor_early
    try:
        launch_monitor_early(_root_of(argv), network=_joins_network(argv))
    except (OSError, ValueError):
        pass   # the start launches its own, and says what is wrong if that fails too


def _joins_network(argv: list[str]) -> bool:
    """A guess from the raw words (a hint for the monitor's imports, never a decision): false
    when a --network/--net of none, host or container:X comes before the image's name would."""
    for i, word in enumerate(argv):
        name, eq, value = word.partition("=")
        if name in ("--network", "--net"):
            mode = value if eq else (argv[i + 1] if i + 1 < len(argv) else "")
            return not (mode in ("none", "host") or mode.startswith("container:"))
    return True


def _runs_here(argv: list[str]) -> bool:
    """Whether the container will run on this machine's berth as root: not when -H, a
    connection (tui/commands/common.py get_engine) or rootless (the monitor must start inside
    the user's namespace, which the engine joins later) says otherwise."""
    if os.geteuid() != 0 or os.environ.get("BERTH_HOST") or os.environ.get("BERTH_CONNECTION"):
        return False
    for word in argv:
        if word.partition("=")[0] in _VALUED[1:]:
            return False
        if not word.startswith("-"):
            break
    from engine.public import connections_file
    return not os.path.exists(connections_file())


def _command_of(argv: list[str]) -> str | None:
    """The subcommand word in argv, skipping the global options."""
    it = iter(argv)
    for word in it:
        if word in _VALUED:
            next(it, None)
        elif word.startswith(tuple(f"{v}=" for v in _VALUED if v.startswith("--"))) \
                or word in ("--tls", "--tlsverify"):
            continue
        elif not word.startswith("-"):
            return word
        else:
            return None
    return None


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    command = _command_of(argv)
    if command is None and not any(a in ("-h", "--help") for a in argv):
        argv = [*argv, "tui"]
        command = "tui"
    if command == "run":
        _launch_monitor_early(argv)
        trace.mark("monitor launched (posix_spawn)")
    else:
        # the launcher turned the cycle collector off (tui/berth.in): its passes over what the
        # imports made cost `berth run` ~2.5 ms before its container runs (it is back on once
        # the container runs: containers.py _start_attached); every other command has it here
        import gc
        gc.enable()
    if command != "run" or not _runs_here(argv):
        _dial_early(argv, command)
    args = None
    if COMMANDS.get(command or "") in ("containers", "interactive") or command in ("pull", "system"):
        # the hot verbs' plain lines without argparse (its import and parser: ~15 ms)
        from tui.commands.fastparse import parse
        args = parse(argv, global_args)
    if args is None:
        parser = build_parser(COMMANDS.get(command) if command else None)
        args = parser.parse_args(argv)
    trace.mark("command module imported, argv parsed")
    if args.root:
        os.environ["BERTH_ROOT"] = args.root
    _target(args)
    if not getattr(args, "func", None):
        parser.print_help()
        return 0
    from engine.errors import BerthError
    try:
        code = args.func(args)
    except BerthError as e:
        print(f"berth: {e}", file=sys.stderr)
        return e.exit_code
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        # the reader went away (berth ps | head); not an error of berth's
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except OSError as e:
        # one that no edge of the engine named (those raise BerthErrors): still one line
        from engine.errors import os_error
        print(f"berth: {os_error(f'running berth {command}', e)}", file=sys.stderr)
        return 125
    finally:
        _warn_damaged()
    return code or 0


def _target(args) -> None:
    """-H and --connection (and the TLS flags) as the environment of this command and of the
    berth processes it starts (the dashboard's consoles), as DOCKER_HOST is docker's."""
    if args.host and args.connection:
        from engine.errors import InvalidArgument
        raise SystemExit(f"berth: {InvalidArgument('give -H or --connection, not both')}")
    if args.host:
        os.environ["BERTH_HOST"] = args.host
        os.environ.pop("BERTH_CONNECTION", None)
    elif args.connection:
        os.environ["BERTH_CONNECTION"] = args.connection
        os.environ.pop("BERTH_HOST", None)
    if args.tls or args.tlsverify:
        os.environ["BERTH_TLS"] = "verify" if args.tlsverify else "1"
    for name in ("tlscacert", "tlscert", "tlskey"):
        if getattr(args, name):
            os.environ[f"BERTH_{name.upper()}"] = os.path.abspath(getattr(args, name))


def _warn_damaged() -> None:
    """Name the records the command had to skip and the values it left out, once, after its
    output (as docker's WARNINGs)."""
    common = sys.modules.get("tui.commands.common")
    if common is not None:
        common.print_warnings()


def run() -> None:
    sys.exit(main())


if __name__ == "__main__":
    run()
