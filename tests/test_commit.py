"""berth diff, commit, export and top against real containers."""

from __future__ import annotations

import io
import json
import os
import subprocess
import tarfile

from helpers import BERTH, REPO


def _raw(root: str, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "BERTH_ROOT": root}
    env.pop("BERTH_RUN", None)
    return subprocess.run([*BERTH, *args], capture_output=True, env=env, cwd=REPO, timeout=60)


CHANGES = "rm /bin/vi; rm -rf /home; mkdir /data; echo x > /data/y; echo more >> /etc/group"


def test_diff_reports_added_changed_deleted(cli, busybox):
    cli("run", "--name", "changed", "--network", "none", busybox, "sh", "-c", CHANGES)
    lines = cli("diff", "changed").stdout.splitlines()
    assert lines == ["C /bin", "D /bin/vi", "A /data", "A /data/y", "C /etc", "C /etc/group",
                     "D /home"]


def test_commit_of_a_deletion_yields_an_image_without_the_file(cli, busybox):
    cli("run", "--name", "changed", "--network", "none", busybox, "sh", "-c", CHANGES)
    image_id = cli("commit", "-m", "trimmed", "-a", "Ann <ann@example.com>",
                   "--change", "ENV MARK=committed", "--change", 'CMD ["cat", "/data/y"]',
                   "changed", "trimmed:v1").stdout.strip()
    assert image_id.startswith("sha256:")
    # the committed CMD and the new layer's file
    assert cli("run", "--rm", "--network", "none", "trimmed:v1").stdout == "x\n"
    p = cli("run", "--rm", "--network", "none", "trimmed:v1", "sh", "-c",
            "ls /bin/vi; ls -d /home; echo $MARK; tail -1 /etc/group", check=False)
    assert "/bin/vi: No such file or directory" in p.stderr
    assert "/home: No such file or directory" in p.stderr
    assert p.stdout.split() == ["committed", "more"]
    info = json.loads(cli("image", "inspect", "trimmed:v1").stdout)[0]
    assert info["Author"] == "Ann <ann@example.com>" and info["Comment"] == "trimmed"
    assert len(info["RootFS"]["Layers"]) == 2
    history = cli("history", "trimmed:v1").stdout
    assert "trimmed" in history


def test_commit_of_a_running_container_and_opaque_directories(cli, busybox):
    cli("run", "-d", "--name", "live", "--network", "none", busybox, "sh", "-c",
        "rm -rf /etc; mkdir /etc; echo fresh > /etc/only; sleep 1000")
    cli("exec", "live", "sh", "-c", "while [ ! -f /etc/only ]; do sleep 0.05; done")
    cli("commit", "live", "opaque:v1")
    # the running container was paused for the commit and runs on
    assert cli("inspect", "-f", "{{.State.Status}}", "live").stdout.strip() == "running"
    out = cli("run", "--rm", "--network", "none", "--entrypoint", "ls", "opaque:v1",
              "/etc").stdout.split()
    # the old /etc is hidden (opaque); the runtime's own files are bound over it at start
    assert "only" in out and "passwd" not in out and "group" not in out


def test_export_writes_the_filesystem(cli, root, busybox, tmp_path):
    cli("run", "--name", "exp", "--network", "none", busybox, "sh", "-c",
        "echo exported > /marker; rm /bin/vi")
    p = _raw(root, "export", "exp")
    assert p.returncode == 0, p.stderr
    with tarfile.open(fileobj=io.BytesIO(p.stdout)) as t:
        names = set(t.getnames())
        assert t.extractfile("marker").read() == b"exported\n"
    assert "bin/busybox" in names and "bin/vi" not in names
    cli("export", "-o", str(tmp_path / "out.tar"), "exp")
    with tarfile.open(tmp_path / "out.tar") as t:
        assert set(t.getnames()) == names


def test_export_of_a_running_container_leaves_out_proc(cli, root, busybox):
    cli("run", "-d", "--name", "up", "--network", "none", busybox, "sleep", "1000")
    p = _raw(root, "export", "up")
    assert p.returncode == 0, p.stderr
    with tarfile.open(fileobj=io.BytesIO(p.stdout)) as t:
        names = set(t.getnames())
    assert "proc" in names and not any(n.startswith("proc/") for n in names)
    assert "bin/sh" in names


def test_top_lists_the_container_processes(cli, busybox):
    cli("run", "-d", "--name", "tops", "--network", "none", busybox, "sh", "-c",
        "sleep 1001 & sleep 1002")
    cli("exec", "tops", "sh", "-c", "while ! ps | grep -q 'sleep 1001'; do sleep 0.05; done")
    lines = cli("top", "tops").stdout.splitlines()
    assert lines[0].split() == ["UID", "PID", "CONTAINER", "PID", "PPID", "%CPU", "RSS", "TIME",
                                "CMD"]
    rows = [ln.split() for ln in lines[1:]]
    cmds = {" ".join(r[7:]): r for r in rows}
    # sh execs its last command: pid 1 is "sleep 1002", the parent of "sleep 1001"
    assert cmds["sleep 1002"][2] == "1"
    assert cmds["sleep 1001"][2] != "1" and cmds["sleep 1001"][3] == cmds["sleep 1002"][1]
    assert all(r[0] == "root" for r in rows)
    host_pids = {int(r[1]) for r in rows}
    assert all(os.path.exists(f"/proc/{p}") for p in host_pids)
    # ps options as typed after the container, dashes and all (docker top C -eo pid,comm)
    picked = [ln.split() for ln in cli("top", "tops", "-eo", "pid,comm").stdout.splitlines()]
    assert picked[0] == ["PID", "COMMAND"] and {int(r[0]) for r in picked[1:]} == host_pids
    cli("stop", "-t", "0", "tops")
    p = cli("top", "tops", check=False)
    assert p.returncode == 125 and "not running" in p.stderr
