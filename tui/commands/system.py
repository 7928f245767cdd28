"""berth system df, prune, check and reset: disk use and clean-up across images, containers,
networks and volumes, printed as the docker CLI prints them; a root's soundness checked (and
repaired), or the whole root removed with what it made on the host (as podman's)."""

from __future__ import annotations

import time

from .common import get_engine, human_duration, print_json, print_table


def register(sub) -> None:
    system = sub.add_parser("system", help="disk use and clean-up")
    ssub = system.add_subparsers(dest="system_command", metavar="COMMAND")
    system.set_defaults(func=lambda args: (system.print_help(), 0)[1])

    p = ssub.add_parser("df", help="show disk use of images, containers and volumes")
    p.add_argument("-v", "--verbose", action="store_true", help="one line per object")
    p.add_argument("--format", help="'json' for the raw disk-use report, or a Go template "
                                    "('table {{.Type}}\\t{{.Size}}')")
    p.set_defaults(func=cmd_df)

    p = ssub.add_parser("prune", help="remove stopped containers, unused networks, dangling "
                                      "images (and unused volumes)")
    p.add_argument("-a", "--all", action="store_true",
                   help="remove every image no container uses, not only dangling ones")
    p.add_argument("--volumes", action="store_true", help="prune anonymous volumes too")
    p.add_argument("-f", "--force", action="store_true", help="do not ask for confirmation")
    p.set_defaults(func=cmd_prune)

    p = ssub.add_parser("check", help="find damaged records and leftovers of crashes (and "
                                      "repair them)")
    p.add_argument("--repair", action="store_true",
                   help="repair what was found (a container whose configuration is lost is "
                        "stopped and removed)")
    p.set_defaults(func=cmd_check)

    p = ssub.add_parser("reset", help="remove the root and everything berth made on the host "
                                      "for it")
    p.add_argument("-f", "--force", action="store_true", help="do not ask for confirmation")
    p.set_defaults(func=cmd_reset)

    p = ssub.add_parser("service", help="serve the Docker Engine API on a unix socket")
    p.add_argument("--socket", help="socket path (default docker.sock in the run directory)")
    p.add_argument("--timeout", default="0",
                   help="exit after this many seconds without a client (0: never)")
    p.add_argument("--max-body", default="4MiB",
                   help="largest JSON request body (default 4MiB); image loads and archives "
                        "stream and are not limited")
    p.add_argument("--header-timeout", default="10",
                   help="seconds a client has to send a request's headers (default 10)")
    p.add_argument("--idle-timeout", default="60",
                   help="seconds an idle keep-alive connection stays open (default 60)")
    p.set_defaults(func=cmd_service)

    p = ssub.add_parser("dial-stdio", help="serve the Docker Engine API on stdin/stdout "
                        "(what `ssh HOST berth system dial-stdio` runs for -H ssh://HOST)")
    p.set_defaults(func=cmd_dial_stdio)


def human_size(n: float) -> str:
    """docker's units.HumanSize: decimal units, 4 significant digits ('16.43MB', '0B')."""
    for unit in ("B", "kB", "MB", "GB", "TB"):
        if abs(n) < 1000 or unit == "TB":
            return f"{n:.4g}{unit}"
        n /= 1000
    return f"{n:.4g}PB"  # pragma: no cover


def _reclaimable(reclaimable: int, total: int) -> str:
    if total > 0:
        return f"{human_size(reclaimable)} ({reclaimable * 100 // total}%)"
    return human_size(reclaimable)


_ACTIVE = ("running", "paused", "restarting")


def summary_rows(df: dict) -> list[list[str]]:
    """TYPE TOTAL ACTIVE SIZE RECLAIMABLE, computed as the docker CLI computes them."""
    images, containers, volumes = df["Images"], df["Containers"], df["Volumes"]
    total = df.get("LayersSize", 0)
    used = sum(i["Size"] - i["SharedSize"] for i in images
               if i["Containers"] and i["Size"] >= 0 and i["SharedSize"] >= 0)
    c_size = sum(c["SizeRw"] for c in containers)
    c_reclaim = sum(c["SizeRw"] for c in containers if c["State"] not in _ACTIVE)
    v_size = sum(max(v["UsageData"]["Size"], 0) for v in volumes)
    v_reclaim = sum(max(v["UsageData"]["Size"], 0) for v in volumes
                    if v["UsageData"]["RefCount"] == 0)
    cache = df.get("BuildCache") or []
    b_size = sum(b["Size"] for b in cache)
    b_reclaim = sum(b["Size"] for b in cache if not b["InUse"] and not b["Shared"])
    return [
        ["Images", len(images), sum(1 for i in images if i["Containers"]),
         human_size(total), _reclaimable(total - used, total)],
        ["Containers", len(containers), sum(1 for c in containers if c["State"] in _ACTIVE),
         human_size(c_size), _reclaimable(c_reclaim, c_size)],
        ["Local Volumes", len(volumes), sum(1 for v in volumes if v["UsageData"]["RefCount"]),
         human_size(v_size), _reclaimable(v_reclaim, v_size)],
        ["Build Cache", len(cache), sum(1 for b in cache if b["InUse"]), human_size(b_size),
         human_size(b_reclaim)],
    ]


def _ago(epoch: int) -> str:
    return human_duration(time.time() - epoch) + " ago" if epoch else ""


def _split_tag(tag: str) -> tuple[str, str]:
    """(repository, tag) as ``docker images`` shows a stored reference."""
    try:
        from engine.public import split_tag
        return split_tag(tag)
    except Exception:  # noqa: BLE001 - a name the parser rejects is shown as stored
        repo, _, t = tag.rpartition(":")
        return (tag, "<none>") if "/" in t or not repo else (repo, t)


def _status(engine, row: dict) -> str:
    """Docker's STATUS words ('Exited (0) 3 minutes ago') for a container of the report."""
    try:
        from .containers_view import status_text
        return status_text(engine.container(row["Id"]))
    except Exception:  # noqa: BLE001 - removed meanwhile, or no container verbs built in
        return row["Status"]


DF_HEADER = {"Type": "TYPE", "TotalCount": "TOTAL", "Active": "ACTIVE", "Size": "SIZE",
             "Reclaimable": "RECLAIMABLE"}


def cmd_df(args) -> int:
    engine = get_engine()
    df = engine.system_df()
    if args.format == "json":
        print_json(df)
        return 0
    if args.format and args.format != "table":
        import sys

        from tui.gotemplate.docker import context, format_rows
        sys.stdout.write(format_rows(args.format, [context(
            "*formatter.diskUsageContext", {"Type": t, "TotalCount": str(n), "Active": str(a),
                                            "Size": size, "Reclaimable": r})
            for t, n, a, size, r in summary_rows(df)], DF_HEADER))
        return 0
    if not args.verbose:
        print_table(["TYPE", "TOTAL", "ACTIVE", "SIZE", "RECLAIMABLE"], summary_rows(df))
        return 0
    from .common import human_size as size3
    print("Images space usage:\n")
    rows = []
    for i in df["Images"]:
        tags = i["RepoTags"] or ["<none>:<none>"]
        for tag in tags:
            repo, t = ("<none>", "<none>") if tag == "<none>:<none>" else _split_tag(tag)
            rows.append([repo, t, i["Id"].partition(":")[2][:12], _ago(i["Created"]),
                         size3(i["Size"]), size3(i["SharedSize"]),
                         size3(i["Size"] - i["SharedSize"]), i["Containers"]])
    print_table(["REPOSITORY", "TAG", "IMAGE ID", "CREATED", "SIZE", "SHARED SIZE",
                 "UNIQUE SIZE", "CONTAINERS"], rows)
    print("\nContainers space usage:\n")
    rows = []
    for c in df["Containers"]:
        command = c["Command"]
        command = f'"{command[:17]}…"' if len(command) > 20 else f'"{command}"'
        local = sum(1 for m in c["Mounts"] if m["Type"] == "volume")
        names = ",".join(n.lstrip("/") for n in c["Names"])
        rows.append([c["Id"][:12], c["Image"], command, local, size3(c["SizeRw"]),
                     _ago(c["Created"]), _status(engine, c), names])
    print_table(["CONTAINER ID", "IMAGE", "COMMAND", "LOCAL VOLUMES", "SIZE", "CREATED",
                 "STATUS", "NAMES"], rows)
    print("\nLocal Volumes space usage:\n")
    print_table(["VOLUME NAME", "LINKS", "SIZE"],
                [[v["Name"], v["UsageData"]["RefCount"], size3(v["UsageData"]["Size"])]
                 for v in df["Volumes"]])
    from .common import parse_time

    def _epoch(rfc3339: str) -> int:
        return int(parse_time(rfc3339)) if rfc3339 else 0
    cache = df.get("BuildCache") or []
    print(f"\nBuild cache usage: {size3(sum(b['Size'] for b in cache))}\n")
    print_table(["CACHE ID", "CACHE TYPE", "SIZE", "CREATED", "LAST USED", "USAGE", "SHARED"],
                [[b["ID"], b["Type"], size3(b["Size"]), _ago(_epoch(b["CreatedAt"])),
                  _ago(_epoch(b["LastUsedAt"] or "")), b["UsageCount"], str(b["Shared"]).lower()]
                 for b in cache])
    return 0


def cmd_prune(args) -> int:
    from .volumes import confirm
    lines = ["WARNING! This will remove:", "  - all stopped containers",
             "  - all networks not used by at least one container"]
    if args.volumes:
        lines.append("  - all anonymous volumes not used by at least one container")
    lines.append("  - all images without at least one container associated to them" if args.all
                 else "  - all dangling images")
    lines.append("  - all build cache" if args.all else "  - unused build cache")
    if not args.force and not confirm("\n".join(lines) + "\n"):
        return 0
    report = get_engine().system_prune(all=args.all, volumes=args.volumes)
    for title, key in (("Deleted Containers", "ContainersDeleted"),
                       ("Deleted Networks", "NetworksDeleted"),
                       ("Deleted Volumes", "VolumesDeleted")):
        if report[key]:
            print(f"{title}:")
            for item in report[key]:
                print(item)
            print()
    if report["ImagesDeleted"]:
        print("Deleted Images:")
        for item in report["ImagesDeleted"]:
            for k, v in item.items():
                print(f"{k.lower()}: {v}")
        print()
    if report.get("CachesDeleted"):
        print("Deleted build cache objects:")
        for k in report["CachesDeleted"]:
            print(k[:25])
        print()
    print(f"Total reclaimed space: {human_size(report['SpaceReclaimed'])}")
    return 0


def _seconds(value: str, flag: str) -> float:
    import math
    from engine.errors import InvalidArgument
    try:
        n = float(value)
    except ValueError:
        n = math.nan
    if not (math.isfinite(n) and n >= 0):
        raise InvalidArgument(f'invalid argument "{value}" for "{flag}" flag: give a number of '
                              "seconds, 0 or more")
    return n


def cmd_check(args) -> int:
    """A table of what is wrong (and with --repair, whether it was repaired); exit 0 when the
    root is sound, 1 when something was found."""
    engine = get_engine()
    found = engine.system_check(repair=args.repair)
    engine.store.damaged.clear()   # the table names them: no warning line besides
    if not found:
        print(f"{engine.paths.root}: no problems found")
        return 0
    headers = ["KIND", "ID", "PROBLEM", "REPAIR"] + (["REPAIRED"] if args.repair else [])
    rows = []
    for f in found:
        row = [f.kind, f.id, f.problem, f.repair or "(nothing can be done)"]
        if args.repair:
            row.append("yes" if f.repaired else "no")
        rows.append(row)
    print_table(headers, rows)
    if not args.repair and any(f.repair for f in found):
        print("\nRun 'berth system check --repair' to repair them.")
    return 1


def cmd_reset(args) -> int:
    from .volumes import confirm
    engine = get_engine()
    if not args.force and not confirm(
            f"WARNING! This will remove every container, image, volume and network of "
            f"{engine.paths.root}, the root itself, and everything berth made on the host for "
            "it (monitors, cgroups, mounts, bridges, veths, its nftables table)."):
        return 0
    for line in engine.system_reset():
        print(f"removed {line}" if " kept: " not in line else line)
    return 0


def cmd_dial_stdio(args) -> int:
    import os
    from engine.errors import InvalidArgument
    if os.environ.get("BERTH_HOST") or os.environ.get("BERTH_CONNECTION"):
        raise InvalidArgument("dial-stdio serves this machine's berth: drop -H/--connection")
    from engine.public import dial_stdio
    return dial_stdio()


def cmd_service(args) -> int:
    from engine.public import ApiLimits as Limits, run_api_service as run_service
    from engine.errors import InvalidArgument
    from engine.options import parse_size
    max_body = parse_size(args.max_body, "--max-body")
    if max_body < 1024:
        raise InvalidArgument(f"--max-body {args.max_body} is too small for any request: give "
                              "at least 1KiB (the default is 4MiB)")
    limits = Limits(max_body, _seconds(args.header_timeout, "--header-timeout"),
                    _seconds(args.idle_timeout, "--idle-timeout"))
    return run_service(args.socket, _seconds(args.timeout, "--timeout"), limits)
