"""The dashboard and the CLI over a Kubernetes cluster (a ``kube://CONTEXT`` connection), on the
real control plane of ../shared/kube with a berth node (`berth node run`) running the pods:
the pods table follows the cluster's watches, and delete, scale, logs, describe and the exec
console act through the API server; a cluster that drops shows so and comes back."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from dashboard_support import running
from helpers import REPO
from kube_cluster import Cluster, Node, until

pytestmark = [pytest.mark.xdist_group("kube-dash"), pytest.mark.timeout(1500)]

IMAGE = "busybox:1.38.0-musl"
WEB = f"""
apiVersion: apps/v1
kind: Deployment
metadata: {{name: web}}
spec:
  replicas: 2
  selector: {{matchLabels: {{app: web}}}}
  template:
    metadata: {{labels: {{app: web}}}}
    spec:
      terminationGracePeriodSeconds: 1
      containers:
      - name: web
        image: {IMAGE}
        imagePullPolicy: IfNotPresent
        command: [sh, -c, 'echo "hello from $(hostname)"; mkdir -p /www; exec httpd -f -p 80 -h /www']
"""


@pytest.fixture(scope="module")
def cluster():
    c = Cluster()
    try:
        yield c
    finally:
        c.down()


@pytest.fixture(scope="module")
def node(cluster, _image_templates):
    from conftest import _seed_image
    n = Node(cluster, "berth-d", lambda root: _seed_image(root, "busybox", IMAGE))
    try:
        cluster.apply(WEB)
        yield n
    finally:
        cluster.kubectl("delete", "--wait=false", "--ignore-not-found", "deployment/web")
        n.close()


@pytest.fixture(scope="module")
def home(tmp_path_factory, cluster):
    """A HOME of the module's own, with the connection ``k8s`` to the cluster's context."""
    home = str(tmp_path_factory.mktemp("kube-home"))
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("HOME", home)
        for var in ("XDG_CONFIG_HOME", "KUBECONFIG", "BERTH_HOST", "BERTH_CONNECTION"):
            mp.delenv(var, raising=False)
        p = berth(home, "connection", "add", "k8s", "kube://local", "--kubeconfig",
                  cluster.kubeconfig)
        assert p.returncode == 0, p.stderr
        yield home


def berth(home, *args, env=None, input=None):
    full = {k: v for k, v in os.environ.items()
            if not k.startswith(("BERTH_", "DOCKER_", "XDG_", "KUBECONFIG"))}
    full.update({"HOME": home, **(env or {})})
    return subprocess.run([sys.executable, "-m", "tui.cli", *args], capture_output=True,
                          text=True, cwd=REPO, env=full, timeout=60, input=input)


def web_pods(cluster, count: int) -> list[str]:
    """The names of web's pods once exactly ``count`` of them are Running."""
    def check():
        pods = cluster.get("pods", "-l", "app=web")["items"]
        running_ = [p for p in pods if p["status"].get("phase") == "Running"
                    and not p["metadata"].get("deletionTimestamp")]
        return len(pods) == count and len(running_) == count and pods
    pods = until(check, 60, f"{count} web pods running")
    return sorted(p["metadata"]["name"] for p in pods)


def test_connection_and_the_cli_over_a_cluster(cluster, node, home, tmp_path):
    pods = web_pods(cluster, 2)
    # a context the kubeconfig lacks is refused before anything is written
    p = berth(home, "connection", "add", "bad", "kube://nowhere", "--kubeconfig",
              cluster.kubeconfig)
    assert p.returncode == 125 and p.stderr.count("\n") == 1 and "nowhere" in p.stderr, p.stderr
    # KUBECONFIG is where a connection without --kubeconfig finds its context, as kubectl's
    assert berth(home, "connection", "add", "env", "kube://",
                 env={"KUBECONFIG": cluster.kubeconfig}).returncode == 0
    p = berth(home, "--connection", "env", "ps", env={"KUBECONFIG": cluster.kubeconfig})
    assert p.returncode == 0, p.stderr
    ls = berth(home, "connection", "ls").stdout
    assert "kube://local" in ls and cluster.kubeconfig in ls
    # ps on a cluster lists its pods as kubectl get pods -A -o wide does
    p = berth(home, "--connection", "k8s", "ps")
    assert p.returncode == 0, p.stderr
    header, *rows = p.stdout.splitlines()
    assert header.split() == ["NAMESPACE", "NAME", "READY", "STATUS", "RESTARTS", "AGE", "IP",
                              "NODE"]
    mine = [r.split() for r in rows if r.split()[1] in pods]
    assert len(mine) == 2 and all(r[3] == "Running" and r[7] == "berth-d" for r in mine), rows
    p = berth(home, "-c", "k8s", "kube", "deployments")
    assert any(r.split()[:3] == ["default", "web", "2/2"] for r in p.stdout.splitlines()), p.stdout
    # exec through the API server (WebSocket, v4.channel.k8s.io), with the command's exit code
    p = berth(home, "-c", "k8s", "kube", "exec", "-i", pods[0], "--", "sh", "-c",
              "read x; echo got-$x; exit 3", input="it\n")
    assert p.returncode == 3 and p.stdout == "got-it\n", (p.returncode, p.stdout, p.stderr)
    p = berth(home, "-c", "k8s", "kube", "logs", pods[0])
    assert p.returncode == 0 and f"hello from {pods[0]}" in p.stdout, p.stdout + p.stderr
    # a container engine's verbs refuse a cluster, and a cluster's verbs a container engine
    p = berth(home, "kube", "pods")
    assert p.returncode == 125 and "kube://" in p.stderr, p.stderr
