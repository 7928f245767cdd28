"""berth node run: this host as a Kubernetes node whose pods run as berth containers
(engine/kube/agent.py). It runs until SIGTERM or ctrl-c; the pods' containers keep running
without it, and a later ``node run`` adopts them."""

from __future__ import annotations

import os


def register(sub) -> None:
    node = sub.add_parser("node", help="run this host as a Kubernetes node")
    nsub = node.add_subparsers(dest="node_command", metavar="COMMAND")
    node.set_defaults(func=lambda args: (node.print_help(), 0)[1])
    p = nsub.add_parser("run", help="register as a node and run the pods bound to it")
    p.add_argument("--kubeconfig", default=os.environ.get("KUBECONFIG", ""),
                   help="the cluster and credentials (default $KUBECONFIG)")
    p.add_argument("--context", help="the kubeconfig's context (default its current-context)")
    p.add_argument("--name", default="", help="the Node's name (default this host's name)")
    p.add_argument("--address", default="127.0.0.1",
                   help="the node's InternalIP, where the API server reaches it")
    p.add_argument("--port", type=int, default=10250,
                   help="the kubelet API's port (0: any free one)")
    p.add_argument("--tls-cert-file", default="",
                   help="the kubelet API's certificate (default: one made for the node)")
    p.add_argument("--tls-private-key-file", default="", help="its key")
    p.add_argument("--label", action="append", default=[], metavar="KEY=VALUE",
                   help="a label of the Node (repeatable)")
    p.add_argument("--taint", action="append", default=[], metavar="KEY[=VALUE]:EFFECT",
                   help="a taint of the Node (repeatable)")
    p.add_argument("--service-cidr", default="",
                   help="the cluster's Service range, its API server's "
                        "--service-cluster-ip-range (default 10.0.0.0/24, that flag's default)")
    p.set_defaults(func=cmd_run)


def cmd_run(args) -> int:
    import signal
    import socket
    import threading

    from engine.public import run_node
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    run_node(args.kubeconfig, (args.name or socket.gethostname()).lower(), args.context,
             args.address, args.port, args.label, args.taint, stop,
             (args.tls_cert_file, args.tls_private_key_file), args.service_cidr)
    return 0
