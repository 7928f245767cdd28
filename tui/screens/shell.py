"""A shell in a container in the full terminal: the dashboard suspends, `berth exec -it` runs,
the dashboard comes back and shows the engine's error if there was one."""

from __future__ import annotations

import os
import subprocess
import sys
import threading

SHELL = "sh"


def _tee(fd: int, tail: list[bytes]) -> None:
    """Copy the CLI's stderr to the terminal as it comes, keeping the last bytes to show."""
    kept = 0
    while True:
        try:
            chunk = os.read(fd, 4096)
        except OSError:
            break
        if not chunk:
            break
        try:
            os.write(2, chunk)
        except OSError:
            pass
        tail.append(chunk)
        kept += len(chunk)
        while kept > 4096 and len(tail) > 1:
            kept -= len(tail.pop(0))


def _drop_typed_ahead() -> None:
    """Discard what was typed but not read when the shell ended: it was meant for the shell."""
    import termios
    try:
        termios.tcflush(sys.stdin.fileno(), termios.TCIFLUSH)
    except (OSError, termios.error, ValueError):
        pass


def exec_command(cid: str) -> list[str]:
    """``berth exec -it <cid> sh``, sealed from the dashboard's directory and environment."""
    from engine.public import sealed_python as python_command
    return python_command("tui.cli", "exec", "-it", cid, SHELL, site=True)


def exec_environment(engine) -> dict[str, str]:
    """The whole environment ``exec_command`` runs with (see engine/runtime/sealed.py)."""
    from engine.public import sealed_environment as environment
    return environment(**engine.client_environment())


def run_shell(app, engine, container) -> None:
    """Suspend ``app`` and run a shell in ``container``; notify the engine's error after."""
    from textual.app import SuspendNotSupported
    env = exec_environment(engine)
    tail: list[bytes] = []
    try:
        with app.suspend():
            print(f"berth: shell in {container.name} ({container.short_id}); exit to return "
                  "to the dashboard", flush=True)
            # stderr goes through us: with -t the shell's own output comes on the pty, so
            # what arrives here is berth's error, which the dashboard shows after it resumes
            proc = subprocess.Popen(exec_command(container.id), env=env, stderr=subprocess.PIPE)
            reader = threading.Thread(target=_tee, args=(proc.stderr.fileno(), tail), daemon=True)
            reader.start()
            code = proc.wait()
            reader.join(timeout=1)
            _drop_typed_ahead()
    except SuspendNotSupported:
        app.notify("this terminal can't hand over to a shell", severity="error")
        return
    from textual._time import get_time
    app.keys_stale_before = get_time()   # keys queued while the shell ran were meant for it
    message = b"".join(tail).decode(errors="replace").strip()
    if message:
        last = message.splitlines()[-1]
        app.notify(last.removeprefix("berth: "), title=f"shell in {container.name}",
                   severity="error" if code else "information", timeout=8)
    elif code >= 125:
        app.notify(f"berth exec exited with {code}", title=f"shell in {container.name}",
                   severity="error")
