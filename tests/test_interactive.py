"""run -it, start -ai, attach and run -i, driven through a real pseudo-terminal as a user
types them (pexpect), against the real kernel."""

from __future__ import annotations

import json
import os

import pexpect
import pytest

from helpers import BERTH, REPO

PROMPT = r"[#$] "


def spawn(root: str, *args: str, rows: int = 24, cols: int = 80) -> pexpect.spawn:
    env = {**os.environ, "BERTH_ROOT": root}
    env.pop("BERTH_RUN", None)
    child = pexpect.spawn(BERTH[0], [*BERTH[1:], *args], env=env, cwd=str(REPO),
                          dimensions=(rows, cols), timeout=20)
    return child


def finish(child: pexpect.spawn) -> int:
    child.expect(pexpect.EOF)
    child.close()
    return child.exitstatus


def _state(cli, ref: str) -> dict:
    return json.loads(cli("inspect", ref).stdout)[0]["State"]


def test_run_it_shell_resize_detach_and_attach(cli, root, busybox):
    c = spawn(root, "run", "-it", "--name", "box", "--network", "none", busybox, "sh",
              rows=30, cols=100)
    try:
        c.expect(PROMPT)
        c.sendline("tty; stty size; echo $TERM")
        c.expect("/dev/pts/0")          # the terminal is the container's own, in its devpts
        c.expect("30 100")              # the size from the first instant
        c.expect("xterm")
        c.setwinsize(41, 123)           # SIGWINCH -> RESIZE frame -> TIOCSWINSZ on the master
        c.sendline("stty size")
        c.expect("41 123")
        c.send("\x10\x11")              # ctrl-p ctrl-q
        assert finish(c) == 0
    finally:
        c.close(force=True)
    assert _state(cli, "box")["Running"] is True

    a = spawn(root, "attach", "box", rows=25, cols=90)
    try:
        a.sendline("stty size")
        a.expect("25 90")               # an attacher's size applies at once
        a.sendline("echo second-$((40+2))")
        a.expect("second-42")
        a.sendline("exit 3")
        assert finish(a) == 3
    finally:
        a.close(force=True)
    assert _state(cli, "box")["ExitCode"] == 3
    # output was logged while attached
    assert "second-42" in cli("logs", "box").stdout


def test_two_attachers_see_the_same_output(cli, root, busybox):
    cid = cli("run", "-dit", "--network", "none", busybox, "sh").stdout.strip()
    first, second = spawn(root, "attach", cid), spawn(root, "attach", cid)
    try:
        first.sendline("echo one-$((0+1))")
        first.expect("one-1")            # first is attached
        second.sendline("echo from-$((1+1))")   # typed by second: so it is attached too
        second.expect("from-2")
        first.expect("from-2")
        second.send("\x10\x11")
        assert finish(second) == 0
        first.sendline("exit 0")
        assert finish(first) == 0
    finally:
        first.close(force=True)
        second.close(force=True)


def test_custom_detach_keys(cli, root, busybox):
    c = spawn(root, "run", "-it", "--detach-keys", "ctrl-a,x", "--name", "keys", "--network",
              "none", busybox, "sh")
    try:
        c.expect(PROMPT)
        c.send("\x10\x11")              # not the keys now: passed to the shell as typed
        c.sendline("echo still-$((3*3))")
        c.expect("still-9")
        c.send("\x01x")
        assert finish(c) == 0
    finally:
        c.close(force=True)
    assert _state(cli, "keys")["Running"] is True


def test_start_ai_gives_the_terminal_back(cli, root, busybox):
    cli("create", "-it", "--name", "later", "--network", "none", busybox, "sh")
    c = spawn(root, "start", "-ai", "later", rows=20, cols=70)
    try:
        c.expect(PROMPT)
        c.sendline("stty size")
        c.expect("20 70")
        c.sendline("exit 4")
        assert finish(c) == 4
    finally:
        c.close(force=True)


def test_run_i_pipes_stdin_and_eof_closes_it(cli, busybox):
    p = cli("run", "--rm", "-i", "--network", "none", busybox, "sh", "-c",
            "wc -c; echo done", input="x" * 100000)
    assert p.stdout.split() == ["100000", "done"]


def test_attach_to_a_stopped_container_is_refused(cli, busybox):
    cli("create", "--name", "idle", "--network", "none", busybox, "true")
    p = cli("attach", "idle", check=False)
    assert p.returncode == 125
    assert "start it first" in p.stderr


def test_input_device_not_a_tty(cli, busybox):
    p = cli("run", "--rm", "-it", "--network", "none", busybox, "true", check=False, input="")
    assert p.returncode == 125 and "not a TTY" in p.stderr


@pytest.mark.parametrize("spec,expected", [("", b"\x10\x11"), ("ctrl-a,x", b"\x01x"),
                                           ("ctrl-@,ctrl-_", b"\x00\x1f")])
def test_detach_keys_parse(spec, expected):
    from engine.runtime.pty import DetachScanner, parse_detach_keys
    keys = parse_detach_keys(spec)
    assert keys == expected
    s = DetachScanner(keys)
    assert s.feed(b"ab" + keys[:1]) == (b"ab", False)   # held: it may start the sequence
    assert s.feed(keys[1:]) == (b"", True)
    assert s.feed(keys[:1] + b"z") == (keys[:1] + b"z", False)


def test_bad_detach_keys_refused():
    from engine.runtime.pty import parse_detach_keys
    with pytest.raises(ValueError):
        parse_detach_keys("ctrl-1")



def test_run_i_passes_binary_input_larger_than_the_buffers(root, busybox, tmp_path):
    # piped bytes are data: a ctrl-p ctrl-q inside them does not detach, and input beyond the
    # monitor's queue waits for the slow container instead of being dropped
    import subprocess
    data = (b"\x10\x11" + os.urandom(1 << 16)) * 48     # ~3 MiB, beyond MAX_PENDING
    src = tmp_path / "in"
    src.write_bytes(data)
    env = {**os.environ, "BERTH_ROOT": root}
    env.pop("BERTH_RUN", None)
    with open(src, "rb") as f:
        feeder = subprocess.Popen(["cat"], stdin=f, stdout=subprocess.PIPE)   # a pipe, not a file
        p = subprocess.run([*BERTH, "run", "--rm", "-i", "--network", "none", busybox, "sh",
                            "-c", "sleep 1; wc -c"], stdin=feeder.stdout, capture_output=True,
                           env=env, cwd=REPO, timeout=60)
        feeder.stdout.close()
        feeder.wait()
    assert (p.returncode, p.stdout.strip()) == (0, str(len(data)).encode()), p.stderr


def test_attach_proxies_signals_to_a_container_without_terminal(cli, root, busybox):
    import signal
    import subprocess
    cli("run", "-d", "--name", "trap", "--network", "none", busybox, "sh", "-c",
        'trap "echo got-int; exit 9" INT; echo ready; while true; do sleep 0.1; done')
    env = {**os.environ, "BERTH_ROOT": root}
    env.pop("BERTH_RUN", None)
    p = subprocess.Popen([*BERTH, "attach", "trap"], stdout=subprocess.PIPE, env=env, cwd=REPO)
    import queue
    import threading
    lines: queue.Queue = queue.Queue()
    threading.Thread(target=lambda: [lines.put(x) for x in iter(p.stdout.readline, b"")],
                     daemon=True).start()
    try:
        # attach replays nothing: say something until the client shows it is attached
        for _ in range(50):
            cli("exec", "trap", "sh", "-c", "echo attached-now > /proc/1/fd/1")
            try:
                if lines.get(timeout=0.3) == b"attached-now\n":
                    break
            except queue.Empty:
                pass
        else:
            raise AssertionError("berth attach never showed the container's output")
        p.send_signal(signal.SIGINT)
        while (line := lines.get(timeout=20)) == b"attached-now\n":
            pass
        assert line == b"got-int\n"
        assert p.wait(timeout=20) == 9
    finally:
        p.kill()
        p.wait()


def test_run_i_echoes_a_large_stream_without_deadlock(root, busybox, tmp_path):
    # input and output both beyond every buffer on the way: the client must keep reading the
    # output while its input waits, or client and monitor wait for each other
    import hashlib
    import subprocess
    data = os.urandom(6 << 20)
    env = {**os.environ, "BERTH_ROOT": root}
    env.pop("BERTH_RUN", None)
    p = subprocess.run([*BERTH, "run", "--rm", "-i", "--network", "none", busybox, "cat"],
                       input=data, capture_output=True, env=env, cwd=REPO, timeout=120)
    assert p.returncode == 0, p.stderr
    assert hashlib.sha256(p.stdout).digest() == hashlib.sha256(data).digest()


def test_hostile_frames_from_an_attacher_do_not_kill_the_monitor(cli, root, busybox):
    """The monitor serves every attacher (the API's among them): a resize past 16 bits or a
    signal number past the kernel's range is ignored, the container runs on."""
    import socket
    from engine import Engine
    from engine.runtime import frames
    cli("run", "-dit", "--name", "box", "--network", "none", busybox, "sh")
    fd = Engine(root).attach("box")
    s = socket.socket(fileno=fd)
    try:
        for kind, payload in ((frames.RESIZE, b"70000 70000"), (frames.RESIZE, b"-1 x"),
                              (frames.SIGNAL, b"99999999999999999999"), (frames.SIGNAL, b"999")):
            s.sendall(frames.encode(kind, payload))
        s.sendall(frames.encode(frames.STDIN, b"echo still-$((6*7))\n"))
        seen = b""
        s.settimeout(10)
        while b"still-42" not in seen:
            chunk = s.recv(4096)
            assert chunk, f"the monitor hung up: {seen!r}"
            seen += chunk
    finally:
        s.close()
    assert _state(cli, "box")["Running"] is True
    cli("rm", "-f", "box")
