"""`berth tui [--theme NAME]` (and `berth` with no command): open the dashboard."""

from __future__ import annotations


def register(sub) -> None:
    p = sub.add_parser("tui", help="open the dashboard (the default with no command)")
    p.add_argument("--theme", help="colour theme: berth-dark (default), berth-light, "
                                   "berth-contrast, or any Textual theme")
    p.set_defaults(func=cmd_tui)


def cmd_tui(args) -> int:
    from engine import Engine

    from ..app import BerthApp
    from ..config import load
    app = BerthApp(Engine(), theme=args.theme, config=load())
    app.run()
    return app.return_code or 0
