"""A real Kubernetes control plane for the node tests (../shared/kube: etcd, kube-apiserver,
kube-scheduler, kube-controller-manager 1.20 on 127.0.0.1, on ports of its own so that other
runs on this host don't clash) and berth node agents on roots of their own."""

from __future__ import annotations

import contextlib
import json
import os
import random
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from helpers import REPO, claim_root, release_root
from remote_engines import wait_for as until

KUBE = REPO.parent / "shared" / "kube"
BUILD = Path(os.environ.get("KUBE_BUILD") or
             Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "berth-kube")
BIN = BUILD / "bin"
BUILD_LOCK = BUILD / "build.lock"   # the Makefile's background build holds it while it builds


def wait_for_binaries(timeout: float = 1500) -> None:
    """The control plane's binaries, built now if no build has made them (the Makefile starts
    the build in the background at the beginning of `make test`; this waits for it)."""
    if all((BIN / b).exists() for b in ("kube-apiserver", "kube-scheduler",
                                         "kube-controller-manager")):
        return
    BUILD.mkdir(parents=True, exist_ok=True)
    p = subprocess.run(["flock", str(BUILD_LOCK), "bash", str(KUBE / "build.sh")],
                       capture_output=True, text=True, timeout=timeout)
    assert p.returncode == 0, f"the kube build failed:\n{p.stdout[-2000:]}\n{p.stderr[-2000:]}"


def _free(port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def _ports() -> tuple[int, int]:
    """(apiserver, etcd) ports nobody uses (etcd's peer port is its client port + 10)."""
    for _ in range(200):
        api, etcd = random.randrange(20000, 30000), random.randrange(30000, 40000)
        if _free(api) and _free(etcd) and _free(etcd + 10):
            return api, etcd
    raise RuntimeError("no free ports for the control plane")


class Cluster:
    """etcd, the apiserver, the scheduler and the controller manager, in ``workdir``."""

    def __init__(self, controllers: bool = True):
        wait_for_binaries()
        # claimed as a test root is, with BERTH_ROOT naming it in the environment of every
        # process of the control plane: a run killed before down() leaves a root that the
        # next run's sweep (conftest.py) removes with those processes
        self.workdir = claim_root("berth-kube-cp-")
        self.api_port, self.etcd_port = _ports()
        self.kubeconfig = os.path.join(self.workdir, "kubeconfig")
        env = {**os.environ, "API_PORT": str(self.api_port), "ETCD_PORT": str(self.etcd_port),
               "KUBE_APISERVER": str(BIN / "kube-apiserver"), "BERTH_ROOT": self.workdir}
        p = subprocess.run(["bash", str(KUBE / "up.sh"), self.workdir], capture_output=True,
                           text=True, env=env, timeout=120)
        if p.returncode != 0:
            self.down()
            raise AssertionError(f"up.sh failed: {p.stdout}\n{p.stderr}")
        # the scheduler and controller manager with no ports of their own (up.sh's fixed
        # 10257/10259 would clash with another cluster on this host); down.sh stops them by
        # these pid files
        for name, extra in () if not controllers else (("controller-manager", [
                "--service-account-private-key-file=pki/sa.key", "--root-ca-file=pki/ca.crt",
                "--cluster-signing-cert-file=pki/ca.crt", "--cluster-signing-key-file=pki/ca.key",
                "--controllers=*"]), ("scheduler", [])):
            with open(os.path.join(self.workdir, f"{name}.log"), "wb") as log:
                proc = subprocess.Popen(
                    [str(BIN / f"kube-{name}"), f"--kubeconfig={self.kubeconfig}",
                     "--leader-elect=false", "--port=0", "--secure-port=0", *extra],
                    cwd=self.workdir, stdout=log, stderr=subprocess.STDOUT,
                    start_new_session=True, env=env)
            with open(os.path.join(self.workdir, f"{name}.pid"), "w") as f:
                f.write(str(proc.pid))

    def kubectl(self, *args: str, input: str | None = None, check: bool = True,
                timeout: float = 60) -> subprocess.CompletedProcess:
        p = subprocess.run(["kubectl", f"--kubeconfig={self.kubeconfig}", *args], input=input,
                           capture_output=True, text=True, timeout=timeout)
        if check and p.returncode != 0:
            raise AssertionError(f"kubectl {' '.join(args)}: {p.returncode}\n{p.stderr}")
        return p

    def get(self, *args: str) -> dict:
        return json.loads(self.kubectl("get", "-o", "json", *args).stdout)

    def apply(self, manifest: str) -> None:
        self.kubectl("apply", "-f", "-", input=manifest)

    def stop_apiserver(self) -> list[str]:
        """Kill the API server (by the pid up.sh wrote) and wait for it to go; what it ran
        with, for start_apiserver (etcd, the scheduler and the controllers stay)."""
        pid_file = os.path.join(self.workdir, "apiserver.pid")
        pid = int(Path(pid_file).read_text())
        argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")[:-1]
        os.kill(pid, signal.SIGKILL)
        until(lambda: not Path(f"/proc/{pid}").exists() or
              Path(f"/proc/{pid}/stat").read_text().split()[2] == "Z", 10, "the apiserver gone")
        return [a.decode() for a in argv]

    def start_apiserver(self, argv: list[str]) -> None:
        """The API server again, as it ran before, on the same etcd and port."""
        env = {**os.environ, "BERTH_ROOT": self.workdir}
        with open(os.path.join(self.workdir, "apiserver.log"), "ab") as log:
            proc = subprocess.Popen(argv, cwd=self.workdir, stdout=log, stderr=subprocess.STDOUT,
                                    start_new_session=True, env=env)
        Path(self.workdir, "apiserver.pid").write_text(str(proc.pid))
        until(lambda: self.kubectl("get", "--raw", "/readyz", check=False).returncode == 0,
              60, "the apiserver ready again")

    def down(self) -> None:
        subprocess.run(["bash", str(KUBE / "down.sh"), self.workdir], capture_output=True)
        release_root(self.workdir)   # and whatever down.sh's SIGTERM left running


@contextlib.contextmanager
def cluster_up(controllers: bool = True):
    """A Cluster for a module's tests, brought down after them whatever happened."""
    c = Cluster(controllers)
    try:
        yield c
    finally:
        c.down()


class Node:
    """``berth node run`` on a root of its own, with the busybox image seeded into it."""

    def __init__(self, cluster: Cluster, name: str, seed):
        self.cluster, self.name = cluster, name
        self.root = claim_root("berth-kube-node-")
        seed(self.root)
        self.log = os.path.join(self.root + ".agent.log")
        self.proc = None
        self.start()

    def start(self) -> None:
        env = {**os.environ, "BERTH_ROOT": self.root}
        env.pop("BERTH_RUN", None)
        with open(self.log, "ab") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "tui.cli", "node", "run", "--kubeconfig",
                 self.cluster.kubeconfig, "--name", self.name, "--port", "0"], cwd=REPO,
                env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        until(lambda: self.ready(), 30, f"node {self.name} Ready")

    def ready(self) -> bool:
        assert self.proc.poll() is None, f"the agent exited:\n{self.agent_log()}"
        p = self.cluster.kubectl("get", "node", self.name, "-o",
                                 "jsonpath={.status.conditions[?(@.type=='Ready')].status}",
                                 check=False)
        return p.stdout == "True"

    def kill(self, sig=signal.SIGKILL) -> None:
        self.proc.send_signal(sig)
        self.proc.wait(30)

    def agent_log(self) -> str:
        try:
            return Path(self.log).read_text()[-4000:]
        except OSError:
            return ""

    def engine(self):
        from engine import Engine
        return Engine(self.root)

    def pod_containers(self) -> list:
        return self.engine().containers(all=True, filters={"label": [
            f"berth.kube.node={self.name}"]})

    def close(self) -> None:
        try:
            if self.proc and self.proc.poll() is None:
                self.kill(signal.SIGTERM)
        finally:
            release_root(self.root)   # kills the agent too if it didn't stop (its BERTH_ROOT)
        try:
            os.unlink(self.log)
        except FileNotFoundError:
            pass


@contextlib.contextmanager
def busybox_node(cluster: Cluster, name: str, image: str):
    """A Node named ``name`` with busybox ``image`` seeded, closed afterwards."""
    from conftest import _seed_image
    n = Node(cluster, name, lambda root: _seed_image(root, "busybox", image))
    try:
        yield n
    finally:
        n.close()


@pytest.fixture(scope="module")
def cluster():
    """The control plane with its scheduler and controller manager, one per test module that
    imports this fixture."""
    with cluster_up() as c:
        yield c
