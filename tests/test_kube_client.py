"""engine/kube's API client against a real kube-apiserver (../shared/kube): kubeconfig
files as kubectl reads them, requests, and watches that resume from their resourceVersion."""

from __future__ import annotations

import base64
import threading

import pytest

from engine.errors import InvalidArgument
from engine.kube import client as kube_client
from engine.kube.client import KubeClient, KubeError
from engine.kube.kubeconfig import load
from kube_cluster import cluster_up

pytestmark = [pytest.mark.xdist_group("kube-client"), pytest.mark.timeout(1500)]


@pytest.fixture(scope="module")
def cluster():
    with cluster_up(controllers=False) as c:
        yield c


def test_kubeconfig_with_inline_data_and_a_named_context(cluster, tmp_path):
    ca = open(f"{cluster.workdir}/pki/ca.crt", "rb").read()
    path = tmp_path / "config"
    path.write_text(f"""
apiVersion: v1
kind: Config
clusters:
- name: other
  cluster: {{server: "https://127.0.0.1:1"}}
- name: here
  cluster:
    server: "https://127.0.0.1:{cluster.api_port}/"
    certificate-authority-data: {base64.b64encode(ca).decode()}
users: [{{name: admin, user: {{token: admin-token-123}}}}]
contexts:
- {{name: first, context: {{cluster: other, user: admin}}}}
- {{name: second, context: {{cluster: here, user: admin, namespace: kube-system}}}}
current-context: first
""")
    cfg = load(str(path), "second")
    assert cfg.server == f"https://127.0.0.1:{cluster.api_port}" and cfg.namespace == "kube-system"
    assert KubeClient(cfg).get("/version")["gitVersion"] == "v1.20.2"
    with pytest.raises(InvalidArgument, match="no context named 'third'"):
        load(str(path), "third")
    path.write_text("[not, a, mapping]")
    with pytest.raises(InvalidArgument, match="not a kubeconfig"):
        load(str(path))


def test_requests_and_the_servers_refusals(cluster):
    api = KubeClient(load(cluster.kubeconfig))
    path = "/api/v1/namespaces/default/configmaps"
    made = api.post(path, {"metadata": {"name": "c1"}, "data": {"a": "1"}})
    assert made["metadata"]["uid"]
    with pytest.raises(KubeError) as e:
        api.post(path, {"metadata": {"name": "c1"}})
    assert e.value.status == 409 and "already exists" in str(e.value)
    api.patch(f"{path}/c1", {"data": {"b": "2"}})
    assert api.get(f"{path}/c1")["data"] == {"a": "1", "b": "2"}
    api.delete(f"{path}/c1")
    with pytest.raises(KubeError) as e:
        api.get(f"{path}/c1")
    assert e.value.status == 404
    bad = load(cluster.kubeconfig)
    bad.token = "wrong"
    with pytest.raises(KubeError) as e:
        KubeClient(bad).get("/api/v1/namespaces")
    assert e.value.status == 401


def test_a_watch_resumes_from_its_version_when_the_server_ends_it(cluster, monkeypatch):
    monkeypatch.setattr(kube_client, "WATCH_SECONDS", 1)   # the server ends each stream after 1 s
    api = KubeClient(load(cluster.kubeconfig))
    path = "/api/v1/namespaces/default/configmaps"
    rv = api.get(path)["metadata"]["resourceVersion"]
    stop = threading.Event()
    seen = []

    def watch():
        for kind, obj in api.watch(path, rv, stop):
            seen.append((kind, obj["metadata"]["name"]))
            if len(seen) == 3:
                stop.set()
    t = threading.Thread(target=watch)
    t.start()
    api.post(path, {"metadata": {"name": "w1"}})
    import time
    time.sleep(2.5)   # two streams ended by the server meanwhile: nothing lost, nothing twice
    api.post(path, {"metadata": {"name": "w2"}})
    api.delete(f"{path}/w1")
    t.join(20)
    stop.set()
    api.delete(f"{path}/w2")
    assert seen == [("ADDED", "w1"), ("ADDED", "w2"), ("DELETED", "w1")]
