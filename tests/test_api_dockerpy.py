"""docker-py against ``berth system service``, in the style of docker-py's own integration
tests: containers, images, networks, volumes, exec, logs streaming, stats, events."""

from __future__ import annotations

import os
import time

import pytest

from test_api_support import service  # noqa: F401

docker = pytest.importorskip("docker")


@pytest.fixture
def client(service):
    c = docker.DockerClient(base_url=service.url, timeout=120)
    try:
        yield c
    finally:
        c.close()


def test_ping_version_and_the_version_prefix(client, service):
    assert client.ping() is True
    assert client.version()["ApiVersion"] == "1.45"
    old = docker.APIClient(base_url=service.url, version="1.41")
    assert old.version()["MinAPIVersion"] == "1.41"
    with pytest.raises(docker.errors.APIError) as e:
        docker.APIClient(base_url=service.url, version="1.40").version()
    assert e.value.status_code == 400 and "too old" in str(e.value)


def test_run_returns_output_and_removes(client, busybox):
    out = client.containers.run(busybox, ["sh", "-c", "echo hello; echo err >&2"], remove=True)
    assert out == b"hello\n"
    assert client.containers.list(all=True) == []
    with pytest.raises(docker.errors.ContainerError) as e:
        client.containers.run(busybox, ["sh", "-c", "exit 7"], remove=True)
    assert e.value.exit_status == 7


def test_container_lifecycle_and_attrs(client, busybox):
    c = client.containers.create(busybox, ["sleep", "60"], name="life", labels={"app": "x"},
                                 environment={"A": "1"}, mem_limit="48m")
    assert c.status == "created"
    c.start()
    c.reload()
    assert c.status == "running" and c.attrs["Config"]["Labels"] == {"app": "x"}
    assert "A=1" in c.attrs["Config"]["Env"] and c.attrs["HostConfig"]["Memory"] == 48 << 20
    assert [x.name for x in client.containers.list(filters={"label": "app=x"})] == ["life"]
    c.pause()
    c.reload()
    assert c.status == "paused"
    c.unpause()
    c.stop(timeout=1)
    assert c.wait()["StatusCode"] in (137, 143)
    c.rename("life2")
    c.reload()
    assert c.name == "life2"
    c.remove()
    with pytest.raises(docker.errors.NotFound):
        client.containers.get("life2")


def test_block_io_rules_and_oom_score_adj_reach_the_container(client, busybox, cg,
                                                              loop_device):
    """HostConfig's per-device block I/O lists and OomScoreAdj, as docker-py sends them, end
    in the cgroup and in /proc as `berth run --device-write-bps ... --oom-score-adj` puts them."""
    c = client.containers.run(
        busybox, ["sleep", "60"], detach=True, network_mode="none", oom_score_adj=300,
        device_write_bps=[{"Path": loop_device, "Rate": 1 << 20}],
        device_read_iops=[{"Path": loop_device, "Rate": 100}])
    try:
        c.reload()
        st = os.stat(loop_device)
        majmin = f"{os.major(st.st_rdev)}:{os.minor(st.st_rdev)}"
        with open(os.path.join(cg.path(c.id, "blkio"), "blkio.throttle.write_bps_device")) as f:
            assert f.read().strip() == f"{majmin} {1 << 20}"
        with open(f"/proc/{c.attrs['State']['Pid']}/oom_score_adj") as f:
            assert f.read().strip() == "300"
        hc = c.attrs["HostConfig"]
        assert hc["BlkioDeviceWriteBps"] == [{"Path": loop_device, "Rate": 1 << 20}]
        assert hc["BlkioDeviceReadIOps"] == [{"Path": loop_device, "Rate": 100}]
        assert hc["OomScoreAdj"] == 300
    finally:
        c.remove(force=True)
    with pytest.raises(docker.errors.APIError) as e:
        client.containers.create(busybox, ["true"], device_write_bps=[
            {"Path": "/dev/null", "Rate": 1}])
    assert e.value.status_code == 400 and "/dev/null is not a block device" in str(e.value)


def test_pull_and_push_with_credentials_in_x_registry_auth(client, busybox):
    """docker-py's auth_config travels in X-Registry-Auth; berth uses it instead of what
    login saved (nothing here), and a wrong password reads as the registry's refusal."""
    from helpers import BUSYBOX_MUSL
    from registry_server import registry
    with registry(auth="htpasswd") as reg:
        reg.skopeo_copy_in(f"oci-archive:{BUSYBOX_MUSL}", "private/bb:1")
        # refused before anything was pulled: dockerd's status and message, no stream
        with pytest.raises(docker.errors.APIError) as e:
            client.api.pull(f"{reg.host}/private/bb", tag="1",
                            auth_config={"username": "alice", "password": "wrong"})
        assert e.value.status_code == 500 and "wrong username or password" in str(e.value)
        with pytest.raises(docker.errors.NotFound):
            client.api.pull(f"{reg.host}/private/bb", tag="nosuch",
                            auth_config={"username": "alice", "password": "wonderland"})
        assert client.images.list(name=f"{reg.host}/private/bb") == []
        image = client.images.pull(f"{reg.host}/private/bb", tag="1",
                                   auth_config={"username": "alice", "password": "wonderland"})
        assert f"{reg.host}/private/bb:1" in image.tags
        image.tag(f"{reg.host}/private/copy", "2")
        out = client.images.push(f"{reg.host}/private/copy", tag="2",
                                 auth_config={"username": "alice", "password": "wonderland"})
        assert "digest: sha256:" in out
        assert reg.skopeo_inspect("private/copy:2")["Digest"].startswith("sha256:")


def test_conflicts_and_bad_parameters(client, busybox):
    client.containers.run(busybox, ["sleep", "60"], name="one", detach=True)
    with pytest.raises(docker.errors.APIError) as e:
        client.containers.run(busybox, ["true"], name="one", detach=True)
    assert e.value.status_code == 409
    with pytest.raises(docker.errors.APIError) as e:
        client.containers.get("one").remove()
    assert e.value.status_code == 409
    with pytest.raises(docker.errors.APIError) as e:
        client.containers.create(busybox, ["true"], mem_limit="1k")
    assert e.value.status_code == 400 and "Minimum memory limit" in str(e.value)
    with pytest.raises(docker.errors.ImageNotFound):
        client.containers.create("nosuch:1", ["true"])
    # what berth can't honour is refused by name, not silently dropped
    with pytest.raises(docker.errors.APIError) as e:
        client.containers.create(busybox, ["true"], runtime="nvidia")
    assert e.value.status_code == 400 and "HostConfig.Runtime is not supported" in str(e.value)
    with pytest.raises(docker.errors.APIError) as e:
        client.containers.create(busybox, ["true"], restart_policy={"Name": "sometimes"})
    assert e.value.status_code == 400 and "unknown policy 'sometimes'" in str(e.value)
    client.containers.get("one").remove(force=True)


def test_logs_streaming_follows_until_exit(client, busybox):
    c = client.containers.run(busybox, ["sh", "-c", "for i in 1 2 3; do echo n$i; sleep 0.2; "
                                        "done; echo bad >&2"], detach=True)
    lines = list(c.logs(stream=True, follow=True))
    assert b"".join(lines) == b"n1\nn2\nn3\nbad\n"
    assert c.logs(stderr=False) == b"n1\nn2\nn3\n"
    assert c.logs(stdout=False) == b"bad\n"
    assert c.wait() == {"StatusCode": 0, "Error": None}
    c.remove()


def test_exec_run_output_exit_code_and_env(client, busybox):
    c = client.containers.run(busybox, ["sleep", "60"], detach=True)
    r = c.exec_run(["sh", "-c", "echo $X; echo oops >&2; exit 3"], environment={"X": "y"})
    assert r.exit_code == 3 and r.output == b"y\noops\n"
    r = c.exec_run(["sh", "-c", "echo out; echo err >&2"], demux=True)
    assert r.output == (b"out\n", b"err\n")
    r = c.exec_run("nosuchcmd")
    assert r.exit_code == 127
    r = c.exec_run("pwd", workdir="/tmp", user="nobody")
    assert r.output == b"/tmp\n"
    c.remove(force=True)


def test_stats_one_shot_and_stream(client, busybox):
    c = client.containers.run(busybox, ["sleep", "60"], detach=True, mem_limit="32m")
    s = c.stats(stream=False)
    assert s["memory_stats"]["limit"] == 32 << 20 and s["memory_stats"]["usage"] > 0
    assert s["cpu_stats"]["online_cpus"] >= 1
    assert s["cpu_stats"]["system_cpu_usage"] > s["precpu_stats"]["system_cpu_usage"] > 0
    assert s["pids_stats"]["current"] == 1
    stream = c.stats(decode=True)
    first, second = next(stream), next(stream)
    assert second["precpu_stats"]["cpu_usage"]["total_usage"] == \
        first["cpu_stats"]["cpu_usage"]["total_usage"]
    stream.close()
    c.remove(force=True)


def test_images_list_tag_history_save_load_remove(client, busybox):
    img = client.images.get(busybox)
    assert busybox in img.tags
    assert img.tag("mine/app", "v1")
    assert "mine/app:v1" in client.images.get("mine/app:v1").tags
    assert img.history()[0]["Id"] == img.id
    data = b"".join(client.api.get_image("mine/app:v1"))
    client.images.remove("mine/app:v1")
    with pytest.raises(docker.errors.ImageNotFound):
        client.images.get("mine/app:v1")
    loaded = client.images.load(data)
    assert [i.id for i in loaded] == [img.id]
    names = [t for i in client.images.list() for t in i.tags]
    assert "mine/app:v1" in names
    assert client.images.list(filters={"reference": "mine/*"})[0].id == img.id


def test_networks_connect_and_prune(client, busybox):
    ipam = docker.types.IPAMConfig(pool_configs=[docker.types.IPAMPool(subnet="10.232.0.0/24")])
    net = client.networks.create("pynet", ipam=ipam, labels={"t": "1"})
    assert client.networks.get("pynet").attrs["IPAM"]["Config"][0]["Subnet"] == "10.232.0.0/24"
    c = client.containers.run(busybox, ["sleep", "60"], detach=True)
    net.connect(c)
    c.reload()
    assert "pynet" in c.attrs["NetworkSettings"]["Networks"]
    out = c.exec_run(["ip", "-4", "addr"]).output.decode()
    assert "10.232.0." in out
    net.disconnect(c)
    c.remove(force=True)
    with pytest.raises(docker.errors.APIError):
        client.networks.create("pynet")
    assert "pynet" in client.networks.prune()["NetworksDeleted"]
    with pytest.raises(docker.errors.NotFound):
        client.networks.get("pynet")


def test_volumes_create_use_inspect_prune(client, busybox):
    v = client.volumes.create("pyvol", labels={"k": "v"})
    assert v.attrs["Labels"] == {"k": "v"} and v.attrs["Driver"] == "local"
    client.containers.run(busybox, ["sh", "-c", "echo saved > /v/f"], remove=True,
                          volumes={"pyvol": {"bind": "/v", "mode": "rw"}})
    out = client.containers.run(busybox, ["cat", "/v/f"], remove=True,
                                volumes=["pyvol:/v:ro"])
    assert out == b"saved\n"
    assert [x.name for x in client.volumes.list(filters={"label": "k=v"})] == ["pyvol"]
    v.remove()
    with pytest.raises(docker.errors.NotFound):
        client.volumes.get("pyvol")
    client.volumes.create("unused")
    assert client.volumes.prune(filters={"all": ["true"]})["VolumesDeleted"] == ["unused"]


def test_events_between_since_and_until(client, busybox):
    since = time.time() - 1
    client.containers.run(busybox, ["true"], name="evpy", remove=True)
    actions = [e["Action"] for e in client.events(since=since, until=time.time() + 1,
                                                  decode=True,
                                                  filters={"container": "evpy"})]
    assert actions[:1] == ["create"] and "die" in actions and actions[-1] == "destroy"


def test_attach_socket_to_a_running_container(client, busybox):
    c = client.containers.run(busybox, ["sh", "-c", "read line; echo got:$line"], detach=True,
                              stdin_open=True)
    sock = client.api.attach_socket(c.id, params={"stdin": 1, "stdout": 1, "stream": 1})
    sock._sock.sendall(b"ping\n")
    data = b""
    while b"got:ping" not in data:
        chunk = sock._sock.recv(4096)
        if not chunk:
            break
        data += chunk
    sock.close()
    assert b"got:ping\n" in data
    assert c.wait()["StatusCode"] == 0
    c.remove()


def test_archives_top_diff_and_commit(client, busybox):
    import io
    import tarfile
    c = client.containers.run(busybox, ["sleep", "60"], detach=True)
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as t:
        data = b"payload\n"
        info = tarfile.TarInfo("dropped.txt")
        info.size = len(data)
        t.addfile(info, io.BytesIO(data))
    assert c.put_archive("/tmp", buf.getvalue())
    stream, stat = c.get_archive("/tmp/dropped.txt")
    assert stat["name"] == "dropped.txt" and stat["size"] == 8
    with tarfile.open(fileobj=io.BytesIO(b"".join(stream))) as t:
        assert t.extractfile("dropped.txt").read() == b"payload\n"
    with pytest.raises(docker.errors.NotFound):
        c.get_archive("/nosuch")
    assert c.top()["Processes"][0][-1] == "sleep 60"
    assert {"Path": "/tmp/dropped.txt", "Kind": 1} in c.diff()
    img = c.commit(repository="pysnap", tag="1", changes=['CMD ["cat", "/tmp/dropped.txt"]'])
    assert "pysnap:1" in img.tags
    assert client.containers.run("pysnap:1", remove=True) == b"payload\n"
    c.remove(force=True)
