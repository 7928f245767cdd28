"""The berth command line: Docker-style subcommands over the same Engine as the dashboard.

Only the module that owns the subcommand being run is imported (``berth ps`` loads neither
textual nor rich nor pyroute2); ``berth --help`` loads them all. Each module in
``tui/commands`` has ``register(subparsers)`` that adds its subcommands with
``set_defaults(func=handler)``; a handler takes the parsed args and returns an exit code.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys

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
}


def build_parser(only: str | None = None) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="berth",
        description="Containers without a daemon. With no command, opens the dashboard.")
    parser.add_argument("--root", help="state directory (default $BERTH_ROOT or /var/lib/berth)")
    parser.add_argument("-H", "--host", help="the engine at this address: unix:///PATH, "
                        "tcp://HOST:PORT, ssh://USER@HOST[:PORT] (default: the local berth)")
    parser.add_argument("-c", "--connection", "--context", dest="connection",
                        help="the engine of this connection (berth connection ls)")
    parser.add_argument("--tls", action="store_true", help="tcp with TLS, no verification")
    parser.add_argument("--tlsverify", action="store_true", help="tcp with TLS, verified")
    for name in ("tlscacert", "tlscert", "tlskey"):
        parser.add_argument(f"--{name}", help=f"TLS {name[3:]} file (as docker's)")
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
    parser = build_parser(COMMANDS.get(command) if command else None)
    args = parser.parse_args(argv)
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
