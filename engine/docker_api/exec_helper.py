"""One exec for the API server, in a process of its own: ``python -m engine.docker_api.exec_helper
JOB``. The engine's exec forks, which a threaded server must not do; this process has no threads.

JOB is JSON: ref, cmd, env, workdir, user, tty, privileged, console_size. Without a tty the
command gets this process's stdin, stdout and stderr (the server's pipes). With a tty the
terminal's master is sent back over the control socket (SCM_RIGHTS;
its descriptor number is ``control_fd`` in JOB) for the server to serve. That socket also gets
one JSON line first: ``{"pid": …}`` or ``{"error": …, "code": …}``. The exit status is the
command's.
"""

from __future__ import annotations

import json
import os
import socket
import sys

def main() -> int:
    job = json.loads(sys.argv[1])
    control = socket.socket(fileno=int(job["control_fd"]))
    from engine import Engine
    from engine.errors import BerthError
    size = job.get("console_size")
    try:
        proc = Engine().exec(job["ref"], job["cmd"], env=job.get("env") or [],
                             workdir=job.get("workdir") or "", user=job.get("user") or "",
                             tty=bool(job.get("tty")), privileged=bool(job.get("privileged")),
                             console_size=tuple(size) if size else None,
                             stdio=None if job.get("tty") else (0, 1, 2))
    except BerthError as e:
        control.sendall(json.dumps({"error": str(e), "code": e.exit_code}).encode() + b"\n")
        return e.exit_code
    line = json.dumps({"pid": proc.pid}).encode() + b"\n"
    if proc.master is not None:
        socket.send_fds(control, [line], [proc.master])
        os.close(proc.master)
    else:
        control.sendall(line)
    # the command's stdio stays with the command; ours are closed so the server sees EOF
    # as soon as the command's own copies close
    null = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(null, fd)
    control.close()
    return proc.wait()


if __name__ == "__main__":
    sys.exit(main())
