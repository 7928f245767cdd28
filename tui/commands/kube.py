"""``berth kube pods|deployments|events|logs|exec|scale|delete`` on a Kubernetes connection
(``berth connection add NAME kube://CONTEXT``), with kubectl's columns, so that what a kubectl
user reads is what they already know; ``berth --connection NAME ps`` on a cluster prints the
pods as ``kubectl get pods -A -o wide`` does (what runs there, as ps lists what runs here)."""

from __future__ import annotations

import os
import sys

from .common import print_table


def register(sub) -> None:
    k = sub.add_parser("kube", help="a Kubernetes connection's pods, deployments, events, "
                       "logs, exec, scale, delete")
    ksub = k.add_subparsers(dest="kube_command", metavar="COMMAND")
    k.set_defaults(func=lambda args: (k.print_help(), 0)[1])
    for names, fn, what in ((("pods", "po"), cmd_pods, "the pods"),
                            (("deployments", "deploy"), cmd_deployments, "the deployments"),
                            (("events", "ev"), cmd_events, "the events, oldest first")):
        for alias in names:
            p = ksub.add_parser(alias, help=what)
            p.add_argument("-n", "--namespace", default="", help="one namespace (default: all)")
            p.set_defaults(func=fn)
    lg = ksub.add_parser("logs", help="a pod's logs")
    lg.add_argument("pod")
    lg.add_argument("-n", "--namespace", default="")
    lg.add_argument("-c", "--container", default="")
    lg.add_argument("-f", "--follow", action="store_true")
    lg.add_argument("--tail", type=int, default=None)
    lg.set_defaults(func=cmd_logs)
    ex = ksub.add_parser("exec", help="run a command in a pod (WebSocket, through the API "
                         "server)")
    ex.add_argument("-n", "--namespace", default="")
    ex.add_argument("-c", "--container", default="")
    ex.add_argument("-i", "--interactive", action="store_true")
    ex.add_argument("-t", "--tty", action="store_true")
    ex.add_argument("pod")
    ex.add_argument("command", nargs="+")
    ex.set_defaults(func=cmd_exec)
    sc = ksub.add_parser("scale", help="set a deployment's replicas")
    sc.add_argument("deployment")
    sc.add_argument("--replicas", type=int, required=True)
    sc.add_argument("-n", "--namespace", default="")
    sc.set_defaults(func=cmd_scale)
    rm = ksub.add_parser("delete", help="delete pods or deployments: pod/NAME, deployment/NAME")
    rm.add_argument("objects", nargs="+", metavar="KIND/NAME")
    rm.add_argument("-n", "--namespace", default="")
    rm.set_defaults(func=cmd_delete)


def cluster():
    """The connection's cluster, or a one-line refusal when it is a container engine."""
    from engine.errors import InvalidArgument
    from .common import get_engine
    found = get_engine()
    if not getattr(found, "kube", False):
        raise InvalidArgument("this is a Kubernetes verb: give a kube:// connection "
                              "(berth --connection NAME kube …; berth connection add NAME "
                              "kube://CONTEXT adds one)")
    return found


def _namespace(c, args) -> str:
    return args.namespace or c.config.namespace


def print_pods(c, namespace: str = "") -> int:
    from engine.public import kube_views as v
    pods = sorted(c.list("pods", namespace), key=lambda p: v.pod_columns(p)["namespace"] +
                  "/" + v.pod_columns(p)["name"])
    rows = [v.pod_columns(p) for p in pods]
    print_table(["NAMESPACE", "NAME", "READY", "STATUS", "RESTARTS", "AGE", "IP", "NODE"],
                [[r["namespace"], r["name"], r["ready"], r["status"], r["restarts"], r["age"],
                  r["ip"] or "<none>", r["node"] or "<none>"] for r in rows])
    return 0


def cmd_pods(args) -> int:
    return print_pods(cluster(), args.namespace)


def cmd_deployments(args) -> int:
    from engine.public import kube_views as v
    rows = sorted((v.deployment_columns(d) for d in cluster().list("deployments",
                                                                   args.namespace)),
                  key=lambda r: (r["namespace"], r["name"]))
    print_table(["NAMESPACE", "NAME", "READY", "UP-TO-DATE", "AVAILABLE", "AGE"],
                [[r["namespace"], r["name"], r["ready"], r["up_to_date"], r["available"],
                  r["age"]] for r in rows])
    return 0


def cmd_events(args) -> int:
    from engine.public import kube_views as v
    events = cluster().list("events", args.namespace)
    events.sort(key=v.event_time)
    rows = [v.event_columns(e) for e in events]
    print_table(["NAMESPACE", "LAST SEEN", "TYPE", "REASON", "OBJECT", "MESSAGE"],
                [[r["namespace"], r["last_seen"], r["type"], r["reason"], r["object"],
                  r["message"]] for r in rows])
    return 0


def cmd_logs(args) -> int:
    c = cluster()
    ref = f"{_namespace(c, args)}/{args.pod}"
    try:
        for line in c.logs(ref, follow=args.follow, tail=args.tail, container=args.container):
            sys.stdout.write(line.text)
            sys.stdout.flush()
    except KeyboardInterrupt:
        pass
    return 0


def cmd_scale(args) -> int:
    c = cluster()
    c.scale(_namespace(c, args), args.deployment, args.replicas)
    print(f"deployment/{args.deployment} scaled")
    return 0


def cmd_delete(args) -> int:
    from engine.errors import InvalidArgument
    c = cluster()
    ns = _namespace(c, args)
    for obj in args.objects:
        kind, _, name = obj.partition("/")
        if kind in ("pod", "pods", "po") and name:
            c.delete_pod(ns, name)
        elif kind in ("deployment", "deployments", "deploy") and name:
            c.delete_deployment(ns, name)
        else:
            raise InvalidArgument(f"{obj!r}: give pod/NAME or deployment/NAME")
        print(f"{kind}/{name} deleted")
    return 0


def cmd_exec(args) -> int:
    from engine.public import kube_exec
    from .interactive import check_tty, console_size
    check_tty(args.tty, args.interactive)
    c = cluster()
    session = kube_exec.open_exec(c, _namespace(c, args), args.pod, args.command,
                                  args.container, stdin=args.interactive, tty=args.tty)
    return relay(session, args.tty, args.interactive, console_size)


def relay(session, tty: bool, stdin: bool, console_size) -> int:
    """The exec on this terminal until its command ends (its exit code): output from a reader
    thread, input and resizes from here."""
    import select
    import signal
    import threading
    from engine.public import kube_exec, pty
    from .interactive import _Wakeup, _write_all
    done_r, done_w = os.pipe()

    def read() -> None:
        while True:
            got = session.recv()
            if got is None:
                break
            channel, data = got
            _write_all(2 if channel == kube_exec.ws.STDERR else 1, data)
        os.write(done_w, b"x")
    threading.Thread(target=read, daemon=True).start()
    old = pty.raw_mode(0) if tty and stdin and os.isatty(0) else None
    wake = _Wakeup([signal.SIGWINCH]) if tty else None
    try:
        if tty and console_size():
            session.resize(*console_size())
        reading = stdin
        while True:
            fds = [done_r] + ([0] if reading else []) + ([wake.r] if wake else [])
            try:
                ready, _, _ = select.select(fds, [], [])
            except InterruptedError:  # pragma: no cover - PEP 475 retries
                continue
            if done_r in ready:
                break
            if wake and wake.r in ready:
                wake.drain()
                if console_size():
                    session.resize(*console_size())
            if 0 in ready:
                data = os.read(0, 65536)
                if not data:
                    reading = False
                    session.close_stdin()
                else:
                    session.send(data)
    finally:
        if wake:
            wake.close()
        pty.restore_mode(0, old)
        session.close()
        os.close(done_r)   # (the reader's end stays for a reader still writing)
    return session.exit_code or 0
