"""`berth tui [--theme NAME]` (and `berth` with no command): open the dashboard."""

from __future__ import annotations


def register(sub) -> None:
    p = sub.add_parser("tui", help="open the dashboard (the default with no command)")
    p.add_argument("--theme", help="colour theme: berth-dark (default), berth-light, "
                                   "berth-contrast, or any Textual theme")
    p.set_defaults(func=cmd_tui)


# How long a lone ESC waits for the rest of an escape sequence before it is the Escape key.
# Textual's 100 ms is felt in vi inside the exec console; 25 ms (what ncurses programs are
# usually given) still keeps a sequence whole on anything but a very slow link.
ESCDELAY_MS = "25"


def cmd_tui(args) -> int:
    import os
    import sys
    if not (sys.stdin.isatty() and sys.stdout.isatty()):
        # textual would draw into a pipe and spin reading a file that never answers
        print("berth: the dashboard needs a terminal (stdin and stdout are not one); in a "
              "script use the subcommands: berth ps, berth run, berth --help", file=sys.stderr)
        return 1
    os.environ.setdefault("ESCDELAY", ESCDELAY_MS)   # read when textual is imported
    from .common import get_engine
    engine = get_engine()
    # a host that can't be reached is one line here, not a blank screen
    engine.version() if getattr(engine, "kube", False) else engine.engine_info()

    from ..config import load
    from ..hosts import HostsApp
    app = HostsApp(engine, getattr(engine, "name", "local"), theme=args.theme, config=load())
    app.run()
    return app.return_code or 0
