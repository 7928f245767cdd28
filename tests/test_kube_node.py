"""berth as a Kubernetes node (engine/kube/, `berth node run`) against a real control plane:
etcd, kube-apiserver, kube-scheduler and kube-controller-manager 1.20 from ../shared/kube.
Deployments are scheduled by Kubernetes' own scheduler onto berth nodes and run as berth
containers there."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import ssl
import subprocess
import time
import urllib.request

import pytest

from helpers import berth
from kube_cluster import Cluster, Node, cluster, until  # noqa: F401 (cluster: a fixture)

pytestmark = [pytest.mark.xdist_group("kube"), pytest.mark.timeout(1500)]

IMAGE = "busybox:1.38.0-musl"


@pytest.fixture(scope="module")
def seed(_image_templates):
    from conftest import _seed_image

    def put(root: str) -> None:
        _seed_image(root, "busybox", IMAGE)
    return put


@pytest.fixture(scope="module")
def node(cluster, seed):
    n = Node(cluster, "berth-a", seed)
    try:
        yield n
    finally:
        n.close()


def pod(name: str) -> str:
    """The start of a pod's manifest, bound to berth-a, with a short grace period (the
    containers' pid 1 ignores SIGTERM)."""
    return f"""
apiVersion: v1
kind: Pod
metadata: {{name: {name}}}
spec:
  nodeName: berth-a
  terminationGracePeriodSeconds: 1
"""


@contextlib.contextmanager
def applied(cluster: Cluster, node: Node, manifest: str, *objects: str):
    """``manifest`` applied; afterwards ``objects`` ("pod/x") are deleted and the node is
    left with no pod's container."""
    cluster.apply(manifest)
    try:
        yield
    finally:
        cluster.kubectl("delete", "--wait=false", "--ignore-not-found", *objects)
    until(lambda: not node.pod_containers(), 60, f"the containers of {objects} removed")


def deployment(name: str, replicas: int, node: str | None = None) -> str:
    selector = f"      nodeSelector: {{kubernetes.io/hostname: {node}}}\n" if node else ""
    return f"""
apiVersion: apps/v1
kind: Deployment
metadata: {{name: {name}}}
spec:
  replicas: {replicas}
  selector: {{matchLabels: {{app: {name}}}}}
  template:
    metadata: {{labels: {{app: {name}}}}}
    spec:
{selector}      terminationGracePeriodSeconds: 1
      containers:
      - name: web
        image: {IMAGE}
        imagePullPolicy: IfNotPresent
        command: [sh, -c, 'mkdir -p /www && echo "$POD_NAME on $NODE at $POD_IP" > /www/index.html && exec httpd -f -p 80 -h /www']
        env:
        - {{name: POD_NAME, valueFrom: {{fieldRef: {{fieldPath: metadata.name}}}}}}
        - {{name: NODE, valueFrom: {{fieldRef: {{fieldPath: spec.nodeName}}}}}}
        - {{name: POD_IP, valueFrom: {{fieldRef: {{fieldPath: status.podIP}}}}}}
        ports: [{{containerPort: 80}}]
        readinessProbe: {{httpGet: {{path: /, port: 80}}, periodSeconds: 1}}
        resources: {{limits: {{memory: 64Mi, cpu: 250m}}}}
"""


def running_pods(cluster: Cluster, selector: str, count: int) -> list[dict]:
    """The pods of ``selector`` once exactly ``count`` of them are Running and ready with IPs."""
    def check():
        pods = cluster.get("pods", "-l", selector)["items"]
        live = [p for p in pods if not p["metadata"].get("deletionTimestamp")]
        ok = [p for p in live if p["status"].get("phase") == "Running" and p["status"].get("podIP")
              and all(s["ready"] for s in p["status"].get("containerStatuses") or [{"ready": 0}])]
        return ok if len(ok) == count == len(pods) else None
    return until(check, 90, f"{count} running pods of {selector}")


def host_leftovers(root: str) -> list[str]:
    """What pods' containers leave on the host when they are not removed: mounts under the
    root, container cgroups, veths of the root."""
    from engine.paths import Paths
    from helpers import _cgroup_dirs, root_links
    paths = Paths.from_env(root)
    out = []
    with open("/proc/self/mountinfo") as f:
        out += [line.split()[4] for line in f
                if line.split()[4].startswith((paths.root + "/", paths.run + "/"))]
    for d in _cgroup_dirs(paths.cgroup_parent):
        out += [os.path.join(d, e) for e in os.listdir(d) if os.path.isdir(os.path.join(d, e))]
    out += [n for n in root_links(root) if n.startswith(f"vb{paths.suffix}")]
    return out


def test_deployment_runs_as_berth_containers_scales_and_leaves_nothing(cluster, node):
    cluster.apply(deployment("web", 3))
    pods = running_pods(cluster, "app=web", 3)
    wide = cluster.kubectl("get", "pods", "-l", "app=web", "-o", "wide").stdout
    print(wide)
    assert wide.count("Running") == 3 and wide.count("berth-a") == 3
    ips = {p["status"]["podIP"] for p in pods}
    assert len(ips) == 3
    # each pod is an infra container and its web container, in berth, labelled with the pod
    containers = node.pod_containers()
    for p in pods:
        mine = [c for c in containers
                if c.config.labels["io.kubernetes.pod.uid"] == p["metadata"]["uid"]]
        assert sorted(c.config.labels["io.kubernetes.container.name"] for c in mine) == \
            ["POD", "web"], mine
        assert all(c.running for c in mine)
        web = next(c for c in mine if c.config.labels["io.kubernetes.container.name"] == "web")
        assert web.config.resources.memory == 64 << 20
        assert web.config.resources.nano_cpus == 250_000_000
        status = p["status"]["containerStatuses"][0]
        assert status["containerID"] == f"berth://{web.id}"
        assert status["restartCount"] == 0 and "running" in status["state"]
        # the httpd answers on the pod's IP from the host, with what fieldRef gave it
        with urllib.request.urlopen(f"http://{p['status']['podIP']}/", timeout=5) as r:
            assert r.read().decode().strip() == \
                f"{p['metadata']['name']} on berth-a at {p['status']['podIP']}"
    assert cluster.get("node", "berth-a")["status"]["nodeInfo"]["containerRuntimeVersion"] \
        .startswith("berth://")

    cluster.kubectl("scale", "deployment/web", "--replicas=1")
    left = running_pods(cluster, "app=web", 1)
    until(lambda: len(node.pod_containers()) == 2, 30, "two pods' containers removed")
    assert {c.config.labels["io.kubernetes.pod.uid"] for c in node.pod_containers()} == \
        {left[0]["metadata"]["uid"]}

    cluster.kubectl("delete", "deployment/web")
    until(lambda: not cluster.get("pods", "-l", "app=web")["items"], 60, "the pods deleted")
    until(lambda: not node.pod_containers(), 30, "the containers removed")
    assert node.engine().containers(all=True) == []
    assert host_leftovers(node.root) == []
    pods_dir = os.path.join(node.root, "kube", "pods")
    assert not os.path.exists(pods_dir) or not os.listdir(pods_dir)
    assert node.engine().system_check() == []   # nothing berth's own check finds amiss


def _services_table(node: Node) -> str:
    from engine.paths import Paths
    p = subprocess.run(["nft", "list", "table", "ip", Paths.from_env(node.root).nft_services_table],
                       capture_output=True, text=True)
    return p.stdout if p.returncode == 0 else ""


def test_a_service_cluster_ip_reaches_the_pods_from_the_host_and_from_a_pod(cluster, node):
    import ipaddress
    import socket
    service = """
---
apiVersion: v1
kind: Service
metadata: {name: svcweb}
spec:
  selector: {app: svcweb}
  ports: [{name: http, port: 8000, targetPort: 80}]
"""
    # the guard is up before any Service: nothing for the range leaves this host, matched or not
    guard = _services_table(node)
    assert "ip daddr 10.0.0.0/24 reject with tcp reset" in guard, guard
    assert "ip daddr 10.0.0.0/24 reject" in guard, guard
    cluster.apply(deployment("svcweb", 2) + service)
    try:
        pods = running_pods(cluster, "app=svcweb", 2)
        ip = cluster.get("service", "svcweb")["spec"]["clusterIP"]
        assert ipaddress.ip_address(ip) in ipaddress.ip_network("10.0.0.0/24")
        until(lambda: _services_table(node).count("dnat to") == 2, 30, "the service's DNATs")
        assert f"ip daddr {ip} tcp dport 8000" in _services_table(node)
        # from the host: each pod answers, picked at random per connection
        seen = set()

        def both() -> bool:
            with urllib.request.urlopen(f"http://{ip}:8000/", timeout=5) as r:
                seen.add(r.read().decode().split(" on ")[0])
            return len(seen) == 2
        until(both, 30, "both pods behind the cluster IP")
        assert seen == {p["metadata"]["name"] for p in pods}
        # from a pod, through the node's bridge (its reply comes back through the host)
        for p in pods:
            out = cluster.kubectl("exec", p["metadata"]["name"], "--", "wget", "-qO-", "-T", "5",
                                  f"http://{ip}:8000/").stdout
            assert " on berth-a at " in out, out
        # a port the Service doesn't have is refused here at once, not sent anywhere
        with pytest.raises(ConnectionRefusedError):
            socket.create_connection((ip, 8001), timeout=5)
        # no endpoint left: refused too
        cluster.kubectl("scale", "deployment/svcweb", "--replicas=0")
        until(lambda: "dnat to" not in _services_table(node), 60, "the DNATs gone")
        with pytest.raises(ConnectionRefusedError):
            socket.create_connection((ip, 8000), timeout=5)
    finally:
        cluster.kubectl("delete", "--ignore-not-found", "deployment/svcweb", "service/svcweb")
    until(lambda: not node.pod_containers(), 60, "the containers removed")
    until(lambda: f"ip daddr {ip} " not in _services_table(node), 30, "the service's rules gone")
    # a stopped agent takes its table with it; started again, it writes it again
    node.kill(signal.SIGTERM)
    assert _services_table(node) == ""
    node.start()
    until(lambda: "reject" in _services_table(node), 30, "the guard written again")


def test_failing_liveness_probe_restarts_the_container(cluster, node):
    with applied(cluster, node, pod("sick") + f"""
  containers:
  - name: app
    image: {IMAGE}
    command: [sh, -c, 'echo run; touch /tmp/ok; sleep 2; rm /tmp/ok; exec sleep 3600']
    livenessProbe: {{exec: {{command: [test, -e, /tmp/ok]}}, periodSeconds: 1, failureThreshold: 1}}
""", "pod/sick"):
        def restarted():
            st = (cluster.get("pod", "sick")["status"].get("containerStatuses") or [{}])[0]
            return st if st.get("restartCount") == 1 and "running" in st.get("state", {}) else None
        status = until(restarted, 60, "restartCount 1")
        assert status["lastState"]["terminated"]["exitCode"] == 137
        runs = [c for c in node.pod_containers()
                if c.config.labels["io.kubernetes.container.name"] == "app"]
        assert sorted(c.config.labels["berth.kube.attempt"] for c in runs) == ["0", "1"]
        assert cluster.kubectl("logs", "sick", "--previous").stdout == "run\n"


def test_startup_probe_holds_liveness_back_and_restarts_what_never_starts(cluster, node):
    """A tcpSocket startup probe: liveness (which would fail at once) waits until it passed,
    so a slow starter is not killed; one whose port never opens is restarted once its
    startup probe failed failureThreshold times."""
    with applied(cluster, node, pod("slow") + f"""
  containers:
  - name: slow
    image: {IMAGE}
    command: [sh, -c, 'sleep 3; exec httpd -f -p 80 -h /']
    startupProbe: {{tcpSocket: {{port: 80}}, periodSeconds: 1, failureThreshold: 15}}
    livenessProbe: {{tcpSocket: {{port: 80}}, periodSeconds: 1, failureThreshold: 1}}
  - name: never
    image: {IMAGE}
    command: [sh, -c, 'echo up; exec sleep 3600']
    startupProbe: {{tcpSocket: {{port: 81}}, periodSeconds: 1, failureThreshold: 2}}
""", "pod/slow"):
        def statuses():
            got = {s["name"]: s for s in
                   cluster.get("pod", "slow")["status"].get("containerStatuses") or []}
            return got if got.get("slow", {}).get("started") \
                and got.get("never", {}).get("restartCount", 0) >= 1 else None
        got = until(statuses, 60, "slow started and never restarted")
        assert got["slow"]["restartCount"] == 0 and got["slow"]["ready"], got["slow"]
        assert not got["never"]["started"] and not got["never"]["ready"], got["never"]
        assert got["never"]["lastState"]["terminated"]["exitCode"] == 137, got["never"]


def test_configmap_volume_shows_its_keys_as_files(cluster, node):
    with applied(cluster, node, """
apiVersion: v1
kind: ConfigMap
metadata: {name: settings}
data: {greeting: hello, colour: blue}
---""" + pod("reader") + f"""
  volumes: [{{name: cfg, configMap: {{name: settings}}}}]
  containers:
  - name: app
    image: {IMAGE}
    command: [sleep, '3600']
    volumeMounts: [{{name: cfg, mountPath: /etc/settings, readOnly: true}}]
""", "pod/reader", "configmap/settings"):
        running_pods(cluster, "!app", 1)
        app = until(lambda: [c for c in node.pod_containers() if c.running and
                             c.config.labels["io.kubernetes.container.name"] == "app"], 30, "app")
        out = berth(node.root, "exec", app[0].id, "sh", "-c", "ls /etc/settings; "
                    "cat /etc/settings/greeting; echo; cat /etc/settings/colour").stdout
        assert out.split() == ["colour", "greeting", "hello", "blue"]
        # a change to the ConfigMap reaches the files (within the agent's 10 s refresh)
        cluster.kubectl("patch", "configmap", "settings", "-p", '{"data": {"colour": "red"}}')
        until(lambda: berth(node.root, "exec", app[0].id, "cat", "/etc/settings/colour")
              .stdout == "red", 30, "the new colour")


def test_agent_killed_and_restarted_adopts_its_pods(cluster, node):
    with applied(cluster, node, deployment("keep", 2), "deployment/keep"):
        before = running_pods(cluster, "app=keep", 2)
        ids = {c.id for c in node.pod_containers()}
        assert len(ids) == 4
        node.kill(signal.SIGKILL)
        # the pods run on without their agent
        for p in before:
            with urllib.request.urlopen(f"http://{p['status']['podIP']}/", timeout=5) as r:
                assert r.status == 200
        node.start()
        cluster.kubectl("annotate", "deployment/keep", "poke=1")   # a change for the agent to see
        after = running_pods(cluster, "app=keep", 2)
        assert {p["metadata"]["uid"] for p in after} == {p["metadata"]["uid"] for p in before}
        until(lambda: node.agent_log().count("adopted") >= 2, 30, "the pods adopted")
        # one agent per root
        p = berth(node.root, "node", "run", "--kubeconfig", cluster.kubeconfig, "--name", "x",
                  "--port", "0", check=False)
        assert p.returncode == 125 and "a node agent already runs on the root" in p.stderr
        time.sleep(2)   # two more passes of the reconcile loop start nothing again
        assert {c.id for c in node.pod_containers()} == ids
        assert all(s["restartCount"] == 0 for p in cluster.get("pods", "-l", "app=keep")["items"]
                   for s in p["status"]["containerStatuses"])


def test_kubectl_logs_and_exec_through_the_kubelet_api(cluster, node):
    with applied(cluster, node, pod("talker") + f"""
  containers:
  - name: app
    image: {IMAGE}
    command: [sh, -c, 'echo one; echo two; echo three >&2; exec sleep 3600']
  - name: echo
    image: {IMAGE}
    stdin: true
    command: [sh, -c, 'while read line; do echo "got $line"; done']
""", "pod/talker"):
        running_pods(cluster, "!app", 1)
        logs = until(lambda: cluster.kubectl("logs", "talker", "-c", "app").stdout.count("\n") == 3
                     and cluster.kubectl("logs", "talker", "-c", "app").stdout, 30, "the log")
        assert sorted(logs.split()) == ["one", "three", "two"]
        assert cluster.kubectl("logs", "talker", "-c", "app", "--tail=1").stdout.count("\n") == 1
        stamped = cluster.kubectl("logs", "talker", "-c", "app", "--timestamps").stdout \
            .splitlines()
        assert all(line[:2] == "20" and line[10] == "T" for line in stamped), stamped
        p = cluster.kubectl("exec", "talker", "--", "sh", "-c", "echo out; echo err >&2; exit 3",
                            check=False)
        assert (p.returncode, p.stdout) == (3, "out\n"), p.stderr
        assert "err" in p.stderr
        p = cluster.kubectl("exec", "-i", "talker", "--", "sh", "-c", "tr a-z A-Z; hostname",
                            input="hello\n")
        assert p.stdout == "HELLO\ntalker\n", p.stderr
        # the kubelet's stats, from berth's cgroup readings
        summary = json.loads(cluster.kubectl("get", "--raw",
                                             "/api/v1/nodes/berth-a/proxy/stats/summary").stdout)
        [mine] = [p for p in summary["pods"] if p["podRef"]["name"] == "talker"]
        assert sorted(c["name"] for c in mine["containers"]) == ["app", "echo"]
        assert all(c["memory"]["workingSetBytes"] > 0 for c in mine["containers"])
        assert summary["node"]["memory"]["usageBytes"] > 0
        p = cluster.kubectl("logs", "talker", "-c", "nope", check=False)
        assert p.returncode != 0
        # a follower sees what the container writes later
        follow = subprocess.Popen(["kubectl", f"--kubeconfig={cluster.kubeconfig}", "logs", "-f",
                                   "talker", "-c", "app"], stdout=subprocess.PIPE, text=True)
        try:
            assert sorted(follow.stdout.readline() for _ in range(3)) == \
                ["one\n", "three\n", "two\n"]
            cluster.kubectl("exec", "talker", "--", "sh", "-c", "echo later > /proc/1/fd/1")
            assert follow.stdout.readline() == "later\n"
        finally:
            follow.kill()
            follow.wait()
        # a terminal: kubectl's resize goes through to the container's
        import pexpect
        term = pexpect.spawn("kubectl", [f"--kubeconfig={cluster.kubeconfig}", "exec", "-it",
                                         "talker", "--", "sh"], dimensions=(30, 91), timeout=20)
        try:
            term.expect("# ")
            term.sendline("stty size; echo $((6 * 7))")
            term.expect("30 91")
            term.expect("42")
            term.sendline("exit 4")
            term.expect(pexpect.EOF)
        finally:
            term.close()
        assert term.exitstatus == 4
        # attach: the container's own stdin and stdout (the session stays open past stdin's
        # end, as without stdinOnce: kubectl is stopped)
        attach = subprocess.Popen(["kubectl", f"--kubeconfig={cluster.kubeconfig}", "attach",
                                   "-i", "talker", "-c", "echo"], stdin=subprocess.PIPE,
                                  stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        try:
            attach.stdin.write("hello\n")
            attach.stdin.flush()
            assert attach.stdout.readline() == "got hello\n"
        finally:
            attach.kill()
            attach.wait()


def test_init_containers_in_order_then_the_pod_succeeds(cluster, node):
    with applied(cluster, node, pod("steps") + f"""
  restartPolicy: Never
  volumes: [{{name: work, emptyDir: {{}}}}]
  initContainers:
  - {{name: first, image: {IMAGE}, command: [sh, -c, 'echo first > /work/log'],
     volumeMounts: [{{name: work, mountPath: /work}}]}}
  - {{name: second, image: {IMAGE}, command: [sh, -c, 'echo second >> /work/log'],
     volumeMounts: [{{name: work, mountPath: /work}}]}}
  containers:
  - {{name: main, image: {IMAGE}, command: [cat, /work/log],
     volumeMounts: [{{name: work, mountPath: /work}}]}}
""", "pod/steps"):
        pod_ = until(lambda: (p := cluster.get("pod", "steps"))["status"].get("phase") ==
                     "Succeeded" and p, 60, "the pod Succeeded")
        inits = pod_["status"]["initContainerStatuses"]
        assert [(s["name"], s["state"]["terminated"]["reason"]) for s in inits] == \
            [("first", "Completed"), ("second", "Completed")]
        assert cluster.kubectl("logs", "steps").stdout == "first\nsecond\n"
        # the finished pod's sandbox is stopped; its containers stay for their logs
        until(lambda: not any(c.running for c in node.pod_containers()), 30, "the sandbox stopped")
        assert len(node.pod_containers()) == 4


def test_two_berth_nodes_share_a_deployment(cluster, node, seed):
    second = Node(cluster, "berth-b", seed)
    try:
        spread = deployment("both", 4).replace(
            "      terminationGracePeriodSeconds: 1\n",
            "      terminationGracePeriodSeconds: 1\n      topologySpreadConstraints:\n"
            "      - {maxSkew: 1, topologyKey: kubernetes.io/hostname, "
            "whenUnsatisfiable: DoNotSchedule, labelSelector: {matchLabels: {app: both}}}\n")
        cluster.apply(spread)
        pods = running_pods(cluster, "app=both", 4)
        print(cluster.kubectl("get", "pods", "-l", "app=both", "-o", "wide").stdout)
        by_node = {}
        for p in pods:
            by_node.setdefault(p["spec"]["nodeName"], set()).add(p["metadata"]["uid"])
        assert sorted(len(v) for v in by_node.values()) == [2, 2] and \
            set(by_node) == {"berth-a", "berth-b"}
        for n in (node, second):   # each node runs its own pods, and only those
            assert {c.config.labels["io.kubernetes.pod.uid"] for c in n.pod_containers()} == \
                by_node[n.name]
        for p in pods:
            with urllib.request.urlopen(f"http://{p['status']['podIP']}/", timeout=5) as r:
                assert r.read().decode().split()[2] == p["spec"]["nodeName"]
        cluster.kubectl("delete", "deployment/both")
        until(lambda: not node.pod_containers() and not second.pod_containers(), 60,
              "both nodes' containers removed")
        assert host_leftovers(second.root) == []
    finally:
        cluster.kubectl("delete", "deployment/both", "--ignore-not-found")
        second.close()
        cluster.kubectl("delete", "node", "berth-b")


def test_security_context_secrets_downward_api_and_host_paths(cluster, node, tmp_path):
    """Also: a secret volume and an emptyDir of medium Memory are tmpfs mounts, as the
    kubelet's (a secret never on disk, the emptyDir's sizeLimit its size), which system check
    counts as the pod's while it runs and which the pod's removal unmounts; and the pod's
    fsGroup owns its volumes (not a hostPath), what the pod makes in them included."""
    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(0o777)
    (shared / "from-host").write_text("host file\n")
    with applied(cluster, node, """
apiVersion: v1
kind: Secret
metadata: {name: creds}
stringData: {password: s3cret}
---""" + pod("locked") + f"""
  volumes:
  - {{name: creds, secret: {{secretName: creds, defaultMode: 0444}}}}
  - {{name: me, downwardAPI: {{items: [{{path: name, fieldRef: {{fieldPath: metadata.name}}}},
                                      {{path: ns, fieldRef: {{fieldPath: metadata.namespace}}}}]}}}}
  - {{name: host, hostPath: {{path: {shared}, type: Directory}}}}
  - {{name: scratch, emptyDir: {{medium: Memory, sizeLimit: 1Mi}}}}
  securityContext: {{fsGroup: 2000}}
  containers:
  - name: app
    image: {IMAGE}
    command: [sh, -c, 'id -u; id -g; cat /creds/password; echo; cat /me/name; echo; cat /me/ns;
              echo; cat /host/from-host; echo "$PASSWORD $(MEMORY)";
              touch /tmp/x 2>/dev/null || echo read-only; echo hi > /host/from-pod;
              grep -E " /(creds|scratch) " /proc/mounts | cut -d" " -f1-3 | sort;
              dd if=/dev/zero of=/scratch/big bs=1k count=2048 2>/dev/null || echo full;
              rm -f /scratch/big; touch /scratch/made;
              stat -L -c "%g %a" /creds/password /scratch /scratch/made /host/from-host;
              exec sleep 3600']
    env:
    - {{name: PASSWORD, valueFrom: {{secretKeyRef: {{name: creds, key: password}}}}}}
    - {{name: MEMORY, valueFrom: {{resourceFieldRef: {{resource: limits.memory, divisor: 1Mi}}}}}}
    resources: {{limits: {{memory: 32Mi}}}}
    securityContext: {{runAsUser: 1000, runAsGroup: 1001, readOnlyRootFilesystem: true}}
    volumeMounts:
    - {{name: creds, mountPath: /creds}}
    - {{name: me, mountPath: /me}}
    - {{name: host, mountPath: /host}}
    - {{name: scratch, mountPath: /scratch}}
""", "pod/locked", "secret/creds"):
        running_pods(cluster, "!app", 1)
        log = until(lambda: (out := cluster.kubectl("logs", "locked").stdout).count("\n") >= 15
                    and out, 30, "the pod's report")
        host_group = f"{(shared / 'from-host').stat().st_gid} 644"
        assert log.splitlines() == ["1000", "1001", "s3cret", "locked", "default", "host file",
                                    "s3cret 32", "read-only", "tmpfs /creds tmpfs",
                                    "tmpfs /scratch tmpfs", "full", "2000 444", "2000 2777",
                                    "2000 644", host_group], log
        assert (shared / "from-pod").read_text() == "hi\n"
        found = berth(node.root, "system", "check", check=False).stdout
        assert not [line for line in found.splitlines() if line.startswith("mount")], found
    until(lambda: host_leftovers(node.root) == [], 30, "the pod's tmpfs volumes unmounted")


def test_the_kubelet_api_serves_a_certificate_of_the_cluster_once_approved(cluster, node):
    def csrs():
        items = [c for c in cluster.get("csr")["items"]
                 if c["metadata"]["name"].startswith("berth-node-berth-a-")]
        return sorted(items, key=lambda c: c["metadata"]["creationTimestamp"])
    newest = until(csrs, 30, "the node's CSR")[-1]
    assert newest["spec"]["signerName"] == "kubernetes.io/kubelet-serving"
    port = cluster.get("node", "berth-a")["status"]["daemonEndpoints"]["kubeletEndpoint"]["Port"]

    def issuer() -> str:
        pem = ssl.get_server_certificate(("127.0.0.1", port))
        return subprocess.run(["openssl", "x509", "-noout", "-issuer"], input=pem,
                              capture_output=True, text=True).stdout
    assert "test-ca" not in issuer()   # the node's own until then
    # an agent restarted before the approval waits for the same request, not a new one
    def log() -> str:
        with open(node.log) as f:
            return f.read()
    registered = log().count("registered at")
    node.kill(signal.SIGKILL)
    node.start()   # (Ready at once: the killed agent's status still says so)
    # the restarted agent's own lines, not the killed one's "waits for approval" before them
    until(lambda: log().count("registered at") > registered
          and "waits for approval" in log().rsplit("registered at", 1)[-1], 30,
          "the restarted agent's CSR")
    assert [c["metadata"]["name"] for c in csrs()][-1] == newest["metadata"]["name"]
    port = cluster.get("node", "berth-a")["status"]["daemonEndpoints"]["kubeletEndpoint"]["Port"]
    cluster.kubectl("certificate", "approve", newest["metadata"]["name"])
    until(lambda: "test-ca" in issuer(), 30, "a certificate the cluster's CA signed")
    assert cluster.kubectl("get", "--raw", "/api/v1/nodes/berth-a/proxy/healthz").stdout == "ok"


def test_image_pull_policies_against_a_registry(cluster, node):
    """Always pulls the tag again for each new container (the registry's tag moved: the new
    pod runs the new image), IfNotPresent uses what the node has, Never refuses an absent
    image with the kubelet's reason."""
    from helpers import BUSYBOX_GLIBC, BUSYBOX_MUSL
    from registry_server import config_digest, registry
    with registry() as r:
        ref = f"{r.host}/test/shell:1"
        r.skopeo_copy_in(f"oci-archive:{BUSYBOX_MUSL}", "test/shell:1")

        def image_of(pod_name: str) -> str:
            app = until(lambda: [c for c in node.pod_containers()
                                 if c.config.labels.get("io.kubernetes.pod.name") == pod_name
                                 and c.config.labels.get("berth.kube.kind") == "app"],
                        60, f"{pod_name}'s container")
            return app[0].config.image_id

        def runner(name: str, policy: str, image: str = ref) -> str:
            return pod(name) + f"""
  containers:
  - name: app
    image: {image}
    imagePullPolicy: {policy}
    command: [sleep, '3600']
"""
        with applied(cluster, node, runner("first", "Always"), "pod/first"):
            assert image_of("first") == config_digest(BUSYBOX_MUSL)
        r.skopeo_copy_in(f"oci-archive:{BUSYBOX_GLIBC}", "test/shell:1")   # the tag moves
        with applied(cluster, node, runner("keeps", "IfNotPresent"), "pod/keeps"):
            assert image_of("keeps") == config_digest(BUSYBOX_MUSL)
        with applied(cluster, node, runner("second", "Always"), "pod/second"):
            assert image_of("second") == config_digest(BUSYBOX_GLIBC)
        with applied(cluster, node, runner("never", "Never", f"{r.host}/test/absent:1"),
                     "pod/never"):
            def reason():
                st = (cluster.get("pod", "never")["status"].get("containerStatuses") or [{}])[0]
                return (st.get("state", {}).get("waiting") or {}).get("reason")
            assert until(reason, 30, "a waiting reason") == "ErrImageNeverPull"


def test_a_deleted_node_registers_again(cluster, node):
    """Deleting the Node (and with it its Lease) does not lose the node: at its next lease
    renewal the agent finds both gone and registers the Node again, Ready, as a kubelet does.
    (Last in the module: the node's pods, if it had any, would go with the Node.)"""
    old = cluster.get("node", "berth-a")["metadata"]["uid"]
    cluster.kubectl("delete", "node", "berth-a")
    cluster.kubectl("delete", "--ignore-not-found", "-n", "kube-node-lease", "lease/berth-a")
    until(lambda: cluster.kubectl("get", "node", "berth-a", "-o", "jsonpath={.metadata.uid}",
                                  check=False).stdout not in ("", old), 40, "berth-a again")
    until(node.ready, 30, "berth-a Ready again")
    labels = cluster.get("node", "berth-a")["metadata"]["labels"]
    assert labels["node.berth.io/engine"] == "berth"
