"""berth exec: namespaces, cgroup, security settings, exit codes, -i, -t, -d, -e, -w, -u."""

from __future__ import annotations

import os

import pytest

from test_interactive import PROMPT, finish, spawn


@pytest.fixture
def box(cli, busybox):
    """A running busybox container (network none) with a name."""
    cli("run", "-d", "--name", "box", "--network", "none", busybox, "sleep", "1000")
    return "box"


def _status_field(text: str, key: str) -> str:
    return next(ln.split(":", 1)[1].strip() for ln in text.splitlines() if ln.startswith(key))


def test_exec_joins_the_namespaces_and_the_cgroup(cli, root, box):
    cid = cli("inspect", "-f", "{{.Id}}", box).stdout.strip()
    out = cli("exec", box, "sh", "-c", "echo $$; hostname; ps -o pid,args").stdout.split("\n")
    assert out[1] == cid[:12]                          # uts
    pids = [ln.split(None, 1) for ln in out[3:] if ln.strip()]
    assert ["1", "sleep 1000"] in pids                 # pid namespace: the container's pid 1
    assert int(out[0]) > 1
    own = os.readlink("/proc/self/ns/mnt")
    assert cli("exec", box, "readlink", "/proc/self/ns/mnt").stdout.strip() != own
    # the exec'd process is in the container's cgroup (as the host sees it)
    pid1 = int(cli("inspect", "-f", "{{.State.Pid}}", box).stdout)
    cg = cli("exec", box, "sh", "-c", "cat /proc/self/cgroup").stdout
    assert all(line.endswith(":/") for line in cg.split()), cg   # cgroup ns root
    with open(f"/proc/{pid1}/cgroup") as f:
        mine = f.read()
    assert cid in mine


def test_exec_has_the_container_security_settings(cli, busybox):
    cli("run", "-d", "--name", "tight", "--network", "none", "--cap-drop", "ALL",
        "--cap-add", "CHOWN", "--security-opt", "no-new-privileges", busybox, "sleep", "1000")
    status = cli("exec", "tight", "cat", "/proc/self/status").stdout
    assert _status_field(status, "CapEff") == "0000000000000001"
    assert _status_field(status, "CapBnd") == "0000000000000001"
    assert _status_field(status, "NoNewPrivs") == "1"
    assert _status_field(status, "Seccomp") == "2"
    # --privileged gives the exec every capability, seccomp stays
    status = cli("exec", "--privileged", "tight", "cat", "/proc/self/status").stdout
    assert int(_status_field(status, "CapEff"), 16) > 0xFFFF
    # its parent (berth's intermediate, the host's interpreter) is outside the pid namespace
    assert cli("exec", "tight", "sh", "-c", "echo $PPID").stdout == "0\n"


def test_exec_exit_codes_as_docker(cli, box):
    assert cli("exec", box, "sh", "-c", "exit 7", check=False).returncode == 7
    p = cli("exec", box, "nosuch", check=False)
    assert p.returncode == 127
    assert 'exec: "nosuch": executable file not found in $PATH' in p.stderr
    p = cli("exec", box, "/etc/passwd", check=False)
    assert p.returncode == 126
    p = cli("exec", "-u", "nobody-here", box, "true", check=False)
    assert p.returncode == 126 and "unable to find user nobody-here" in p.stderr


def test_exec_user_workdir_env(cli, box):
    out = cli("exec", "-u", "nobody", "-w", "/tmp", "-e", "FOO=bar", box, "sh", "-c",
              'id -u; pwd; echo $FOO; echo $HOME').stdout.split()
    assert out == ["65534", "/tmp", "bar", "/home"]


def test_exec_stdin_and_detach(cli, box):
    assert cli("exec", "-i", box, "wc", "-c", input="y" * 5000).stdout.strip() == "5000"
    # without -i the command's stdin is empty
    assert cli("exec", box, "wc", "-c", input="ignored").stdout.strip() == "0"
    assert cli("exec", "-d", box, "sh", "-c", "sleep 0.2; echo done > /tmp/mark").stdout == ""
    assert cli("exec", box, "sh", "-c", "while [ ! -f /tmp/mark ]; do sleep 0.05; done; "
               "cat /tmp/mark", timeout=30).stdout == "done\n"


def test_exec_refused_on_stopped_and_paused(cli, busybox, box):
    cli("pause", box)
    p = cli("exec", box, "true", check=False)
    assert p.returncode == 125 and "paused" in p.stderr
    cli("unpause", box)
    cli("create", "--name", "idle", "--network", "none", busybox, "true")
    p = cli("exec", "idle", "true", check=False)
    assert p.returncode == 125 and "is not running" in p.stderr


def test_exec_it_shell_and_resize(root, box):
    c = spawn(root, "exec", "-it", box, "sh", rows=33, cols=91)
    try:
        c.expect(PROMPT)
        c.sendline("tty; stty size; echo $TERM")
        c.expect("/dev/pts/")
        c.expect("33 91")
        c.expect("xterm")
        c.setwinsize(44, 111)
        c.sendline("stty size")
        c.expect("44 111")
        c.sendline("exit 5")
        assert finish(c) == 5
    finally:
        c.close(force=True)


def test_exec_without_t_never_hands_over_the_users_terminal(root, box):
    # from a terminal, without -t: the command gets pipes that berth copies, not our terminal
    # (which it could steer: TIOCSTI, modes); its output and exit code still arrive
    c = spawn(root, "exec", box, "sh", "-c",
              "readlink /proc/self/fd/1; readlink /proc/self/fd/2; exit 6")
    try:
        c.expect(r"pipe:\[\d+\]\r\npipe:\[\d+\]")
        assert finish(c) == 6
    finally:
        c.close(force=True)


def test_exec_it_detach_leaves_the_command_running(cli, root, box):
    c = spawn(root, "exec", "-it", box, "sh")
    try:
        c.expect(PROMPT)
        c.sendline("echo $$ > /tmp/shell.pid")
        c.expect(PROMPT)
        c.send("\x10\x11")
        assert finish(c) == 0
    finally:
        c.close(force=True)
    pid = cli("exec", box, "cat", "/tmp/shell.pid").stdout.strip()
    assert cli("exec", box, "kill", "-0", pid).returncode == 0   # the shell runs on
    cli("exec", box, "kill", "-9", pid)
