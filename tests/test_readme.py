"""README.md's "Using it" block, run line by line as written on a fresh root, in a terminal
(a pty) as a user types it: the files it names in the working directory, the test's own
registry for 127.0.0.1:5000 and a free port for 8080. The commands come from README.md itself,
so the test fails when the README drifts from what berth does."""

from __future__ import annotations

import os
import pty
import re
import select
import shlex
import signal
import subprocess
import time

from helpers import BERTH, BUSYBOX_MUSL, REPO, ALPINE_ROOTFS
from registry_server import free_port, registry

# what a user answers, by the command's first words: (wait for this output, then type this)
ANSWERS = {
    ("berth", "run", "-it"): [("# ", "echo inside; exit\r")],
    ("berth", "exec", "-it"): [("# ", "exit\r")],
    ("berth", "login"): [("Username: ", "alice\r"), ("Password: ", "wonderland\r")],
    ("berth", "system", "reset"): [("[y/N]", "y\r")],
}
FOLLOWING = {("berth", "logs", "-f"), ("berth", "stats"), ("berth", "events")}
"""Commands that run until ctrl-c: interrupted once they have shown something."""


def readme_commands() -> list[str]:
    """Every command of the README's "Using it" block, in order (lines split at ; and &&)."""
    text = open(os.path.join(str(REPO), "README.md")).read()
    block = re.search(r"## Using it\s+```sh\n(.*?)```", text, re.S)
    assert block, "README.md has no ```sh block under ## Using it"
    out = []
    for line in block.group(1).splitlines():
        line = re.sub(r"\s{2,}#.*$", "", line).strip()
        out += [c.strip() for c in re.split(r";\s|\s&&\s", line) if c.strip()]
    return out


def _in_pty(argv, env, cwd, answers, interrupt: bool, timeout: float = 60):
    """Run ``argv`` on a new pty; answer prompts; ctrl-c a following command after a moment.
    (exit code, everything it wrote)."""
    master, slave = pty.openpty()
    p = subprocess.Popen(argv, stdin=slave, stdout=slave, stderr=slave, env=env, cwd=cwd,
                         start_new_session=True)
    os.close(slave)
    out = b""
    pending = list(answers)
    deadline = time.monotonic() + timeout
    interrupt_at = None
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([master], [], [], 0.1)
            if ready:
                try:
                    chunk = os.read(master, 65536)
                except OSError:   # the other side closed: the command ended
                    break
                if not chunk:
                    break
                out += chunk
            if pending and pending[0][0].encode() in out:
                os.write(master, pending.pop(0)[1].encode())
            if interrupt and interrupt_at is None:   # (httpd logs nothing: don't wait for it)
                interrupt_at = time.monotonic() + 1.0
            if interrupt_at is not None and time.monotonic() > interrupt_at:
                p.send_signal(signal.SIGINT)
                interrupt_at = float("inf")
            if p.poll() is not None and not ready:
                break
        else:
            p.kill()
            raise AssertionError(f"{shlex.join(argv)} still runs after {timeout}s:\n"
                                 f"{out.decode(errors='replace')}")
        return p.wait(timeout=10), out.decode(errors="replace").replace("\r\n", "\n")
    finally:
        os.close(master)
        if p.poll() is None:
            p.kill()
            p.wait()


def test_the_readme_quick_start_runs_as_written(root, tmp_path):
    os.symlink(BUSYBOX_MUSL, tmp_path / "busybox.oci.tar")
    os.symlink(ALPINE_ROOTFS, tmp_path / "alpine-minirootfs.tar.gz")
    port = str(free_port())
    env = {**os.environ, "BERTH_ROOT": root, "BERTH_AUTH_FILE": str(tmp_path / "auth.json"),
           "PYTHONPATH": str(REPO), "TERM": "xterm"}
    env.pop("BERTH_RUN", None)
    commands = readme_commands()
    assert commands[0].startswith("berth load") and commands[-1] == "berth system reset"
    with registry() as reg:
        reg.skopeo_copy_in(f"oci-archive:{BUSYBOX_MUSL}", "library/alpine:3.20")
        for command in commands:
            typed = command.replace("127.0.0.1:5000", reg.host).replace("8080:", f"{port}:")
            argv = shlex.split(typed)
            assert argv[0] == "berth", command
            head = tuple(argv[:3])
            answers = next((a for k, a in ANSWERS.items() if head[:len(k)] == k), [])
            following = any(head[:len(k)] == k for k in FOLLOWING)
            code, out = _in_pty([*BERTH, *argv[1:]], env, str(tmp_path), answers, following)
            assert "Traceback" not in out, f"{command}:\n{out}"
            if following:
                assert code in (0, 130, -signal.SIGINT), f"{command} exited {code}:\n{out}"
                assert "berth:" not in out, f"{command}:\n{out}"
            else:
                assert code == 0, f"{command} exited {code}:\n{out}"
            if command == "berth run --rm busybox echo hi":
                assert out.strip() == "hi"
            if command.startswith("berth run -it"):
                assert "inside" in out
            if command.startswith("berth search"):
                assert f"{reg.host}/me/mine" in out
    assert not os.path.exists(os.path.join(root, "containers")), "system reset left the root"
