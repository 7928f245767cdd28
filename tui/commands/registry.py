"""berth pull, push, login, logout, search: the registry verbs, drawn as the docker CLI draws
them (per-layer progress lines on a terminal, plain status lines otherwise)."""

from __future__ import annotations

import sys

from .common import get_engine, print_table


def register(sub) -> None:
    p = sub.add_parser("pull", help="download an image from a registry")
    pull_args(p)
    p.set_defaults(func=cmd_pull)

    p = sub.add_parser("push", help="upload an image to a registry")
    p.add_argument("ref", metavar="NAME[:TAG]")
    p.add_argument("destination", nargs="?", metavar="DESTINATION",
                   help="where to push it instead of NAME's own registry (as podman push)")
    p.add_argument("-q", "--quiet", action="store_true", help="print only the digest")
    _tls(p)
    p.set_defaults(func=cmd_push)

    p = sub.add_parser("login", help="save credentials for a registry")
    p.add_argument("server", nargs="?", default="docker.io", metavar="SERVER")
    p.add_argument("-u", "--username")
    p.add_argument("-p", "--password")
    p.add_argument("--password-stdin", action="store_true", help="read the password from stdin")
    _tls(p)
    p.set_defaults(func=cmd_login)

    p = sub.add_parser("logout", help="forget the credentials of a registry")
    p.add_argument("server", nargs="?", default="docker.io", metavar="SERVER")
    p.set_defaults(func=cmd_logout)

    p = sub.add_parser("search", help="search a registry's catalog")
    p.add_argument("term", metavar="[REGISTRY/]TERM")
    p.add_argument("--limit", default="25")
    p.add_argument("--registry", help="registry to search (default: the term's prefix or "
                                      "Docker Hub)")
    p.add_argument("--no-trunc", action="store_true")
    _tls(p)
    p.set_defaults(func=cmd_search)


def pull_args(p) -> None:
    """pull's arguments (argparse's, and tui/commands/fastparse.py's)."""
    p.add_argument("ref", metavar="NAME[:TAG|@DIGEST]")
    p.add_argument("-q", "--quiet", action="store_true", help="print only the image name")
    p.add_argument("-a", "--all-tags", action="store_true", help="pull every tag of the repository")
    p.add_argument("--platform", help="os/arch[/variant] to pull from a multi-platform image")
    _tls(p)


def _tls(p) -> None:
    p.add_argument("--tls-verify", default="true", nargs="?", const="true",
                   choices=("true", "false"),
                   help="--tls-verify=false allows plain http and skips certificate checks")


def _verify(args) -> bool:
    return args.tls_verify == "true"


# --- progress, as docker draws it -------------------------------------------------------

def human_size(n: float) -> str:
    """docker's units.HumanSize: decimal units, 4 significant digits ('1.234MB')."""
    for unit in ("B", "kB", "MB", "GB", "TB"):
        if abs(n) < 1000 or unit == "TB":
            return f"{n:.4g}{unit}"
        n /= 1000
    return f"{n:.4g}PB"  # pragma: no cover


def progress_line(msg: dict) -> str:
    """One docker progress line: 'abc123: Downloading [====>   ]  1.2MB/3.4MB'."""
    status = msg.get("status", "")
    detail = msg.get("progressDetail") or {}
    text = status
    cur, total = detail.get("current"), detail.get("total")
    if cur is not None:
        if total:
            # docker's JSONProgress: percent / 2 '=' signs, a '>', padding to 51 columns
            n = min(int(cur * 100 / total) // 2, 50)
            bar = "=" * n + ">" + " " * (50 - n)
            text = f"{status} [{bar}] {human_size(cur):>8}/{human_size(total)}"
        else:
            text = f"{status} {human_size(cur):>8}"
    return f"{msg['id']}: {text}" if msg.get("id") else text


class ProgressView:
    """Draws Docker's JSON progress messages: on a terminal one line per layer, rewritten in
    place with ANSI cursor moves; elsewhere a line per status change and no byte counts."""

    def __init__(self, out=None, tty: bool | None = None):
        self.out = out or sys.stdout
        self.tty = self.out.isatty() if tty is None else tty
        self.order: list[str] = []
        self.last: dict[str, str] = {}

    def __call__(self, msg: dict) -> None:
        ident = msg.get("id")
        line = progress_line(msg)
        if not self.tty:
            if "progressDetail" in msg:
                return
            if ident and self.last.get(ident) == msg.get("status"):
                return
            if ident:
                self.last[ident] = msg.get("status", "")
            self.out.write(line + "\n")
            self.out.flush()
            return
        if not ident or msg.get("status", "").startswith("Pulling from"):
            # header and summary lines are written once, never redrawn
            self.out.write(line + "\n")
            self.out.flush()
            return
        if ident not in self.order:
            self.order.append(ident)
            self.out.write(line + "\n")
        else:
            up = len(self.order) - self.order.index(ident)
            self.out.write(f"\x1b[{up}A\r\x1b[2K{line}\x1b[{up}B\r")
        self.out.flush()


# --- commands ---------------------------------------------------------------------------

def cmd_pull(args) -> int:
    from engine.public import parse_repo_ref
    given = parse_repo_ref(args.ref, default_tag=False)
    if not (given.tag or given.digest or args.all_tags or args.quiet):
        print("Using default tag: latest", flush=True)
    engine = get_engine()
    view = None if args.quiet else ProgressView()
    engine.pull_sync(args.ref, platform=args.platform, progress=view, all_tags=args.all_tags,
                     tls_verify=_verify(args))
    r = parse_repo_ref(args.ref, default_tag=not args.all_tags)
    print(r.name if args.all_tags else str(r))
    return 0


def cmd_push(args) -> int:
    engine = get_engine()
    view = None if args.quiet else ProgressView()
    digest = engine.push_sync(args.ref, progress=view, tls_verify=_verify(args),
                              destination=args.destination)
    if args.quiet:
        print(digest)
    return 0


def cmd_login(args) -> int:
    from engine.errors import InvalidArgument
    username, password = args.username, args.password
    if args.password_stdin:
        if password:
            raise InvalidArgument("--password and --password-stdin are mutually exclusive")
        if not username:
            raise InvalidArgument("--password-stdin needs --username")
        password = sys.stdin.read().rstrip("\r\n")
    elif password:
        print("WARNING! Using --password via the CLI is insecure. Use --password-stdin.",
              file=sys.stderr)
    if not username:
        if not sys.stdin.isatty():
            raise InvalidArgument("no username: give -u USER (stdin is not a terminal)")
        username = input("Username: ").strip()
    if not password:
        if not sys.stdin.isatty():
            raise InvalidArgument("no password: give --password-stdin or -p (stdin is not a "
                                  "terminal)")
        import getpass
        password = getpass.getpass("Password: ")
    get_engine().login(args.server, username, password, tls_verify=_verify(args))
    print("Login Succeeded")
    return 0


def cmd_logout(args) -> int:
    from engine.errors import NotFound
    from engine.public import registry_key
    try:
        get_engine().logout(args.server)
    except NotFound:
        print(f"Not logged in to {registry_key(args.server)}")
        return 0
    print(f"Removing login credentials for {registry_key(args.server)}")
    return 0


def cmd_search(args) -> int:
    from engine.options import parse_int
    limit = parse_int(args.limit, "--limit", 1, 100)
    results = get_engine().search_sync(args.term, registry=args.registry, limit=limit,
                                       tls_verify=_verify(args))
    rows = []
    for r in results:
        desc = r.get("description") or ""
        if not args.no_trunc and len(desc) > 45:
            desc = desc[:44] + "…"
        rows.append([r["name"], desc, r.get("star_count", 0),
                     "[OK]" if r.get("is_official") else ""])
    print_table(["NAME", "DESCRIPTION", "STARS", "OFFICIAL"], rows)
    return 0
