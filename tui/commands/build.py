"""berth build and berth builder prune: images from Dockerfiles, printed as the docker CLI's
classic builder prints them (``Step 3/9 : …``, the RUN's output, `` ---> Using cache``,
``Successfully built``), and the build cache's clean-up."""

from __future__ import annotations

import os
import sys

from .common import get_engine


def register(sub) -> None:
    _build(sub.add_parser(
        "build", help="build an image from a Dockerfile",
        description="Build an image from a Dockerfile and a context: a directory, a tar on "
                    "stdin (-), or a tar or git URL. Every step runs in an ordinary berth "
                    "container; unchanged steps come from the build cache."))
    b = sub.add_parser("builder", help="manage the build cache")
    bsub = b.add_subparsers(dest="builder_command", metavar="COMMAND")
    _build(bsub.add_parser("build", help="build an image from a Dockerfile"))
    p = bsub.add_parser("prune", help="remove build cache")
    p.add_argument("-a", "--all", action="store_true",
                   help="remove all build cache, not just what no image shares")
    p.add_argument("-f", "--force", action="store_true", help="do not ask for confirmation")
    p.add_argument("--filter", action="append", default=[], help="accepted for docker's "
                   "compatibility (until=…); berth prunes by image use only")
    p.set_defaults(func=cmd_builder_prune)
    b.set_defaults(func=lambda a: b.print_help() or 0)


def _build(p) -> None:
    p.add_argument("context", metavar="PATH | URL | -",
                   help="the build context: a directory, - for a tar (or a Dockerfile) on "
                        "stdin, or an http(s) or git URL")
    p.add_argument("-t", "--tag", action="append", default=[], metavar="NAME[:TAG]",
                   help="name the image (several allowed)")
    p.add_argument("-f", "--file", metavar="PATH",
                   help="the Dockerfile (default PATH/Dockerfile; - reads it from stdin)")
    p.add_argument("--build-arg", action="append", default=[], metavar="NAME[=VALUE]",
                   help="set a build-time variable (NAME alone takes it from the environment)")
    p.add_argument("--target", default="", help="the build stage to stop at")
    p.add_argument("--no-cache", action="store_true", help="do not use the build cache")
    p.add_argument("--pull", action="store_true", help="always pull the base images")
    p.add_argument("--label", action="append", default=[], metavar="KEY=VALUE",
                   help="set a label on the image")
    p.add_argument("--network", default="default",
                   help="the network of RUN steps: default, none or host")
    p.add_argument("-q", "--quiet", action="store_true",
                   help="print only the image id when it succeeds")
    p.add_argument("--iidfile", metavar="FILE", help="write the image id to FILE")
    p.add_argument("--platform", default=os.environ.get("DOCKER_DEFAULT_PLATFORM", ""),
                   help="only this machine's platform can be built")
    p.add_argument("--cache-from", action="append", default=[], metavar="IMAGE",
                   help="a local image to take cached steps from")
    p.add_argument("--add-host", action="append", default=[], metavar="HOST:IP",
                   help="a custom host-to-IP mapping for RUN steps")
    p.add_argument("--rm", default="true", nargs="?", const="true", metavar="BOOL",
                   help="remove intermediate containers (berth always does)")
    p.add_argument("--force-rm", action="store_true",
                   help="remove intermediate containers even when a step fails (berth always "
                        "does)")
    p.set_defaults(func=cmd_build)


def _pairs(items: list[str], flag: str, from_env: bool = False) -> dict[str, str]:
    from engine.errors import InvalidArgument
    out = {}
    for item in items:
        key, eq, value = item.partition("=")
        if not key:
            raise InvalidArgument(f"invalid {flag} {item!r}: use KEY=VALUE")
        if not eq:
            if not from_env:
                value = ""
            elif key in os.environ:
                value = os.environ[key]
            else:
                continue   # docker leaves an unset variable out
        out[key] = value
    return out


def options_from(args):
    """The BuildOptions the flags ask for (InvalidArgument for a bad one)."""
    from engine.public import BuildOptions, check_platform
    from engine.errors import InvalidArgument
    check_platform(args.platform)
    if args.network not in ("default", "none", "host", "bridge"):
        raise InvalidArgument(f"--network {args.network}: a build's RUN steps can use default, "
                              "none or host")
    for h in args.add_host:
        if ":" not in h:
            raise InvalidArgument(f"invalid --add-host {h!r}: use HOST:IP")
    return BuildOptions(
        tags=list(args.tag), build_args=_pairs(args.build_arg, "--build-arg", True),
        target=args.target, no_cache=args.no_cache, pull=args.pull,
        labels=_pairs(args.label, "--label"), network=args.network, quiet=args.quiet,
        platform=args.platform, cache_from=list(args.cache_from),
        extra_hosts=list(args.add_host), rm=args.rm.lower() not in ("false", "0"),
        force_rm=args.force_rm)


def cmd_build(args) -> int:
    import signal
    import tempfile
    import threading
    from engine.public import render_build_event as render
    from engine.errors import BuildError
    options = options_from(args)
    engine = get_engine()
    # a remote engine's context is made here before it is sent: the system's temp dir then
    tmp = None if getattr(engine, "remote", False) else engine.store.path("tmp")
    if tmp:
        os.makedirs(tmp, exist_ok=True)
    scratch = tempfile.mkdtemp(prefix="build-context-", dir=tmp)
    try:
        from engine.public import context_from_source as from_source
        ctx, text = from_source(args.context, scratch, sys.stdin.buffer,
                                dockerfile="-" if args.file == "-" else "")
        if args.file and args.file != "-" and text is None:
            # docker reads -f relative to where it is run, not to the context
            path = args.file if os.path.isabs(args.file) or os.path.exists(args.file) \
                else os.path.join(ctx, args.file)
            try:
                with open(path, encoding="utf-8") as f:
                    text = f.read()
            except OSError:
                from engine.errors import NotFound
                raise NotFound(f"Cannot locate specified Dockerfile: {args.file}") from None
            options.dockerfile = os.path.basename(args.file)
        out = sys.stdout
        tail: list[str] = []

        def progress(event) -> None:
            if options.quiet:
                if event.kind == "output":
                    tail.append(event.text)
                    del tail[:-50]
                return
            out.write(render(event))
            out.flush()

        cancel = threading.Event()

        def interrupt(signum, frame):
            cancel.set()

        old = signal.signal(signal.SIGINT, interrupt)
        try:
            img = engine.build(ctx, options, text, progress, cancel)
        except BuildError:
            if options.quiet and tail:
                sys.stderr.write("".join(tail))
            raise
        finally:
            signal.signal(signal.SIGINT, old)
        if options.quiet:
            print(img.id)
        if args.iidfile:
            with open(args.iidfile, "w") as f:
                f.write(img.id)
        return 0
    finally:
        from engine.public import remove_tree
        remove_tree(scratch)


def cmd_builder_prune(args) -> int:
    from .system import human_size
    from .volumes import confirm
    what = "all build cache" if args.all else "all dangling build cache"
    if not args.force and not confirm(f"WARNING! This will remove {what}."):
        return 0
    removed, reclaimed = get_engine().prune_build_cache(all=args.all)
    if removed:
        print("Deleted build cache objects:")
        for k in removed:
            print(k[:25])
        print()
    print(f"Total reclaimed space: {human_size(reclaimed)}")
    return 0
