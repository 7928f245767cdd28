"""The instructions that change an image's config (ENV, LABEL, ARG, USER, EXPOSE, VOLUME,
ENTRYPOINT, CMD, SHELL, STOPSIGNAL, HEALTHCHECK, ONBUILD, MAINTAINER; WORKDIR, which also
makes its directory), and the dispatch of every instruction to what carries it out. Each
becomes one step whose ``created_by`` is what Docker's classic builder writes, so ``history``
reads the same and the cache keys on it."""

from __future__ import annotations

from ..errors import InvalidArgument

DEFAULT_SHELL = ["/bin/sh", "-c"]


def nop(run, text: str, single: bool = False) -> str:
    """Docker's ``created_by`` for a step without a command: ``/bin/sh -c #(nop)  ENV …``
    (WORKDIR, COPY and ADD have one space after ``#(nop)``, the others two)."""
    shell = list(run.state.config.get("Shell") or DEFAULT_SHELL)
    return " ".join([*shell, "#(nop) " + text]) if single else \
        " ".join([*shell, "#(nop) ", text])


def go_list(items) -> str:
    """A list of strings as Go's %q prints it: ``["sh" "-c" "x"]``."""
    from .expand import _go_quote
    return "[" + " ".join(_go_quote(i) for i in items) + "]"


def dispatch(b, run, ins) -> None:
    """Carry out ``ins`` in the stage ``run`` of the build ``b``."""
    fn = _HANDLERS.get(ins.cmd)
    if fn is None:
        raise InvalidArgument(f"Dockerfile:{ins.line}: unknown instruction: {ins.cmd}")
    try:
        fn(b, run, ins)
    except InvalidArgument as e:
        from ..errors import BuildError
        if isinstance(e, BuildError) or str(e).startswith("Dockerfile:"):
            raise
        raise InvalidArgument(f"Dockerfile:{ins.line}: {e}") from None


def _text(ins) -> str:
    return ins.args[0] if ins.args else ""


def _expand(b, run, word: str) -> str:
    from .expand import expand
    return expand(word, b.expansion_env(run), b.escape)


def _words(b, run, text: str) -> list[str]:
    from .expand import expand_words
    return expand_words(text, b.expansion_env(run), b.escape)


def _set(run, **changes) -> dict:
    cfg = dict(run.state.config)
    cfg.update(changes)
    return cfg


# --- the instructions ---------------------------------------------------------------------------

def env(b, run, ins) -> None:
    from .expand import parse_pairs
    pairs = parse_pairs(_text(ins), b.expansion_env(run), b.escape, "ENV")
    envs = list(run.state.config.get("Env") or [])
    for k, v in pairs:
        envs = [e for e in envs if e.partition("=")[0] != k] + [f"{k}={v}"]
    b.commit(run, nop(run, "ENV " + " ".join(f"{k}={v}" for k, v in pairs)), _set(run, Env=envs))


def label(b, run, pairs_or_ins) -> None:
    if isinstance(pairs_or_ins, list):
        pairs = pairs_or_ins
    else:
        from .expand import parse_pairs
        pairs = parse_pairs(_text(pairs_or_ins), b.expansion_env(run), b.escape, "LABEL")
    labels = dict(run.state.config.get("Labels") or {})
    labels.update(pairs)
    b.commit(run, nop(run, "LABEL " + " ".join(f"{k}={v}" for k, v in pairs)),
             _set(run, Labels=labels))


def arg(b, run, ins) -> None:
    pairs = b.declare_args(run, ins)
    b.commit(run, nop(run, "ARG " + " ".join(k if v is None else f"{k}={v}" for k, v in pairs)))


def maintainer(b, run, ins) -> None:
    who = _text(ins).strip()
    b.commit(run, nop(run, f"MAINTAINER {who}"), author=who)


def user(b, run, ins) -> None:
    who = _expand(b, run, _text(ins).strip())
    b.commit(run, nop(run, f"USER {who}"), _set(run, User=who))


def workdir(b, run, ins) -> None:
    import posixpath
    path = _expand(b, run, _text(ins).strip())
    if not path:
        raise InvalidArgument("WORKDIR requires exactly one argument")
    if not path.startswith("/"):
        path = posixpath.join(run.state.config.get("WorkingDir") or "/", path)
    path = posixpath.normpath(path)
    if path.startswith("//"):
        path = path[1:]
    cfg = _set(run, WorkingDir=path)

    def make():
        from .copy_step import make_dirs_layer
        return make_dirs_layer(b, run, path)
    b.commit(run, nop(run, f"WORKDIR {path}", single=True), cfg, make)


def expose(b, run, ins) -> None:
    ports = dict(run.state.config.get("ExposedPorts") or {})
    written = []
    for word in _words(b, run, _text(ins)):
        port, _, proto = word.partition("/")
        proto = (proto or "tcp").lower()
        lo, _, hi = port.partition("-")
        if not lo.isdigit() or (hi and not hi.isdigit()) or proto not in ("tcp", "udp", "sctp"):
            raise InvalidArgument(f"invalid containerPort: {word}")
        for p in range(int(lo), int(hi or lo) + 1):
            ports[f"{p}/{proto}"] = {}
            written.append(f"{p}/{proto}")
    b.commit(run, nop(run, "EXPOSE " + " ".join(sorted(written))), _set(run, ExposedPorts=ports))


def volume(b, run, ins) -> None:
    vols = dict(run.state.config.get("Volumes") or {})
    items = [_expand(b, run, a) for a in ins.args] if ins.json_form else \
        _words(b, run, _text(ins))
    for v in items:
        if not v.strip():
            raise InvalidArgument("VOLUME specified can not be an empty string")
        vols[v] = {}
    b.commit(run, nop(run, "VOLUME " + go_list(items).replace('"', "")), _set(run, Volumes=vols))


def _command(run, ins) -> list[str]:
    if ins.json_form:
        return list(ins.args)
    shell = list(run.state.config.get("Shell") or DEFAULT_SHELL)
    return [*shell, _text(ins)]


def cmd(b, run, ins) -> None:
    value = _command(run, ins)
    run.cmd_set = True
    b.commit(run, nop(run, "CMD " + go_list(value)), _set(run, Cmd=value))


def entrypoint(b, run, ins) -> None:
    value = _command(run, ins)
    changes = {"Entrypoint": value}
    if not run.cmd_set:
        changes["Cmd"] = None   # an image's CMD goes with its ENTRYPOINT, as Docker does
    b.commit(run, nop(run, "ENTRYPOINT " + go_list(value)), _set(run, **changes))


def shell(b, run, ins) -> None:
    if not ins.json_form:
        raise InvalidArgument("SHELL requires the arguments to be in JSON form")
    b.commit(run, nop(run, "SHELL " + go_list(ins.args).replace('"', "")),
             _set(run, Shell=list(ins.args)))


def stopsignal(b, run, ins) -> None:
    sig = _expand(b, run, _text(ins).strip())
    from ..options import signal_number
    try:
        signal_number(sig)
    except InvalidArgument:
        raise InvalidArgument(f"Invalid signal: {sig}") from None
    b.commit(run, nop(run, f"STOPSIGNAL {sig}"), _set(run, StopSignal=sig))


def healthcheck(b, run, ins) -> None:
    from ..healthconfig import parse_instruction
    kind = (ins.args[0] if ins.args else "").upper()
    flags = " ".join(f"--{k}={v}" for k, v in (ins.flags or {}).items())
    if kind == "NONE":
        text = "NONE"
    else:
        import json
        rest = ins.args[1:]
        body = json.dumps(rest) if ins.json_form else (rest[0] if rest else "")
        text = f"{flags} CMD {body}".strip()
    hc = parse_instruction(text)
    b.commit(run, nop(run, "HEALTHCHECK " + _go_health(hc)), _set(run, Healthcheck=hc))


def _go_health(hc: dict) -> str:
    """The HealthConfig as Go's %q prints the pointer: ``&{["CMD-SHELL" "x"] "5s" …}``."""
    from ..healthconfig import go_duration
    durations = " ".join(f'"{go_duration(hc.get(k, 0))}"'
                         for k in ("Interval", "Timeout", "StartPeriod", "StartInterval"))
    return f"&{{{go_list(hc.get('Test') or [])} {durations} '\\x{hc.get('Retries', 0):02x}'}}"


def onbuild(b, run, ins) -> None:
    trigger = _text(ins).strip()
    triggers = [*(run.state.config.get("OnBuild") or []), trigger]
    b.commit(run, nop(run, f"ONBUILD {trigger}"), _set(run, OnBuild=triggers))


def _run(b, run, ins) -> None:
    from .run_step import run_instruction
    run_instruction(b, run, ins)


def _copy(b, run, ins) -> None:
    from .copy_step import copy_instruction
    copy_instruction(b, run, ins)


_HANDLERS = {"ENV": env, "LABEL": label, "ARG": arg, "MAINTAINER": maintainer, "USER": user,
             "WORKDIR": workdir, "EXPOSE": expose, "VOLUME": volume, "CMD": cmd,
             "ENTRYPOINT": entrypoint, "SHELL": shell, "STOPSIGNAL": stopsignal,
             "HEALTHCHECK": healthcheck, "ONBUILD": onbuild, "RUN": _run, "COPY": _copy,
             "ADD": _copy}
