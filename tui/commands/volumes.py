"""berth volume create, ls, inspect, rm, prune: the volume verbs, printed as the docker CLI does."""

from __future__ import annotations

import argparse
import sys

from .common import get_engine, print_json, print_table


def register(sub) -> None:
    vol = sub.add_parser("volume", help="manage volumes")
    vsub = vol.add_subparsers(dest="volume_command", metavar="COMMAND")
    vol.set_defaults(func=lambda args: (vol.print_help(), 0)[1])

    p = vsub.add_parser("create", help="create a volume")
    p.add_argument("name", nargs="?", metavar="VOLUME")
    p.add_argument("--name", dest="name_opt", help=argparse.SUPPRESS)
    p.add_argument("-d", "--driver", default="local", help="volume driver (only local)")
    p.add_argument("--label", action="append", default=[], metavar="KEY=VALUE",
                   help="set metadata on the volume")
    p.add_argument("-o", "--opt", action="append", default=[], metavar="KEY=VALUE",
                   help="driver options: type=, device=, o= (mount a device as the volume)")
    p.set_defaults(func=cmd_create)

    for name in ("ls", "list"):
        p = vsub.add_parser(name, help="list volumes")
        p.add_argument("-q", "--quiet", action="store_true", help="only display volume names")
        p.add_argument("-f", "--filter", action="append", default=[], metavar="KEY=VALUE",
                       help="dangling=true|false, name=, label=KEY[=VALUE], driver=")
        p.add_argument("--format", help="'{{.Name}}'-style template or 'json'")
        p.set_defaults(func=cmd_ls)

    p = vsub.add_parser("inspect", help="show volumes in detail (JSON)")
    p.add_argument("names", nargs="+", metavar="VOLUME")
    p.add_argument("-f", "--format", help="'{{.Mountpoint}}'-style template")
    p.set_defaults(func=cmd_inspect)

    for name in ("rm", "remove"):
        p = vsub.add_parser(name, help="remove volumes")
        p.add_argument("names", nargs="+", metavar="VOLUME")
        p.add_argument("-f", "--force", action="store_true",
                       help="remove a volume that a stopped container still references")
        p.set_defaults(func=cmd_rm)

    p = vsub.add_parser("prune", help="remove volumes no container uses")
    p.add_argument("-a", "--all", action="store_true",
                   help="named volumes too, not only anonymous ones")
    p.add_argument("-f", "--force", action="store_true", help="do not ask for confirmation")
    p.add_argument("--filter", action="append", default=[], metavar="KEY=VALUE",
                   help="label=KEY[=VALUE], label!=KEY[=VALUE]")
    p.set_defaults(func=cmd_prune)


def parse_pairs(items: list[str], what: str) -> dict[str, str]:
    """KEY=VALUE flags into a dict (a bare KEY means an empty value, as Docker's labels)."""
    out = {}
    for item in items:
        key, _, value = item.partition("=")
        if not key:
            from engine.errors import InvalidArgument
            raise InvalidArgument(f"invalid {what} '{item}': use KEY=VALUE")
        out[key] = value
    return out


def parse_filters(items: list[str]) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for item in items:
        key, eq, value = item.partition("=")
        if not eq:
            from engine.errors import InvalidArgument
            raise InvalidArgument(f"bad format of filter (expected name=value): {item}")
        # "label!=x" keeps its "!" in the key, as Docker's filter args do
        out.setdefault(key.strip(), []).append(value)
    return out


def cmd_create(args) -> int:
    from engine.errors import InvalidArgument
    if args.driver != "local":
        raise InvalidArgument(f'volume driver "{args.driver}" is not supported: berth has only '
                              'the "local" driver')
    name = args.name or args.name_opt
    if args.name and args.name_opt and args.name != args.name_opt:
        raise InvalidArgument("conflicting options: either specify --name or provide "
                              "positional arg, not both")
    vol = get_engine().create_volume(name, labels=parse_pairs(args.label, "label"),
                                     options=parse_pairs(args.opt, "option"))
    print(vol.name)
    return 0


# the column names of docker's volume ls table formats, by field
LS_HEADER = {"Name": "VOLUME NAME", "Group": "GROUP", "Driver": "DRIVER", "Scope": "SCOPE",
             "Availability": "AVAILABILITY", "Mountpoint": "MOUNTPOINT", "Labels": "LABELS",
             "Links": "LINKS", "Size": "SIZE", "Status": "STATUS"}


def _ls_row(vol):
    """A volume as docker's volume ls formats see it (its volumeContext)."""
    from tui.gotemplate.docker import context
    return context("*formatter.volumeContext", {
        "Availability": "N/A", "Driver": vol.driver, "Group": "N/A",
        "Labels": ",".join(f"{k}={v}" for k, v in sorted(vol.labels.items())), "Links": "N/A",
        "Mountpoint": vol.mountpoint, "Name": vol.name, "Scope": "local", "Size": "N/A",
        "Status": "N/A"}, vol.labels)


def cmd_ls(args) -> int:
    vols = get_engine().volumes(parse_filters(args.filter))
    vols.sort(key=lambda v: v.name)
    if args.quiet:
        for v in vols:
            print(v.name)
    elif args.format and args.format != "table":
        from tui.gotemplate.docker import format_rows
        sys.stdout.write(format_rows(args.format, [_ls_row(v) for v in vols], LS_HEADER))
    else:
        print_table(["DRIVER", "VOLUME NAME"], [[v.driver, v.name] for v in vols])
    return 0


def cmd_inspect(args) -> int:
    from engine.errors import NotFound
    engine = get_engine()
    found, code = [], 0
    for name in args.names:
        try:
            found.append(engine.volume_inspect(name))
        except NotFound as e:
            print(f"berth: {e}", file=sys.stderr)
            code = 1
    if args.format:
        from tui.gotemplate.docker import format_inspect
        sys.stdout.write(format_inspect(args.format, found))
    else:
        print_json(found)
    return code


def cmd_rm(args) -> int:
    from engine.errors import BerthError
    engine = get_engine()
    code = 0
    for name in args.names:
        try:
            engine.remove_volume(name, force=args.force)
            print(name)
        except BerthError as e:
            print(f"berth: {e}", file=sys.stderr)
            code = 1
    return code


def confirm(prompt: str) -> bool:
    """Ask on the terminal as the docker CLI does; anything but y/yes is no."""
    sys.stdout.write(f"{prompt}\nAre you sure you want to continue? [y/N] ")
    sys.stdout.flush()
    answer = sys.stdin.readline().strip().lower()
    return answer in ("y", "yes")


def cmd_prune(args) -> int:
    from .system import human_size
    what = "all" if args.all else "anonymous"
    if not args.force and not confirm(
            f"WARNING! This will remove {what} local volumes not used by at least one container."):
        return 0
    names, reclaimed = get_engine().prune_volumes(all=args.all,
                                                  filters=parse_filters(args.filter))
    if names:
        print("Deleted Volumes:")
        for n in names:
            print(n)
        print()
    print(f"Total reclaimed space: {human_size(reclaimed)}")
    return 0
