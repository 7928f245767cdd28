"""berth's CLI as a client of Debian's dockerd (a private one: its own socket, data, containerd,
no bridge, no iptables), over its unix socket, over tcp with TLS as docker's --tlsverify, and
through a saved connection."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from helpers import REPO
from remote_engines import dockerd, free_port

pytestmark = pytest.mark.xdist_group("remote-dockerd")


@pytest.fixture(scope="module")
def docker_host():
    port = free_port()
    with dockerd(tls_port=port) as (url, tmp, proc):
        yield url, port, os.path.join(tmp, "certs"), proc


def berth(*args, env=None, input=None, timeout=60):
    full = {k: v for k, v in os.environ.items() if not k.startswith(("BERTH_", "DOCKER_"))}
    full.update(env or {})
    return subprocess.run([sys.executable, "-m", "tui.cli", *args], capture_output=True,
                          text=True, cwd=REPO, env=full, input=input, timeout=timeout)


def exercise(target: list[str], env=None, name="remote-one", image="busybox:musl",
             stdin_eof: bool = True, full: bool = True):
    """ps, run, logs, exec, stop, rm and images through ``target`` (-H URL or --connection);
    without ``full`` the common path only (over ssh each command costs a handshake)."""
    b = lambda *a, **kw: berth(*target, *a, env=env, **kw)  # noqa: E731
    p = b("run", "--rm", "--network", "none", image, "sh", "-c", "echo out; echo err >&2; exit 3")
    assert (p.returncode, p.stdout, p.stderr) == (3, "out\n", "err\n"), p
    p = b("run", "-d", "--name", name, "--network", "none", image, "sh", "-c",
          "echo started; exec sleep 300")
    assert p.returncode == 0, p.stderr
    cid = p.stdout.strip()
    assert len(cid) == 64
    ps = b("ps")
    assert name in ps.stdout and cid[:12] in ps.stdout and "Up " in ps.stdout, ps
    assert b("logs", name).stdout == "started\n"
    p = b("exec", name, "sh", "-c", "echo in-exec; cat /etc/hostname >/dev/null; exit 5")
    assert (p.returncode, p.stdout) == (5, "in-exec\n"), p
    if stdin_eof:   # not over TLS: Python's ssl can't half-close (see http.Stream.close_write)
        p = b("exec", "-i", name, "tr", "a-z", "A-Z", input="piped through\n")
        assert (p.returncode, p.stdout) == (0, "PIPED THROUGH\n"), p
    if not full:
        assert b("rm", "-f", name).returncode == 0
        return
    assert b("ps", "-q").stdout.split() == [cid[:12]]
    p = b("exec", name, "no-such-command")
    assert p.returncode in (126, 127), p
    assert b("stop", "-t", "1", name).stdout == f"{name}\n"
    ps = b("ps", "-a", "--format", "{{.Names}} {{.Status}}")
    assert f"{name} Exited (137)" in ps.stdout or f"{name} Exited (143)" in ps.stdout, ps
    assert b("rm", name).returncode == 0
    assert name not in b("ps", "-a").stdout
    images = b("images").stdout
    assert "busybox" in images and "musl" in images, images
    p = b("logs", "no-such-container")
    assert p.returncode == 125 and p.stderr.startswith("berth: ") and "no-such-container" in p.stderr


def test_cli_through_the_docker_socket(docker_host):
    url, *_ = docker_host
    exercise(["-H", url])


def test_cli_through_tcp_with_tls(docker_host):
    url, port, certs, _ = docker_host
    target = ["-H", f"tcp://127.0.0.1:{port}", "--tlsverify", "--tlscacert", f"{certs}/ca.pem",
              "--tlscert", f"{certs}/cert.pem", "--tlskey", f"{certs}/key.pem"]
    p = berth(*target, "ps")
    assert p.returncode == 0, p.stderr
    exercise(target, name="remote-tls", stdin_eof=False)
    # docker's own variables work as well; without a client certificate the daemon refuses
    env = {"DOCKER_TLS_VERIFY": "1", "DOCKER_CERT_PATH": certs}
    assert berth("-H", f"tcp://127.0.0.1:{port}", "ps", env=env).returncode == 0
    p = berth("-H", f"tcp://127.0.0.1:{port}", "ps")
    assert p.returncode == 125 and p.stderr.startswith("berth: ") and p.stderr.count("\n") == 1, p


def test_engine_info_and_models(docker_host):
    import engine
    url, *_ = docker_host
    e = engine.connect(url, name="dk")
    info = e.engine_info()
    assert info.kind == "docker" and info.label().startswith("Docker ") and info.host == "dk"
    from engine.models import ContainerConfig
    c = e.create(ContainerConfig(image="busybox:musl", cmd=["sleep", "30"], network_mode="none",
                                 labels={"who": "berth-test"}), name="modelled")
    try:
        assert c.name == "modelled" and c.state.status == "created"
        assert c.config.labels["who"] == "berth-test" and c.config.cmd == ["sleep", "30"]
        c = e.start(c.id)
        assert c.running and c.state.started_at
        assert [x.name for x in e.containers()] == ["modelled"]
        headers, rows = e.top(c.id)
        assert "PID" in headers and any("sleep" in " ".join(r) for r in rows)
        (sample,) = e.stats_once([c.id])
        assert sample.memory_usage > 0 and sample.pids == 1
        stream = e.iter_stats([c.id], interval=0.3)
        ticks = [next(stream) for _ in range(12)]
        stream.close()
        assert any(t and t[0].id == c.id and t[0].pids == 1 for t in ticks), ticks
        assert e.rename("modelled", "renamed").name == "renamed"
        assert e.history("busybox:musl")[0]["Created"].endswith("Z")
    finally:
        e.remove(c.id, force=True)
    with pytest.raises(engine.NotFound):
        e.container(c.id)
    from engine.errors import NotSupported
    with pytest.raises(NotSupported, match="not available through the connection to dk"):
        e.system_check()


def test_cli_through_a_saved_connection(docker_host, tmp_path):
    url, *_ = docker_host
    env = {"HOME": str(tmp_path)}
    assert berth("connection", "add", "dk", url, env=env).returncode == 0
    exercise(["--connection", "dk"], env=env, name="remote-conn")
    # the default connection: plain commands go there
    assert berth("connection", "use", "dk", env=env).returncode == 0
    assert "busybox" in berth("images", env=env).stdout


async def test_dashboard_on_a_docker_connection(docker_host):
    """The dashboard drawn from dockerd: its header names the host and the engine, the list
    follows dockerd's events, logs stream from its API, and stop and remove work by keys."""
    import engine
    from dashboard_support import make_app, running, screen_text, settle, table_names
    from engine.models import ContainerConfig
    from test_dashboard_containers import LOOP, row_state, select
    from tui.screens.confirm import ConfirmScreen
    from tui.screens.logs import LogsScreen
    from tui.widgets.log_view import LogView
    url, *_ = docker_host
    e = engine.connect(url, name="dk")
    e.engine_info()
    e.run(ContainerConfig(image="busybox:musl", cmd=["sh", "-c", LOOP], network_mode="none"),
          name="chatty")
    try:
        app = make_app(e)
        async with running(app) as pilot:
            await select(pilot, app, "chatty")
            assert "dk · Docker " in screen_text(app)
            assert row_state(app, "chatty") == "running"
            await pilot.press("l")
            assert isinstance(app.screen, LogsScreen)
            view = app.screen.query_one(LogView)
            await settle(pilot, lambda: any(x.text.startswith("line 3") for x in view.entries),
                         rounds=1000)
            assert {x.stream for x in view.entries} == {"stdout", "stderr"}
            await pilot.press("escape")
            # a container made elsewhere shows up through dockerd's events
            e.create(ContainerConfig(image="busybox:musl", cmd=["true"], network_mode="none"),
                     name="newcomer")
            await settle(pilot, lambda: "newcomer" in table_names(app, "containers"),
                         rounds=1000)
            await select(pilot, app, "chatty")
            await pilot.press("x")
            await settle(pilot, lambda: row_state(app, "chatty") == "exited", rounds=1000)
            assert e.container("chatty").state.status == "exited"
            await pilot.press("d")
            assert isinstance(app.screen, ConfirmScreen)
            await pilot.press("y")
            await settle(pilot, lambda: "chatty" not in table_names(app, "containers"),
                         rounds=1000)
            with pytest.raises(engine.NotFound):
                e.container("chatty")
    finally:
        for name in ("chatty", "newcomer"):
            try:
                e.remove(name, force=True)
            except engine.NotFound:
                pass


async def test_the_consoles_exec_reaches_the_engine_it_was_opened_on(docker_host):
    """The exec console's program (`berth exec -it ID sh` on a pty, as the dashboard starts
    it) runs in a dockerd container through the API when the dashboard draws dockerd."""
    import asyncio
    import engine
    from engine.models import ContainerConfig
    from tui.widgets.terminal_sessions import PtySession, exec_argv
    url, *_ = docker_host
    e = engine.connect(url, name="dk")
    c = e.run(ContainerConfig(image="busybox:musl", cmd=["sleep", "300"], network_mode="none"),
              name="consoled")
    session = PtySession(exec_argv(c.id, "sh"), e.client_environment())
    try:
        await session.start(24, 80)
        os.write(session.fd, b"echo $((6*7))-$(hostname)\n")
        seen = b""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 30
        while f"42-{c.id[:12]}".encode() not in seen and loop.time() < deadline:
            try:
                seen += await asyncio.wait_for(loop.run_in_executor(None, os.read, session.fd,
                                                                    65536), 5)
            except (asyncio.TimeoutError, OSError):
                break
        assert f"42-{c.id[:12]}".encode() in seen, seen
        os.write(session.fd, b"exit 3\n")
        code, _ = await asyncio.wait_for(session.wait(), 30)
        assert code == 3
    finally:
        session.close()
        if session.fd is not None:
            os.close(session.fd)
        e.remove(c.id, force=True)


async def test_a_followed_engine_answers_from_what_its_events_kept(docker_host):
    """While the dashboard follows dockerd's events, a look at a container it has seen costs
    no request (its clock and stats look at every running one, often); a change made by
    someone else comes as an event, and the next look asks dockerd again."""
    import asyncio
    import engine
    from engine.models import ContainerConfig
    url, *_ = docker_host
    e, elsewhere = engine.connect(url, name="dk"), engine.connect(url, name="dk2")
    c = e.run(ContainerConfig(image="busybox:musl", cmd=["sleep", "300"], network_mode="none"),
              name="watched")
    seen: list = []

    async def follow():
        async for ev in e.follow_events():
            seen.append(ev)
    task = asyncio.ensure_future(follow())
    asked: list[str] = []
    real_open = e.session.open
    e.session.open = lambda method, path, *a, **kw: (asked.append(path),
                                                     real_open(method, path, *a, **kw))[1]
    try:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 20
        while not e._followers and loop.time() < deadline:
            await asyncio.sleep(0.05)
        assert e.container(c.id).running
        asked.clear()
        for _ in range(5):
            assert e.container(c.id).running
        assert asked == [], asked
        elsewhere.stop(c.id, timeout=0)
        while not any(ev.action == "die" and ev.id == c.id for ev in seen) \
                and loop.time() < deadline:
            await asyncio.sleep(0.05)
        assert e.container(c.id).state.status == "exited"
        assert asked, "the look after the event asked dockerd again"
    finally:
        task.cancel()
        elsewhere.remove(c.id, force=True)


# dockerd makes a bridge device in the host's network namespace for a network: one with no
# address (and a name of its own), so nothing routes to it
DOCKER_NETWORK = ["--internal", "-o", "com.docker.network.bridge.inhibit_ipv4=true"]


def test_every_other_verb_through_dockerd(docker_host, tmp_path):
    from remote_verbs import exercise_verbs
    url, *_ = docker_host
    exercise_verbs(["-H", url], tmp_path, "busybox:musl", network_options=DOCKER_NETWORK,
                   lacks={"search": "Docker Hub's search API"})
