"""No host binary or library is reachable from inside a container, privileged or not (issue 17,
item 9; CVE-2019-5736's class).

berth runs two things where a container can see them: --init's pid 1 and exec's joiner (the
process that forks into the container's pid namespace). Both are berth-init, static and run from
a sealed memfd copy. A static probe in the container walks /proc/<pid>/exe and
/proc/<pid>/map_files of every process it can see, compares what it reaches with the host's own
files (st_dev/st_ino as the host stats them: the interpreter, libpython, ld.so, libc and every
other file this Python maps, and berth-init's file on disk) and tries to open each for writing.
The exec case catches the joiner in the act: the container's /etc/passwd is a FIFO the test
holds, so the exec blocks while it resolves the user until the probe has looked.
"""

from __future__ import annotations

import errno
import os
import subprocess
import time

import pytest

from helpers import BERTH, REPO


def _host_files() -> list[str]:
    """DEV:INO of every file this interpreter maps (python, libpython, ld.so, libc, its
    extension modules) and of berth-init on disk: what no container may reach."""
    paths = {str(REPO / "engine" / "runtime" / "berth-init")}   # run only from sealed copies
    with open("/proc/self/maps") as f:
        for line in f:
            parts = line.split()
            if len(parts) >= 6 and parts[5].startswith("/"):
                paths.add(parts[5])
    out = []
    for p in sorted(paths):
        try:
            st = os.stat(p)
        except OSError:
            continue
        out.append(f"{st.st_dev}:{st.st_ino}")
    names = " ".join(sorted(paths))
    assert "libc.so" in names and "ld-linux" in names and "python3" in names, names
    return out


@pytest.fixture
def ctl(tmp_path):
    """A host directory bound at /ctl: the probe, built static here."""
    d = tmp_path / "ctl"
    d.mkdir()
    subprocess.run(["gcc", "-static", "-O2", "-o", str(d / "probe"),
                    str(REPO / "tests" / "sealed_probe.c")], check=True, capture_output=True)
    return d


def _report(text: str) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {"SEEN": [], "HOST": [], "WRITABLE": [], "DONE": []}
    for line in text.splitlines():
        kind, _, rest = line.partition(" ")
        if kind in out:
            out[kind].append(rest)
    assert out["DONE"], f"the probe did not finish:\n{text}"
    return out


PRIVILEGE = [pytest.param((), id="default"), pytest.param(("--privileged",), id="privileged")]


@pytest.mark.parametrize("extra", PRIVILEGE)
def test_init_pid_1_maps_no_host_file(cli, busybox, ctl, extra):
    out = cli("run", "--rm", "--init", *extra, "--network", "none", "-v", f"{ctl}:/ctl",
              busybox, "/ctl/probe", "scan", *_host_files()).stdout
    got = _report(out)
    assert not got["HOST"], got["HOST"]
    assert not got["WRITABLE"], got["WRITABLE"]
    pid1 = [s for s in got["SEEN"] if s.split()[0] == "1"]
    assert pid1, got["SEEN"]
    if extra:
        # a privileged container may read pid 1's exe: it is the sealed copy, no host path
        assert "memfd:berth-init" in pid1[0], pid1


@pytest.mark.parametrize("extra", PRIVILEGE)
def test_exec_joiner_maps_no_host_file(root, cli, busybox, ctl, extra):
    fifo = ctl / "passwd"
    os.mkfifo(fifo)
    cid = cli("run", "-d", *extra, "--network", "none", "-v", f"{ctl}:/ctl", busybox, "sh", "-c",
              "ln -sf /ctl/passwd /etc/passwd && touch /ctl/ready && exec /ctl/probe watch "
              + " ".join(_host_files())).stdout.strip()
    _wait_for(lambda: (ctl / "ready").exists(), "the watcher did not start")
    env = {**os.environ, "BERTH_ROOT": root}
    env.pop("BERTH_RUN", None)
    proc = subprocess.Popen([*BERTH, "exec", cid, "sleep", "0.3"], env=env, cwd=REPO,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        # the exec now resolves its user: it opens the container's /etc/passwd, our FIFO, and
        # waits there for us; whatever it is meanwhile, the watcher looks at it
        fd = _wait_for(lambda: _open_writer(fifo), "the exec never read the container's passwd")
        time.sleep(0.5)
        os.write(fd, b"root:x:0:0:root:/root:/bin/sh\n")
        os.close(fd)
        _, err = proc.communicate(timeout=60)
        assert proc.returncode == 0, err
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    (ctl / "stop").touch()
    cli("wait", cid, timeout=60)
    got = _report(cli("logs", cid).stdout)
    assert not got["HOST"], got["HOST"]
    assert not got["WRITABLE"], got["WRITABLE"]
    assert any(s.endswith("/sleep") for s in got["SEEN"]), f"the watcher saw no exec: {got}"


def _open_writer(path) -> int | None:
    try:
        return os.open(path, os.O_WRONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError as e:
        if e.errno == errno.ENXIO:   # no reader yet
            return None
        raise


def _wait_for(what, message: str, timeout: float = 30):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        got = what()
        if got is not None and got is not False:
            return got
        time.sleep(0.01)
    raise AssertionError(message)
