"""berth without root, as a real unprivileged user made for the session (rootless_support.py):
state and run directories, the user namespace and the owners of unpacked layers, run, -it
through a pty, exec, logs -f, a named volume, a bind of the user's own files, limits refused,
stats from /proc, commit and build, and the fuse-overlayfs fallback."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import time

import pexpect
import pytest

from helpers import BUSYBOX_MUSL

pytestmark = pytest.mark.xdist_group("rootless")

IMAGE = "busybox:1.38.0-musl"


def _owner(path: str) -> int:
    return os.lstat(path).st_uid


def test_state_run_dirs_namespace_and_layer_owners(rootless_user):
    u = rootless_user
    assert u.berth("load", "-i", str(BUSYBOX_MUSL)).stdout.strip() == f"Loaded image: {IMAGE}"
    # state in ~/.local/share/berth, run files in $XDG_RUNTIME_DIR/berth (0700), both the user's
    assert _owner(u.state) == u.uid
    st = os.stat(u.run_dir)
    assert st.st_uid == u.uid and stat.S_IMODE(st.st_mode) == 0o700
    # one holder of the user namespace, running as the user, mapping root to the user and
    # 1..65536 to the subordinate range
    with open(os.path.join(u.run_dir, "pause.pid")) as f:
        pause = int(f.read().split()[0])
    assert os.stat(f"/proc/{pause}").st_uid == u.uid
    with open(f"/proc/{pause}/uid_map") as f:
        rows = [line.split() for line in f]
    assert rows == [["0", str(u.uid), "1"], ["1", str(u.subid_start), "65536"]]
    # busybox's /home is owned by 65534 in its layer: subordinate id base+65533 on disk
    layers = os.path.join(u.state, "layers")
    homes = [os.path.join(layers, d, "diff", "home") for d in os.listdir(layers)]
    homes = [h for h in homes if os.path.isdir(h)]
    assert homes and all(_owner(h) == u.subid_start + 65533 for h in homes)
    assert all(_owner(os.path.join(layers, d, "diff", "bin")) == u.uid for d in os.listdir(layers))
    # without XDG_RUNTIME_DIR: a private directory under /tmp, said in one line
    p = u.berth("images", "-q", env={"XDG_RUNTIME_DIR": None})
    fallback = f"/tmp/berth-run-{u.uid}"
    assert p.stderr.splitlines() == [f"berth: XDG_RUNTIME_DIR is not set; run-time files go to "
                                     f"{fallback} (mode 0700)"]
    st = os.lstat(fallback)
    assert st.st_uid == u.uid and stat.S_IMODE(st.st_mode) == 0o700


def test_first_commands_at_once_make_one_namespace_holder():
    """Several first commands of a new user at once, half of them without XDG_RUNTIME_DIR (so
    with another run directory): one berth-pause, which both run directories name. Each run
    directory used to make its own, and its own lock did not keep the other out."""
    from rootless_support import _user
    for u in _user(subids=True):
        procs = [subprocess.Popen(u.command("berth", "ps", "-q"), cwd=u.home,
                                  env=u.env(XDG_RUNTIME_DIR=None if i % 2 else u.xdg),
                                  stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
                 for i in range(8)]
        errors = [p.communicate(timeout=60)[1] for p in procs]
        assert [p.returncode for p in procs] == [0] * 8, errors
        pauses = []
        for pid in u.live_pids():
            try:
                with open(f"/proc/{pid}/cmdline", "rb") as f:
                    if f.read().startswith(b"berth-pause\0"):
                        pauses.append(pid)
            except OSError:
                pass
        assert len(pauses) == 1, pauses
        for run in (u.run_dir, f"/tmp/berth-run-{u.uid}"):
            with open(os.path.join(run, "pause.pid")) as f:
                assert int(f.read().split()[0]) == pauses[0]


def test_run_exec_logs_follow_volume_and_bind(loaded_user):
    u = loaded_user
    out = u.berth("run", "--rm", "--network", "none", IMAGE, "id", "-u").stdout
    assert out.strip() == "0"
    u.berth("run", "-d", "--name", "talker", "--network", "none", "--health-cmd",
            "test -e /proc/1", "--health-interval", "1s", IMAGE, "sh", "-c",
            "i=0; while :; do echo line$i; i=$((i+1)); sleep 0.1; done")
    try:
        follow = u.popen("berth", "logs", "-f", "talker", stdout=subprocess.PIPE, text=True)
        try:
            seen = [follow.stdout.readline().strip() for _ in range(15)]
        finally:
            follow.kill()
            follow.wait()
        assert seen[:3] == ["line0", "line1", "line2"] and seen[14] == "line14"
        ex = u.berth("exec", "talker", "sh", "-c", "echo $((6*7)) > /tmp/x; cat /tmp/x")
        assert ex.stdout.strip() == "42"
        u.berth("cp", "talker:/tmp/x", os.path.join(u.home, "copied"))
        with open(os.path.join(u.home, "copied")) as f:
            assert f.read().strip() == "42"
        assert _owner(os.path.join(u.home, "copied")) == u.uid
        deadline = time.monotonic() + 20
        while u.berth("inspect", "-f", "{{.State.Health.Status}}",
                      "talker").stdout.strip() != "healthy":
            assert time.monotonic() < deadline
            time.sleep(0.1)
        events = u.berth("events", "--since", "10m", "--until", "0s", "--filter",
                         "container=talker", "--format", "{{.Action}}").stdout.split("\n")
        assert "start" in events and "health_status: healthy" in events
        u.berth("commit", "talker", "talked:1")
        assert u.berth("run", "--rm", "--network", "none", "talked:1", "cat",
                       "/tmp/x").stdout.strip() == "42"
    finally:
        u.berth("rm", "-f", "talker")
    # a named volume: a file chowned to 1000 in the container is subordinate id base+999
    u.berth("volume", "create", "data")
    u.berth("run", "--rm", "--network", "none", "-v", "data:/data", IMAGE, "sh", "-c",
            "echo kept > /data/f && chown 1000:1000 /data/f")
    data = os.path.join(u.state, "volumes", "data", "_data", "f")
    assert _owner(data) == u.subid_start + 999
    assert u.berth("run", "--rm", "--network", "none", "-v", "data:/data", IMAGE, "cat",
                   "/data/f").stdout.strip() == "kept"
    # a bind of the user's own directory: what the container's root writes is the user's
    mine = os.path.join(u.home, "mine")
    u.run("mkdir", mine, check=True)
    u.berth("run", "--rm", "--network", "none", "-v", f"{mine}:/m", IMAGE, "sh", "-c",
            "echo w > /m/written")
    assert _owner(os.path.join(mine, "written")) == u.uid


def test_run_it_through_a_pty(loaded_user):
    u = loaded_user
    def spawn(*args: str, rows: int = 30, cols: int = 100) -> pexpect.spawn:
        argv = u.command("berth", *args)
        return pexpect.spawn(argv[0], argv[1:], env=u.env(), cwd=u.home, dimensions=(rows, cols),
                             timeout=30)

    child = spawn("run", "-it", "--name", "tty", "--network", "none", IMAGE, "sh")
    try:
        child.expect(r"[#$] ")
        child.sendline("tty; stty size; echo uid=$(id -u)")
        child.expect("/dev/pts/0")
        child.expect("30 100")
        child.expect("uid=0")
        child.send("\x10\x11")              # ctrl-p ctrl-q: detached, still running
        child.expect(pexpect.EOF)
    finally:
        child.close(force=True)
    again = spawn("attach", "tty", rows=25, cols=90)
    try:
        again.sendline("stty size")
        again.expect("25 90")
        again.sendline("exit 3")
        again.expect(pexpect.EOF)
        again.close()
        assert again.exitstatus == 3
    finally:
        again.close(force=True)
        u.berth("rm", "-f", "tty")


def test_limits_refused_and_stats_from_proc(loaded_user):
    u = loaded_user
    p = u.berth("run", "--rm", "--memory", "64m", "--network", "none", IMAGE, "true", check=False)
    assert p.returncode == 125
    lines = p.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("berth: --memory needs cgroup delegation")
    p = u.berth("run", "--rm", "--pids-limit", "10", "--network", "none", IMAGE, "true",
                check=False)
    assert p.returncode == 125 and "--pids-limit needs cgroup delegation" in p.stderr
    p = u.berth("run", "--rm", "--cgroup-parent", "mine", "--network", "none", IMAGE, "true",
                check=False)
    assert p.returncode == 125 and "--cgroup-parent needs cgroup delegation" in p.stderr
    assert u.berth("ps", "-aq").stdout == ""        # nothing was created
    u.berth("run", "-d", "--name", "busy", "--network", "none", IMAGE, "sh", "-c",
            "sleep 300 & sleep 300 & while :; do :; done")
    try:
        deadline = time.monotonic() + 20
        while True:
            row = json.loads(u.berth("stats", "--no-stream", "--format", "{{json .}}",
                                     "busy").stdout)
            if row["PIDs"] == "3" and float(row["CPUPerc"].rstrip("%")) > 20:
                break
            assert time.monotonic() < deadline, row
        p = u.berth("update", "--memory", "64m", "busy", check=False)
        assert p.returncode == 125 and "needs cgroup delegation" in p.stderr
        p = u.berth("pause", "busy", check=False)
        assert p.returncode != 0 and "pause needs cgroup delegation" in p.stderr
    finally:
        u.berth("rm", "-f", "busy")


def test_build(loaded_user):
    u = loaded_user
    ctx = os.path.join(u.home, "ctx")
    u.run("mkdir", ctx, check=True)
    u.run("sh", "-c", f"printf 'FROM {IMAGE}\\nRUN echo built > /b && adduser -D app && "
                      f"chown app /b\\nCOPY f /f\\n' > {ctx}/Dockerfile && echo file > {ctx}/f",
          check=True)
    out = u.berth("build", "-t", "made:1", ".", cwd=ctx).stdout
    assert "Successfully tagged made:1" in out
    got = u.berth("run", "--rm", "--network", "none", "made:1", "sh", "-c",
                  "cat /b /f; stat -c %U /b").stdout.split()
    assert got == ["built", "file", "app"]


def test_host_namespaces_devices_and_privileged(loaded_user):
    """What a user namespace can't make fresh is bound from the host: /proc with --pid host,
    /sys with --network host, device nodes for --device and --privileged."""
    u = loaded_user
    out = u.berth("run", "--rm", "--network", "host", "--pid", "host", "--ipc", "host",
                  "--device", "/dev/fuse", IMAGE, "sh", "-c",
                  f"test -d /proc/{os.getpid()} && echo host-pids; test -c /dev/fuse && "
                  "echo fuse; test -d /sys/class/net/lo && echo host-sys").stdout.split()
    assert out == ["host-pids", "fuse", "host-sys"]
    out = u.berth("run", "--rm", "--network", "none", "--privileged", IMAGE, "sh", "-c",
                  "test -c /dev/fuse && echo devices; "
                  "grep -c . /proc/self/uid_map").stdout.split()
    assert out == ["devices", "2"]


def _fuse_left(u) -> list[str]:
    """fuse-overlayfs processes of the user, and FUSE mounts any process of theirs (or this
    one) sees."""
    left = []
    for pid in u.live_pids() + [os.getpid()]:
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                if f.read().split(b"\0")[0].endswith(b"fuse-overlayfs"):
                    left.append(f"process {pid}")
            with open(f"/proc/{pid}/mountinfo") as f:
                left += [f"{pid}: {line.strip()}" for line in f if " - fuse" in line]
        except OSError:
            pass
    return left


def test_fuse_overlayfs_fallback_and_its_cleanup(loaded_user, tmp_path):
    """BERTH_FUSE_OVERLAYFS=1 takes the path of a kernel that refuses overlay in a user
    namespace: containers' roots, and cp from a stopped container, through fuse-overlayfs. This
    host keeps /dev/fuse to root (0600): the test binds an open node of its own over it in a
    mount namespace of the user's commands, as a host that ships it 0666 would have it."""
    u = loaded_user
    base = os.path.dirname(u.xdg)
    fuse = os.path.join(base, f"fuse-{u.name}")
    os.mknod(fuse, 0o20666, os.makedev(10, 229))
    os.chmod(fuse, 0o666)

    def berth(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            ["unshare", "-m", "--propagation", "private", "sh", "-c",
             f"mount --bind {fuse} /dev/fuse && exec \"$@\"", "sh", *u.command("berth", *args)],
            env=u.env(BERTH_FUSE_OVERLAYFS="1"), cwd=u.home, capture_output=True, text=True,
            timeout=90)

    try:
        p = berth("run", "--name", "fused", "--network", "none", IMAGE, "sh", "-c",
                  "grep ' / ' /proc/mounts | cut -d' ' -f3; echo made > /made; rm /bin/ls; "
                  "mkdir /etc/new; ls /etc/new; cat /made; which ls || echo whiteout")
        assert p.stdout.split() == ["fuse.fuse-overlayfs", "made", "whiteout"], p.stderr
        # the stopped container's files, through fuse-overlayfs in cp's own mount namespace
        p = berth("cp", "fused:/made", "-")
        assert p.returncode == 0 and b"made" in p.stdout.encode(), p.stderr
        # without the forced fallback the same container starts on native overlay
        assert u.berth("start", "-a", "fused").stdout.split()[0] == "overlay"
        # a running one, its daemon a process of the container's, which ends with it
        p = berth("run", "-d", "--name", "fused2", "--network", "none", IMAGE, "sleep", "300")
        assert p.returncode == 0, p.stderr
        assert any(line.startswith("process") for line in _fuse_left(u))
        # but none of the container's: it sees only its own processes
        seen = u.berth("exec", "fused2", "sh", "-c", "ps -o comm; cat /proc/[0-9]*/comm").stdout
        assert "fuse" not in seen and "sleep" in seen, seen
        u.berth("rm", "-f", "fused", "fused2")
        end = time.monotonic() + 10
        while _fuse_left(u):
            assert time.monotonic() < end, _fuse_left(u)
            time.sleep(0.05)
        # the fallback's own failure is one line, both reasons in it
        p = u.berth("run", "--rm", "--network", "none", IMAGE, "true", check=False,
                    env={"BERTH_FUSE_OVERLAYFS": "1"})
        lines = p.stderr.strip().splitlines()
        assert p.returncode == 125 and len(lines) == 1 and lines[0].startswith(
            "berth: failed to start container ") and lines[0].endswith(
            ": mount the container's root filesystem (overlay) in your user namespace: "
            "/dev/fuse: Permission denied; without root berth needs Linux 5.11 or later, whose "
            "overlayfs mounts in a user namespace, or fuse-overlayfs"), p.stderr
    finally:
        u.berth("rm", "-f", "fused", "fused2", check=False)
        os.unlink(fuse)
