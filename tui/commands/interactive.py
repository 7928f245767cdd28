"""Interactive container subcommands: attach, exec, top, cp, diff, commit, export; and the
terminal side of ``run -it`` / ``start -ai`` (raw mode, window size, detach keys).

Each parses, calls Engine, and serves the user's terminal: the engine has no terminal code.
"""

from __future__ import annotations

import os
import select
import sys

from .common import get_engine

def register(sub) -> None:
    from .interactive_args import ARGS, HELP, VERBS
    for verb in VERBS:
        p = sub.add_parser(verb, help=HELP[verb])
        ARGS[verb](p)
        p.set_defaults(func=globals()[f"cmd_{verb}"])


# --- the terminal side of an attached container -----------------------------------------------

def _write_all(fd: int, data) -> None:
    view = memoryview(data)
    while view:
        try:
            n = os.write(fd, view)
        except BlockingIOError:
            select.select([], [fd], [])
            continue
        view = view[n:]


PROXIED = ("SIGINT", "SIGTERM", "SIGHUP", "SIGQUIT", "SIGUSR1", "SIGUSR2")


class _Wakeup:
    """Signals delivered as bytes on a pipe (their numbers), so the loop handles them between
    reads: a handler that wrote a frame itself could cut into a frame being written."""

    def __init__(self, signals: list[int]):
        import signal
        self.r, self.w = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
        self.old_fd = signal.set_wakeup_fd(self.w)
        self.old = {s: signal.signal(s, lambda *_: None) for s in signals}

    def drain(self) -> bytes:
        try:
            return os.read(self.r, 4096)
        except BlockingIOError:
            return b""

    def close(self) -> None:
        import signal
        for s, old in self.old.items():
            signal.signal(s, old)
        signal.set_wakeup_fd(self.old_fd)
        os.close(self.r)
        os.close(self.w)


def console_size() -> tuple[int, int] | None:
    """The user's terminal size, from whichever of stdin, stdout is a terminal."""
    from engine.public import pty
    for fd in (0, 1, 2):
        size = pty.get_size(fd)
        if size and size[0] and size[1]:
            return size
    return None


def check_tty(tty: bool, interactive: bool) -> None:
    if tty and interactive and not os.isatty(0):
        from engine.errors import InvalidArgument
        raise InvalidArgument("the input device is not a TTY: drop -t, or run from a terminal")


def stream(sock: int, tty: bool, stdin: bool, detach_keys: str = "",
           sig_proxy: bool = False) -> int:
    """Serve an attached container on the user's terminal until it exits (its exit code) or
    the user detaches (0). ``sock`` speaks engine/runtime/frames; ``sig_proxy`` forwards the
    signals berth gets (ctrl-c without a terminal) to the container."""
    import signal
    from engine.public import frames, pty
    keys = _detach_keys(detach_keys)
    # as Docker: only a terminal's input is scanned; piped input is data, whatever its bytes
    scanner = pty.DetachScanner(keys if stdin and tty else b"")
    old = pty.raw_mode(0) if tty and stdin and os.isatty(0) else None
    proxied = {int(getattr(signal, n)) for n in PROXIED} if sig_proxy else set()
    watched = ([signal.SIGWINCH] if tty else []) + sorted(proxied)
    wake = _Wakeup(watched) if watched else None
    dec = frames.Decoder()
    out, err = sys.stdout.fileno(), sys.stderr.fileno()
    sys.stdout.flush()
    reading_stdin = stdin
    # what goes to the monitor waits here, so the output keeps being read meanwhile (a
    # blocking write could wait for a monitor that waits for us to read)
    outgoing = bytearray()
    os.set_blocking(sock, False)
    try:
        if tty:
            outgoing += _size_frame()
        while True:
            want_in = reading_stdin and len(outgoing) < (1 << 20)
            fds = [sock] + ([0] if want_in else []) + ([wake.r] if wake else [])
            try:
                ready, writable, _ = select.select(fds, [sock] if outgoing else [], [])
            except InterruptedError:  # pragma: no cover - PEP 475 retries
                continue
            if wake and wake.r in ready:
                for signum in set(wake.drain()):
                    if signum == signal.SIGWINCH:
                        outgoing += _size_frame()
                    elif signum in proxied:
                        outgoing += frames.encode(frames.SIGNAL, str(signum).encode())
            if 0 in ready:
                data = os.read(0, 65536)
                if not data:
                    reading_stdin = False
                    outgoing += frames.encode(frames.STDIN_EOF)
                else:
                    data, detach = scanner.feed(data)
                    if data:
                        outgoing += frames.encode(frames.STDIN, data)
                    if detach:
                        outgoing += frames.encode(frames.DETACH)
                        os.set_blocking(sock, True)
                        _send(sock, bytes(outgoing))
                        return 0
            if writable and outgoing:
                try:
                    del outgoing[:os.write(sock, outgoing)]
                except BlockingIOError:
                    pass
                except BrokenPipeError:
                    outgoing.clear()   # the container exited; its EXIT frame is still to come
            if sock in ready:
                try:
                    data = os.read(sock, 65536)
                except BlockingIOError:
                    continue
                if not data:
                    return 125   # the monitor went away without saying how the container ended
                for kind, payload in dec.feed(data):
                    if kind == frames.STDOUT:
                        _write_all(out, payload)
                    elif kind == frames.STDERR:
                        _write_all(err, payload)
                    elif kind == frames.EXIT:
                        return int(payload)
    finally:
        if wake:
            wake.close()
        pty.restore_mode(0, old)


def _send(sock: int, data: bytes) -> None:
    try:
        _write_all(sock, data)
    except BrokenPipeError:
        pass   # the container exited meanwhile; its EXIT frame is still to be read


def _size_frame() -> bytes:
    from engine.public import frames
    size = console_size()
    return frames.encode(frames.RESIZE, f"{size[0]} {size[1]}".encode()) if size else b""


def _detach_keys(spec: str) -> bytes:
    from engine.errors import InvalidArgument
    from engine.public import pty
    try:
        return pty.parse_detach_keys(spec)
    except ValueError as e:
        raise InvalidArgument(str(e)) from None


# --- attach ----------------------------------------------------------------------------------

def cmd_attach(args) -> int:
    engine = get_engine()
    c = engine.container(args.container)
    _detach_keys(args.detach_keys)
    sock = engine.attach(c.id)
    stdin = c.config.open_stdin and not args.no_stdin
    check_tty(c.config.tty, stdin)
    try:
        return stream(sock, c.config.tty, stdin, args.detach_keys or c.config.detach_keys,
                      sig_proxy=args.sig_proxy != "false" and not c.config.tty)
    finally:
        os.close(sock)


# --- exec ------------------------------------------------------------------------------------

def cmd_exec(args) -> int:
    if not args.command:
        from engine.errors import InvalidArgument
        raise InvalidArgument("exec needs a command: berth exec CONTAINER COMMAND [ARG...]")
    check_tty(args.tty, args.interactive)
    env = []
    if args.env or args.env_file:
        from engine import options   # not on the plain exec's path: it costs milliseconds
        env = options.parse_env(args.env, args.env_file)
    engine = get_engine()
    from engine.public import trace
    trace.mark("engine loaded")
    if args.detach:
        engine.exec(args.container, args.command, env=env, workdir=args.workdir,
                    user=args.user, tty=args.tty, detach=True, privileged=args.privileged)
        return 0
    if args.tty:
        proc = engine.exec(args.container, args.command, env=env, workdir=args.workdir,
                           user=args.user, tty=True, privileged=args.privileged,
                           console_size=console_size())
        _exit_now(_serve_exec_terminal(proc, args.interactive, args.detach_keys))
    stdio, pumps = _exec_stdio(args.interactive)
    try:
        proc = engine.exec(args.container, args.command, env=env, workdir=args.workdir,
                           user=args.user, privileged=args.privileged, stdio=stdio)
    finally:
        for fd in stdio:
            if fd > 2:
                os.close(fd)
    if pumps:
        _pump_pipes(proc, pumps)
    sys.stdout.flush()
    code = proc.wait()
    trace.mark("waited for the command's exit")
    _exit_now(code)


def _exit_now(code: int) -> None:
    """End the process with ``code`` once the output is out, skipping the interpreter's teardown
    of every module loaded (16 ms of `berth exec C true`), as `berth run` does."""
    from .common import print_warnings
    print_warnings()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


def _exec_stdio(interactive: bool):
    """The command's stdio: ours when they are pipes or files; a pipe we copy through when one
    is a terminal (a container process must never hold the user's terminal: it could inject
    keystrokes into it or change its modes)."""
    stdio, pumps = [], []   # pumps: (our end, user's fd, direction)
    if not interactive:
        stdio.append(os.open(os.devnull, os.O_RDONLY | os.O_CLOEXEC))
    elif os.isatty(0):
        r, w = os.pipe()
        stdio.append(r)
        pumps.append((w, 0, "in"))
    else:
        stdio.append(0)
    for fd in (1, 2):
        if os.isatty(fd):
            r, w = os.pipe()
            stdio.append(w)
            pumps.append((r, fd, "out"))
        else:
            stdio.append(fd)
    return tuple(stdio), pumps


def _pump_pipes(proc, pumps) -> None:
    ins = {ours: user for ours, user, d in pumps if d == "in"}
    outs = {ours: user for ours, user, d in pumps if d == "out"}
    pidfd = proc.pidfd()
    try:
        exited = False
        while outs or (ins and not exited):
            watch = list(outs) + [user for user in ins.values()] + ([] if exited else [pidfd])
            ready, _, _ = select.select(watch, [], [], 0.05 if exited else None)
            if not ready and exited:
                break   # the command is gone; a process it left behind keeps the pipe open
            if pidfd in ready:
                exited = True
            for ours, user in list(outs.items()):
                if ours in ready:
                    data = os.read(ours, 65536)
                    if data:
                        _write_all(user, data)
                    else:
                        os.close(ours)
                        del outs[ours]
            for ours, user in list(ins.items()):
                if user in ready:
                    data = os.read(user, 65536)
                    try:
                        if data:
                            _write_all(ours, data)
                    except BrokenPipeError:
                        data = b""
                    if not data:
                        os.close(ours)
                        del ins[ours]
    finally:
        os.close(pidfd)
        for fd in [*ins, *outs]:
            os.close(fd)


def _serve_exec_terminal(proc, interactive: bool, detach_keys: str = "") -> int:
    """-t: copy between the user's terminal and the exec's terminal master until it exits, or
    until the user types the detach keys (the command then runs on, see _hold_terminal)."""
    import signal
    from engine.public import pty
    master = proc.master
    scanner = pty.DetachScanner(_detach_keys(detach_keys) if interactive else b"")
    old = pty.raw_mode(0) if interactive and os.isatty(0) else None
    wake = _Wakeup([signal.SIGWINCH])
    out = sys.stdout.fileno()
    reading = interactive
    try:
        while True:
            fds = [master, wake.r] + ([0] if reading else [])
            ready, _, _ = select.select(fds, [], [])
            if wake.r in ready:
                wake.drain()
                size = console_size()
                if size:
                    pty.set_size(master, *size)
            if 0 in ready:
                data = os.read(0, 65536)
                if data:
                    data, detach = scanner.feed(data)
                    if data:
                        _write_all(master, data)
                    if detach:
                        _hold_terminal(master)
                        return 0
                else:
                    reading = False
                    _write_all(master, b"\x04")   # EOF for a terminal reader: ^D
            if master in ready:
                try:
                    data = os.read(master, 65536)
                except OSError:   # EIO: every process holding the terminal has gone
                    data = b""
                if not data:
                    break
                _write_all(out, data)
    finally:
        wake.close()
        pty.restore_mode(0, old)
        os.close(master)
    return proc.wait()


def _hold_terminal(master: int) -> None:
    """Detached from an exec: a small background process keeps the terminal's master open
    (closing it would hang the command up) and drains its output until the command ends."""
    first = os.fork()
    if first > 0:
        # once it has left our session: our exit hangs up our terminal's process group, which
        # it was in until its setsid
        os.waitpid(first, 0)
        return
    try:
        os.setsid()
        if os.fork() > 0:
            os._exit(0)
        null = os.open(os.devnull, os.O_RDWR)
        for fd in (0, 1, 2):
            os.dup2(null, fd)
        while True:
            try:
                if not os.read(master, 65536):
                    break
            except OSError:
                break
    finally:
        os._exit(0)


# --- top, port, cp, diff, commit, export -------------------------------------------------------

def cmd_port(args) -> int:
    """``berth port``: the container's published ports, as docker port prints them."""
    from engine.errors import InvalidArgument
    ports = get_engine().port(args.container)
    want_port, want_proto = None, None
    if args.private_port:
        number, _, proto = args.private_port.partition("/")
        if not number.isdigit() or proto not in ("", "tcp", "udp", "sctp"):
            raise InvalidArgument(f"invalid port {args.private_port!r}: give PORT or PORT/PROTO "
                                  "such as 80 or 53/udp")
        want_port, want_proto = int(number), proto or "tcp"
        ports = [p for p in ports if p.container_port == want_port and p.proto == want_proto]
        if not ports:
            print(f"berth: no public port '{want_port}/{want_proto}' published for "
                  f"{args.container}", file=sys.stderr)
            return 1
    for p in sorted(ports, key=lambda p: (p.container_port, p.proto, p.host_ip, p.host_port)):
        host = f"[{p.host_ip}]" if ":" in p.host_ip else (p.host_ip or "0.0.0.0")
        where = f"{host}:{p.host_port}"
        print(where if want_port else f"{p.container_port}/{p.proto} -> {where}")
    return 0


def cmd_top(args) -> int:
    from .common import print_table
    headers, rows = get_engine().top(args.container, args.ps_args)
    print_table(headers, rows)
    return 0


def cmd_cp(args) -> int:
    from engine.errors import InvalidArgument
    engine = get_engine()
    src_c, src = _split_cp(args.src)
    dst_c, dst = _split_cp(args.dest)
    if (src_c is None) == (dst_c is None):
        raise InvalidArgument("copying between containers or between host paths is not "
                              "supported: one of SRC and DEST must be CONTAINER:PATH")
    if src_c is not None:
        if dst == "-":
            engine.copy_from(src_c, src, sys.stdout.buffer, follow_link=args.follow_link)
        else:
            engine.copy_out(src_c, src, dst, follow_link=args.follow_link)
    else:
        if src == "-":
            engine.copy_to(dst_c, dst, sys.stdin.buffer)
        else:
            engine.copy_in(dst_c, src, dst, follow_link=args.follow_link)
    return 0


def _split_cp(arg: str) -> tuple[str | None, str]:
    """("container", "path") for CONTAINER:PATH, (None, path) for a host path (one with a "/"
    before any ":" is a path, as Docker reads it)."""
    if arg == "-" or arg.startswith(("/", ".")):
        return None, arg
    name, sep, path = arg.partition(":")
    if not sep or "/" in name:
        return None, arg
    return name, path


def cmd_diff(args) -> int:
    for kind, path in get_engine().diff(args.container):
        print(f"{kind} {path}")
    return 0


def cmd_commit(args) -> int:
    img = get_engine().commit(args.container, args.repository, message=args.message,
                              author=args.author, changes=args.change, pause=args.pause != "false")
    print(img.id)
    return 0


def cmd_export(args) -> int:
    from engine.errors import InvalidArgument
    engine = get_engine()
    if args.output:
        engine.export(args.container, args.output)
        return 0
    if sys.stdout.isatty():
        raise InvalidArgument("cowardly refusing to write a tar to a terminal: use -o FILE or "
                              "redirect the output")
    engine.export(args.container, sys.stdout.buffer)
    return 0
