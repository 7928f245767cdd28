"""berth on another host over ssh: `-H ssh://root@127.0.0.1:PORT` runs `berth system
dial-stdio` there through Debian's ssh (a private sshd on a free port, its own host key, a key
made here), and the CLI works on that berth as on dockerd; a host that drops mid-session ends
the command with one line."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pytest

from helpers import REPO
from remote_engines import _children, berth_env, sshd, wait_for
from test_remote_docker import berth, exercise


@pytest.fixture
def remote(root, busybox):
    with sshd({**berth_env(), "BERTH_ROOT": root}) as (port, env, proc):
        yield f"ssh://root@127.0.0.1:{port}", env, proc


def test_cli_through_ssh_to_a_daemonless_berth(remote, tmp_path):
    url, env, proc = remote
    started = time.monotonic()
    p = berth("-H", url, "ps", env=env)
    first_list = time.monotonic() - started
    assert p.returncode == 0 and p.stdout.startswith("CONTAINER ID"), p
    import engine
    e = engine.connect(url)
    os.environ.update(env)
    try:
        assert e.engine_info().kind == "berth" and e.engine_info().label() == "berth"
    finally:
        for k in env:
            os.environ.pop(k)
        e.close()
    exercise(["-H", url], env=env, image="busybox:1.38.0-musl", full=False)
    # and as a saved connection with its key
    home = {**env, "HOME": str(tmp_path)}
    assert berth("connection", "add", "web", url, env=home).returncode == 0
    assert "busybox" in berth("--connection", "web", "images", env=home).stdout
    print(f"first list over ssh: {first_list:.2f}s")
    # nothing listens on the far end between commands: no daemon was left behind
    assert not [pid for pid in _children(proc.pid)
                if os.path.exists(f"/proc/{pid}")
                and b"dial-stdio" in open(f"/proc/{pid}/cmdline", "rb").read()]


# records, in the CLI's own process, each module imported and each process started, in order
ORDER_PROBE = """
import subprocess, sys
seen = []
class Probe:
    @staticmethod
    def find_spec(name, path=None, target=None):
        seen.append(name)
sys.meta_path.insert(0, Probe)
real = subprocess.Popen.__init__
def popen(self, argv, *a, **kw):
    seen.append("spawn " + " ".join(argv))
    real(self, argv, *a, **kw)
subprocess.Popen.__init__ = popen
from tui import cli
try:
    code = cli.main(sys.argv[1:])
finally:
    print("ORDER", "|".join(seen), file=sys.stderr)
sys.exit(code)
"""


@pytest.mark.parametrize("how", ["-H", "--connection", "default"])
def test_the_ssh_handshake_starts_before_the_cli_loads_the_rest(remote, tmp_path, how):
    """`berth -H ssh://… ps` (or a connection, or the default one, over ssh) starts ssh at
    its first instruction, so the handshake runs while the command loads the client and
    parses; the command's first connection is that ssh, and no other is started."""
    url, env, _ = remote
    home = {**env, "HOME": str(tmp_path)}
    if how != "-H":
        assert berth("connection", "add", "web", url, env=home).returncode == 0
    if how == "default":
        assert berth("connection", "use", "web", env=home).returncode == 0
    target = {"-H": ["-H", url], "--connection": ["--connection", "web"], "default": []}[how]
    full = {k: v for k, v in os.environ.items() if not k.startswith(("BERTH_", "DOCKER_"))}
    p = subprocess.run([sys.executable, "-c", ORDER_PROBE, *target, "ps"], capture_output=True,
                       text=True, cwd=REPO, env={**full, **home}, timeout=60)
    assert p.returncode == 0 and p.stdout.startswith("CONTAINER ID"), p
    order = p.stderr.split("ORDER ", 1)[1].strip().split("|")
    spawns = [i for i, what in enumerate(order) if what.startswith("spawn ")]
    assert len(spawns) == 1 and "system dial-stdio" in order[spawns[0]], order
    # before the HTTP client, the engine's client and the ps command's own module
    for later in ("http.client", "engine.client.remote", "tui.commands.containers"):
        assert spawns[0] < order.index(later), (later, order)


class CountingSocket:
    """A dialled socket that counts the client's writes (each a turn of the conversation)."""

    def __init__(self, sock, writes: list):
        self._sock, self._writes = sock, writes

    def sendall(self, data) -> None:
        self._writes.append(bytes(data))
        self._sock.sendall(data)

    def __getattr__(self, name: str):
        return getattr(self._sock, name)


def test_a_list_asks_for_its_containers_in_one_turn(remote, root, monkeypatch):
    """The looks a list needs go out together on the one connection (pipelined): over ssh a
    round trip passes four processes, and 30 containers took 30 of them. The answers are the
    ones asked one by one, a container that is gone is NotFound in its place."""
    from helpers import berth as run_berth
    import engine
    from engine.client import http, transport
    from engine.errors import NotFound
    url, env, _ = remote
    for i in range(4):
        run_berth(root, "create", "--name", f"c{i}", "--network", "none", "busybox:1.38.0-musl")
    writes: list[bytes] = []
    real_dial = transport.dial

    def dial(addr, timeout=transport.CONNECT_TIMEOUT):
        sock, owner = real_dial(addr, timeout)
        return CountingSocket(sock, writes), owner
    monkeypatch.setattr(http, "dial", dial)
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    e = engine.connect(url)
    try:
        found = e.containers(all=True)
        assert sorted(c.name for c in found) == ["c0", "c1", "c2", "c3"]
        assert len(writes) == 2, writes   # the list, then the four looks at once
        assert writes[1].count(b"GET ") == 4
        one_by_one = [e.container_inspect(c.id) for c in found]
        paths = [f"/containers/{c.id}/json" for c in found]
        answers = e.session.call_many([*paths[:2], "/containers/gone/json", *paths[2:]])
        assert isinstance(answers[2], NotFound) and "gone" in str(answers[2])
        assert [a["Id"] for a in answers[:2] + answers[3:]] == [d["Id"] for d in one_by_one]
        assert [a["State"]["Status"] for a in answers[:2] + answers[3:]] == ["created"] * 4
    finally:
        e.close()


def test_many_connections_at_once_wait_for_their_logins(root, busybox):
    """A dashboard opens a stats stream (a connection: an ssh login) per running container at
    once; sshd refuses logins beyond MaxStartups that are not through yet (10 by default,
    here every one beyond it), so no more than SSH_LOGINS are on their way at a time."""
    import threading
    import engine
    with sshd({**berth_env(), "BERTH_ROOT": root}, "MaxStartups 10:100:10\n") as (port, env,
                                                                                 _):
        for k, v in env.items():
            os.environ[k] = v
        e = engine.connect(f"ssh://root@127.0.0.1:{port}")
        results: list = []
        go = threading.Barrier(16)

        def ping() -> None:
            go.wait()
            try:
                results.append(e.session.call("GET", "/_ping", timeout=30))
            except Exception as x:   # noqa: BLE001 - what a refused login raised, to show
                results.append(x)
        try:
            threads = [threading.Thread(target=ping) for _ in range(16)]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
        finally:
            e.close()
            for k in env:
                os.environ.pop(k)
    assert results == ["OK"] * 16, [r for r in results if r != "OK"]


def test_a_host_that_drops_mid_session(remote):
    url, env, proc = remote
    p = berth("-H", url, "run", "-d", "--name", "talker", "--network", "none",
              "busybox:1.38.0-musl", "sh", "-c", "while :; do echo tick; sleep 0.2; done",
              env=env)
    assert p.returncode == 0, p.stderr
    full = {k: v for k, v in os.environ.items() if not k.startswith(("BERTH_", "DOCKER_"))}
    follower = subprocess.Popen([sys.executable, "-m", "tui.cli", "-H", url, "logs", "-f",
                                 "talker"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                cwd=REPO, env={**full, **env})
    try:
        assert follower.stdout.readline() == b"tick\n"
        sessions = _children(proc.pid)
        assert sessions
        for pid in sessions:   # the connection's sshd: the host is gone for this client
            os.kill(pid, signal.SIGKILL)
        wait_for(lambda: follower.poll() is not None, 20, "the follower to notice")
        err = follower.stderr.read().decode()
        assert follower.returncode == 125 and err.startswith("berth: lost the connection to ssh://"), err
        assert err.count("\n") == 1, err
    finally:
        if follower.poll() is None:
            follower.kill()
        follower.wait()
    # the container lives on (no daemon held it), and the host answers again
    p = berth("-H", url, "ps", "--format", "{{.Names}}", env=env)
    assert p.stdout.split() == ["talker"], p
    assert berth("-H", url, "rm", "-f", "talker", env=env).returncode == 0


def test_dial_stdio_serves_one_client_on_its_stdio_and_ends_with_it(root, busybox):
    """No socket, no daemon: requests in on stdin, answers out on stdout, and the process is
    gone once the client closes its end."""
    env = {**{k: v for k, v in os.environ.items() if not k.startswith("BERTH_")},
           "BERTH_ROOT": root}
    p = subprocess.Popen([sys.executable, "-m", "tui.cli", "system", "dial-stdio"],
                         stdin=subprocess.PIPE, stdout=subprocess.PIPE, cwd=REPO, env=env)
    try:
        p.stdin.write(b"GET /v1.41/images/json HTTP/1.1\r\nHost: x\r\n\r\n")
        p.stdin.flush()
        head = b""
        while b"\r\n\r\n" not in head:
            head += p.stdout.read1(65536)
        assert head.startswith(b"HTTP/1.1 200 "), head
        length = int(head.split(b"Content-Length: ")[1].split(b"\r\n")[0])
        body = head.split(b"\r\n\r\n", 1)[1]
        while len(body) < length:
            body += p.stdout.read1(65536)
        assert b"busybox:1.38.0-musl" in body
        p.stdin.close()
        assert p.wait(timeout=20) == 0
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()


class StdioClient:
    """HTTP/1.1 over a `berth system dial-stdio` process's stdin and stdout, one request at a
    time, as a client on the far end of ssh speaks it."""

    def __init__(self, root: str):
        env = {**{k: v for k, v in os.environ.items() if not k.startswith("BERTH_")},
               "BERTH_ROOT": root}
        self.proc = subprocess.Popen([sys.executable, "-m", "tui.cli", "system", "dial-stdio"],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, cwd=REPO,
                                     env=env)
        self.buf = b""

    def send(self, method: str, path: str, body: bytes = b"", headers: str = "") -> None:
        length = f"Content-Length: {len(body)}\r\nContent-Type: application/json\r\n" \
            if body else ""
        self.proc.stdin.write(f"{method} {path} HTTP/1.1\r\nHost: x\r\n{length}{headers}"
                              "\r\n".encode() + body)
        self.proc.stdin.flush()

    def read_until(self, marker: bytes) -> bytes:
        while marker not in self.buf:
            data = self.proc.stdout.read1(65536)
            assert data, f"the service ended before {marker!r}: {self.buf!r}"
            self.buf += data
        out, _, self.buf = self.buf.partition(marker)
        return out

    def request(self, method: str, path: str, body: bytes = b"") -> tuple[int, bytes]:
        self.send(method, path, body)
        head = self.read_until(b"\r\n\r\n").decode()
        length = int(head.lower().split("content-length: ")[1].split("\r\n")[0])
        while len(self.buf) < length:
            self.buf += self.proc.stdout.read1(65536)
        data, self.buf = self.buf[:length], self.buf[length:]
        return int(head.split(" ")[1]), data

    def close(self) -> int:
        self.proc.stdin.close()
        try:
            return self.proc.wait(timeout=20)
        finally:
            if self.proc.poll() is None:
                self.proc.kill()
                self.proc.wait()


def test_dial_stdio_hands_its_connection_over_after_the_first_answers(root, busybox):
    """The front answers a connection's first look (ping, version, list, inspect, their
    errors) without aiohttp; the first request it leaves (a body) and everything after it,
    a hijacked exec included, reach the aiohttp service on the same connection."""
    from helpers import berth as run_berth
    run_berth(root, "run", "-d", "--name", "box", "--network", "none", "busybox:1.38.0-musl",
              "sleep", "300")
    client = StdioClient(root)
    try:
        assert client.request("GET", "/_ping") == (200, b"OK")
        status, body = client.request("GET", "/v1.45/version")
        assert status == 200 and json.loads(body)["Platform"] == {"Name": "berth"}
        status, body = client.request("GET", "/v1.41/containers/json?all=1")
        assert status == 200 and [c["Names"] for c in json.loads(body)] == [["/box"]]
        status, body = client.request("GET", "/v1.41/containers/box/json")
        assert status == 200 and json.loads(body)["Name"] == "/box"
        assert client.request("GET", "/v1.41/containers/nope/json") == (
            404, b'{"message": "No such container: nope"}')
        status, body = client.request("GET", "/v1.99/containers/json")
        assert status == 400 and b"client version 1.99 is too new" in body
        # a body: aiohttp's from here on
        status, body = client.request("POST", "/v1.41/containers/box/exec", json.dumps(
            {"Cmd": ["echo", "handed over"], "AttachStdout": True}).encode())
        assert status == 201, body
        exec_id = json.loads(body)["Id"]
        assert client.request("GET", "/_ping") == (200, b"OK")
        client.send("POST", f"/v1.41/exec/{exec_id}/start", b'{"Detach": false}',
                    "Connection: Upgrade\r\nUpgrade: tcp\r\n")
        assert client.read_until(b"\r\n\r\n").startswith(b"HTTP/1.1 101 ")
        client.read_until(b"handed over\n")
    finally:
        assert client.close() == 0


def test_every_other_verb_through_ssh_to_berth(remote, tmp_path):
    """The far end's `berth system dial-stdio` serves each of them, one process a command."""
    from remote_verbs import exercise_verbs
    url, env, _ = remote
    exercise_verbs(["-H", url], tmp_path, "busybox:1.38.0-musl", env=env, full=False)
