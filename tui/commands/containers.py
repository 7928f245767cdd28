"""Container subcommands: create, run, start, stop, kill, restart, rm, ps, logs, wait, inspect,
rename, pause, unpause and ``container <verb>``. Each parses, calls Engine, prints as Docker does.

attach, exec, top, cp, diff, commit and export are in interactive.py, which also serves the
terminal of ``run -it`` and ``start -ai``; update (limits, restart policy) is here too; port is
added by later work. The flags of run, create and update, and the ContainerConfig they
describe, are in run_flags.py.
"""

from __future__ import annotations

import os
import sys

from .common import get_engine
from .fastparse import SUPPRESS
from .run_flags import build_config, int_flags, run_args, update_args

VERBS = ("create", "run", "start", "stop", "kill", "restart", "rm", "ps", "logs", "wait",
         "inspect", "rename", "pause", "unpause", "update")


def register(sub) -> None:
    wanted = _invoked()
    if wanted in VERBS:
        # `berth run …` (start, stop, …): the one verb the command line names is all argparse
        # needs; the 30 other parsers cost `berth run` 3 ms (`berth --help` builds them all)
        _add(sub, wanted)
        return
    for verb in VERBS:
        _add(sub, verb, full=wanted in (None, verb))
    container = sub.add_parser("container", help="manage containers")
    csub = container.add_subparsers(dest="container_command", metavar="COMMAND")
    for verb in VERBS:
        _add(csub, verb, full=wanted in (None, "container"))
    for alias in ("ls", "list"):
        _add(csub, "ps", name=alias, full=wanted in (None, "container"))
    if wanted in (None, "container"):
        # `container exec|attach|cp|top|port|...`: the verbs interactive.py owns, as Docker's
        # `docker container` has them
        from . import interactive
        interactive.register(csub)
    prune = csub.add_parser("prune", help="remove all stopped containers")
    prune.add_argument("-f", "--force", action="store_true", help="do not prompt for confirmation")
    prune.set_defaults(func=cmd_prune)


def _invoked() -> str | None:
    """The verb of this command line when it is one of ours, so only its arguments are built
    (the run flags alone take milliseconds); None builds them all."""
    from tui.cli import _command_of
    verb = _command_of(sys.argv[1:])
    return verb if verb in (*VERBS, "container") else None


def _add(sub, verb: str, name: str | None = None, full: bool = True) -> None:
    # no -h for help: run and create use -h for --hostname, as Docker does
    p = sub.add_parser(name or verb, help=HELP[verb], add_help=False)
    p.add_argument("--help", action="help", help="show this help")
    if full:
        ARGS[verb](p)
    p.set_defaults(func=globals()[f"cmd_{verb}"])


# --- create and run -----------------------------------------------------------------------------

def _warn_resources(engine, res) -> None:
    """Docker's "WARNING: …" lines for limits this host can't apply (checked only when a
    limit that may be unsupported is set: it costs a look at the cgroup mounts)."""
    if not (res.memory_reservation or res.oom_kill_disable or res.blkio_weight
            or res.blkio_weight_device or res.device_read_bps or res.device_write_bps
            or res.device_read_iops or res.device_write_iops):
        return
    for w in engine.resource_warnings(res):
        print(f"WARNING: {w}", file=sys.stderr)


def cmd_create(args) -> int:
    engine = get_engine(containers_only=True)
    config, ep = build_config(args)
    _warn_resources(engine, config.resources)
    c = engine.create(config, args.name, entrypoint_set=ep)
    print(c.id)
    return 0


def cmd_run(args) -> int:
    from engine.errors import BerthError
    from engine.public import trace
    engine = get_engine(containers_only=True)
    config, ep = build_config(args)
    _warn_resources(engine, config.resources)
    trace.mark("engine loaded, config built from flags")
    if args.detach:   # the early monitor, if any, is told no one attaches (take_early)
        print(engine.run(config, args.name, entrypoint_set=ep).id)
        return 0
    if args.tty or args.interactive:
        from .interactive import check_tty, _detach_keys
        check_tty(args.tty, args.interactive)
        _detach_keys(args.detach_keys)
    try:
        code = _start_attached(engine, None, sig_proxy=args.sig_proxy != "false" and not args.tty,
                               create=(config, args.name, ep), tty=args.tty,
                               stdin=args.interactive, detach_keys=args.detach_keys)
    except BerthError as e:
        print(f"berth: {e}", file=sys.stderr)
        code = e.exit_code
    # the container has exited and (with --rm) is gone: skip the interpreter's teardown of
    # everything loaded, which is most of what remains of a short run's time
    from .common import print_warnings
    print_warnings()
    sys.stdout.flush()
    sys.stderr.flush()
    trace.mark("exit")
    os._exit(code)


def _start_attached(engine, cid: str | None, sig_proxy: bool = True, create=None,
                    tty: bool = False, stdin: bool = False, detach_keys: str = "") -> int:
    """Start (or, given ``create`` = (config, name, entrypoint_set), create and start) with the
    output streamed from the monitor's first byte; the container's exit code (0 when the user
    detached). ``tty``/``stdin``: serve the user's terminal (interactive.stream)."""
    import _socket  # socket.py costs 3 ms here and adds nothing a socketpair needs
    import _signal as signal  # signal.py's enum costs 1 ms; the constants and signal() are here
    from engine.public import early_monitor_socket, frames
    # `berth run`'s monitor was launched at our first instruction with this pair (cli.py)
    early = early_monitor_socket() if create is not None else None
    mine, theirs = early or _socket.socketpair(_socket.AF_UNIX, _socket.SOCK_STREAM)

    def forward(signum, _frame):
        try:
            mine.sendall(frames.encode(frames.SIGNAL, str(signum).encode()))
        except OSError:
            pass

    if sig_proxy:
        for s in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT, signal.SIGUSR1,
                  signal.SIGUSR2):
            signal.signal(s, forward)
    size = None
    if tty:
        from .interactive import console_size
        size = console_size()
    try:
        if create is not None:
            config, name, ep = create
            engine.run(config, name, entrypoint_set=ep, attach_fd=theirs.fileno(),
                       console_size=size)
        else:
            engine.start(cid, attach_fd=theirs.fileno(), console_size=size)
    except BaseException:
        theirs.close()
        _drain(mine.fileno())  # with --rm the monitor removes the container before it closes
        raise
    theirs.close()
    import gc
    # off while `berth run` started (cli.py main): on for the output's relay, over what the
    # relay makes. What the start made lives until we exit; never traversed (~1 ms each pass)
    gc.freeze()
    gc.enable()
    if tty or stdin:
        from .interactive import stream
        return stream(mine.fileno(), tty, stdin, detach_keys, sig_proxy=sig_proxy)
    return _stream(mine.fileno())


def _drain(fd: int) -> int | None:
    from engine.public import frames
    code = None
    for kind, payload in frames.read_frames(fd):
        if kind == frames.EXIT:
            code = int(payload)
    return code


def _stream(fd: int) -> int:
    from engine.public import frames
    out, err = sys.stdout.buffer, sys.stderr.buffer
    sys.stdout.flush()
    for kind, payload in frames.read_frames(fd):
        if kind == frames.STDOUT:
            out.write(payload)
            out.flush()
        elif kind == frames.STDERR:
            err.write(payload)
            err.flush()
        elif kind == frames.EXIT:
            from engine.public import trace
            trace.mark("waited for the exit code (EXIT frame)")
            return int(payload)
    return 125


# --- start, stop, kill, restart, pause, rm ------------------------------------------------------

def _refs(p, many: bool = True) -> None:
    p.add_argument("containers", nargs="+" if many else None, metavar="CONTAINER")


def _each(args, fn, quiet: bool = False) -> int:
    """``fn`` on every named container, in parallel as docker's CLI does (parallel.py): each
    name printed as it completes, in the order given; the failures after them, in that order
    too, as docker prints them; the exit code is the first failure's."""
    from .parallel import each, naming
    failures = []
    for ref, error in each(args.containers, fn):
        if error is None:
            if not quiet:
                print(ref, flush=True)
        else:
            failures.append((ref, error))
    for ref, e in failures:
        message = naming(ref, e) if len(args.containers) > 1 else str(e)
        print(f"berth: {message}", file=sys.stderr)
    return failures[0][1].exit_code if failures else 0


def cmd_start(args) -> int:
    engine = get_engine()
    if args.attach:
        if len(args.containers) != 1:
            from engine.errors import InvalidArgument
            raise InvalidArgument("you cannot start and attach multiple containers at once")
        c = engine.container(args.containers[0])
        stdin = args.interactive and c.config.open_stdin
        if c.running:
            from .interactive import cmd_attach
            args.container, args.no_stdin, args.sig_proxy = c.id, not stdin, "true"
            return cmd_attach(args)
        if stdin or c.config.tty:
            from .interactive import check_tty
            check_tty(c.config.tty, stdin)
        return _start_attached(engine, c.id, sig_proxy=not c.config.tty, tty=c.config.tty,
                               stdin=stdin, detach_keys=args.detach_keys or c.config.detach_keys)
    return _each(args, engine.start)


def _time(args) -> int | None:
    from engine.options import parse_int
    return None if args.time is None else parse_int(args.time, "--time")


def cmd_stop(args) -> int:
    engine = get_engine()
    timeout = _time(args)
    return _each(args, lambda r: engine.stop(r, timeout))


def cmd_restart(args) -> int:
    engine = get_engine()
    timeout = _time(args)
    return _each(args, lambda r: engine.restart(r, timeout))


def cmd_kill(args) -> int:
    engine = get_engine()
    return _each(args, lambda r: engine.kill(r, args.signal))


def cmd_pause(args) -> int:
    return _each(args, get_engine().pause)


def cmd_unpause(args) -> int:
    return _each(args, get_engine().unpause)


def cmd_rm(args) -> int:
    engine = get_engine()
    return _each(args, lambda r: engine.remove(r, force=args.force, volumes=args.volumes))


def cmd_wait(args) -> int:
    engine = get_engine()
    from engine.errors import BerthError
    code = 0
    for ref in args.containers:
        try:
            print(engine.wait(ref, args.condition), flush=True)
        except BerthError as e:
            print(f"berth: {e}", file=sys.stderr)
            code = e.exit_code
    return code


def cmd_rename(args) -> int:
    get_engine().rename(args.container, args.new_name)
    return 0


def cmd_prune(args) -> int:
    from .common import human_size
    if not args.force:
        try:
            answer = input("WARNING! This will remove all stopped containers.\n"
                           "Are you sure you want to continue? [y/N] ")
        except EOFError:
            answer = ""
        if answer.strip().lower() not in ("y", "yes"):
            return 0
    ids, size = get_engine().prune_containers()
    if ids:
        print("Deleted Containers:")
        for i in ids:
            print(i)
        print()
    print(f"Total reclaimed space: {human_size(size)}")
    return 0


# --- ps, logs, inspect ----------------------------------------------------------------------------

def cmd_ps(args) -> int:
    from engine.public import parse_filters
    from .containers_view import ps_rows, render_ps
    engine = get_engine()
    if getattr(engine, "kube", False):   # a cluster: what runs there are its pods
        from .kube import print_pods
        return print_pods(engine)
    filters = parse_filters(args.filter)
    if args.last is not None:
        from engine.options import parse_int
        args.last = parse_int(args.last, "--last")
    containers = engine.containers(all=args.all or args.last is not None or args.latest,
                                   filters=filters or None)
    if args.latest:
        containers = containers[:1]
    elif args.last is not None:
        containers = containers[:args.last]
    if args.quiet:
        for c in containers:
            print(c.id if args.no_trunc else c.short_id)
        return 0
    from .containers_view import wants_size
    sized = args.size or wants_size(args.format)
    render_ps(ps_rows(containers, args.no_trunc, engine.container_size if sized else None),
              args.format, size=args.size)
    return 0


def cmd_logs(args) -> int:
    from engine.public import parse_since
    engine = get_engine()
    from engine.options import parse_int
    tail = None if args.tail in ("all", "", None) else parse_int(args.tail, "--tail")
    tail = None if tail is not None and tail < 0 else tail   # Docker: a negative tail is all
    since = parse_since(args.since) if args.since else None
    until = parse_since(args.until) if args.until else None
    out, err = sys.stdout, sys.stderr
    for line in engine.logs(args.container, follow=args.follow, tail=tail, since=since,
                            until=until):
        stream = out if line.stream == "stdout" else err
        stream.write(f"{line.time} {line.text}" if args.timestamps else line.text)
        stream.flush()
    return 0


def cmd_inspect(args) -> int:
    from engine.errors import NotFound
    from .common import print_json
    engine = get_engine()
    results, code = [], 0
    for ref in args.containers:
        try:
            if args.type in (None, "container"):
                results.append(engine.container_inspect(ref, size=getattr(args, "size", False)))
                continue
        except NotFound:
            if args.type == "container":
                print(f"berth: No such container: {ref}", file=sys.stderr)
                code = 1
                continue
        try:
            results.append(engine.image_inspect(ref))
        except (NotFound, AttributeError):
            print(f"berth: No such object: {ref}", file=sys.stderr)
            code = 1
    if args.format:
        from tui.gotemplate.docker import format_inspect
        sys.stdout.write(format_inspect(args.format, results))
    else:
        print_json(results)
    return code


# --- arguments ----------------------------------------------------------------------------------

def _ps_args(p):
    p.add_argument("-a", "--all", action="store_true", help="show all containers")
    p.add_argument("-q", "--quiet", action="store_true", help="only ids")
    p.add_argument("-n", "--last", default=None, help="the n last created")
    p.add_argument("-l", "--latest", action="store_true", help="the last created")
    p.add_argument("-f", "--filter", action="append", default=[], help="key=value")
    p.add_argument("--format", default="", help="table, json or a Go-style template")
    p.add_argument("--no-trunc", action="store_true")
    p.add_argument("-s", "--size", action="store_true")


def _logs_args(p):
    p.add_argument("-f", "--follow", action="store_true")
    p.add_argument("-n", "--tail", default="all")
    p.add_argument("--since", default="")
    p.add_argument("--until", default="")
    p.add_argument("-t", "--timestamps", action="store_true")
    p.add_argument("--details", action="store_true")
    p.add_argument("container")


def _stop_args(p):
    p.add_argument("-t", "--time", "--timeout", default=None,
                   help="seconds to wait before killing")
    p.add_argument("-s", "--signal", default=None, help=SUPPRESS)
    _refs(p)


def _kill_args(p):
    p.add_argument("-s", "--signal", default="SIGKILL")
    _refs(p)


def _rm_args(p):
    p.add_argument("-f", "--force", action="store_true", help="kill a running container first")
    p.add_argument("-v", "--volumes", action="store_true", help="remove its anonymous volumes")
    p.add_argument("-l", "--link", action="store_true", help=SUPPRESS)
    _refs(p)


def _start_args(p):
    p.add_argument("-a", "--attach", action="store_true", help="stream the output")
    p.add_argument("-i", "--interactive", action="store_true")
    p.add_argument("--detach-keys", default="")
    _refs(p)


def _wait_args(p):
    p.add_argument("--condition", default="not-running", help=SUPPRESS)
    _refs(p)


def _rename_args(p):
    p.add_argument("container")
    p.add_argument("new_name")


def _inspect_args(p):
    p.add_argument("-f", "--format", default="")
    p.add_argument("--type", default=None)
    p.add_argument("-s", "--size", action="store_true")
    _refs(p)


# --- update ---------------------------------------------------------------------------------------

def cmd_update(args) -> int:
    """``berth update``: new limits for running and stopped containers, as docker update."""
    from engine import options
    from engine.errors import InvalidArgument
    if args.kernel_memory:
        from engine.resource_options import KERNEL_MEMORY_REFUSED
        raise InvalidArgument(KERNEL_MEMORY_REFUSED)
    changes = {
        "memory": options.parse_size(args.memory, "--memory") if args.memory else 0,
        "memory_reservation": (options.parse_size(args.memory_reservation,
                                                  "--memory-reservation")
                               if args.memory_reservation else 0),
        "memory_swap": (-1 if str(args.memory_swap).strip() == "-1"
                        else options.parse_size(args.memory_swap, "--memory-swap"))
        if args.memory_swap else 0,
        "nano_cpus": options.parse_cpus(args.cpus) if args.cpus else 0,
        "cpuset_cpus": args.cpuset_cpus, "cpuset_mems": args.cpuset_mems,
        "pids_limit": options.parse_pids_limit(args.pids_limit) if args.pids_limit else 0,
        **int_flags(args),
    }
    changes = {k: v for k, v in changes.items() if v}
    restart = options.parse_restart(args.restart) if args.restart else None
    if not changes and restart is None:
        raise InvalidArgument("you must provide one or more flags when using this command")
    engine = get_engine()
    code = _each(args, lambda r: engine.update(r, changes, restart))
    if code == 0 and (changes.get("blkio_weight") or changes.get("memory_reservation")):
        for w in engine.resource_warnings(changes):
            print(f"WARNING: {w}", file=sys.stderr)
    return code


ARGS = {"create": lambda p: run_args(p, run=False), "run": run_args, "start": _start_args,
        "stop": _stop_args, "kill": _kill_args, "restart": _stop_args, "rm": _rm_args,
        "ps": _ps_args, "logs": _logs_args, "wait": _wait_args, "inspect": _inspect_args,
        "rename": _rename_args, "pause": _refs, "unpause": _refs,
        "update": lambda p: (update_args(p), _refs(p))}
HELP = {"create": "create a container", "run": "create and start a container",
        "start": "start containers", "stop": "stop containers", "kill": "kill containers",
        "restart": "restart containers", "rm": "remove containers", "ps": "list containers",
        "logs": "show a container's logs", "wait": "wait for containers to stop; print codes",
        "inspect": "low-level information", "rename": "rename a container",
        "pause": "freeze containers", "unpause": "thaw containers",
        "update": "change the resource limits of containers"}
