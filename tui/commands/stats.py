"""berth stats and berth events: live resource use as ``docker stats`` shows it, and the event log.

Plain text and ANSI redraws, no rich: ``berth stats`` is something people leave running.
"""

from __future__ import annotations

import argparse
import json
import sys
import time

from .common import get_engine, human_bytes_binary, human_size, print_table

HEADERS = ("CONTAINER ID", "NAME", "CPU %", "MEM USAGE / LIMIT", "MEM %", "NET I/O", "BLOCK I/O",
           "PIDS")
CLEAR = "\033[2J\033[H"


def register(sub) -> None:
    p = sub.add_parser("stats", help="live resource use of containers")
    p.add_argument("containers", nargs="*", metavar="CONTAINER")
    p.add_argument("-a", "--all", action="store_true",
                   help="show all containers (default shows just running)")
    p.add_argument("--no-stream", action="store_true",
                   help="print one reading and exit instead of redrawing every second")
    p.add_argument("--no-trunc", action="store_true", help="do not truncate ids")
    p.add_argument("--format", help="'json' for one JSON object per container, or a Go "
                                    "template ('table {{.Name}}\\t{{.CPUPerc}}')")
    p.add_argument("--interval", type=float, default=1.0, help=argparse.SUPPRESS)
    p.set_defaults(func=cmd_stats)

    p = sub.add_parser("events", help="show the event log and follow it live")
    p.add_argument("--since", help="events since a time: Unix time, RFC 3339 or a duration (10m)")
    p.add_argument("--until", help="events until a time (same forms); stop following then")
    p.add_argument("-f", "--filter", action="append", default=[], metavar="KEY=VALUE",
                   help="type=, event=, container=, image=, label=, network=, volume=")
    p.add_argument("--format", help="'json' for one JSON object per event, or a Go template "
                                    "('{{.Type}} {{.Action}} {{.Actor.ID}}')")
    p.set_defaults(func=cmd_events)


# --- stats --------------------------------------------------------------------------------------

def row(s, no_trunc: bool = False) -> list[str]:
    """One table row, formatted as docker stats formats it."""
    return [s.id if no_trunc else s.id[:12], s.name,
            f"{s.cpu_percent:.2f}%",
            f"{human_bytes_binary(s.memory_usage)} / {human_bytes_binary(s.memory_limit)}",
            f"{s.memory_percent:.2f}%",
            f"{human_size(s.net_rx)} / {human_size(s.net_tx)}",
            f"{human_size(s.block_read)} / {human_size(s.block_write)}",
            str(s.pids)]


def as_json(s, no_trunc: bool = False) -> dict:
    """The object docker stats --format json prints."""
    r = row(s, no_trunc)
    return {"BlockIO": r[6], "CPUPerc": r[2], "Container": r[0], "ID": r[0], "MemPerc": r[4],
            "MemUsage": r[3], "Name": s.name, "NetIO": r[5], "PIDs": r[7]}


def host_line(totals: dict) -> str:
    return (f"HOST  CPU {totals['cpu_percent']:.1f}% of {totals['cpus']}   "
            f"MEM {human_bytes_binary(totals['memory_used'])} / "
            f"{human_bytes_binary(totals['memory_total'])}   "
            f"LOAD {totals['load1']:.2f} {totals['load5']:.2f} {totals['load15']:.2f}")


# the column names of docker's stats table formats, by field
STATS_HEADER = {"Container": "CONTAINER", "Name": "NAME", "ID": "CONTAINER ID",
                "CPUPerc": "CPU %", "MemUsage": "MEM USAGE / LIMIT", "MemPerc": "MEM %",
                "NetIO": "NET I/O", "BlockIO": "BLOCK I/O", "PIDs": "PIDS"}


def render(samples, args, out) -> None:
    if args.format not in (None, "json", "table"):
        from tui.gotemplate.docker import context, format_rows
        out.write(format_rows(args.format, [context("*container.statsContext",
                                                    as_json(s, args.no_trunc))
                                            for s in samples], STATS_HEADER))
    elif args.format == "json":
        for s in samples:
            out.write(json.dumps(as_json(s, args.no_trunc), separators=(",", ":")) + "\n")
    else:
        print_table(HEADERS, [row(s, args.no_trunc) for s in samples], out)


def cmd_stats(args) -> int:
    engine = get_engine()
    out = sys.stdout
    if args.format not in (None, "json", "table"):
        from tui.gotemplate.docker import template
        template(args.format)   # a template that does not parse is refused before any output
    if args.no_stream:
        render(engine.stats_once(args.containers or None, all=args.all), args, out)
        return 0
    redraw = out.isatty() and args.format != "json"
    try:
        for samples in engine.iter_stats(args.containers or None, interval=args.interval,
                                         all=args.all):
            if redraw:
                out.write(CLEAR + host_line(engine.host_totals()) + "\n\n")
            render(samples, args, out)
            out.flush()
    except KeyboardInterrupt:
        pass
    return 0


# --- events -------------------------------------------------------------------------------------

def event_attrs(ev) -> str:
    """An event's attributes as Docker prints them after its id: " (k=v, k=v)", or nothing."""
    attrs = ", ".join(f"{k}={v}" for k, v in sorted(ev.attributes.items()))
    return f" ({attrs})" if attrs else ""


def event_line(ev) -> str:
    """Docker's plain form: time, type, action, id and the attributes in parentheses."""
    from engine.clock import now_rfc3339
    return f"{now_rfc3339(ev.time)} {ev.type} {ev.action} {ev.id}{event_attrs(ev)}"


def event_json(ev) -> dict:
    """The object docker events --format json prints."""
    nanos = int(round(ev.time * 1e9))
    out = {}
    if ev.type == "container":   # the deprecated fields come first in docker's struct
        out.update(status=ev.action, id=ev.id, **({"from": ev.attributes["image"]}
                                                  if "image" in ev.attributes else {}))
    out.update({"Type": ev.type, "Action": ev.action,
                "Actor": {"ID": ev.id, "Attributes": dict(sorted(ev.attributes.items()))},
                "scope": "local", "time": nanos // 1_000_000_000, "timeNano": nanos})
    return out


def cmd_events(args) -> int:
    from engine.public import parse_event_filters as parse_filters, parse_timestamp
    engine = get_engine()
    filters = parse_filters(args.filter)
    since = parse_timestamp(args.since) if args.since else None
    until = parse_timestamp(args.until) if args.until else None
    fmt = (lambda ev: json.dumps(event_json(ev), separators=(",", ":"))) \
        if args.format == "json" else event_line
    if args.format and args.format != "json":
        fmt = _event_template(args.format)
    out = sys.stdout
    if until is not None and until <= time.time():
        for ev in engine.events(since, until, filters):
            out.write(fmt(ev) + "\n")
        return 0
    try:
        for ev in engine.iter_events(since, filters, until=until):
            out.write(fmt(ev) + "\n")
            out.flush()
    except KeyboardInterrupt:
        pass
    return 0


def _event_template(text: str):
    """Each event through a Go template, as docker's events.Message (no table, no \\t: docker
    runs an events format as it is)."""
    from tui.gotemplate import ExecError, Struct
    from tui.gotemplate.docker import TYPED, FormatError, template
    tmpl = template(text)

    def line(ev) -> str:
        j = event_json(ev)
        actor = Struct("events.Actor", {"ID": ev.id, "Attributes": dict(ev.attributes)})
        msg = Struct("*events.Message", {
            "Status": j.get("status", ""), "ID": j.get("id", ""), "From": j.get("from", ""),
            "Type": ev.type, "Action": ev.action, "Actor": actor, "Scope": "local",
            "Time": j["time"], "TimeNano": j["timeNano"]}, json=j)
        try:
            return tmpl.execute(msg, TYPED)
        except ExecError as e:
            raise FormatError(f"template parsing error: {e}") from None
    return line
