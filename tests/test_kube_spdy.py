"""``kubectl exec`` and ``attach`` over SPDY/3.1 (engine/kube/spdy.py) with Debian's own kubectl
1.20 (the one the Makefile installs on a fresh Debian machine; kubectl since 1.30 speaks
WebSocket instead, tests/test_kube_node.py), through the 1.20 API server to a berth node's
kubelet API. The old kubectl is unpacked from Debian's package into the test cache, not
installed over the machine's."""

from __future__ import annotations

import subprocess

import pytest

from kube_cluster import BUILD, busybox_node, cluster, until  # noqa: F401 (cluster: a fixture)

pytestmark = [pytest.mark.xdist_group("kube"), pytest.mark.timeout(600)]

IMAGE = "busybox:1.38.0-musl"
KUBECTL = BUILD / "kubectl-1.20"


@pytest.fixture(scope="session")
def kubectl120() -> str:
    """Debian's kubectl (1.20), which `make test` fetches (Makefile: KUBECTL_120)."""
    if not KUBECTL.exists():
        pytest.fail(f"{KUBECTL} is missing: `make test` fetches it (Debian's kubernetes-client)")
    version = subprocess.run([str(KUBECTL), "version", "--client", "--short"],
                             capture_output=True, text=True, check=True).stdout
    assert "v1.20." in version, version
    return str(KUBECTL)


@pytest.fixture(scope="module")
def node(cluster, _image_templates):
    with busybox_node(cluster, "berth-s", IMAGE) as n:
        yield n


@pytest.fixture(scope="module")
def talker(cluster, node):
    cluster.apply(f"""
apiVersion: v1
kind: Pod
metadata: {{name: talker}}
spec:
  nodeName: berth-s
  terminationGracePeriodSeconds: 1
  containers:
  - name: app
    image: {IMAGE}
    command: [sh, -c, 'mkdir -p /www && echo hello web > /www/index.html &&
              exec httpd -f -p 8080 -h /www']
  - name: echo
    image: {IMAGE}
    stdin: true
    command: [sh, -c, 'while read line; do echo "got $line"; done']
""")
    try:
        until(lambda: cluster.kubectl("get", "pod", "talker", "-o",
                                      "jsonpath={.status.phase}").stdout == "Running",
              60, "talker Running")
        yield "talker"
    finally:
        cluster.kubectl("delete", "--wait=false", "--ignore-not-found", "pod/talker")
        until(lambda: not node.pod_containers(), 60, "talker's containers removed")


def old(cluster, kubectl: str, *args: str, input: str | None = None, timeout: float = 60):
    return subprocess.run([kubectl, f"--kubeconfig={cluster.kubeconfig}", *args], input=input,
                          capture_output=True, text=True, timeout=timeout)


def test_exec_output_and_exit_codes_over_spdy(cluster, kubectl120, talker):
    p = old(cluster, kubectl120, "exec", talker, "-c", "app", "--", "echo", "hi")
    assert (p.returncode, p.stdout) == (0, "hi\n"), p.stderr
    p = old(cluster, kubectl120, "exec", talker, "-c", "app", "--", "sh", "-c",
            "echo out; echo err >&2; exit 3")
    assert (p.returncode, p.stdout) == (3, "out\n"), p.stderr
    assert "err" in p.stderr
    # more than one flow-control window of output, in order
    p = old(cluster, kubectl120, "exec", talker, "-c", "app", "--", "sh", "-c",
            "seq 1 40000")
    assert p.stdout.split() == [str(i) for i in range(1, 40001)], p.stderr


def test_exec_with_stdin_over_spdy(cluster, kubectl120, talker):
    p = old(cluster, kubectl120, "exec", "-i", talker, "-c", "app", "--", "sh", "-c",
            "tr a-z A-Z; echo done", input="hello\nworld\n")
    assert (p.returncode, p.stdout) == (0, "HELLO\nWORLD\ndone\n"), p.stderr
    # more input than a window: the node gives the window back as it reads (WINDOW_UPDATE)
    p = old(cluster, kubectl120, "exec", "-i", talker, "-c", "app", "--", "wc", "-c",
            input="x" * 300000)
    assert (p.returncode, p.stdout.strip()) == (0, "300000"), p.stderr


def test_exec_terminal_and_resize_over_spdy(cluster, kubectl120, talker):
    import pexpect
    term = pexpect.spawn(kubectl120, [f"--kubeconfig={cluster.kubeconfig}", "exec", "-it",
                                      talker, "-c", "app", "--", "sh"], dimensions=(30, 91),
                         timeout=20)
    try:
        term.expect("# ")
        term.sendline("stty size; echo $((6 * 7))")
        term.expect("30 91")
        term.expect("42")
        term.setwinsize(40, 120)   # kubectl passes the terminal's SIGWINCH on
        until(lambda: (term.sendline("stty size"), term.expect(["40 120", "30 91"]))[1] == 0,
              10, "the resize inside")
        term.sendline("exit 4")
        term.expect(pexpect.EOF)
    finally:
        term.close()
    assert term.exitstatus == 4


def test_attach_over_spdy(cluster, kubectl120, talker):
    attach = subprocess.Popen([kubectl120, f"--kubeconfig={cluster.kubeconfig}", "attach",
                               "-i", talker, "-c", "echo"], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        attach.stdin.write("hello\n")
        attach.stdin.flush()
        assert attach.stdout.readline() == "got hello\n"
        attach.stdin.write("again\n")
        attach.stdin.flush()
        assert attach.stdout.readline() == "got again\n"
    finally:
        attach.kill()
        attach.wait()


def test_port_forward_over_spdy(cluster, kubectl120, talker):
    import re
    import socket
    import urllib.request
    fwd = subprocess.Popen([kubectl120, f"--kubeconfig={cluster.kubeconfig}", "port-forward",
                            talker, ":8080", ":9"], stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, text=True)
    try:
        ports = {}
        while len(ports) < 2:
            line = fwd.stdout.readline()
            assert line, "kubectl port-forward printed no ports"
            if m := re.search(r"127\.0\.0\.1:(\d+) -> (\d+)", line):
                ports[m[2]] = int(m[1])
        for _ in range(3):   # connections one after another, over the one SPDY connection
            with urllib.request.urlopen(f"http://127.0.0.1:{ports['8080']}/", timeout=10) as r:
                assert r.read() == b"hello web\n"
        # nothing listens on 9 in the pod: the connection ends, the reason goes to kubectl
        with socket.create_connection(("127.0.0.1", ports["9"]), timeout=10) as s:
            assert s.recv(1) == b""
    finally:
        fwd.terminate()
        _, err = fwd.communicate(timeout=10)
    assert "error forwarding port 9 to pod talker" in err, err


def test_spdy_framing_against_a_client_of_its_own(kubectl120):
    """The frames themselves, with a client written here: the dictionary is the one kubectl
    carries, header blocks go both ways through one zlib context per direction, frames that
    arrive a few bytes at a time, FIN on stdin, resizes split across frames, PING, and the
    send window of a client that does flow control."""
    import socket
    import struct
    import threading
    import zlib

    from engine.kube import spdy, websocket as ws
    from engine.kube.streaming import _SpdyChannels
    with open(kubectl120, "rb") as f:
        assert spdy.DICTIONARY in f.read() and len(spdy.DICTIONARY) == 1423
    a, b = socket.socketpair()
    server = spdy.Session(a.makefile("rb"), a.makefile("wb"))
    deflate = zlib.compressobj(zdict=spdy.DICTIONARY)
    inflate = zlib.decompressobj(zdict=spdy.DICTIONARY)

    def send(frame: bytes) -> None:
        for i in range(0, len(frame), 3):   # a frame split across many reads
            b.sendall(frame[i:i + 3])

    def syn(sid: int, kind: str) -> bytes:
        block = deflate.compress(spdy.pack_headers({"StreamType": [kind]}))
        block += deflate.flush(zlib.Z_SYNC_FLUSH)
        return spdy.control(spdy.SYN_STREAM, 0, struct.pack("!IIBB", sid, 0, 0, 0) + block)

    reader = b.makefile("rb")

    def frame():
        return spdy.read_frame(reader)

    opened = threading.Thread(target=server.wait_streams,
                              args=({"error", "stdin", "stdout", "resize"}, 10))
    opened.start()
    for sid, kind in ((1, "error"), (3, "stdin"), (5, "stdout"), (7, "resize")):
        send(syn(sid, kind))
        is_control, kind_, _, payload = frame()
        assert (is_control, kind_, struct.unpack_from("!I", payload)[0]) == \
            (True, spdy.SYN_REPLY, sid)
        assert spdy.unpack_headers(inflate.decompress(payload[4:])) == {}
    opened.join(5)
    assert server.streams == {1: "error", 3: "stdin", 5: "stdout", 7: "resize"}
    channels = _SpdyChannels(server)
    send(spdy.data(3, 0, b"input") + spdy.data(3, spdy.FLAG_FIN, b""))
    send(spdy.data(7, 0, b'{"Width":80,') + spdy.data(7, 0, b'"Height":24}\n{"Wid'))
    send(spdy.control(spdy.PING, 0, struct.pack("!I", 7)))
    assert [channels.recv() for _ in range(3)] == [
        b"\0input", bytes([ws.CLOSE, ws.STDIN]), b'\x04{"Width":80,"Height":24}']
    got = []
    pump = threading.Thread(target=lambda: got.append(channels.recv()))
    pump.start()
    assert frame() == (True, spdy.PING, 0, struct.pack("!I", 7))
    # a client that flow-controls: a 10-byte window, then 5 more; the server stops at 15
    send(spdy.control(spdy.SETTINGS, 0, struct.pack("!III", 1, spdy.SETTINGS_INITIAL_WINDOW_SIZE,
                                                    10)))
    send(spdy.control(spdy.WINDOW_UPDATE, 0, struct.pack("!II", 5, 5)))
    until(lambda: server._flow and server._initial == 10, 5, "the windows read")
    writer = threading.Thread(target=channels.channel, args=(ws.STDOUT, b"x" * 20))
    writer.start()
    assert frame() == (False, 5, 0, b"x" * 15)
    writer.join(0.3)
    assert writer.is_alive()   # waiting for the window
    send(spdy.control(spdy.WINDOW_UPDATE, 0, struct.pack("!II", 5, 100)))
    assert frame() == (False, 5, 0, b"x" * 5)
    writer.join(5)
    send(spdy.data(7, spdy.FLAG_FIN, b'th":1,"Height":2}\n'))
    pump.join(5)
    assert got == [b'\x04{"Width":1,"Height":2}']
    reader.close()   # the socket closes with its last file
    b.close()
    assert channels.recv() is None
    a.close()
