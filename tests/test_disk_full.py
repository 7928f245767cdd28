"""A full disk: berth's root on a small loop-mounted ext4 filesystem, filled to its last block.

Every command fails in one line or works; what frees space (rm, rmi, prune, stop, kill) works;
a container that logs goes on running, its lines are dropped and counted (and the count is told
in its log once space returns), its real exit code is recorded; no temporary file stays.
"""

from __future__ import annotations

import errno
import json
import os
import socket
import subprocess
import time
from types import SimpleNamespace

import pytest

from helpers import ALPINE_ROOTFS, BUSYBOX_GLIBC, BUSYBOX_MUSL, berth, cleanup_root, remove_root

BB = "busybox:1.38.0-musl"
NO_SPACE = "no space left on device while"


def _mkfs_mount(dev: str, where: str, *mkfs: str) -> None:
    subprocess.run(["mkfs.ext4", "-q", "-F", "-m", "0", *mkfs, dev], check=True,
                   capture_output=True)
    subprocess.run(["mount", dev, where], check=True, capture_output=True)


def _unmount(where: str) -> None:
    subprocess.run(["umount", where], capture_output=True)
    if os.path.ismount(where):
        subprocess.run(["umount", "-l", where], capture_output=True)


@pytest.fixture
def small_root(loop_device, tmp_path):
    """A berth root that is a 64 MiB ext4 filesystem of its own; everything it made on the
    host, its mount and its loop device go afterwards."""
    root = str(tmp_path / "root")
    os.mkdir(root)
    _mkfs_mount(loop_device, root)
    try:
        yield root
    finally:
        try:
            cleanup_root(root)
        finally:
            _unmount(root)
            remove_root(root)   # the run directory a late opener made again, too


@pytest.fixture
def small_dir(loop_device, tmp_path):
    """A directory on a 64 MiB ext4 filesystem with only 64 inodes."""
    d = str(tmp_path / "small")
    os.mkdir(d)
    _mkfs_mount(loop_device, d, "-N", "64")
    try:
        yield d
    finally:
        _unmount(d)


def fill(where: str, name: str = "filler") -> str:
    """Take every free block of the filesystem under ``where``; the path of the file that did."""
    path = os.path.join(where, name)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    try:
        for size in (1 << 20, 1 << 16, 4096, 512, 1):
            chunk = b"\0" * size
            while True:
                try:
                    os.write(fd, chunk)
                except OSError as e:
                    assert e.errno == errno.ENOSPC, e
                    break
    finally:
        os.close(fd)
    return path


def free_bytes(where: str) -> int:
    st = os.statvfs(where)
    return st.f_bavail * st.f_frsize   # ext4 keeps some blocks back for its own metadata


def temp_files(root: str) -> list[str]:
    """berth's temporary files anywhere under ``root`` but in containers' and layers' content."""
    found = []
    for d, dirs, files in os.walk(root):
        dirs[:] = [x for x in dirs if x not in ("upper", "work", "rootfs", "diff", "_data")]
        found += [os.path.join(d, f) for f in files if ".tmp." in f or f.endswith(".tmp")]
    return found


def one_line_or_ok(p: subprocess.CompletedProcess) -> None:
    """The command worked, or said why in one line with exit 125 (never a traceback)."""
    assert "Traceback" not in p.stderr, p.stderr
    if p.returncode:
        assert p.returncode == 125, (p.returncode, p.stderr)
        lines = p.stderr.splitlines()
        assert len(lines) == 1 and lines[0].startswith("berth: "), p.stderr


def state_of(root: str, name: str) -> dict:
    return json.loads(berth(root, "inspect", name).stdout)[0]["State"]


def wait_for(predicate, timeout: float = 20.0, what: str = "") -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.1)


# --- a container that logs -----------------------------------------------------------------------

def test_a_logging_container_outlives_a_full_disk_and_keeps_its_exit_code(small_root):
    root = small_root
    berth(root, "load", "-i", str(BUSYBOX_MUSL))
    berth(root, "run", "-d", "--name", "talker", BB, "sh", "-c",
          'trap "exit 3" TERM; i=0; while true; do echo line $i; i=$((i+1)); usleep 2000; done')
    wait_for(lambda: berth(root, "logs", "talker").stdout.count("\n") > 20, what="output")
    filler = fill(root)
    time.sleep(2)   # the container goes on writing to a disk that takes nothing
    state = state_of(root, "talker")
    assert state["Status"] == "running", state
    cid = json.loads(berth(root, "inspect", "talker").stdout)[0]["Id"]
    log = os.path.join(root, "containers", cid, "ctr.log")
    with open(log, "rb") as f:
        lines = f.read().splitlines()
    assert lines and all(json.loads(ln)["stream"] == "stdout" for ln in lines)   # none torn

    # the exit is recorded while the disk is still full
    one_line_or_ok(berth(root, "kill", "-s", "TERM", "talker", check=False))
    wait_for(lambda: state_of(root, "talker")["Status"] == "exited", what="the exit")
    state = state_of(root, "talker")
    assert (state["ExitCode"], state["Error"]) == (3, "")
    assert free_bytes(root) < 64 << 10

    # space returns: the log says how many lines were lost, once
    os.unlink(filler)
    wait_for(lambda: "of output dropped" in berth(root, "logs", "talker").stderr,
             what="the notice of dropped lines")
    notice = [ln for ln in berth(root, "logs", "talker").stderr.splitlines() if "dropped" in ln]
    assert len(notice) == 1
    words = notice[0].split()
    assert words[0] == "berth:" and int(words[1]) > 0 and words[2:6] == ["lines", "of", "output",
                                                                          "dropped"]
    assert notice[0].endswith(": no space left on device")
    assert state_of(root, "talker")["ExitCode"] == 3
    assert temp_files(root) == []


# --- every command -------------------------------------------------------------------------------

def test_commands_on_a_full_disk_say_so_in_one_line_and_removals_free_it(small_root):
    root = small_root
    berth(root, "load", "-i", str(BUSYBOX_MUSL))
    berth(root, "tag", BB, "bb:extra")
    berth(root, "run", "--name", "done", BB, "true")
    berth(root, "create", "--name", "made", BB, "true")
    berth(root, "run", "-d", "--name", "sleeper", BB, "sleep", "1000")
    berth(root, "run", "-d", "--name", "forced", BB, "sleep", "1000")
    berth(root, "run", "-d", "--name", "killed", BB, "sleep", "1000")
    berth(root, "volume", "create", "vol")
    containers = sorted(os.listdir(os.path.join(root, "containers")))
    fill(root)

    # what needs space fails, in one line that says why
    for args in (("create", BB, "true"), ("run", "-d", BB, "true"),
                 ("load", "-i", str(BUSYBOX_GLIBC)), ("import", str(ALPINE_ROOTFS), "al:1"),
                 ("network", "create", "net1"), ("volume", "create", "vol2")):
        p = berth(root, *args, check=False)
        one_line_or_ok(p)
        assert p.returncode == 125 and NO_SPACE in p.stderr, (args, p.stderr)
    # what might fit works or fails in one line
    for args in (("commit", "done", "img:c"), ("tag", BB, "bb:more"), ("start", "made"),
                 ("rename", "done", "done2"), ("update", "--restart", "always", "made"),
                 ("ps", "-a"), ("images",), ("inspect", "sleeper"), ("logs", "done2"),
                 ("system", "df"), ("network", "ls"), ("volume", "ls")):
        one_line_or_ok(berth(root, *args, check=False))
    assert sorted(os.listdir(os.path.join(root, "containers"))) == containers
    assert os.listdir(os.path.join(root, "tmp")) == []

    # what frees space works
    for args in (("stop", "-t", "1", "sleeper"), ("kill", "killed"), ("rm", "sleeper"),
                 ("rmi", "bb:extra"), ("volume", "rm", "vol"), ("container", "prune", "-f"),
                 ("image", "prune", "-f"), ("system", "prune", "-f")):
        p = berth(root, *args, check=False)
        assert p.returncode == 0 and "Traceback" not in p.stderr, (args, p.stderr)
    before = free_bytes(root)
    berth(root, "rm", "-f", "forced")
    berth(root, "image", "prune", "-a", "-f")
    assert berth(root, "ps", "-aq").stdout == "" and berth(root, "images", "-q").stdout == ""
    assert free_bytes(root) > before + (1 << 20)
    assert temp_files(root) == []
    # and the root works again
    berth(root, "load", "-i", str(BUSYBOX_MUSL))
    assert berth(root, "run", "--rm", BB, "echo", "again").stdout == "again\n"


def test_a_nearly_full_disk_leaves_nothing_half_written(small_root):
    root = small_root
    berth(root, "load", "-i", str(BUSYBOX_MUSL))
    berth(root, "run", "--name", "writer", BB, "dd", "if=/dev/urandom", "of=/data", "bs=1k",
          "count=800")
    filler = fill(root)
    os.truncate(filler, os.path.getsize(filler) - (400 << 10))   # commands start, then fail
    for args in (("load", "-i", str(BUSYBOX_GLIBC)), ("import", str(ALPINE_ROOTFS), "al:1"),
                 ("commit", "writer", "img:c"), ("save", "-o", f"{root}/out.tar", BB),
                 ("export", "-o", f"{root}/out2.tar", "writer")):
        p = berth(root, *args, check=False, timeout=30)
        one_line_or_ok(p)
        assert p.returncode == 125 and NO_SPACE in p.stderr, (args, p.stderr)
    assert temp_files(root) == [] and os.listdir(os.path.join(root, "tmp")) == []
    assert not os.path.exists(f"{root}/out.tar") and not os.path.exists(f"{root}/out2.tar")
    assert berth(root, "images", "-q").stdout.count("\n") == 1
    layers = os.path.join(root, "layers")
    assert all(os.path.exists(os.path.join(layers, x, "meta.json")) for x in os.listdir(layers))


def _tighten(root: str, cid: str, compact: bool) -> None:
    """Make the container's state record fill its last block to the byte (written compactly,
    or as berth writes records): a change that grows it fits in place no more."""
    from engine.runtime import fastjson, process
    from engine.store import write_atomic
    d = os.path.join(root, "containers", cid)
    block = os.statvfs(root).f_bsize
    with process.container_lock(d):
        state = dict(process.read_state(d), error="")
        size = len(fastjson.dumps(state, compact=compact)) + 1
        state["error"] = "x" * ((-size) % block + block)
        write_atomic(os.path.join(d, "state.json"),
                     fastjson.dumps(state, compact=compact).encode() + b"\n", fsync=False)
    st = os.stat(os.path.join(d, "state.json"))
    assert st.st_size == st.st_blocks * 512


def test_rm_needs_no_room_in_the_state_record(small_root):
    root = small_root
    berth(root, "load", "-i", str(BUSYBOX_MUSL))
    cid = berth(root, "run", "-d", "--name", "tight", BB, "sleep", "1000").stdout.strip()
    _tighten(root, cid, compact=True)   # not even its "removing" mark fits
    fill(root)
    p = berth(root, "rm", "-f", "tight", check=False)
    assert (p.returncode, p.stderr) == (0, "")
    assert not os.path.exists(os.path.join(root, "containers", cid))
    assert berth(root, "ps", "-aq").stdout == ""


def test_stop_records_the_exit_where_the_running_record_filled_its_block(small_root):
    root = small_root
    berth(root, "load", "-i", str(BUSYBOX_MUSL))
    cid = berth(root, "run", "-d", "--name", "tight", BB, "sleep", "1000").stdout.strip()
    _tighten(root, cid, compact=False)
    fill(root)
    started = time.monotonic()
    p = berth(root, "stop", "-t", "1", "tight", check=False)
    assert (p.returncode, p.stderr) == (0, "")
    assert time.monotonic() - started < 15
    state = state_of(root, "tight")
    assert (state["Status"], state["ExitCode"], state["Running"]) == ("exited", 137, False)


# --- the pieces ----------------------------------------------------------------------------------

def test_write_atomic_leaves_no_temp_file_and_rewrites_records_in_place(small_dir):
    from engine.errors import DiskError
    from engine.store import write_atomic, write_json
    record = os.path.join(small_dir, "record.json")
    write_json(record, {"names": ["a" * 300, "b" * 300]})
    fill(small_dir)
    with pytest.raises(DiskError) as e:
        write_atomic(os.path.join(small_dir, "new"), b"x" * 65536)
    assert str(e.value).startswith(f"{NO_SPACE} writing {small_dir}/new;")
    assert e.value.errno == errno.ENOSPC and isinstance(e.value, OSError)
    # a record that shrinks (what removals write) is written in place
    write_json(record, {"names": ["a" * 300]})
    assert json.load(open(record)) == {"names": ["a" * 300]}
    # one that outgrows its blocks is refused and stays as it was
    with pytest.raises(DiskError):
        write_json(record, {"names": ["c" * 5000]})
    assert json.load(open(record)) == {"names": ["a" * 300]}
    assert sorted(os.listdir(small_dir)) == ["filler", "lost+found", "record.json"]


def test_log_writer_drops_and_counts_and_rotation_keeps_the_file(small_dir):
    from engine.runtime import logs
    d = os.path.join(small_dir, "c")
    os.mkdir(d)
    w = logs.JsonFileWriter(d, {"max-size": "2k", "max-file": "3"})
    w.write("stdout", b"".join(b"first %d\n" % i for i in range(100)))
    open(os.path.join(small_dir, "filler"), "w").close()   # made while an inode is left
    # no inode left: rotation can't make a new file, and keeps writing to the one it has
    n = 0
    try:
        while True:
            open(os.path.join(small_dir, f"i{n}"), "w").close()
            n += 1
    except OSError as e:
        assert e.errno == errno.ENOSPC
    w.write("stdout", b"".join(b"second %d\n" % i for i in range(100)))
    texts = [t for _, _, t in logs.read_lines(d)]
    assert texts[-1] == "second 99\n" and sum(t.startswith("second") for t in texts) == 100
    # no block left: lines are dropped and counted, none torn
    filler = fill(small_dir, "filler")
    w.write("stdout", b"".join(b"third %d\n" % i for i in range(5000)))
    assert w.dropped > 0
    lost = w.dropped
    for path in logs.log_files(d):
        with open(path, "rb") as f:
            assert all(json.loads(ln) for ln in f.read().splitlines())
    # room again: the notice first (at the next look), then the lines
    os.unlink(filler)
    w.retry_at = 0.0
    w.write("stdout", b"fourth\n")
    w.close()
    lines = logs.read_lines(d)
    kept = sum(t.startswith("third") for _, _, t in lines)
    assert kept + lost == 5000
    assert lines[-1][1:] == ("stdout", "fourth\n")
    stream, text = lines[-2][1:]
    assert stream == "stderr" and text.startswith(f"berth: {lost} lines of output dropped from ")
    assert os.listdir(d) == ["ctr.log"] or all(".tmp." not in f for f in os.listdir(d))


def test_the_api_answers_a_full_disk_with_one_line(small_root):
    from test_api_support import start_service, stop_service
    root = small_root
    berth(root, "load", "-i", str(BUSYBOX_MUSL))
    proc, path = start_service(root, "--timeout", "0")
    try:
        fill(root)
        body = json.dumps({"Image": BB, "Cmd": ["true"]}).encode()
        with socket.socket(socket.AF_UNIX) as s:
            s.connect(path)
            s.sendall(b"POST /v1.45/containers/create HTTP/1.0\r\nContent-Type: application/json"
                      b"\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body))
            answer = b""
            while chunk := s.recv(65536):
                answer += chunk
        head, _, payload = answer.partition(b"\r\n\r\n")
        assert head.split()[1] == b"500"
        message = json.loads(payload)["message"]
        assert message.startswith(NO_SPACE) and "\n" not in message, message
    finally:
        stop_service(proc)
    assert b"Traceback" not in proc.stderr.read()


def test_a_seccomp_cache_that_cant_be_written_does_not_stop_a_start(root, cli, busybox,
                                                                     loop_device):
    """The compiled-BPF cache is an optimisation: on a full disk the container starts with the
    program compiled for it, and no temporary file is left in the cache."""
    cache = os.path.join(root, "cache", "seccomp")
    os.makedirs(cache, exist_ok=True)
    _mkfs_mount(loop_device, cache)
    try:
        fill(cache)
        assert free_bytes(cache) < 4096
        p = cli("run", "--rm", busybox, "sh", "-c", "grep Seccomp: /proc/self/status",
                check=False)
        assert p.returncode == 0 and p.stdout.split() == ["Seccomp:", "2"], p
        assert sorted(os.listdir(cache)) == ["filler", "lost+found"]
    finally:
        _unmount(cache)


def test_an_event_line_the_full_disk_cuts_short_is_taken_back(small_dir):
    """A write that fits only in part (the tail of the log's last page had room for 10 bytes)
    leaves the log as it was and says ENOSPC; once space returns the next event is whole."""
    from engine import events
    path = os.path.join(small_dir, "events.jsonl")
    events.append_line(path, b'{"time":1,"type":"container","action":"create","id":"a"}\n')
    with open(path, "ab") as f:   # blank lines, which readers skip, up to 10 bytes short of a page
        f.write(b" " * (4096 - 10 - 1 - os.path.getsize(path)) + b"\n")
    os.sync()
    filler = fill(small_dir)
    line = b'{"time":2,"type":"container","action":"start","id":"%s"}\n' % (b"b" * 64)
    with pytest.raises(OSError) as e:
        events.append_line(path, line)
    assert e.value.errno == errno.ENOSPC
    assert os.path.getsize(path) == 4096 - 10
    events.emit(SimpleNamespace(events_file=path), "container", "start", "b")   # never raises
    assert os.path.getsize(path) == 4096 - 10
    os.unlink(filler)
    events.append_line(path, line.replace(b'"time":2', b'"time":3'))
    assert [(e["time"], e["id"][:1]) for e in events.read_events(path)] == [(1, "a"), (3, "b")]
