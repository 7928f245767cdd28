"""berth network create, ls, inspect, rm, prune, connect, disconnect, printed as docker prints them."""

from __future__ import annotations

import sys

from .common import get_engine, print_json, print_table


def register(sub) -> None:
    net = sub.add_parser("network", help="manage networks")
    nsub = net.add_subparsers(dest="network_command", metavar="COMMAND")
    net.set_defaults(func=lambda args: (net.print_help(), 0)[1])

    p = nsub.add_parser("create", help="create a bridge network")
    p.add_argument("name", metavar="NETWORK")
    p.add_argument("-d", "--driver", default="bridge", help="only bridge is supported")
    p.add_argument("--subnet", action="append", default=[],
                   help="CIDR, e.g. 10.90.0.0/24 (default: the next free /16 of "
                        "10.88.0.0-10.127.0.0); again with an IPv6 one (fd00::/8) for --ipv6")
    p.add_argument("--gateway", action="append", default=[],
                   help="the bridge's address (default: the subnet's first)")
    p.add_argument("--ipv6", action="store_true", help="an IPv6 subnet too (fd00::/8)")
    p.add_argument("-o", "--opt", action="append", default=[], metavar="KEY=VALUE",
                   help="driver option (com.docker.network.driver.mtu=N)")
    p.add_argument("--ip-range", help="allocate container addresses from this part of the subnet")
    p.add_argument("--internal", action="store_true", help="no traffic in or out of the network")
    p.add_argument("--label", action="append", default=[], metavar="KEY=VALUE")
    p.set_defaults(func=cmd_create)

    p = nsub.add_parser("ls", aliases=["list"], help="list networks")
    p.add_argument("-q", "--quiet", action="store_true", help="only ids")
    p.add_argument("--no-trunc", action="store_true")
    p.add_argument("-f", "--filter", action="append", default=[], metavar="KEY=VALUE",
                   help="name=, id=, driver=, label=KEY[=VALUE]")
    p.add_argument("--format", help="Go-style template, e.g. '{{.Name}}'")
    p.set_defaults(func=cmd_ls)

    p = nsub.add_parser("inspect", help="show networks as JSON")
    p.add_argument("names", nargs="+", metavar="NETWORK")
    p.add_argument("-f", "--format", help="Go-style template, e.g. '{{.IPAM.Config}}'")
    p.set_defaults(func=cmd_inspect)

    p = nsub.add_parser("rm", aliases=["remove"], help="remove networks")
    p.add_argument("names", nargs="+", metavar="NETWORK")
    p.add_argument("-f", "--force", action="store_true", help="no error when a network is missing")
    p.set_defaults(func=cmd_rm)

    p = nsub.add_parser("prune", help="remove every network no container uses")
    p.add_argument("-f", "--force", action="store_true", help="do not ask")
    p.set_defaults(func=cmd_prune)

    p = nsub.add_parser("connect", help="connect a container to a network")
    p.add_argument("network", metavar="NETWORK")
    p.add_argument("container", metavar="CONTAINER")
    p.add_argument("--ip", help="IPv4 address on the network")
    p.add_argument("--alias", action="append", default=[], help="another name on the network")
    p.set_defaults(func=cmd_connect)

    p = nsub.add_parser("disconnect", help="disconnect a container from a network")
    p.add_argument("network", metavar="NETWORK")
    p.add_argument("container", metavar="CONTAINER")
    p.add_argument("-f", "--force", action="store_true")
    p.set_defaults(func=cmd_disconnect)


def _labels(items: list[str]) -> dict[str, str]:
    out = {}
    for item in items:
        k, _, v = item.partition("=")
        out[k] = v
    return out


def _by_family(values: list[str], flag: str) -> tuple[str | None, str | None]:
    """(the IPv4 value, the IPv6 one) of a flag given once per family, as docker's is."""
    from engine.errors import InvalidArgument
    v4 = [v for v in values if ":" not in v]
    v6 = [v for v in values if ":" in v]
    if len(v4) > 1 or len(v6) > 1:
        raise InvalidArgument(f"{flag} may be given once for IPv4 and once for IPv6")
    return (v4[0] if v4 else None), (v6[0] if v6 else None)


def cmd_create(args) -> int:
    from engine.errors import InvalidArgument
    if args.driver != "bridge":
        raise InvalidArgument(f"network driver {args.driver} is not supported; berth makes bridge "
                              "networks")
    subnet, subnet6 = _by_family(args.subnet, "--subnet")
    gateway, gateway6 = _by_family(args.gateway, "--gateway")
    net = get_engine().create_network(args.name, subnet=subnet, gateway=gateway,
                                      ip_range=args.ip_range, internal=args.internal,
                                      labels=_labels(args.label), options=_labels(args.opt),
                                      ipv6=args.ipv6, subnet6=subnet6, gateway6=gateway6)
    print(net.id)
    return 0


def _matches(net, filters: list[str]) -> bool:
    for f in filters:
        key, _, value = f.partition("=")
        if key == "name" and value not in net.name:
            return False
        if key == "id" and not net.id.startswith(value):
            return False
        if key == "driver" and net.driver != value:
            return False
        if key == "label":
            k, eq, v = value.partition("=")
            if k not in net.labels or (eq and net.labels[k] != v):
                return False
        if key == "type":
            custom = net.name not in ("bridge", "host", "none")
            if (value == "custom") != custom:
                return False
    return True


# the column names of docker's network ls table formats, by field
LS_HEADER = {"ID": "NETWORK ID", "Name": "NAME", "Driver": "DRIVER", "Scope": "SCOPE",
             "IPv4": "IPV4", "IPv6": "IPV6", "Internal": "INTERNAL", "Labels": "LABELS",
             "CreatedAt": "CREATED AT"}


def cmd_ls(args) -> int:
    nets = [n for n in get_engine().networks() if _matches(n, args.filter)]
    ids = [n.id if args.no_trunc else n.id[:12] for n in nets]
    if args.quiet:
        for i in ids:
            print(i)
        return 0
    if args.format and args.format != "table":
        from tui.gotemplate.docker import context, format_rows, go_time
        sys.stdout.write(format_rows(args.format, [context("*network.networkContext", {
            "CreatedAt": go_time(n.created), "Driver": n.driver, "ID": i,
            "IPv4": "true", "IPv6": str(bool(getattr(n, "ipv6", False))).lower(),
            "Internal": str(n.internal).lower(),
            "Labels": ",".join(sorted(f"{k}={v}" for k, v in n.labels.items())),
            "Name": n.name, "Scope": "local"}, n.labels) for n, i in zip(nets, ids)],
            LS_HEADER))
        return 0
    print_table(["NETWORK ID", "NAME", "DRIVER", "SCOPE"],
                [(i, n.name, n.driver, "local") for n, i in zip(nets, ids)])
    return 0


def cmd_inspect(args) -> int:
    from engine.errors import BerthError
    engine = get_engine()
    out, code = [], 0
    for name in args.names:
        try:
            out.append(engine.network_inspect(name))
        except BerthError as e:
            print(f"Error: {e}", file=sys.stderr)
            code = 1
    if args.format:
        from tui.gotemplate.docker import format_inspect
        sys.stdout.write(format_inspect(args.format, out))
    else:
        print_json(out)
    return code


def cmd_rm(args) -> int:
    from engine.errors import BerthError, NotFound
    engine = get_engine()
    code = 0
    for name in args.names:
        try:
            engine.remove_network(name)
            print(name)
        except NotFound as e:
            if not args.force:
                print(f"Error: {e}", file=sys.stderr)
                code = 1
        except BerthError as e:
            print(f"Error response: {e}", file=sys.stderr)
            code = 1
    return code


def cmd_prune(args) -> int:
    if not args.force:
        sys.stdout.write("WARNING! This will remove all custom networks not used by at least "
                         "one container.\nAre you sure you want to continue? [y/N] ")
        sys.stdout.flush()
        if sys.stdin.readline().strip().lower() not in ("y", "yes"):
            return 0
    removed = get_engine().prune_networks()
    if removed:
        print("Deleted Networks:")
        for name in removed:
            print(name)
    return 0


def cmd_connect(args) -> int:
    get_engine().connect(args.network, args.container, ip=args.ip, aliases=args.alias)
    return 0


def cmd_disconnect(args) -> int:
    get_engine().disconnect(args.network, args.container, force=args.force)
    return 0
