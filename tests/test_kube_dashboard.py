"""The dashboard and the CLI over a Kubernetes cluster (a ``kube://CONTEXT`` connection), on the
real control plane of ../shared/kube with a berth node (`berth node run`) running the pods:
the pods table follows the cluster's watches, and delete, scale, logs, describe and the exec
console act through the API server; a cluster that drops shows so and comes back."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys

import pytest

from dashboard_support import running
from helpers import REPO
from kube_cluster import busybox_node, cluster, until  # noqa: F401 (cluster: a fixture)

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
def node(cluster, _image_templates):
    with busybox_node(cluster, "berth-d", IMAGE) as n:
        try:
            cluster.apply(WEB)
            yield n
        finally:
            cluster.kubectl("delete", "--wait=false", "--ignore-not-found", "deployment/web")


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
    # the end of the input reaches the command (v5.channel.k8s.io, which berth's kubelet speaks)
    p = berth(home, "-c", "k8s", "kube", "exec", "-i", pods[0], "--", "wc", "-c", input="abcd")
    assert p.returncode == 0 and p.stdout.strip() == "4", (p.stdout, p.stderr)
    p = berth(home, "-c", "k8s", "logs", pods[0])   # as kubectl logs: the context's namespace
    assert p.returncode == 0 and f"hello from {pods[0]}" in p.stdout, p.stdout + p.stderr
    p = berth(home, "-c", "k8s", "images")
    assert p.returncode == 125 and p.stderr.count("\n") == 1 and "berth kube" in p.stderr, \
        p.stderr
    p = berth(home, "-H", "kube://local", "kube", "events", "-n", "default",
              env={"KUBECONFIG": cluster.kubeconfig})
    assert any("Scheduled" in r and f"pod/{pods[0]}" in r for r in p.stdout.splitlines()), p
    # scale and delete a deployment of no pods
    cluster.kubectl("create", "deployment", "idle", f"--image={IMAGE}", "--replicas=0")
    p = berth(home, "-c", "k8s", "kube", "scale", "idle", "--replicas", "0")
    assert p.returncode == 0 and "scaled" in p.stdout, p.stderr
    assert berth(home, "-c", "k8s", "kube", "delete", "deployment/idle").returncode == 0
    until(lambda: not cluster.kubectl("get", "deployment", "idle", check=False).stdout, 30,
          "the deployment idle gone")
    p = berth(home, "-c", "k8s", "kube", "scale", "idle", "--replicas", "1")
    assert p.returncode == 125 and "no deployment default/idle" in p.stderr, p.stderr
    # a container engine's verbs refuse a cluster, and a cluster's verbs a container engine
    p = berth(home, "kube", "pods")
    assert p.returncode == 125 and "kube://" in p.stderr, p.stderr


@contextlib.asynccontextmanager
async def dashboard_on(cluster):
    """The dashboard on the connection k8s, once its pods table shows web's pods: (app,
    pilot, the pods' names)."""
    from engine import connections
    from tui.config import Config
    from tui.hosts import HostsApp
    pods = web_pods(cluster, 2)
    app = HostsApp(connections.find("k8s").connect(), "k8s", config=Config())
    async with running(app) as pilot:
        assert await wait(pilot, lambda: names_in(app) == pods), names_in(app)
        yield app, pilot, pods


def names_in(app, kind: str = "pods") -> list[str]:
    return sorted(r.model["metadata"]["name"] for r in app.screen.table(kind).rows_in_order()
                  if r.model["metadata"].get("namespace") == "default")


async def wait(pilot, cond, seconds: float = 60) -> bool:
    import time
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if cond():
            return True
        await pilot.pause(0.05)
    return cond()


async def test_the_dashboard_follows_the_cluster_and_acts_on_it(cluster, node, home):
    from tui.screens.confirm import ConfirmScreen
    from tui.screens.inspect import InspectScreen
    from tui.screens.kube import KubeScreen
    from tui.screens.kube_dialogs import ScaleDialog
    from tui.screens.logs import LogsScreen
    from tui.widgets.log_view import LogView
    async with dashboard_on(cluster) as (app, pilot, pods):
        screen = app.screen
        assert isinstance(screen, KubeScreen)
        row = screen.table().rows_by_key[f"default/{pods[0]}"]
        cells = [c.plain for c in row.cells]
        assert cells[2:4] == ["1/1", "Running"] and cells[7] == "berth-d", cells
        # a watch, not a poll: kubectl's scale shows as a row that comes, then goes
        cluster.kubectl("scale", "deployment/web", "--replicas=3")
        assert await wait(pilot, lambda: len(names_in(app)) == 3), names_in(app)
        cluster.kubectl("scale", "deployment/web", "--replicas=2")
        assert await wait(pilot, lambda: len(names_in(app)) == 2 and all(
            screen.table().rows_by_key[f"default/{n}"].cells[3].plain == "Running"
            for n in names_in(app))), names_in(app)

        pods = names_in(app)   # (the scale down may have kept either)
        # n picks a namespace (0: all again); ? lists the cluster's keys
        await pilot.press("n", "down", "enter")
        assert screen.namespace == "default" and "namespace: default" in str(
            screen.query_one("#kube-tabs").render())
        await pilot.press("0")
        assert screen.namespace == ""
        await pilot.press("slash", *pods[1][-5:], "enter")
        assert names_in(app) == [pods[1]]
        await pilot.press("slash", "escape")
        assert names_in(app) == pods
        from tui.screens.help import sections
        listed = {desc for _, rows in sections(app) for _, desc, _ in rows}
        assert {"Scale", "Describe", "Namespace"} <= listed

        # l: the pod's logs through the API server
        screen.table().move_cursor(row=screen.table().get_row_index(f"default/{pods[0]}"))
        await pilot.press("l")
        assert isinstance(app.screen, LogsScreen)
        view = app.screen.query_one(LogView)
        assert await wait(pilot, lambda: any(f"hello from {pods[0]}" in e.text
                                             for e in view.entries)), list(view.entries)
        await pilot.press("escape")

        # i: describe, the pod as the inspect tree, with the events about it
        await pilot.press("i")
        assert isinstance(app.screen, InspectScreen)
        assert await wait(pilot, lambda: app.screen.data is not None, 20), app.screen.error
        data = app.screen.data
        assert data["metadata"]["name"] == pods[0] and data["spec"]["nodeName"] == "berth-d"
        assert any("Scheduled" in e for e in data["events"]), data["events"]
        labels = [str(n.label) for n in app.screen.query_one("#inspect-tree").root.children]
        assert any(label.startswith("spec") for label in labels), labels
        await pilot.press("escape")

        # d: delete, after asking; the controller makes another pod
        await pilot.press("d")
        assert isinstance(app.screen, ConfirmScreen)
        await pilot.press("y")
        assert await wait(pilot, lambda: pods[0] not in names_in(app)), names_in(app)
        assert await wait(pilot, lambda: len(names_in(app)) == 2), names_in(app)
        # K: killed, with no grace period; n at the question keeps it
        victim = pods[1]
        screen.table().move_cursor(row=screen.table().get_row_index(f"default/{victim}"))
        await pilot.press("K", "n")
        await pilot.pause(0.3)
        assert victim in names_in(app)
        await pilot.press("K", "y")
        assert await wait(pilot, lambda: victim not in names_in(app), 20), names_in(app)

        # s on a deployment: the dialog asks for the replicas and scales it
        await pilot.press("2")
        assert [r.key for r in screen.table().rows_in_order()
                if r.key.startswith("default/")] == ["default/web"]
        await pilot.press("s")
        assert isinstance(app.screen, ScaleDialog)
        await pilot.press("ctrl+a", "ctrl+k", "1", "enter")
        assert await wait(pilot, lambda: not isinstance(app.screen, ScaleDialog), 20)
        assert cluster.get("deployment", "web")["spec"]["replicas"] == 1
        await pilot.press("1")
        assert await wait(pilot, lambda: len(names_in(app)) == 1), names_in(app)
        cluster.kubectl("scale", "deployment/web", "--replicas=2")


async def test_deleting_a_deployment_takes_its_pods_and_their_containers(cluster, node, home):
    """d on a deployment, after asking: it leaves the list, its pods leave theirs, and the
    berth node removes the pods' containers (the delete propagates in the background)."""
    from engine import connections
    from tui.config import Config
    from tui.hosts import HostsApp
    from tui.screens.confirm import ConfirmScreen
    cluster.apply(WEB.replace("web", "gone").replace("replicas: 2", "replicas: 1"))

    def gone_containers() -> list:
        return [c for c in node.pod_containers()
                if c.config.labels.get("io.kubernetes.pod.name", "").startswith("gone-")]
    try:
        until(lambda: any(c.running for c in gone_containers()), 60, "gone's pod running")
        app = HostsApp(connections.find("k8s").connect(), "k8s", config=Config())
        async with running(app) as pilot:
            screen = app.screen
            assert await wait(pilot, lambda: [n for n in names_in(app) if n.startswith("gone-")])
            await pilot.press("2")
            assert await wait(pilot, lambda: "gone" in names_in(app, "deployments"))
            table = screen.table()
            table.move_cursor(row=table.get_row_index("default/gone"))
            await pilot.press("d")
            assert isinstance(app.screen, ConfirmScreen)
            await pilot.press("y")
            assert await wait(pilot, lambda: "gone" not in names_in(app, "deployments"), 20)
            await pilot.press("1")
            assert await wait(pilot, lambda: not [n for n in names_in(app)
                                                  if n.startswith("gone-")]), names_in(app)
        until(lambda: not gone_containers(), 60, "gone's containers removed")
        assert "web" in [d["metadata"]["name"] for d in cluster.get("deployments")["items"]]
    finally:
        cluster.kubectl("delete", "--wait=false", "--ignore-not-found", "deployment/gone")


async def test_a_console_in_a_pod(cluster, node, home):
    from tui.screens.console import ConsoleScreen
    async with dashboard_on(cluster) as (app, pilot, pods):
        screen = app.screen
        screen.table().move_cursor(row=screen.table().get_row_index(f"default/{pods[1]}"))
        await pilot.press("e")
        assert await wait(pilot, lambda: isinstance(app.screen, ConsoleScreen), 20)
        term = app.screen.current()
        assert await wait(pilot, lambda: "#" in term.text(), 30), term.text()
        await pilot.press(*"echo in-$(hostname)-$((6*7))", "enter")
        assert await wait(pilot, lambda: f"in-{pods[1]}-42" in term.text(), 20), term.text()
        await pilot.press("ctrl+d")
        assert await wait(pilot, lambda: term.exit_code is not None, 20), term.text()
        assert term.exit_code == 0


async def test_a_cluster_that_drops_shows_so_and_comes_back(cluster, node, home):
    async with dashboard_on(cluster) as (app, pilot, pods):
        screen = app.screen
        header = screen.query_one("#kube-header")
        assert "connected" in str(header.render())
        argv = cluster.stop_apiserver()
        try:
            assert await wait(pilot, lambda: "DISCONNECTED" in str(header.render()), 30), \
                str(header.render())
        finally:
            cluster.start_apiserver(argv)
        assert await wait(pilot, lambda: "DISCONNECTED" not in str(header.render()), 30), \
            str(header.render())
        # the watches are back: a change made now shows
        cluster.kubectl("scale", "deployment/web", "--replicas=3")
        assert await wait(pilot, lambda: len(names_in(app)) == 3), names_in(app)
    cluster.kubectl("scale", "deployment/web", "--replicas=2")


TWO = f"""
apiVersion: v1
kind: Pod
metadata: {{name: two, namespace: kube-system}}
spec:
  nodeName: berth-d
  terminationGracePeriodSeconds: 1
  containers:
  - {{name: a, image: {IMAGE}, command: [sh, -c, 'echo from-a; exec sleep 600']}}
  - {{name: b, image: {IMAGE}, command: [sh, -c, 'echo from-b; exec sleep 600']}}
"""


async def test_cpu_and_memory_of_pods_on_berth_nodes_and_their_graphs(cluster, node, home):
    from tui.screens.graphs import GraphsScreen
    from tui.screens.logs import LogsScreen
    from tui.widgets.log_view import LogView
    cluster.apply(TWO)
    async with dashboard_on(cluster) as (app, pilot, pods):
        screen = app.screen
        # a pod of two containers: l merges their logs, each line labelled with its container
        two = "kube-system/two"
        assert await wait(pilot, lambda: two in screen.table().rows_by_key and screen.table(
            ).rows_by_key[two].cells[3].plain == "Running", 30)
        screen.table().move_cursor(row=screen.table().get_row_index(two))
        await pilot.press("l")
        assert isinstance(app.screen, LogsScreen)
        view = app.screen.query_one(LogView)
        assert await wait(pilot, lambda: {(e.label, e.text.strip()) for e in view.entries} == {
            ("two/a", "from-a"), ("two/b", "from-b")}, 20), list(view.entries)
        await pilot.press("escape")
        cluster.kubectl("delete", "--wait=false", "-n", "kube-system", "pod/two")

        def cells():
            row = screen.table().rows_by_key.get(f"default/{pods[0]}")
            return [c.plain for c in row.cells] if row else []
        # the memory from the first reading of the node's /stats/summary, the CPU from the second
        assert await wait(pilot, lambda: cells()[8].endswith("m") and cells()[9].endswith("B"),
                          20), cells()
        await pilot.press("g")
        assert isinstance(app.screen, GraphsScreen)
        book = app.screen.book.by_id
        assert await wait(pilot, lambda: {f"default/{p}" for p in pods} <= {
            h.name for h in book.values()}, 20), [h.name for h in book.values()]
        assert all(h["mem"].last > 0 for h in book.values() if h.name.startswith("default/"))


VIEWER = """
apiVersion: v1
kind: ServiceAccount
metadata: {name: viewer, namespace: default}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata: {name: viewer, namespace: default}
rules:
- {apiGroups: ["", apps], resources: [pods, deployments, events], verbs: [get, list, watch]}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: viewer, namespace: default}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: Role, name: viewer}
subjects: [{kind: ServiceAccount, name: viewer, namespace: default}]
"""


def test_a_user_of_one_namespace_sees_that_namespace(cluster, node, tmp_path):
    """As k9s: where listing every namespace is forbidden, the context's namespace is followed,
    and what can't be listed at all is said, not shown as a cluster that is down."""
    import base64
    from engine.kube.cluster import Cluster as KubeCluster
    pods = web_pods(cluster, 2)
    cluster.apply(VIEWER)

    def token():
        sa = cluster.get("serviceaccount", "viewer")
        return sa.get("secrets") and cluster.get("secret", sa["secrets"][0]["name"])
    secret = until(token, 30, "the viewer's token")
    config = tmp_path / "viewer.yaml"
    config.write_text(f"""
apiVersion: v1
kind: Config
clusters: [{{name: c, cluster: {{server: "https://127.0.0.1:{cluster.api_port}",
                                certificate-authority: "{cluster.workdir}/pki/ca.crt"}}}}]
users: [{{name: viewer, user: {{token: {base64.b64decode(secret["data"]["token"]).decode()}}}}}]
contexts: [{{name: v, context: {{cluster: c, user: viewer, namespace: default}}}}]
current-context: v
""")
    c = KubeCluster("viewer", "v", str(config))
    cache = c.watch()
    try:
        assert cache.wait_loaded(timeout=20), cache.loaded
        assert sorted(p["metadata"]["name"] for p in cache.items("pods")) == pods
        assert cache.connected and list(cache.refused) == ["namespaces"], cache.refused
    finally:
        c.close()
