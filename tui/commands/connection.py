"""``berth connection add|ls|rm|use``: named engines (podman's verbs), beside docker's contexts,
DOCKER_HOST and CONTAINER_HOST, which ``ls`` lists too. ``berth --connection NAME …`` (or
``-c``) works on one; ``use`` makes one the default (``use local``: this machine again)."""

from __future__ import annotations

import sys

from .common import print_table


def register(sub) -> None:
    p = sub.add_parser("connection", help="engines on other hosts: add, ls, rm, use")
    csub = p.add_subparsers(dest="connection_command", metavar="COMMAND")
    a = csub.add_parser("add", help="name an engine: unix:///PATH, tcp://HOST:PORT, "
                        "ssh://USER@HOST[:PORT], or a Kubernetes cluster: kube://CONTEXT")
    a.add_argument("name")
    a.add_argument("url")
    a.add_argument("--identity", default="", help="ssh private key")
    a.add_argument("--kubeconfig", default="", help="kube://: the kubeconfig holding the "
                   "context (default: $KUBECONFIG, else ~/.kube/config, as kubectl)")
    a.add_argument("-d", "--default", action="store_true", help="make it the default")
    a.set_defaults(func=cmd_add)
    for alias in ("ls", "list"):
        ls = csub.add_parser(alias, help="the connections, docker's contexts and the environment's")
        ls.add_argument("--format", default="", help="json, or a Go-style template")
        ls.set_defaults(func=cmd_ls)
    for alias in ("rm", "remove"):
        r = csub.add_parser(alias, help="forget connections")
        r.add_argument("names", nargs="+", metavar="NAME")
        r.set_defaults(func=cmd_rm)
    u = csub.add_parser("use", help="the connection commands work on by default")
    u.add_argument("name")
    u.set_defaults(func=cmd_use)
    p.set_defaults(func=lambda args: (p.print_help(), 0)[1])


def cmd_add(args) -> int:
    from engine import connections
    connections.add(args.name, args.url, args.identity, args.default, args.kubeconfig)
    return 0


def cmd_ls(args) -> int:
    from engine import connections
    default = connections.default_name()
    rows = [{"Name": c.name, "URI": c.url or "(this machine)",
             "Identity": c.identity or c.kubeconfig, "Source": c.source,
             "Default": c.name == default}
            for c in connections.all_connections()]
    if args.format == "json":
        from .common import print_json
        print_json(rows)
    elif args.format:
        from tui.gotemplate.docker import format_inspect
        sys.stdout.write(format_inspect(args.format, rows))
    else:
        print_table(["NAME", "URI", "IDENTITY", "SOURCE", "DEFAULT"],
                    [[r["Name"], r["URI"], r["Identity"], r["Source"],
                      "true" if r["Default"] else "false"] for r in rows])
    return 0


def cmd_rm(args) -> int:
    from engine import connections
    for name in args.names:
        connections.remove(name)
    return 0


def cmd_use(args) -> int:
    from engine import connections
    connections.use(args.name)
    return 0
