"""Running an operation with a container's root filesystem as a descriptor: a running
container's through /proc/<pid>/root, a stopped one's overlay mounted in a forked child's private
mount namespace."""

from __future__ import annotations

import errno
import os
from typing import BinaryIO, Callable

from ..errors import DISK_ERRNOS, BerthError, HostError, host_error
from ..rootless import overlay
from . import write_all


def run_in_root(store, container, op: Callable, out: BinaryIO | None = None,
                inp: BinaryIO | None = None):
    """``op(root_fd, stream)`` with the container's root filesystem: a running container's
    through /proc/<pid>/root (its mounts, volumes included, as it sees them); a stopped one's
    overlay mounted in a private mount namespace of a forked child, the tar data crossing a
    pipe to ``out`` or from ``inp``. The container can't start meanwhile (its start lock)."""
    from ..runtime import process
    d = store.paths.container_dir(container.id)
    state = process.effective_status(process.read_state(d))
    pid = state.get("pid") or 0
    if state.get("status") in ("running", "paused", "restarting") and pid:
        start = process.start_time(pid)
        try:
            root = os.open(f"/proc/{pid}/root", os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
        except OSError:
            root = -1
        if root >= 0:
            try:
                if start and process.start_time(pid) == start:
                    return op(root, out if out is not None else inp)
            except OSError as e:
                raise _host_error(e) from None
            finally:
                os.close(root)
    return _in_private_mount(store, container, op, out, inp)


def report_failure(err_w: int, e: BaseException) -> None:
    """In a forked child: tell the parent what failed, as Berth's error type and message in one
    JSON write on ``err_w`` (raise_reported raises it again there)."""
    import json
    kind = type(e).__name__ if isinstance(e, BerthError) else "HostError"
    try:
        os.write(err_w, json.dumps({"type": kind, "message": str(e)}).encode())
    except BaseException:  # noqa: BLE001 - the child exits non-zero all the same
        pass


def raise_reported(report: bytes, status: int, failed: str) -> None:
    """In the parent: raise what the child reported (report_failure), or HostError(``failed``)
    when it exited non-zero without a word."""
    if report:
        import json
        from .. import errors
        msg = json.loads(report)
        raise getattr(errors, msg["type"], HostError)(msg["message"])
    if status:
        raise HostError(failed)


def _host_error(e: OSError) -> HostError:
    if e.errno in DISK_ERRNOS:
        return host_error("copying files" + (f" ({e.filename})" if e.filename else ""), e)
    if e.errno == errno.EOVERFLOW:
        # files made by the host's root have no owner in an idmapped (--userns auto) root
        return HostError("copying into a --userns auto container is not supported yet: "
                         "run it without --userns auto to copy files in")
    where = f"{e.filename}: " if e.filename else ""
    return HostError(f"{where}{e.strerror or e}")


def _in_private_mount(store, container, op, out, inp):
    import fcntl
    import json  # noqa: F401 - loaded before the fork: report_failure uses it in the child
    from ..runtime import linux, process, records
    d = store.paths.container_dir(container.id)
    raw = records.read_raw(store, container.id) or {}
    lowers = list(reversed(raw.get("layer_dirs") or []))
    spec = process.read_json(os.path.join(d, "spec.json")) or {}
    mounts = [m for m in spec.get("mounts") or [] if m.get("type") != "tmpfs"]
    lock = os.open(os.path.join(d, ".start"), os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    try:
        fcntl.flock(lock, fcntl.LOCK_EX)
        state = process.effective_status(process.read_state(d))
        if state.get("status") in ("running", "paused"):
            from ..errors import Conflict
            raise Conflict(f"container {container.short_id} started meanwhile; try again")
        data_r, data_w = os.pipe()
        err_r, err_w = os.pipe()
        child = os.fork()
        if child == 0:
            try:
                os.close(err_r)
                linux.unshare(linux.CLONE_NEWNS)
                linux.mount(None, "/", None, linux.MS_REC | linux.MS_PRIVATE)
                rootfs = os.path.join(d, "rootfs")
                opts = (f"lowerdir={':'.join(lowers)},upperdir={os.path.join(d, 'upper')},"
                        f"workdir={os.path.join(d, 'work')}")
                overlay.mount(rootfs, opts)
                if mounts:
                    # its volumes and binds too, as the container sees them (a tmpfs kept
                    # nothing: what is under it is what a copy must see)
                    from .. import volumes
                    volumes.mount_all(rootfs, mounts)
                root = os.open(rootfs, os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
                if out is not None:
                    os.close(data_r)
                    with os.fdopen(data_w, "wb") as f:
                        op(root, f)
                else:
                    os.close(data_w)
                    with os.fdopen(data_r, "rb") as f:
                        op(root, f if inp is not None else None)
                os.close(root)
                overlay.release()
                os._exit(0)
            except BaseException as e:  # noqa: BLE001 - reported to the parent, never returns
                try:
                    report_failure(err_w, _host_error(e) if isinstance(e, OSError) else e)
                finally:
                    overlay.release()
                    os._exit(1)
        os.close(err_w)
        if out is not None:
            os.close(data_w)
            data_w = -1
        else:
            os.close(data_r)
            data_r = -1
        try:
            if out is not None:
                while True:
                    chunk = os.read(data_r, 1 << 20)
                    if not chunk:
                        break
                    out.write(chunk)
            else:
                try:
                    while inp is not None:
                        chunk = inp.read(1 << 20)
                        if not chunk:
                            break
                        write_all(data_w, chunk)
                except BrokenPipeError:
                    pass   # the child stopped reading: its report says why
            for fd in (data_r, data_w):
                if fd >= 0:
                    os.close(fd)
            data_r = data_w = -1
            report = b""
            while True:
                chunk = os.read(err_r, 65536)
                if not chunk:
                    break
                report += chunk
        finally:
            # a failed write of ours (a full disk) must not leave the child blocked on the pipe
            for fd in (data_r, data_w, err_r):
                if fd >= 0:
                    os.close(fd)
            _, status = os.waitpid(child, 0)
        raise_reported(report, status, f"reading the filesystem of {container.short_id} failed")
    finally:
        os.close(lock)

