"""berth without root, continued, as the session's unprivileged user: published ports reached
from the host, containers by name on a user network, pull from the local registry, the Docker
API socket driven by the docker CLI, the dashboard stopping a container (Pilot, run as the
user), and a second user who can neither see nor touch the first's containers."""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import time
import urllib.request

import pytest

from helpers import BUSYBOX_MUSL, REPO
from registry_server import free_port, registry

pytestmark = pytest.mark.xdist_group("rootless")

IMAGE = "busybox:1.38.0-musl"


@pytest.fixture
def user(loaded_user):
    return loaded_user


def _get(url: str, deadline: float = 15) -> bytes:
    end = time.monotonic() + deadline
    while True:
        try:
            with urllib.request.urlopen(url, timeout=5) as r:
                return r.read()
        except OSError:
            if time.monotonic() > end:
                raise
            time.sleep(0.1)


def test_published_port_reachable_from_the_host(user):
    port = free_port()
    www = os.path.join(user.home, "www")
    user.run("sh", "-c", f"mkdir -p {www} && echo rootless-hello > {www}/index.html", check=True)
    user.berth("run", "-d", "--name", "web", "-p", f"{port}:80", "-v", f"{www}:/www",
               IMAGE, "httpd", "-f", "-p", "80", "-h", "/www")
    assert _get(f"http://127.0.0.1:{port}/") == b"rootless-hello\n"
    assert user.berth("port", "web").stdout.strip() == f"80/tcp -> 0.0.0.0:{port}"
    user.berth("rm", "-f", "web")
    with pytest.raises(OSError):        # the forward went with the container
        socket.create_connection(("127.0.0.1", port), timeout=2).close()
    # a restart by the monitor publishes the same port again
    user.berth("run", "-d", "--name", "again", "--restart", "always", "-p", f"{port}:80",
               "-v", f"{www}:/www", IMAGE, "sh", "-c", "httpd -f -p 80 -h /www & sleep 1; exit 1")
    end = time.monotonic() + 20
    while user.berth("inspect", "-f", "{{.RestartCount}} {{.State.Status}}",
                     "again").stdout.split() in (["0", "running"], ["0", "restarting"],
                                                 ["0", "exited"]):
        assert time.monotonic() < end
        time.sleep(0.1)
    assert _get(f"http://127.0.0.1:{port}/") == b"rootless-hello\n"
    state = user.berth("inspect", "-f", "{{.RestartCount}} {{.State.Error}}", "again").stdout
    assert not state.split()[1:], state          # no start failed on a port still held
    user.berth("rm", "-f", "again")
    # below net.ipv4.ip_unprivileged_port_start: refused, saying which sysctl to change
    p = user.berth("run", "-d", "-p", "80:80", IMAGE, "true", check=False)
    assert p.returncode == 125
    assert p.stderr.strip().splitlines() == [
        "berth: port 80 is below 1024, which only root may bind: publish a port >= 1024, or "
        "lower the limit with 'sysctl net.ipv4.ip_unprivileged_port_start=80' (as root)"]


def _udp_echo(family: int, address: str, port: int, deadline: float = 15) -> bytes:
    """A datagram sent to address:port and its answer (sent again until the echo listens)."""
    end = time.monotonic() + deadline
    with socket.socket(family, socket.SOCK_DGRAM) as s:
        s.settimeout(0.3)
        while True:
            s.sendto(b"ping", (address, port))
            try:
                data, frm = s.recvfrom(100)
                assert frm[:2] == (address, port)
                return data
            except (socket.timeout, ConnectionRefusedError):
                assert time.monotonic() < end, f"no answer from {address}:{port}"


def test_udp_and_ipv6_published_ports_reachable_from_the_host(user):
    udp4, udp6, tcp6 = free_port(), free_port(), free_port()
    # each client gets its own session inside: nc answers the first peer only, so one
    # container a client
    user.berth("run", "-d", "--name", "echo4", "-p", f"{udp4}:5353/udp", IMAGE,
               "nc", "-lu", "-p", "5353", "-e", "/bin/cat")
    user.berth("run", "-d", "--name", "echo6", "-p", f"[::1]:{udp6}:5353/udp",
               "-p", f"[::]:{tcp6}:80", IMAGE, "sh", "-c",
               "httpd -p 80 -h /etc; exec nc -lu -p 5353 -e /bin/cat")
    assert _udp_echo(socket.AF_INET, "127.0.0.1", udp4) == b"ping"
    assert _udp_echo(socket.AF_INET6, "::1", udp6) == b"ping"
    assert _get(f"http://[::1]:{tcp6}/hostname").strip() == \
        user.berth("inspect", "-f", "{{.Config.Hostname}}", "echo6").stdout.strip().encode()
    with pytest.raises(OSError):        # [::] is IPv6's only, as with root
        socket.create_connection(("127.0.0.1", tcp6), timeout=2).close()
    assert sorted(user.berth("port", "echo6").stdout.splitlines()) == [
        f"5353/udp -> [::1]:{udp6}", f"80/tcp -> [::]:{tcp6}"]
    # the same port on both families' every address, as Docker allows
    both = free_port()
    user.berth("run", "-d", "--name", "both", "-p", f"[::]:{both}:80", "-p", f"{both}:80",
               IMAGE, "httpd", "-f", "-p", "80", "-h", "/etc")
    assert _get(f"http://[::1]:{both}/hostname") == _get(f"http://127.0.0.1:{both}/hostname")
    x = free_port()
    clash = user.berth("run", "-d", "-p", f"{x}:80", "-p", f"0.0.0.0:{x}:81", IMAGE,
                       "true", check=False)
    assert clash.returncode == 125 and "port is already allocated" in clash.stderr
    user.berth("rm", "-f", "echo4", "echo6", "both")
    for family, address, port in ((socket.AF_INET, "127.0.0.1", udp4),
                                  (socket.AF_INET6, "::1", udp6)):
        with socket.socket(family, socket.SOCK_DGRAM) as s:   # the forwarder let go of it
            s.bind((address, port))


def test_containers_reach_each_other_by_name_on_a_user_network(user):
    user.berth("network", "create", "app")
    try:
        user.berth("run", "-d", "--name", "db", "--network", "app", IMAGE,
                   "httpd", "-f", "-p", "8080")
        p = user.berth("run", "--rm", "--network", "app", IMAGE, "sh", "-c",
                       "ping -c1 -W5 db >/dev/null && echo reached; "
                       "wget -q -O- http://db:8080/ 2>&1 | head -1")
        assert p.stdout.splitlines()[0] == "reached"
        assert "404" in p.stdout          # httpd answered over the bridge
        # where /dev/net/tun is root's (as here), one line says what that costs
        tun_open = os.stat("/dev/net/tun").st_mode & 0o006 == 0o006
        warned = [line for line in p.stderr.splitlines() if "/dev/net/tun" in line]
        assert warned == ([] if tun_open else [
            "WARNING: /dev/net/tun is closed to you (ask for mode 0666, as most distributions "
            "ship it): containers' networks join them to each other and to published ports, "
            "but not to the outside"])
        # nothing of it on the host: the bridge is in the user's network namespace
        assert not any(n.startswith("berth") for n in os.listdir("/sys/class/net")
                       if _owned_by(n, user.uid))
        assert user.berth("system", "check").stdout.strip().endswith("no problems found")
    finally:
        user.berth("rm", "-f", "db", check=False)
        user.berth("network", "rm", "app")


def test_system_reset_of_another_root_of_the_user(user):
    """Another root of the same user shares the user's network namespace: its reset removes
    its own bridge and table there, and leaves the user's own root and holders alone."""
    other = {"BERTH_ROOT": os.path.join(user.home, "second")}
    port = free_port()
    user.berth("load", "-i", str(BUSYBOX_MUSL), env=other)
    user.berth("network", "create", "side", env=other)
    user.berth("run", "-d", "--network", "side", "-p", f"{port}:80", IMAGE, "httpd", "-f",
               "-p", "80", env=other)
    done = user.berth("system", "reset", "-f", env=other).stdout
    assert "removed nftables table ip" in done and "removed link berth" in done
    assert "holder" not in done
    assert not os.path.exists(other["BERTH_ROOT"])
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", port), timeout=2).close()
    assert IMAGE in user.berth("images", "--format", "{{.Repository}}:{{.Tag}}").stdout


def _owned_by(link: str, uid: int) -> bool:
    try:
        return os.stat(f"/sys/class/net/{link}").st_uid == uid
    except OSError:
        return False


def test_login_pull_and_push_with_the_users_credentials(user):
    with registry(auth="htpasswd", users={"alice": "wonderland"}) as r:
        r.skopeo_copy_in(f"oci-archive:{BUSYBOX_MUSL}", "library/busybox:pulled")
        ref = f"{r.host}/library/busybox:pulled"
        assert "Login Succeeded" in user.berth("login", "-u", "alice", "--password-stdin",
                                               r.host, input="wonderland\n").stdout
        auth = os.path.join(user.home, ".config", "berth", "auth.json")
        st = os.stat(auth)
        assert st.st_uid == user.uid and st.st_mode & 0o777 == 0o600
        user.berth("pull", ref)
        assert user.berth("run", "--rm", "--network", "none", ref, "echo",
                          "pulled-ok").stdout.strip() == "pulled-ok"
        pushed = f"{r.host}/alice/mine:1"
        user.berth("tag", ref, pushed)
        user.berth("push", pushed)
        assert r.skopeo_inspect("alice/mine:1")["Digest"].startswith("sha256:")
        user.berth("rmi", ref, pushed)
        user.berth("logout", r.host)


@contextlib.contextmanager
def _service(user):
    """``berth system service`` as the user, until the block ends; yields its socket."""
    sock = os.path.join(user.run_dir, "docker.sock")
    service = user.popen("berth", "system", "service", stdout=subprocess.DEVNULL,
                         stderr=subprocess.PIPE)
    try:
        end = time.monotonic() + 20
        while not os.path.exists(sock):
            assert service.poll() is None, service.stderr.read()
            assert time.monotonic() < end
            time.sleep(0.05)
        yield sock
    finally:
        service.terminate()
        service.wait(timeout=20)


def test_docker_cli_through_the_users_api_socket(user):
    with _service(user) as sock:
        st = os.stat(sock)
        assert st.st_uid == user.uid and st.st_mode & 0o777 == 0o600
        docker = ["docker", "-H", f"unix://{sock}"]
        out = user.run(*docker, "run", "--rm", "--network", "none", IMAGE, "echo", "via-docker",
                       check=True).stdout
        assert out.strip() == "via-docker"
        user.run(*docker, "run", "-d", "--name", "api-made", IMAGE, "sleep", "300", check=True)
        assert "api-made" in user.berth("ps").stdout
        user.run(*docker, "rm", "-f", "api-made", check=True)
        info = user.run(*docker, "info", "--format", "{{json .SecurityOptions}} {{.CgroupDriver}}",
                        check=True).stdout.split()
        assert "name=rootless" in info[0] and info[1] == "none"


DASHBOARD = r"""
import asyncio, sys
sys.path.insert(0, {tests!r})
from engine import Engine
from dashboard_support import dashboard, make_app, running, settle
from tui.screens.graphs import open_graphs

def state(app, name):
    for row in dashboard(app).table("containers").rows_in_order():
        if row.model.name == name:
            return row.cells[2].plain
    return ""

async def main():
    engine = Engine()
    app = make_app(engine)
    async with running(app) as pilot:
        await settle(pilot, lambda: state(app, "shown") == "running", rounds=500)
        table = dashboard(app).table("containers")
        for i, row in enumerate(table.rows_in_order()):
            if row.model.name == "shown":
                table.move_cursor(row=i)
        await open_graphs(app, engine)
        cards = app.screen.cards
        await settle(pilot, lambda: any("limits" in c.text() for c in cards().values()),
                     rounds=500)
        print("GRAPHS", any("limits unavailable (no cgroup delegation)" in c.text()
                            for c in cards().values()))
        print("\n".join(c.text() for c in cards().values()))
        await pilot.press("escape")
        await settle(pilot, lambda: state(app, "shown") == "running")
        await pilot.press("x")
        await settle(pilot, lambda: state(app, "shown") == "exited", rounds=1000)
        print("STATE", engine.container("shown").state.status)

asyncio.run(main())
"""


def test_dashboard_shows_and_stops_a_container(user):
    user.berth("run", "-d", "--name", "shown", "--network", "none", IMAGE, "sh", "-c",
               "trap 'exit 0' TERM; while :; do sleep 0.1; done")
    script = os.path.join(user.home, "dashboard.py")
    user.run("sh", "-c", f"cat > {script}", input=DASHBOARD.format(tests=str(REPO / "tests")),
             check=True)
    out = user.run(f"{user.bin}/python3", script, check=True, timeout=120).stdout
    assert "GRAPHS True" in out, out
    assert "STATE exited" in out


def test_a_second_user_cannot_see_or_touch_the_first(user, rootless_other):
    other = rootless_other
    user.berth("run", "-d", "--name", "private", "--network", "none", IMAGE, "sleep", "300")
    pid = int(user.berth("inspect", "-f", "{{.State.Pid}}", "private").stdout)
    with _service(user) as sock:
        # the other user's berth is their own: no containers, and one line saying what a
        # single-id namespace can't do
        p = other.berth("ps", "-aq")
        assert p.stdout == ""
        assert p.stderr.startswith(f"WARNING: no subordinate ids for {other.name} in /etc/subuid")
        assert len(p.stderr.strip().splitlines()) == 1
        # and can't reach the first's: state, run directory, socket, processes
        p = other.berth("--root", user.state, "ps", "-a", check=False)
        assert p.returncode == 125 and "Permission denied" in p.stderr
        assert other.run("ls", user.state).returncode != 0
        assert other.run("ls", user.run_dir).returncode != 0
        p = other.run("docker", "-H", f"unix://{sock}", "ps")
        assert p.returncode != 0 and "permission denied" in p.stderr.lower()
        p = other.run("kill", "-9", str(pid))
        assert p.returncode != 0
        assert user.berth("inspect", "-f", "{{.State.Status}}", "private").stdout.strip() \
            == "running"
        # with a single id, a container still runs (busybox's nobody-owned /home becomes theirs)
        other.berth("load", "-i", str(BUSYBOX_MUSL))
        assert other.berth("run", "--rm", "--network", "none", IMAGE, "sh", "-c",
                           "id -u; chown 1000 /tmp 2>/dev/null || echo chown-refused"
                           ).stdout.split() == ["0", "chown-refused"]
        other.berth("run", "-d", "--name", "theirs", "--network", "none", IMAGE, "sleep", "300")
        assert other.berth("exec", "theirs", "id", "-u").stdout.strip() == "0"
        other.berth("rm", "-f", "theirs")


def _host_address() -> str | None:
    """An IPv4 address of this machine other than loopback and berth's bridges."""
    out = subprocess.run(["ip", "-4", "-o", "addr", "show"], capture_output=True,
                         text=True).stdout
    for line in out.splitlines():
        dev, addr = line.split()[1], line.split()[3].partition("/")[0]
        if dev != "lo" and not dev.startswith(("berth", "vb", "docker", "podman", "cni")):
            return addr
    return None


def test_outbound_through_slirp4netns_where_tun_is_open(user, tmp_path):
    """This host keeps /dev/net/tun to root (0600), as some do: the test makes a tun node of
    its own (0666) and binds it over /dev/net/tun in a mount namespace of the user's commands,
    as a host that ships it open would have it. slirp4netns then joins the user's network
    namespace to the outside: a container fetches from a server on the host's address."""
    import http.server
    import threading
    addr = _host_address()
    if addr is None:
        pytest.skip("no non-loopback address on this machine")
    base = os.path.dirname(user.xdg)
    tun = os.path.join(base, f"tun-{user.name}")
    os.mknod(tun, 0o20666, os.makedev(10, 200))
    os.chmod(tun, 0o666)

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args):
            pass

    www = tmp_path / "www"
    www.mkdir()
    (www / "index.html").write_text("from-the-host\n")
    server = http.server.ThreadingHTTPServer(
        ("0.0.0.0", 0), lambda *a, **k: Quiet(*a, directory=str(www), **k))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        cmd = user.command("berth", "run", "--rm", IMAGE, "wget", "-q", "-O-",
                           f"http://{addr}:{server.server_address[1]}/")
        p = subprocess.run(["unshare", "-m", "--propagation", "private", "sh", "-c",
                            f"mount --bind {tun} /dev/net/tun && exec \"$@\"", "sh", *cmd],
                           env=user.env(), cwd=user.home, capture_output=True, text=True,
                           timeout=90)
        assert p.stdout == "from-the-host\n", p.stderr
        with open(os.path.join(user.run_dir, "slirp.pid")) as f:
            slirp = int(f.read().split()[0])
        with open(f"/proc/{slirp}/cmdline", "rb") as f:
            assert f.read().split(b"\0")[0] == b"slirp4netns"
    finally:
        server.shutdown()
        server.server_close()
        os.unlink(tun)


def _cmdline(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return f.read().replace(b"\0", b" ").decode(errors="replace").strip()
    except OSError:
        return ""


def test_cleanup_leaves_no_process_and_no_mount():
    """A user of its own (the session's keeps its holders): containers with published ports,
    on a user network and the default one, going out through slirp4netns and on
    fuse-overlayfs. Removing them leaves only the three holders (user namespace, network namespace, slirp4netns); `system
    reset -f` ends those too: no process of the user's is left, and no mount below its home."""
    from rootless_support import _mounts_below, _user
    made = _user(subids=True)
    u = next(made)
    try:
        base = os.path.dirname(u.xdg)
        tun, fuse = os.path.join(base, "tun"), os.path.join(base, "fuse")
        os.mknod(tun, 0o20666, os.makedev(10, 200))
        os.mknod(fuse, 0o20666, os.makedev(10, 229))
        for node in (tun, fuse):
            os.chmod(node, 0o666)

        def berth(*args: str, **env: str) -> str:
            # open tun and fuse nodes, as a host that ships them 0666 (this one keeps them 0600)
            p = subprocess.run(
                ["unshare", "-m", "--propagation", "private", "sh", "-c",
                 f"mount --bind {tun} /dev/net/tun && mount --bind {fuse} /dev/fuse && "
                 "exec \"$@\"", "sh", *u.command("berth", *args)],
                env=u.env(**env), cwd=u.home, capture_output=True, text=True, timeout=90)
            assert p.returncode == 0, p.stderr
            return p.stdout

        u.berth("load", "-i", str(BUSYBOX_MUSL))
        berth("network", "create", "app")
        berth("run", "-d", "--name", "web", "--network", "app", "-p", f"{free_port()}:80",
              "-p", f"{free_port()}:53/udp", IMAGE, "httpd", "-f", "-p", "80")
        berth("run", "-d", "--name", "fused", IMAGE, "sleep", "300", BERTH_FUSE_OVERLAYFS="1")
        names = {_cmdline(pid).split(" ")[0] for pid in u.live_pids()}
        assert {"slirp4netns", "fuse-overlayfs", "berth-pause", "berth-netns"} <= names, names
        u.berth("rm", "-f", "web", "fused")
        # the default network's bridge stays in the user's namespace when its last container
        # leaves (no reaper takes it down after a linger, as with root: nothing of it shows on
        # the host)
        u.berth("run", "--rm", IMAGE, "true", env={"BERTH_NETWORK_LINGER": "0"})
        with open(os.path.join(u.run_dir, "netns.pid")) as f:
            netns = f.read().split()[0]
        links = subprocess.run(["nsenter", "-t", netns, "-n", "ip", "-o", "link", "show"],
                               capture_output=True, text=True, check=True).stdout
        bridge = u.berth("network", "inspect", "bridge", "--format",
                         '{{index .Options "com.docker.network.bridge.name"}}').stdout.strip()
        assert f" {bridge}:" in links, links
        holders = {"berth-pause infinity", "berth-netns infinity"}
        end = time.monotonic() + 15
        while True:
            left = [_cmdline(pid) for pid in u.live_pids()]
            rest = [c for c in left if c not in holders and not c.startswith("slirp4netns ")]
            if not rest:
                break
            assert time.monotonic() < end, left
            time.sleep(0.05)
        done = u.berth("system", "reset", "-f").stdout
        for what in ("user namespace holder", "network namespace holder", "slirp4netns"):
            assert what in done, done
        end = time.monotonic() + 15
        while u.live_pids():
            assert time.monotonic() < end, [_cmdline(pid) for pid in u.live_pids()]
            time.sleep(0.05)
        assert _mounts_below(u.home) == []
        assert not os.path.exists(u.state)
    finally:
        made.close()     # removes the user, and says what it could not
