"""The container filesystem verbs for the API server, in a process of their own:
``python -m engine.docker_api.fs_helper VERB JOB``. For a stopped container the engine forks into a
private mount namespace, which a threaded server must not do; this process has no threads.

VERB: ``stat`` (Docker's PathStat of JOB's path, as JSON on stdout), ``archive`` (the path as a
tar on stdout), ``extract`` (a tar on stdin into the path), ``export`` (the whole filesystem as
a tar on stdout), ``commit`` (the new image's id on stdout). On an engine error the exit status
is 125 and stderr holds ``{"error", "kind"}``, the kind being the engine.errors class name.
"""

from __future__ import annotations

import json
import os
import stat as st
import sys
import time


def path_stat(engine, ref: str, path: str) -> dict:
    """Docker's PathStat (name, size, mode as Go's FileMode, mtime, linkTarget) of ``path`` as
    the container sees it (symlinks before the last component followed, inside its root)."""
    from engine import containerfs as fs
    from engine.containerfs.inroot import run_in_root
    from engine.errors import NotFound
    c = engine.container(ref)
    out: dict = {}

    def op(root: int, _stream) -> None:
        try:
            fd = fs.open_in_root(root, path, os.O_PATH | os.O_NOFOLLOW)
        except FileNotFoundError:
            raise NotFound(f"Could not find the file {path} in container {c.name}") from None
        except OSError as e:
            from engine.errors import host_error
            raise host_error(f"stat {path} in container {c.name}", e) from None
        try:
            s = os.fstat(fd)
            link = ""
            if st.S_ISLNK(s.st_mode):
                link = os.readlink("", dir_fd=fd)
        finally:
            os.close(fd)
        out.update(name=os.path.basename(path.rstrip("/")) or "/", size=s.st_size,
                   mode=_go_mode(s.st_mode), linkTarget=link,
                   mtime=time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(s.st_mtime))
                   + ".%09dZ" % (s.st_mtime_ns % 1_000_000_000))
    if c.running:
        run_in_root(engine.store, c, op)
        return out
    # a stopped container's root is read in a forked child: the result crosses a pipe
    r, w = os.pipe()
    with os.fdopen(w, "wb") as wf:
        def write(root: int, f) -> None:
            op(root, None)
            f.write(json.dumps(out).encode())
        run_in_root(engine.store, c, write, out=wf)
    with os.fdopen(r, "rb") as rf:
        return json.loads(rf.read() or b"{}")


def _go_mode(mode: int) -> int:
    """A Unix mode as Go's os.FileMode, which the docker CLI decodes."""
    out = st.S_IMODE(mode) & 0o777
    kind = st.S_IFMT(mode)
    out |= {st.S_IFDIR: 1 << 31, st.S_IFLNK: 1 << 27, st.S_IFIFO: 1 << 25, st.S_IFSOCK: 1 << 24,
            st.S_IFBLK: 1 << 26, st.S_IFCHR: (1 << 26) | (1 << 21)}.get(kind, 0)
    if mode & st.S_ISUID:
        out |= 1 << 23
    if mode & st.S_ISGID:
        out |= 1 << 22
    if mode & st.S_ISVTX:
        out |= 1 << 20
    return out


def main() -> int:
    verb, job = sys.argv[1], json.loads(sys.argv[2])
    from engine import Engine
    from engine.errors import BerthError
    engine = Engine()
    out = sys.stdout.buffer
    try:
        if verb == "stat":
            out.write(json.dumps(path_stat(engine, job["ref"], job["path"])).encode())
        elif verb == "archive":
            engine.copy_from(job["ref"], job["path"], out)
        elif verb == "extract":
            engine.copy_to(job["ref"], job["path"], sys.stdin.buffer)
        elif verb == "export":
            engine.export(job["ref"], out)
        elif verb == "commit":
            img = engine.commit(job["ref"], job.get("repository"), job.get("message") or "",
                                job.get("author") or "", job.get("changes") or [],
                                bool(job.get("pause", True)))
            out.write(img.id.encode())
        else:
            raise SystemExit(f"unknown verb {verb}")
        out.flush()
    except BerthError as e:
        sys.stderr.write(json.dumps({"error": str(e), "kind": type(e).__name__}))
        return 125
    return 0


if __name__ == "__main__":
    sys.exit(main())
