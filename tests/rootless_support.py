"""Real unprivileged users for the rootless tests: made here, used through setpriv with a clean
environment, and removed with everything they left (processes by pid, home, subordinate ids,
run directory) however the test ends.

Each user gets a Python of its own that it can run (the suite's interpreter lives under /root,
closed to others): a venv of the system's python3 (the same 3.11) whose .pth adds this
worktree's site-packages, and a ``berth`` script in its bin, as ``pip install`` would make it.
"""

from __future__ import annotations

import os
import pwd
import shutil
import signal
import subprocess
import sysconfig
import time
import uuid

import pytest

SYSTEM_PYTHON = "/usr/bin/python3"
SUBID_FILES = ("/etc/subuid", "/etc/subgid")
RANGE = 65536


def _free_range() -> int:
    """A start of RANGE subordinate ids that no line of /etc/subuid or /etc/subgid covers."""
    taken = []
    for path in SUBID_FILES:
        try:
            with open(path) as f:
                for line in f:
                    parts = line.strip().split(":")
                    if len(parts) == 3 and parts[1].isdigit() and parts[2].isdigit():
                        taken.append((int(parts[1]), int(parts[1]) + int(parts[2])))
        except FileNotFoundError:
            pass
    start = 3_000_000
    while any(lo < start + RANGE and start < hi for lo, hi in taken):
        start += RANGE
    return start


class User:
    """One test user: ``run(*argv)`` runs a command as them, with only HOME, PATH and
    XDG_RUNTIME_DIR set (and ``env`` on top)."""

    def __init__(self, base: str, subids: bool):
        self.name = f"brt{uuid.uuid4().hex[:10]}"
        self.subids = subids
        self.subid_start = 0
        subprocess.run(["useradd", "-m", "-s", "/bin/sh", "-K", "SUB_UID_COUNT=0",
                        "-K", "SUB_GID_COUNT=0", self.name], check=True, capture_output=True)
        pw = pwd.getpwnam(self.name)
        self.uid, self.gid, self.home = pw.pw_uid, pw.pw_gid, pw.pw_dir
        if subids:
            self.subid_start = _free_range()
            last = self.subid_start + RANGE - 1
            subprocess.run(["usermod", "--add-subuids", f"{self.subid_start}-{last}",
                            "--add-subgids", f"{self.subid_start}-{last}", self.name],
                           check=True, capture_output=True)
        self.xdg = os.path.join(base, f"xdg-{self.name}")
        os.mkdir(self.xdg, 0o700)
        os.chown(self.xdg, self.uid, self.gid)
        self.run_dir = os.path.join(self.xdg, "berth")
        self.state = os.path.join(self.home, ".local", "share", "berth")
        self.venv = os.path.join(self.home, "venv")
        self.bin = os.path.join(self.venv, "bin")
        self._make_venv()

    def _make_venv(self) -> None:
        site = sysconfig.get_paths()["purelib"]
        script = (f"{SYSTEM_PYTHON} -m venv --without-pip {self.venv} && "
                  f"echo 'import site; site.addsitedir(\"{site}\")' > "
                  f"{self.venv}/lib/python3.11/site-packages/berth-dev.pth && "
                  f"printf '#!{self.bin}/python3\\nimport sys\\nfrom tui.cli import run\\n"
                  f"sys.exit(run())\\n' > {self.bin}/berth && chmod 755 {self.bin}/berth")
        self.run("sh", "-c", script, check=True)

    def env(self, **extra: str) -> dict[str, str]:
        env = {"HOME": self.home, "PATH": f"{self.bin}:/usr/local/bin:/usr/bin:/bin",
               "XDG_RUNTIME_DIR": self.xdg, "LANG": "C.UTF-8"}
        env.update(extra)
        return {k: v for k, v in env.items() if v is not None}

    def command(self, *argv: str) -> list[str]:
        return ["setpriv", f"--reuid={self.uid}", f"--regid={self.gid}", "--init-groups",
                "--", *argv]

    def run(self, *argv: str, check: bool = False, timeout: float = 90, input=None,
            env: dict | None = None, cwd: str | None = None) -> subprocess.CompletedProcess:
        p = subprocess.run(self.command(*argv), capture_output=True, text=True, input=input,
                           env=self.env(**(env or {})), cwd=cwd or self.home, timeout=timeout)
        if check and p.returncode != 0:
            raise AssertionError(f"{' '.join(argv)} as {self.name} exited {p.returncode}\n"
                                 f"stdout: {p.stdout}\nstderr: {p.stderr}")
        return p

    def berth(self, *args: str, check: bool = True, **kw) -> subprocess.CompletedProcess:
        return self.run("berth", *args, check=check, **kw)

    def popen(self, *argv: str, **kw) -> subprocess.Popen:
        return subprocess.Popen(self.command(*argv), env=self.env(), cwd=self.home,
                                stdin=subprocess.DEVNULL, **kw)

    def pids(self) -> list[int]:
        """Every process running with the user's uid or one of its subordinate uids (what its
        containers run as)."""
        hi = self.subid_start + RANGE if self.subids else 0
        out = []
        for name in os.listdir("/proc"):
            if not name.isdigit():
                continue
            try:
                uid = os.stat(f"/proc/{name}").st_uid
            except OSError:
                continue
            if uid == self.uid or (self.subids and self.subid_start <= uid < hi):
                out.append(int(name))
        return out

    def live_pids(self) -> list[int]:
        """pids() without zombies (this machine's pid 1 doesn't reap orphans)."""
        out = []
        for pid in self.pids():
            try:
                with open(f"/proc/{pid}/stat", "rb") as f:
                    data = f.read()
            except OSError:
                continue
            if data[data.rfind(b")") + 2:data.rfind(b")") + 3] != b"Z":
                out.append(pid)
        return out

    def remove(self) -> list[str]:
        """Kill its processes (by pid), remove the user, its home, its subordinate ids and its
        run directories. Returns what could not be removed."""
        problems = []
        for _ in range(50):
            pids = self.live_pids()
            if not pids:
                break
            for pid in pids:
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            time.sleep(0.05)
        else:
            problems.append(f"processes of {self.name} left: {self.live_pids()}")
        mounts = _mounts_below(self.home)
        for m in reversed(mounts):
            subprocess.run(["umount", "-l", m], capture_output=True)
        if self.subids:
            last = self.subid_start + RANGE - 1
            subprocess.run(["usermod", "--del-subuids", f"{self.subid_start}-{last}",
                            "--del-subgids", f"{self.subid_start}-{last}", self.name],
                           capture_output=True)
        p = subprocess.run(["userdel", "-f", "-r", self.name], capture_output=True, text=True)
        if p.returncode not in (0, 12):   # 12: the home could not be removed (done below)
            problems.append(f"userdel {self.name}: {p.stderr.strip()}")
        if os.path.exists(self.home):
            shutil.rmtree(self.home, ignore_errors=True)
        shutil.rmtree(self.xdg, ignore_errors=True)
        shutil.rmtree(f"/tmp/berth-run-{self.uid}", ignore_errors=True)
        for path in SUBID_FILES:
            with open(path) as f:
                if any(line.startswith(f"{self.name}:") for line in f):
                    problems.append(f"{path} still names {self.name}")
        return problems


def _mounts_below(path: str) -> list[str]:
    out = []
    with open("/proc/self/mountinfo") as f:
        for line in f:
            point = line.split()[4]
            if point == path or point.startswith(path + "/"):
                out.append(point)
    return out


@pytest.fixture(scope="session")
def rootless_user():
    """The session's unprivileged user with a subordinate range (tests of the rootless group
    run on one worker: ``pytest.mark.xdist_group("rootless")``)."""
    yield from _user(subids=True)


@pytest.fixture(scope="session")
def rootless_other():
    """A second user, without subordinate ids."""
    yield from _user(subids=False)


@pytest.fixture
def loaded_user(rootless_user):
    """The session's user with busybox loaded (by the first test that needs it), and none of
    its containers left after the test."""
    from helpers import BUSYBOX_MUSL
    u = rootless_user
    image = "busybox:1.38.0-musl"
    if image not in u.berth("images", "--format", "{{.Repository}}:{{.Tag}}").stdout.split():
        u.berth("load", "-i", str(BUSYBOX_MUSL))
    yield u
    ids = u.berth("ps", "-aq").stdout.split()
    if ids:
        u.berth("rm", "-f", *ids)


def _user(subids: bool):
    # not under pytest's tmp: /tmp/pytest-of-root is closed to other users
    import tempfile
    base = tempfile.mkdtemp(prefix="berth-rootless-", dir="/tmp")
    os.chmod(base, 0o755)
    user = None
    try:
        user = User(base, subids)
        yield user
    finally:
        problems = user.remove() if user is not None else []
        shutil.rmtree(base, ignore_errors=True)
        assert not problems, problems
