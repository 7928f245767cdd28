"""Shared by the crash and damage tests (and bench/crash): looking at a root from outside berth,
and a seeded soak that SIGKILLs berth commands and monitors at random instants."""

from __future__ import annotations

import json
import os
import random
import signal
import socket
import subprocess
import time

from helpers import BERTH, REPO, berth, cleanup_root


def free_port() -> int:
    s = socket.socket()
    s.bind(("0.0.0.0", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def cid_of(root: str, ref: str) -> str:
    return json.loads(berth(root, "inspect", ref).stdout)[0]["Id"]


def cdir(root: str, cid: str) -> str:
    return os.path.join(root, "containers", cid)


def read_state(root: str, cid: str) -> dict:
    try:
        with open(os.path.join(cdir(root, cid), "state.json")) as f:
            return json.load(f)
    except (OSError, ValueError):
        return {}


def monitor_of(root: str, cid: str) -> int:
    """The container's monitor, as its state.json names it."""
    return int(read_state(root, cid).get("monitor_pid") or 0)


def monitor_held(root: str, cid: str) -> bool:
    """Whether a process holds the flock on the container's .monitor (a monitor does while it
    lives, until its teardown is done)."""
    import fcntl
    try:
        fd = os.open(os.path.join(cdir(root, cid), ".monitor"), os.O_RDONLY)
    except OSError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        return False
    except BlockingIOError:
        return True
    finally:
        os.close(fd)


def alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):   # gone, or going (ESRCH while its stat is read)
        return False


def age(pid: int) -> float:
    """Seconds since process ``pid`` started."""
    with open(f"/proc/{pid}/stat") as f:
        start = int(f.read().rsplit(")", 1)[1].split()[19])
    with open("/proc/uptime") as f:
        return float(f.read().split()[0]) - start / os.sysconf("SC_CLK_TCK")


def root_processes(root: str) -> dict[int, str]:
    """pid -> "monitor" or "reaper" of the processes berth started for ``root`` (found by
    their marks, or environment and command line, as engine/check_host.py root_processes
    finds them)."""
    from engine.runtime.monitor_fork import is_monitor
    out = {}
    for p in os.listdir("/proc"):
        if not p.isdigit() or int(p) == os.getpid():
            continue
        if is_monitor(int(p), root) and alive(int(p)):
            out[int(p)] = "monitor"
            continue
        try:
            with open(f"/proc/{p}/environ", "rb") as f:
                env = f.read().split(b"\0")
            with open(f"/proc/{p}/cmdline", "rb") as f:
                argv = f.read().split(b"\0")
        except OSError:
            continue
        if f"BERTH_ROOT={root}".encode() in env and alive(int(p)):
            if b"engine.runtime.monitor" in argv:
                out[int(p)] = "monitor"
            elif b"engine.network.reaper" in argv:
                out[int(p)] = "reaper"
    return out


def monitors(root: str) -> set[int]:
    """Live monitor processes started for ``root``."""
    return {p for p, m in root_processes(root).items() if m == "monitor"}


def monitors_settle(root: str, expected: set[int], timeout: float = 5.0) -> set[int]:
    """The root's monitors once they are ``expected`` (or what they are after ``timeout``). A
    start launches its monitor before it reads the container (process.launch_early); when it
    refuses, that unused monitor exits only on reading EOF after its own boot, a few ms after
    the CLI has: a second monitor that really holds the container stays, and fails the test."""
    deadline = time.monotonic() + timeout
    while (found := monitors(root)) != expected and time.monotonic() < deadline:
        time.sleep(0.02)
    return found


def cgroup_pids(root: str, cid: str) -> list[int]:
    from engine.paths import Paths
    from engine.runtime import cgroups
    return cgroups.detect(Paths.from_env(root)).pids(cid)


def has_cgroup(root: str, cid: str) -> bool:
    from engine.paths import Paths
    from engine.runtime import cgroups
    return os.path.isdir(cgroups.detect(Paths.from_env(root)).path(cid))


def leases(root: str) -> dict[str, str]:
    """ip -> container id of every address lease in the root's network records."""
    out = {}
    for fn in os.listdir(os.path.join(root, "networks")):
        if fn.endswith(".json") and ".tmp." not in fn:
            with open(os.path.join(root, "networks", fn)) as f:
                out.update(json.load(f).get("allocations") or {})
    return out


def left_on_host(root: str) -> list[str]:
    """What berth left on the host for ``root`` (tests.helpers.cleanup_root), once the default
    network's reaper, if one is waiting, has done its work."""
    deadline = time.monotonic() + 15
    while "reaper" in root_processes(root).values():
        if time.monotonic() > deadline:
            break
        time.sleep(0.05)
    return cleanup_root(root)


# --- the soak -------------------------------------------------------------------------------

class Soak:
    """Random berth commands against ``root``, each SIGKILLed at a random instant (or let run
    to the end), and monitors SIGKILLed at random; ``check()`` asserts the invariants after a
    round. Seeded: a failure names the seed, and the same seed replays the same choices."""

    NAMES = ("s1", "s2", "s3", "s4")
    VOLUMES = ("sv1", "sv2")

    def __init__(self, root: str, seed: int, kill_ratio: float = 0.6):
        self.root = root
        self.seed = seed
        self.rng = random.Random(seed)
        self.kill_ratio = kill_ratio
        self.env = {**os.environ, "BERTH_ROOT": root, "BERTH_NETWORK_LINGER": "0"}
        self.env.pop("BERTH_RUN", None)
        self.counts: dict[str, int] = {}
        self.log: list[str] = []
        berth(root, "network", "create", "soaknet")

    def _count(self, key: str) -> None:
        self.counts[key] = self.counts.get(key, 0) + 1

    def step(self) -> None:
        rng = self.rng
        roll = rng.random()
        if roll < 0.2:
            self.kill_monitor()
            return
        if roll < 0.27:
            self.kill_pid1()
            return
        name, vol = rng.choice(self.NAMES), rng.choice(self.VOLUMES)
        port = 20000 + self.NAMES.index(name)
        args = rng.choice([
            ["create", "--name", name, "-p", f"{port}:80", "-v", f"{vol}:/data", "busybox",
             "sleep", "600"],
            ["run", "-d", "--name", name, "-p", f"{port}:80", "busybox", "sleep", "600"],
            ["run", "-d", "--name", name, "--network", "soaknet", "busybox", "sleep", "600"],
            ["start", name], ["start", name],
            ["stop", "-t", "0", name],
            ["rm", "-f", name],
            ["network", "connect", "soaknet", name],
            ["network", "disconnect", "soaknet", name],
            ["volume", "create", vol],
            ["volume", "rm", vol],
        ])
        verb = " ".join(args[:2]) if args[0] in ("network", "volume") else args[0]
        kill = rng.random() < self.kill_ratio
        delay = rng.uniform(0.0, 0.45)
        self.log.append(f"{' '.join(args)}{f' (kill after {delay:.3f}s)' if kill else ''}")
        p = subprocess.Popen([*BERTH, *args], env=self.env, cwd=REPO,
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        if kill:
            try:
                p.wait(delay)
                self._count(f"{verb}: finished before its kill")
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
                self._count(f"{verb}: killed")
        else:
            p.wait(60)
            self._count(f"{verb}: ran")

    def kill_monitor(self) -> None:
        self._kill_one("monitor", sorted(monitors(self.root)))

    def kill_pid1(self) -> None:
        """SIGKILL a running container's first process (its monitor records the exit)."""
        self._kill_one("pid 1", sorted(
            p for cid in os.listdir(os.path.join(self.root, "containers")) if len(cid) == 64
            for p in [read_state(self.root, cid).get("pid")] if p and alive(p)))

    def _kill_one(self, what: str, pids: list[int]) -> None:
        """SIGKILL one of ``pids`` and wait until it is dead: a process in an uninterruptible
        wait (a netlink or cgroup call) dies only when it leaves it, and the kill is what is
        tested, not that window."""
        if not pids:
            self._count(f"{what} kill: none running")
            return
        pid = self.rng.choice(pids)
        self.log.append(f"kill -9 {what} {pid}")
        try:
            os.kill(pid, signal.SIGKILL)
            self._count(f"{what}: killed")
        except ProcessLookupError:
            return
        deadline = time.monotonic() + 10
        while alive(pid) and time.monotonic() < deadline:
            time.sleep(0.005)

    def check(self) -> None:
        """ps works and names no damaged record; what it says runs has a live monitor and pid 1,
        what it says does not run holds no process, cgroup or address; no monitor of the root
        is unaccounted for."""
        p = berth(self.root, "ps", "-a", "--no-trunc", "--format", "{{.ID}} {{.State}}",
                  check=False)
        assert p.returncode == 0 and "WARNING" not in p.stderr, self._why(p.stderr)
        rows = dict(line.split() for line in p.stdout.splitlines())
        known = set()
        for cid, status in rows.items():
            state = read_state(self.root, cid)
            if status in ("running", "paused", "restarting"):
                assert alive(state.get("monitor_pid", 0)), self._why(f"{cid[:12]} runs without "
                                                                      "a monitor")
                known.add(state["monitor_pid"])
            elif status in ("exited", "created"):
                held = monitor_held(self.root, cid)   # its monitor is still tearing down
                assert held or not has_cgroup(self.root, cid), self._why(
                    f"{cid[:12]} is {status} but keeps its cgroup")
                assert held or cid not in leases(self.root).values(), self._why(
                    f"{cid[:12]} is {status} but keeps an address")
        deadline = time.monotonic() + 5
        while True:   # a monitor of a start that was killed may still be on its way out
            stray = {m for m in monitors(self.root) - known if not self._owned(m, rows)}
            if not stray or time.monotonic() > deadline:
                break
            time.sleep(0.05)
        assert not stray, self._why(f"monitors nobody knows: {sorted(stray)}")
        self._count("invariant checks")

    def _owned(self, pid: int, rows: dict) -> bool:
        """Whether monitor ``pid`` belongs to a listed container (by its state, or by the
        .monitor it holds while its state is not written yet)."""
        for cid in rows:
            if monitor_of(self.root, cid) == pid:
                return True
            try:
                with open(os.path.join(cdir(self.root, cid), ".monitor")) as f:
                    if f.read().split()[:1] == [str(pid)]:
                        return True
            except OSError:
                pass
        return False

    def finish(self) -> list[str]:
        """Every container removable, then the networks and volumes; what is left on the host."""
        ids = berth(self.root, "ps", "-aq", "--no-trunc").stdout.split()
        for cid in ids:
            p = berth(self.root, "rm", "-f", cid, check=False)
            assert p.returncode == 0, self._why(f"rm -f {cid[:12]}: {p.stderr}")
        assert berth(self.root, "ps", "-aq").stdout == "", self._why("containers left")
        berth(self.root, "network", "rm", "soaknet")
        for v in berth(self.root, "volume", "ls", "-q").stdout.split():
            berth(self.root, "volume", "rm", v)
        found = berth(self.root, "system", "check", check=False)
        assert found.returncode == 0, self._why(f"system check after rm:\n{found.stdout}")
        return left_on_host(self.root)

    def _why(self, what: str) -> str:
        return f"seed {self.seed}: {what}\nlast steps:\n  " + "\n  ".join(self.log[-12:])
