"""The Docker API's bounds, driven with raw HTTP over the service's unix socket as a hostile
client would: wrong JSON types answer 400 with Go's message, invalid UTF-8 and deep nesting 400,
values that would reach a container's files 400, bad query parameters 400 (never 500, and
nothing left behind); an oversized body is refused without the service growing; slow headers and
idle connections are cut off while long streams stay open."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import time

import pytest

from helpers import BUSYBOX_MUSL, claim_root, release_root, root_links
from test_api_support import DOCKER, Service, service, start_service, stop_service  # noqa: F401

IMAGE = "busybox:1.38.0-musl"


def _connect(path: str, timeout: float = 60) -> socket.socket:
    s = socket.socket(socket.AF_UNIX)
    s.settimeout(timeout)
    s.connect(path)
    return s


def _head(method: str, path: str, length: int | None, extra: str = "") -> bytes:
    head = f"{method} {path} HTTP/1.1\r\nHost: docker\r\nConnection: close\r\n{extra}"
    if length is not None:
        head += f"Content-Type: application/json\r\nContent-Length: {length}\r\n"
    return (head + "\r\n").encode()


def _read_all(s: socket.socket) -> bytes:
    data = b""
    try:
        while chunk := s.recv(65536):
            data += chunk
    except (ConnectionResetError, socket.timeout):
        pass
    return data


def _answer(data: bytes) -> tuple[int, object]:
    head, _, body = data.partition(b"\r\n\r\n")
    status = int(head.split()[1])
    try:
        return status, json.loads(body) if body else None
    except ValueError:
        return status, body


def request(sock: str, method: str, path: str, body=None) -> tuple[int, object]:
    """(status, parsed JSON body) of one request on its own connection."""
    if isinstance(body, (dict, list)):
        body = json.dumps(body).encode()
    s = _connect(sock)
    try:
        s.sendall(_head(method, path, None if body is None else len(body)) + (body or b""))
        return _answer(_read_all(s))
    finally:
        s.close()


def inventory(service) -> tuple:
    """Containers, networks, volumes and the root's links, as the API and the host show them."""
    _, containers = request(service.path, "GET", "/containers/json?all=1")
    _, networks = request(service.path, "GET", "/networks")
    _, volumes = request(service.path, "GET", "/volumes")
    return (sorted(c["Id"] for c in containers), sorted(n["Name"] for n in networks),
            sorted(v["Name"] for v in volumes["Volumes"]), root_links(service.root))


def refused(service, method: str, path: str, body, status: int, message: str) -> None:
    before = inventory(service)
    got, answer = request(service.path, method, path, body)
    assert got == status and isinstance(answer, dict), (got, answer)
    assert message in answer["message"], (message, answer["message"])
    assert inventory(service) == before


@pytest.fixture(scope="module")
def shared():
    """One service for the tests that must change nothing (a refused request leaves the
    inventory as it was, which each checks): busybox, a network "app", a running container
    "target"."""
    from engine import Engine
    root = claim_root("berth-test-")
    try:
        Engine(root).load(str(BUSYBOX_MUSL))
        proc, path = start_service(root, "--timeout", "0")
        try:
            svc = Service(root, path, proc, root)
            assert request(path, "POST", "/networks/create", {"Name": "app"})[0] == 201
            status, out = request(path, "POST", "/containers/create?name=target",
                                  _create(Cmd=["sleep", "600"]))
            assert status == 201, out
            assert request(path, "POST", f"/containers/{out['Id']}/start")[0] == 204
            svc.target = out["Id"]
            yield svc
        finally:
            stop_service(proc)
    finally:
        release_root(root)


# --- wrong JSON types -----------------------------------------------------------------------------

def _create(**fields) -> dict:
    return {"Image": IMAGE, "Cmd": ["true"], **fields}


GO = "json: cannot unmarshal "
TYPE_CASES = {
    "image-number": ("/containers/create", {"Image": 5},
                     GO + "number into Go struct field ContainerConfig.Image of type string"),
    "cmd-object": ("/containers/create", _create(Cmd={"a": 1}),
                   GO + "object into Go struct field ContainerConfig.Cmd of type string"),
    "cmd-item-number": ("/containers/create", _create(Cmd=["ls", 1]),
                        GO + "number into Go struct field ContainerConfig.Cmd of type string"),
    "entrypoint-bool": ("/containers/create", _create(Entrypoint=True),
                        GO + "bool into Go struct field ContainerConfig.Entrypoint of type "
                             "string"),
    "env-string": ("/containers/create", _create(Env="A=1"),
                   GO + "string into Go struct field ContainerConfig.Env of type []string"),
    "env-item-number": ("/containers/create", _create(Env=[1]),
                        GO + "number into Go struct field ContainerConfig.Env of type string"),
    "labels-list": ("/containers/create", _create(Labels=["a=b"]),
                    GO + "array into Go struct field ContainerConfig.Labels of type "
                         "map[string]string"),
    "labels-value-number": ("/containers/create", _create(Labels={"a": 1}),
                            GO + "number into Go struct field ContainerConfig.Labels of type "
                                 "string"),
    "tty-string": ("/containers/create", _create(Tty="yes"),
                   GO + "string into Go struct field ContainerConfig.Tty of type bool"),
    "exposed-list": ("/containers/create", _create(ExposedPorts=["80/tcp"]),
                     GO + "array into Go struct field ContainerConfig.ExposedPorts of type "
                          "map[string]struct {}"),
    "stop-timeout-fraction": ("/containers/create", _create(StopTimeout=1.5),
                              GO + "number 1.5 into Go struct field ContainerConfig.StopTimeout "
                                   "of type int"),
    "hostconfig-list": ("/containers/create", _create(HostConfig=[]),
                        GO + "array into Go struct field ContainerConfig.HostConfig of type "
                             "HostConfig"),
    "memory-string": ("/containers/create", _create(HostConfig={"Memory": "1g"}),
                      GO + "string into Go struct field HostConfig.HostConfig.Memory of type "
                           "int64"),
    "nanocpus-overflow": ("/containers/create", _create(HostConfig={"NanoCpus": 1 << 70}),
                          GO + f"number {1 << 70} into Go struct field HostConfig.HostConfig."
                               "NanoCpus of type int64"),
    "blkio-weight-range": ("/containers/create", _create(HostConfig={"BlkioWeight": 70000}),
                           GO + "number 70000 into Go struct field HostConfig.HostConfig."
                                "BlkioWeight of type uint16"),
    "binds-string": ("/containers/create", _create(HostConfig={"Binds": "/a:/b"}),
                     GO + "string into Go struct field HostConfig.HostConfig.Binds of type "
                          "[]string"),
    "port-bindings-object": ("/containers/create",
                             _create(HostConfig={"PortBindings": {"80/tcp": {"HostPort": "1"}}}),
                             GO + "object into Go struct field HostConfig.HostConfig.PortBindings"
                                  " of type []PortBinding"),
    "restart-count-string": ("/containers/create",
                             _create(HostConfig={"RestartPolicy": {"Name": "on-failure",
                                                                   "MaximumRetryCount": "3"}}),
                             GO + "string into Go struct field RestartPolicy.HostConfig."
                                  "RestartPolicy.MaximumRetryCount of type int"),
    "ulimit-soft-string": ("/containers/create",
                           _create(HostConfig={"Ulimits": [{"Name": "nofile", "Soft": "1"}]}),
                           GO + "string into Go struct field Ulimit.HostConfig.Ulimits.Soft of "
                                "type int64"),
    "mount-readonly-string": ("/containers/create",
                              _create(HostConfig={"Mounts": [{"Type": "volume", "Target": "/d",
                                                              "ReadOnly": "yes"}]}),
                              GO + "string into Go struct field Mount.HostConfig.Mounts.ReadOnly "
                                   "of type bool"),
    "dns-string": ("/containers/create", _create(HostConfig={"Dns": "1.1.1.1"}),
                   GO + "string into Go struct field HostConfig.HostConfig.Dns of type []string"),
    "extra-hosts-object": ("/containers/create", _create(HostConfig={"ExtraHosts": {"a": "b"}}),
                           GO + "object into Go struct field HostConfig.HostConfig.ExtraHosts of"
                                " type []string"),
    "privileged-number": ("/containers/create", _create(HostConfig={"Privileged": 1}),
                          GO + "number into Go struct field HostConfig.HostConfig.Privileged of "
                               "type bool"),
    "aliases-string": ("/containers/create",
                       _create(NetworkingConfig={"EndpointsConfig": {"n": {"Aliases": "a"}}}),
                       GO + "string into Go struct field EndpointSettings.NetworkingConfig."
                            "EndpointsConfig.Aliases of type []string"),
    "create-top-array": ("/containers/create", [IMAGE],
                         GO + "array into Go value of type ContainerConfig"),
    "network-name-number": ("/networks/create", {"Name": 5},
                            GO + "number into Go struct field CreateRequest.Name of type string"),
    "network-ipam-config-string": ("/networks/create", {"Name": "n", "IPAM": {"Config": "x"}},
                                   GO + "string into Go struct field IPAM.IPAM.Config of type "
                                        "[]IPAMConfig"),
    "network-subnet-number": ("/networks/create",
                              {"Name": "n", "IPAM": {"Config": [{"Subnet": 10}]}},
                              GO + "number into Go struct field IPAMConfig.IPAM.Config.Subnet of "
                                   "type string"),
    "network-labels-value": ("/networks/create", {"Name": "n", "Labels": {"a": True}},
                             GO + "bool into Go struct field CreateRequest.Labels of type string"),
    "network-internal-string": ("/networks/create", {"Name": "n", "Internal": "no"},
                                GO + "string into Go struct field CreateRequest.Internal of type "
                                     "bool"),
    "connect-container-number": ("/networks/berth/connect", {"Container": 5},
                                 GO + "number into Go struct field NetworkConnect.Container of "
                                      "type string"),
    "connect-aliases-string": ("/networks/berth/connect",
                               {"Container": "x", "EndpointConfig": {"Aliases": "a"}},
                               GO + "string into Go struct field EndpointSettings.EndpointConfig."
                                    "Aliases of type []string"),
    "connect-ip-number": ("/networks/berth/connect",
                          {"Container": "x", "EndpointConfig": {"IPAMConfig": {"IPv4Address": 5}}},
                          GO + "number into Go struct field EndpointIPAMConfig.EndpointConfig."
                               "IPAMConfig.IPv4Address of type string"),
    "disconnect-force-string": ("/networks/berth/disconnect", {"Container": "x", "Force": "yes"},
                                GO + "string into Go struct field NetworkDisconnect.Force of type "
                                     "bool"),
    "volume-name-list": ("/volumes/create", {"Name": ["x"]},
                         GO + "array into Go struct field CreateOptions.Name of type string"),
    "volume-labels-string": ("/volumes/create", {"Labels": "x"},
                             GO + "string into Go struct field CreateOptions.Labels of type "
                                  "map[string]string"),
    "volume-opts-number": ("/volumes/create", {"DriverOpts": {"o": 1}},
                           GO + "number into Go struct field CreateOptions.DriverOpts of type "
                                "string"),
}


@pytest.mark.parametrize("case", sorted(TYPE_CASES))
def test_wrong_json_types_answer_400_with_gos_message(shared, case):
    path, body, message = TYPE_CASES[case]
    refused(shared, "POST", path, body, 400, message)


@pytest.mark.parametrize("body,message", [
    ({"Cmd": "ls"}, "string into Go struct field ExecConfig.Cmd of type []string"),
    ({"Cmd": ["ls"], "Env": "A=1"}, "string into Go struct field ExecConfig.Env of type []string"),
    ({"Cmd": ["ls"], "Tty": "yes"}, "string into Go struct field ExecConfig.Tty of type bool"),
    ({"Cmd": ["ls"], "User": 0}, "number into Go struct field ExecConfig.User of type string"),
    ({"Cmd": ["ls"], "Env": ["A=\0"]}, "it holds a NUL byte"),
    ({"Cmd": ["ls\0"]}, "invalid value for Cmd: ls\\x00 holds a NUL byte"),
    ({"Cmd": ["ls"], "WorkingDir": "/\0"}, "invalid value for WorkingDir"),
], ids=["cmd-string", "env-string", "tty-string", "user-number", "env-nul", "cmd-nul", "dir-nul"])
def test_exec_create_checks_its_body(shared, body, message):
    refused(shared, "POST", f"/containers/{shared.target}/exec", body, 400, message)


def test_update_checks_its_body(shared):
    refused(shared, "POST", f"/containers/{shared.target}/update", {"Memory": "1g"}, 400,
            GO + "string into Go struct field UpdateConfig.Memory of type int64")


# --- bodies that are not JSON dockerd would take ------------------------------------------------

@pytest.mark.parametrize("body,message", [
    (b'{"Image": "busybox:1.38.0-musl", "Cmd": ["\xff\xfe"]}',
     "invalid JSON: the body is not UTF-8 (byte 0xff at offset 42)"),
    (b"[" * 100_000 + b"]" * 100_000, "invalid JSON: exceeded max depth"),
    (b'{"Image": "' + IMAGE.encode() + b'", "Labels": ' + b'{"a": ' * 70 + b"1" + b"}" * 71,
     "invalid JSON: exceeded max depth (64 levels)"),
    (b'{"Image": NaN}', "invalid JSON: invalid character 'N' looking for beginning of value"),
    (b'{"Image": "busybox:1.38.0-musl", "Cmd": ["\\ud800"]}', "lone UTF-16 surrogate"),
    (b'"busybox"', GO + "string into Go value of type ContainerConfig"),
], ids=["invalid-utf8", "deep-array", "deep-labels", "nan", "lone-surrogate", "top-string"])
def test_malformed_bodies_answer_400(shared, body, message):
    refused(shared, "POST", "/containers/create", body, 400, message)


# --- values that would reach a container's files -------------------------------------------------

@pytest.fixture
def network(service):
    status, out = request(service.path, "POST", "/networks/create", {"Name": "app"})
    assert status == 201, out
    return "app"


@pytest.mark.parametrize("body,message", [
    (_create(Hostname="web\n6.6.6.6 victim"), "invalid hostname format for --hostname"),
    (_create(Domainname="a b"), "invalid hostname format for --domainname"),
    (_create(HostConfig={"NetworkMode": "app"}, NetworkingConfig={"EndpointsConfig": {
        "app": {"Aliases": ["db\n6.6.6.6 bank"]}}}), 'invalid network alias "db\\n6.6.6.6 bank"'),
    (_create(HostConfig={"ExtraHosts": ["a\n6.6.6.6 b:1.2.3.4"]}), "bad format for add-host"),
    (_create(HostConfig={"Dns": ["1.1.1.1\nnameserver 6.6.6.6"]}),
     "IP address is not correctly formatted"),
    (_create(HostConfig={"DnsSearch": ["a.com\nnameserver 6.6.6.6"]}), "is not a valid domain"),
    (_create(HostConfig={"DnsOptions": ["ndots:1 rotate"]}), "a resolver option is one word"),
    (_create(Labels={"a\nb": "c"}), "label 'a\\nb' contains whitespaces"),
    (_create(Env=["=x"]), "invalid environment variable: =x"),
    (_create(Env=["A=\u0000"]), "it holds a NUL byte"),
    (_create(MacAddress="zz", HostConfig={"NetworkMode": "app"}), "zz is not a valid mac address"),
    (_create(ExposedPorts={"web/tcp": {}}), 'invalid exposed port "web/tcp"'),
    (_create(Image="busy box"), "invalid reference format"),
], ids=["hostname", "domainname", "alias", "extra-host", "dns", "dns-search", "dns-option",
        "label-key", "env-empty-name", "env-nul", "mac", "exposed-port", "image"])
def test_values_for_a_containers_files_are_refused(shared, body, message):
    refused(shared, "POST", "/containers/create", body, 400, message)


def test_connect_alias_cannot_write_a_neighbours_hosts_file(service, busybox, network):
    status, out = request(service.path, "POST", "/containers/create?name=peer",
                          _create(Cmd=["sleep", "60"], HostConfig={"NetworkMode": "app"}))
    assert status == 201, out
    peer = out["Id"]
    assert request(service.path, "POST", f"/containers/{peer}/start")[0] == 204
    status, out = request(service.path, "POST", "/containers/create?name=other",
                          _create(Cmd=["sleep", "60"]))
    assert status == 201, out
    hosts = os.path.join(service.root, "containers", peer, "hosts")
    before = open(hosts).read()
    refused(service, "POST", "/networks/app/connect",
            {"Container": "other", "EndpointConfig": {"Aliases": ["x\n6.6.6.6 peer"]}}, 400,
            'invalid network alias "x\\n6.6.6.6 peer"')
    assert open(hosts).read() == before


@pytest.mark.parametrize("path,body,message", [
    ("/networks/create", {"Name": "lo", "IPAM": {"Config": [{"Subnet": "127.0.0.0/8"}]}},
     "loopback (127.0.0.0/8)"),
    ("/networks/create", {"Name": "mc", "IPAM": {"Config": [{"Subnet": "224.1.0.0/16"}]}},
     "multicast (224.0.0.0/4)"),
    ("/networks/create", {"Name": "lab", "Labels": {"a b": "c"}}, "label 'a b' contains"),
    ("/networks/create", {"Name": "a\nb"}, 'invalid network name "a\\nb"'),
    ("/volumes/create", {"Name": "vol\n"}, '"vol\\n" includes invalid characters'),
    ("/volumes/create", {"Name": "vol", "Labels": {"a\tb": ""}}, "label 'a\\tb' contains"),
], ids=["loopback", "multicast", "net-label", "net-name", "vol-name", "vol-label"])
def test_networks_and_volumes_refuse_hostile_values(shared, path, body, message):
    refused(shared, "POST", path, body, 400, message)


# --- query parameters ----------------------------------------------------------------------------

def test_bad_query_parameters_answer_400(shared):
    service, running = shared, shared.target
    status, out = request(service.path, "POST", "/containers/create?name=stopped", _create())
    assert status == 201, out
    for method, path, message in [
        ("POST", f"/containers/{running}/stop?t=abc", 'strconv.Atoi: parsing "abc"'),
        ("POST", f"/containers/{running}/restart?t=1e3", 'strconv.Atoi: parsing "1e3"'),
        ("POST", "/containers/stopped/kill?signal=FOO", "invalid signal: FOO"),
        ("GET", "/containers/json?limit=abc", 'invalid value for "limit"'),
        ("GET", f"/containers/{running}/logs?stdout=1&tail=abc", 'invalid value for "tail"'),
        ("GET", f"/containers/{running}/logs?stdout=1&since=nan", "invalid time 'nan'"),
        ("POST", f"/containers/{running}/resize?h=70000&w=80", 'parsing "70000": value out of '
                                                                "range"),
        ("GET", "/containers/json?filters=%7B%22label%22%3A5%7D", "invalid filter 'label'"),
        ("GET", "/containers/json?filters=%5B1%5D", "invalid filter"),
        ("GET", "/images/json?filters=%7B%22dangling%22%3A%5B%5D%7D", None),
        ("GET", "/images/search?term=x&limit=abc", 'invalid value for "limit"'),
        ("GET", "/events?since=yesterday", "invalid time 'yesterday'"),
    ]:
        status, answer = request(service.path, method, path)
        if message is None:
            assert status == 200, (path, status, answer)
            continue
        assert status == 400, (path, status, answer)
        assert message in answer["message"], (path, answer)
    # the container is still there and running: nothing a query said reached it
    status, info = request(service.path, "GET", f"/containers/{running}/json")
    assert info["State"]["Running"] is True
    assert request(service.path, "DELETE", "/containers/stopped")[0] == 204


# --- sizes and time -----------------------------------------------------------------------------

def _rss_kib(pid: int) -> int:
    with open(f"/proc/{pid}/status") as f:
        return next(int(line.split()[1]) for line in f if line.startswith("VmRSS:"))


def test_oversized_bodies_are_refused_and_the_service_stays_small(service, busybox):
    """A 100 MB body (declared, or chunked without a length) is answered 413 without being
    read; the service's memory stays where it was and `ps` stays fast. A large but plausible
    body (3 MiB of env) still works."""
    assert request(service.path, "GET", "/containers/json")[0] == 200
    base = _rss_kib(service.proc.pid)
    # declared: answered before the body is sent
    s = _connect(service.path, timeout=10)
    s.sendall(_head("POST", "/containers/create", 100 << 20))
    status, answer = _answer(_read_all(s))
    s.close()
    assert status == 413 and "request body too large: 104857600 bytes" in answer["message"]
    # chunked, no length: refused once past the limit, whatever follows
    s = _connect(service.path, timeout=30)
    s.sendall(_head("POST", "/containers/create", None,
                    "Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n"))
    chunk = b'{"Labels": {"a": "' + b"x" * (1 << 20)
    sent = 0
    try:
        while sent < 100 << 20:
            s.sendall(b"%x\r\n%s\r\n" % (len(chunk), chunk))
            sent += len(chunk)
    except (BrokenPipeError, ConnectionResetError, socket.timeout):
        pass
    status, answer = _answer(_read_all(s))
    s.close()
    assert sent < 100 << 20
    assert status == 413 and "request body too large" in answer["message"]
    assert _rss_kib(service.proc.pid) - base < 40 * 1024
    # a large body a real client could send still works
    env = [f"VAR{i}={'v' * 3000}" for i in range(1000)]
    status, out = request(service.path, "POST", "/containers/create", _create(Env=env))
    assert status == 201, out
    t = time.monotonic()
    assert request(service.path, "GET", "/containers/json?all=1")[0] == 200
    assert time.monotonic() - t < 0.5
    assert request(service.path, "DELETE", f"/containers/{out['Id']}")[0] == 204
    assert inventory(service)[:3] == ([], ["bridge", "host", "none"], [])


def test_max_body_is_configurable_and_streamed_bodies_are_not_limited(root, busybox):
    proc, path = start_service(root, "--timeout", "0", "--max-body", "64KiB")
    try:
        label = {"big": "x" * (100 << 10)}
        status, answer = request(path, "POST", "/containers/create", _create(Labels=label))
        assert status == 413 and "the limit is 65536 bytes" in answer["message"]
        status, out = request(path, "POST", "/containers/create", _create(Labels={"a": "b"}))
        assert status == 201, out
        # image load streams a tar of a few MB: not a JSON body, not limited
        with open(BUSYBOX_MUSL, "rb") as f:
            archive = f.read()
        assert len(archive) > 64 << 10
        s = _connect(path)
        s.sendall(b"POST /images/load?quiet=1 HTTP/1.1\r\nHost: docker\r\nConnection: close\r\n"
                  b"Content-Type: application/x-tar\r\nContent-Length: %d\r\n\r\n" % len(archive)
                  + archive)
        data = _read_all(s)
        s.close()
        assert data.startswith(b"HTTP/1.1 200") and b"Loaded image" in data, data[:300]
    finally:
        stop_service(proc)


def _closed_after(s: socket.socket, limit: float) -> float | None:
    """Seconds until the server closes ``s`` (reads b""), None if it is open after ``limit``."""
    t = time.monotonic()
    s.settimeout(limit)
    try:
        while s.recv(4096):
            pass
    except socket.timeout:
        return None
    except ConnectionResetError:
        pass
    return time.monotonic() - t


def _keep_alive(path: str, url: str) -> tuple[socket.socket, bytes]:
    """A GET on a connection left open (HTTP/1.1's default), and the first bytes answered."""
    s = _connect(path, timeout=10)
    s.sendall(f"GET {url} HTTP/1.1\r\nHost: docker\r\n\r\n".encode())
    return s, s.recv(4096)


def test_slow_headers_are_cut_off_idle_connections_closed_streams_kept(root, busybox):
    proc, path = start_service(root, "--timeout", "0", "--header-timeout", "2",
                               "--idle-timeout", "3")
    try:
        # a head trickled a byte at a time (slowloris): cut off at the header timeout
        s = _connect(path)
        t = time.monotonic()
        head = b"GET /_ping HTTP/1.1\r\nHost: docker\r\nUser-Agent: " + b"x" * 40
        closed = None
        for byte in head:
            try:
                s.sendall(bytes([byte]))
                s.settimeout(0.25)
                if s.recv(4096) == b"":
                    closed = time.monotonic() - t
                    break
            except socket.timeout:
                continue
            except (BrokenPipeError, ConnectionResetError):
                closed = time.monotonic() - t
                break
        s.close()
        assert closed is not None and 1.5 < closed < 5, closed
        # a connection that never sends anything: the same
        s = _connect(path)
        waited = _closed_after(s, 8)
        s.close()
        assert waited is not None and 1.5 < waited < 5, waited
        # an idle keep-alive connection after a request: closed at the idle timeout
        s, first = _keep_alive(path, "/_ping")
        assert first.startswith(b"HTTP/1.1 200") and first.endswith(b"OK"), first
        waited = _closed_after(s, 10)
        s.close()
        assert waited is not None and 2.5 < waited < 7, waited
        # a stream (events) stays open past both timeouts and still delivers
        s, first = _keep_alive(path, "/events")
        assert first.startswith(b"HTTP/1.1 200")
        assert _closed_after(s, 7) is None
        assert request(path, "POST", "/volumes/create", {"Name": "late"})[0] == 201
        s.settimeout(10)
        got = b""
        while b'"late"' not in got:
            data = s.recv(4096)
            assert data, got
            got += data
        s.close()
        # and the docker CLI works as ever against these timeouts
        env = {**os.environ, "DOCKER_HOST": f"unix://{path}", "DOCKER_CONFIG": root}
        p = subprocess.run([DOCKER, "volume", "ls", "-q"], capture_output=True, text=True,
                           env=env, timeout=60)
        assert p.stdout.split() == ["late"], p.stderr
    finally:
        stop_service(proc)


# --- every field of every body, with values of every wrong kind ---------------------------------

FUZZ_VALUES = [None, 0, -1, 1 << 63, 1.5, "", "x\ny", "a b", [], {}, [None], {"a": None}, True,
               "../../x", "\u0000", ["x\ny"], {"x\ny": "v"}, {"k": "x\ny"}, "-1", "9" * 30,
               [""], [{}], {"a": {}}, {"a": []}, "/", "container:", "host"]


def _fields(shape, prefix=()):
    from engine.docker_api.bodies import Struct
    if isinstance(shape, Struct):
        for key, field in shape.fields.items():
            yield prefix + (key,)
            yield from _fields(field, prefix + (key,))


def _with(body: dict, path: tuple, value) -> dict:
    body = json.loads(json.dumps(body))
    d = body
    for key in path[:-1]:
        if not isinstance(d.get(key), dict):
            d[key] = {}
        d = d[key]
    d[path[-1]] = value
    return body


def test_no_body_field_gets_a_500_whatever_it_holds(service, busybox):
    """A seeded sample of (field, value) over every body the API reads: a client's mistake is
    never a 500, and what was refused left nothing behind."""
    import random
    from engine.docker_api import bodies
    assert request(service.path, "POST", "/networks/create", {"Name": "fzn"})[0] == 201
    status, out = request(service.path, "POST", "/containers/create?name=target",
                          _create(Cmd=["sleep", "600"]))
    assert request(service.path, "POST", f"/containers/{out['Id']}/start")[0] == 204
    before = inventory(service)
    targets = [("/containers/create", bodies.CONTAINER_CREATE, _create()),
               ("/networks/create", bodies.NETWORK_CREATE, {"Name": "fz"}),
               ("/volumes/create", bodies.VOLUME_CREATE, {"Name": "fzv"}),
               ("/networks/fzn/connect", bodies.NETWORK_CONNECT, {"Container": "target"}),
               ("/containers/target/update", bodies.CONTAINER_UPDATE, {}),
               ("/containers/target/exec", bodies.EXEC_CONFIG, {"Cmd": ["true"]})]
    cases = [(url, base, path, value) for url, shape, base in targets
             for path in _fields(shape) for value in FUZZ_VALUES]
    seed = int(os.environ.get("BERTH_FUZZ_SEED", time.time_ns() % 10_000))
    sample = random.Random(seed).sample(cases, 600)
    for url, base, path, value in sample:
        status, answer = request(service.path, "POST", url, _with(base, path, value))
        assert status < 500, (f"seed {seed}", url, path, value, status, answer)
        if status == 201 and url == "/containers/create":
            request(service.path, "DELETE", f"/containers/{answer['Id']}?force=1")
        elif status == 201 and url == "/networks/create":
            request(service.path, "DELETE", f"/networks/{answer['Id']}")
        elif status == 201 and url == "/volumes/create":
            request(service.path, "DELETE", f"/volumes/{answer['Name']}")
        elif status == 200 and url == "/networks/fzn/connect":
            request(service.path, "POST", "/networks/fzn/disconnect", {"Container": "target"})
    assert inventory(service) == before, f"seed {seed}"
