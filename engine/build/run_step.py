"""RUN: the command in an ordinary berth container made from the step's image (same
containment, same seccomp, the build's network), its output streamed as it comes, its changes
committed as the step's layer, the container removed whatever happens."""

from __future__ import annotations

import os
import re

from ..errors import BerthError, Cancelled, ExecError, InvalidArgument
from ..models import ContainerConfig, Mount
from .steps import DEFAULT_SHELL

TAIL_LINES = 10
_HEREDOC_ONLY = re.compile(r"^\s*\d*<<-?\s*([\"']?)([A-Za-z0-9_.-]+)\1\s*$")


def command(run, ins) -> list[str]:
    """The argv of a RUN: exec form as written; shell form through the stage's SHELL, with
    its here-documents (a RUN that is only ``<<EOF`` runs the document as the script)."""
    if ins.json_form:
        return list(ins.args)
    shell = list(run.state.config.get("Shell") or DEFAULT_SHELL)
    text = ins.args[0] if ins.args else ""
    if ins.heredocs:
        if len(ins.heredocs) == 1 and _HEREDOC_ONLY.match(text):
            return [*shell, ins.heredocs[0].content]
        docs = "".join(f"{h.content}{h.name}\n" for h in ins.heredocs)
        text = f"{text}\n{docs}"
    return [*shell, text]


def created_by(b, run, argv: list[str]) -> str:
    """Docker's history line for a RUN: ``|2 A=1 B=2 /bin/sh -c …`` (the build args in effect,
    proxies left out), the command alone when there are none."""
    from .stages import PROXY_ARGS
    args = [f"{k}={v}" for k, v in b.run_args(run) if k not in PROXY_ARGS]
    prefix = [f"|{len(args)}", *args] if args else []
    return " ".join([*prefix, *argv])


def run_instruction(b, run, ins) -> None:
    argv = command(run, ins)
    network = ins.flags.get("network") or ""
    mounts = ins.flags.get("mount") or []
    if isinstance(mounts, str):
        mounts = [mounts]
    security = ins.flags.get("security") or ""
    if security and security != "sandbox":
        raise InvalidArgument(f"RUN --security={security} is not allowed: berth runs every "
                              "step contained (sandbox)")
    # the mounts' identity is part of the step (Docker's cache keys on them as on the command)
    extra = " ".join(f"--mount={m}" for m in mounts)
    if network:
        extra = f"--network={network} {extra}".strip()
    text = created_by(b, run, argv)
    key_text = f"{text}\n{extra}" if extra else text
    b.commit(run, text, make_layer=lambda: _execute(b, run, argv, network, mounts),
             key_text=key_text)


def _network(b, flag: str) -> str:
    mode = flag or b.options.network or "default"
    if mode in ("default", "bridge"):
        return "bridge"
    if mode in ("none", "host"):
        return mode
    raise InvalidArgument(f"RUN --network={mode}: use default, none or host")


def _mounts(b, run, specs: list[str]) -> tuple[list[Mount], list[str]]:
    """The RUN's --mount specifications as container mounts, and scratch directories to
    remove after the step (rw binds of the context run on a copy: their writes are dropped,
    as Docker drops them)."""
    import hashlib
    import shutil
    from .runmount import parse_mount
    env = b.expansion_env(run)
    from .expand import expand
    out, scratch = [], []
    for spec in specs:
        m = parse_mount(spec, lambda w: expand(w, env, b.escape))
        kind, target = m["type"], m["target"]
        if not target.startswith("/"):
            target = os.path.join(run.state.config.get("WorkingDir") or "/", target)
        if kind == "cache":
            ident = m["id"] or target
            d = b.images.store.path("build-cache", "mounts",
                                    hashlib.sha256(ident.encode()).hexdigest()[:32])
            if not os.path.isdir(d):
                os.makedirs(d, 0o755)
                os.chown(d, m["uid"] or 0, m["gid"] or 0)
                os.chmod(d, m["mode"] if m["mode"] is not None else 0o755)
            out.append(Mount(type="bind", source=d, target=target, read_only=m["readonly"]))
        elif kind == "bind":
            if m["from"]:
                raise InvalidArgument("RUN --mount=type=bind,from=… is not supported by berth "
                                      "yet: COPY --from the stage into this one instead")
            src = _context_path(b, m["source"] or ".")
            if not m["readonly"]:
                from .stages import tmp_dir
                import tempfile
                copy = tempfile.mkdtemp(prefix="build-bind-", dir=tmp_dir(b.engine))
                scratch.append(copy)
                if os.path.isdir(src):
                    shutil.copytree(src, os.path.join(copy, "d"), symlinks=True)
                    src = os.path.join(copy, "d")
                else:
                    shutil.copy2(src, os.path.join(copy, "f"))
                    src = os.path.join(copy, "f")
            out.append(Mount(type="bind", source=src, target=target, read_only=m["readonly"]))
        elif kind == "tmpfs":
            out.append(Mount(type="tmpfs", target=target))
        else:
            raise InvalidArgument(f"RUN --mount=type={kind} is not supported by berth: "
                                  "there is no secret or ssh agent to give it")
    return out, scratch


def _context_path(b, rel: str) -> str:
    """A path inside the build context; refused when it leads out of it."""
    root = os.path.realpath(b.context)
    path = os.path.realpath(os.path.join(root, rel.lstrip("/")))
    if path != root and not path.startswith(root + "/"):
        raise InvalidArgument(f"Forbidden path outside the build context: {rel}")
    if not os.path.exists(path):
        raise InvalidArgument(f"{rel}: no such file or directory in the build context")
    return path


def _execute(b, run, argv: list[str], network: str, mount_specs: list[str]):
    """Run ``argv`` in a container on the stage's state; its layer."""
    import _socket
    from ..fswalk import remove_tree
    from . import workspace
    env = [*(run.state.config.get("Env") or []), *(f"{k}={v}" for k, v in b.run_args(run))]
    mounts, scratch = _mounts(b, run, mount_specs)
    config = ContainerConfig(image=run.state.id, cmd=argv, env=env,
                             workdir=run.state.config.get("WorkingDir") or "",
                             user=run.state.config.get("User") or "",
                             network_mode=_network(b, network),
                             extra_hosts=list(b.options.extra_hosts), mounts=mounts,
                             log_driver="none")
    mine, theirs = _socket.socketpair(_socket.AF_UNIX, _socket.SOCK_STREAM)
    name = workspace.step_name()
    cid = ""
    try:
        try:
            cid = workspace.create(b.engine, run.state, config, attach_fd=theirs.fileno(),
                                   name=name).id
        except ExecError as e:
            raise b.fail(f"The command '{' '.join(argv)}' returned a non-zero code: "
                         f"{e.exit_code}: {e}", e.exit_code, str(e)) from None
        finally:
            theirs.close()
            if not cid:
                workspace.discard(b.engine, name)   # what a failed start left
        b.containers.add(cid)
        b.emit("info", f"Running in {cid[:12]}")
        code, tail = _stream(b, mine.fileno(), cid)
        if code != 0:
            raise b.fail(f"The command '{' '.join(argv)}' returned a non-zero code: {code}",
                         code, tail)
        _drop_mount_points(b, cid, run.state, [m.target for m in mounts])
        layer = workspace.commit_layer(b.engine, cid, run.state)
        workspace.discard(b.engine, cid)
        b.containers.discard(cid)
        b.emit("info", f"Removing intermediate container {cid[:12]}")
        return layer
    finally:
        mine.close()
        for d in scratch:
            remove_tree(d)


def _drop_mount_points(b, cid: str, state, targets: list[str]) -> None:
    """What the runtime made in the upper dir to mount the step's --mounts on (an empty
    directory or file, and its parents, where the image had none): not the step's work, so
    not in its layer, as BuildKit leaves them out."""
    import stat
    from ..containerfs import DIR
    from ..containerfs.changes import _in_lower, _open_below
    from .workspace import image_tuple
    if not targets:
        return
    upper = os.open(os.path.join(b.engine.paths.container_dir(cid), "upper"), DIR)
    lowers = []
    try:
        for d in reversed(image_tuple(b.images, state)[2]):
            lowers.append(os.open(d, DIR))
        for target in sorted(targets, key=len, reverse=True):
            parts = [p for p in target.split("/") if p]
            while parts and not _in_lower(lowers, "/".join(parts)):
                try:
                    parent = _open_below(upper, "/".join(parts[:-1]) or ".", DIR)
                except OSError:
                    break
                try:
                    st = os.stat(parts[-1], dir_fd=parent, follow_symlinks=False)
                    if stat.S_ISDIR(st.st_mode):
                        os.rmdir(parts[-1], dir_fd=parent)   # only when empty
                    elif stat.S_ISREG(st.st_mode) and not st.st_size:
                        os.unlink(parts[-1], dir_fd=parent)
                    else:
                        break
                except OSError:
                    break
                finally:
                    os.close(parent)
                parts = parts[:-1]
    finally:
        for fd in [upper, *lowers]:
            os.close(fd)


def _stream(b, fd: int, cid: str) -> tuple[int, str]:
    """Forward the step's output as events until it exits; (exit code, last lines). A
    cancel kills the container."""
    import select
    from ..runtime import frames
    dec = frames.Decoder()
    tail = b""
    killed = False
    while True:
        if b.cancel is not None and b.cancel.is_set() and not killed:
            try:
                b.engine.kill(cid)
            except BerthError:
                pass
            killed = True
        ready, _, _ = select.select([fd], [], [], 0.1)
        if not ready:
            continue
        data = os.read(fd, 65536)
        if not data:
            break
        for kind, payload in dec.feed(data):
            if kind in (frames.STDOUT, frames.STDERR):
                tail = (tail + payload)[-8192:]
                b.emit("output", payload.decode("utf-8", "replace"))
            elif kind == frames.EXIT:
                if killed:
                    raise Cancelled("the build was cancelled")
                lines = tail.decode("utf-8", "replace").rstrip("\n").split("\n")
                return int(payload), "\n".join(lines[-TAIL_LINES:])
    if killed:
        raise Cancelled("the build was cancelled")
    return 125, tail.decode("utf-8", "replace")
