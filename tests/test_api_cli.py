"""The docker CLI against ``berth system service``: what a user of Docker types, unchanged."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import time
import urllib.request


from helpers import BUSYBOX_MUSL
from test_api_support import DOCKER, service, start_service, stop_service  # noqa: F401


def _free_port() -> int:
    import socket
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_socket_is_root_and_group_only_and_versions_negotiate(service, busybox):
    mode = os.stat(service.path).st_mode
    assert stat.S_IMODE(mode) == 0o660
    assert os.stat(service.path).st_uid == 0
    v = json.loads(service.docker("version", "--format", "{{json .Server}}").stdout)
    assert v["ApiVersion"] == "1.45" and v["MinAPIVersion"] == "1.41"
    info = service.docker("info", "--format", "{{.Images}} {{.Driver}}").stdout.split()
    assert info == ["1", "overlay2"]


def test_service_exits_after_idle_timeout(root):
    proc, path = start_service(root, "--timeout", "1")
    try:
        assert proc.wait(30) == 0
        assert not os.path.exists(path)
    finally:
        stop_service(proc)


def test_run_streams_output_and_exit_code_and_rm_removes(service, busybox):
    p = service.docker("run", "--rm", busybox, "sh", "-c", "echo out; echo err >&2; exit 3",
                       check=False)
    assert (p.returncode, p.stdout, p.stderr) == (3, "out\n", "err\n")
    assert service.docker("ps", "-aq").stdout == ""


def test_detached_web_server_lifecycle(service, busybox):
    port = _free_port()
    cid = service.docker("run", "-d", "--name", "web", "-p", f"127.0.0.1:{port}:80",
                         "--memory", "64m", busybox, "httpd", "-f", "-p", "80", "-h",
                         "/etc").stdout.strip()
    assert len(cid) == 64
    body = urllib.request.urlopen(f"http://127.0.0.1:{port}/hostname", timeout=10).read()
    assert body.decode().strip() == cid[:12]
    ps = service.docker("ps", "--format", "{{.Names}} {{.Ports}}").stdout
    assert ps.strip() == f"web 127.0.0.1:{port}->80/tcp"
    f = service.docker("inspect", "-f", "{{.State.Status}} {{.HostConfig.Memory}} {{.Name}}",
                       "web").stdout
    assert f.split() == ["running", str(64 << 20), "/web"]
    service.docker("pause", "web")
    assert service.docker("inspect", "-f", "{{.State.Paused}}", "web").stdout.strip() == "true"
    service.docker("unpause", "web")
    service.docker("restart", "-t", "1", "web")
    assert service.docker("ps", "-q", "--filter", "name=web").stdout.strip() == cid[:12]
    service.docker("rename", "web", "web2")
    service.docker("kill", "web2")
    out = service.docker("ps", "-a", "--filter", "status=exited", "--format",
                         "{{.Names}} {{.Status}}").stdout
    assert out.startswith("web2 Exited (137)")
    service.docker("rm", "web2")
    assert service.docker("ps", "-aq").stdout == ""


def test_errors_read_as_dockers(service, busybox):
    p = service.docker("rm", "nosuch", check=False)
    assert p.returncode == 1 and "No such container: nosuch" in p.stderr
    p = service.docker("run", "--memory", "1k", busybox, "true", check=False)
    assert p.returncode == 125 and "Minimum memory limit allowed is 6MB" in p.stderr
    service.docker("run", "-d", "--name", "busy", busybox, "sleep", "60")
    p = service.docker("rm", "busy", check=False)
    assert p.returncode == 1 and "container is running" in p.stderr
    p = service.docker("run", "--name", "busy", busybox, "true", check=False)
    assert p.returncode == 125 and "is already in use" in p.stderr
    p = service.docker("image", "inspect", "nosuch:1", check=False)
    assert p.returncode == 1 and "No such image" in p.stderr
    service.docker("rm", "-f", "busy")
    p = service.docker("run", "--rm", "--network", "none", busybox, "nosuchcmd", check=False)
    assert p.returncode == 127 and 'exec: "nosuchcmd": executable file not found' in p.stderr


def test_logs_follow_and_stream_separation(service, busybox):
    service.docker("run", "-d", "--name", "talk", busybox, "sh", "-c",
                   "for i in 1 2 3; do echo line $i; echo oops $i >&2; sleep 0.2; done")
    p = service.docker("logs", "-f", "talk")
    assert p.stdout == "line 1\nline 2\nline 3\n"
    assert p.stderr == "oops 1\noops 2\noops 3\n"
    tail = service.docker("logs", "--tail", "2", "talk")
    assert (tail.stdout, tail.stderr) == ("line 3\n", "oops 3\n")
    stamped = service.docker("logs", "-t", "talk").stdout.splitlines()
    assert stamped[0].endswith("Z line 1") and stamped[0][:4].isdigit()


def test_stats_no_stream_shows_the_limit_and_pids(service, busybox):
    service.docker("run", "-d", "--name", "s1", "--memory", "32m", busybox, "sleep", "60")
    out = service.docker("stats", "--no-stream", "--format",
                         "{{.Name}}|{{.MemUsage}}|{{.PIDs}}|{{.CPUPerc}}").stdout.strip()
    name, mem, pids, cpu = out.split("|")
    assert name == "s1" and mem.endswith("/ 32MiB") and pids == "1" and cpu.endswith("%")
    service.docker("rm", "-f", "s1")


def test_stats_cpu_percent_is_dockers_formula(service, busybox):
    # capped at half a CPU: docker's formula (delta CPU / delta system x online CPUs) reads at
    # most about 50 whatever the load of the host; a wrong CPU count would double it
    service.docker("run", "-d", "--name", "spin", "--cpus", "0.5", busybox, "sh", "-c",
                   "while :; do :; done")
    out = service.docker("stats", "--no-stream", "--format", "{{.CPUPerc}}", "spin").stdout
    cpu = float(out.strip().rstrip("%"))
    assert 0 < cpu <= 60
    service.docker("rm", "-f", "spin")


def test_events_since_until_filtered_by_container(service, busybox):
    since = int(time.time()) - 1
    service.docker("run", "--name", "ev", busybox, "true")
    service.docker("rm", "ev")
    until = int(time.time()) + 1
    out = service.docker("events", "--since", str(since), "--until", str(until), "--filter",
                         "container=ev", "--format", "{{.Action}}").stdout.split()
    for action in ("create", "start", "die", "destroy"):
        assert action in out
    assert out.index("create") < out.index("start") < out.index("die") < out.index("destroy")


def test_network_and_volume_commands(service, busybox):
    service.docker("network", "create", "--subnet", "10.231.0.0/24", "appnet")
    assert "appnet" in service.docker("network", "ls", "--format", "{{.Name}}").stdout.split()
    subnet = service.docker("network", "inspect", "-f", "{{(index .IPAM.Config 0).Subnet}}",
                            "appnet").stdout.strip()
    assert subnet == "10.231.0.0/24"
    service.docker("volume", "create", "--label", "k=v", "data")
    assert service.docker("volume", "ls", "-q", "--filter", "label=k=v").stdout.split() == ["data"]
    service.docker("run", "--rm", "--network", "appnet", "-v", "data:/data", busybox, "sh",
                   "-c", "echo kept > /data/f")
    out = service.docker("run", "--rm", "--network", "appnet", "-v", "data:/data:ro", busybox,
                         "sh", "-c", "cat /data/f; ip -4 addr show eth0").stdout
    assert out.startswith("kept\n") and "10.231.0." in out
    service.docker("run", "-d", "--name", "late", busybox, "sleep", "60")
    service.docker("network", "connect", "appnet", "late")
    nets = service.docker("inspect", "-f", "{{json .NetworkSettings.Networks}}", "late").stdout
    assert "appnet" in json.loads(nets)
    service.docker("network", "disconnect", "appnet", "late")
    service.docker("rm", "-f", "late")
    p = service.docker("volume", "rm", "nosuch", check=False)
    assert p.returncode == 1 and "no such volume" in p.stderr
    service.docker("volume", "rm", "data")
    service.docker("network", "rm", "appnet")
    assert "appnet" not in service.docker("network", "ls").stdout
    assert service.docker("volume", "ls", "-q").stdout == ""


def test_save_rmi_load_and_tag(service, busybox, tmp_path):
    archive = tmp_path / "bb.tar"
    service.docker("tag", busybox, "mine/bb:v1")
    service.docker("save", "-o", str(archive), "mine/bb:v1")
    out = service.docker("rmi", "mine/bb:v1").stdout
    assert "Untagged: mine/bb:v1" in out
    assert "Loaded image: mine/bb:v1" in service.docker("load", "-i", str(archive)).stdout
    assert service.docker("run", "--rm", "mine/bb:v1", "echo", "ok").stdout == "ok\n"
    hist = service.docker("history", "--format", "{{.CreatedBy}}", "mine/bb:v1").stdout
    assert "BusyBox" in hist


def test_pull_from_a_local_registry_with_progress(service, tmp_path):
    from registry_server import registry
    with registry() as reg:
        reg.skopeo_copy_in(f"oci-archive:{BUSYBOX_MUSL}", "lib/busybox:1")
        p = service.docker("pull", f"{reg.host}/lib/busybox:1")
        assert "Downloaded newer image" in p.stdout or "Pull complete" in p.stdout
        assert service.docker("run", "--rm", f"{reg.host}/lib/busybox:1", "echo",
                              "pulled").stdout == "pulled\n"
        service.docker("tag", f"{reg.host}/lib/busybox:1", f"{reg.host}/lib/copy:2")
        service.docker("push", f"{reg.host}/lib/copy:2")
        assert reg.skopeo_inspect("lib/copy:2")["Digest"].startswith("sha256:")
        p = service.docker("pull", f"{reg.host}/lib/nosuch:1", check=False)
        assert p.returncode != 0
        found = service.docker("search", "--format", "{{.Name}}", f"{reg.host}/busy").stdout
        assert "lib/busybox" in found


def _pexpect_docker(service, *args: str):
    import pexpect
    env = {**service.env(), "TERM": "xterm"}
    return pexpect.spawn(DOCKER, list(args), env=env, timeout=30, dimensions=(31, 97))


def test_run_it_is_a_terminal_sized_like_the_clients(service, busybox):
    import pexpect
    child = _pexpect_docker(service, "run", "--rm", "-it", busybox, "sh")
    try:
        child.expect(r"# ")
        child.sendline("stty size; tty; echo $((6*7))")
        child.expect("42")
        assert b"31 97" in child.before and b"/dev/pts/0" in child.before
        child.sendline("exit 5")
        child.expect(pexpect.EOF)
    finally:
        child.close(force=True)
    assert child.exitstatus == 5
    assert service.docker("ps", "-aq").stdout == ""


def test_run_i_pipes_stdin_until_its_end(service, busybox):
    p = service.docker("run", "--rm", "-i", busybox, "sh", "-c", "wc -l; echo done",
                       input="a\nb\nc\n")
    assert p.stdout.split() == ["3", "done"]


def test_exec_plain_piped_and_interactive(service, busybox):
    import pexpect
    service.docker("run", "-d", "--name", "box", busybox, "sleep", "300")
    p = service.docker("exec", "-e", "X=1", "-w", "/tmp", "box", "sh", "-c",
                       "echo $X $(pwd); echo e >&2; exit 4", check=False)
    assert (p.returncode, p.stdout, p.stderr) == (4, "1 /tmp\n", "e\n")
    assert service.docker("exec", "-i", "box", "cat", input="piped\n").stdout == "piped\n"
    p = service.docker("exec", "box", "nosuchcmd", check=False)
    assert p.returncode == 127 and "executable file not found" in p.stdout + p.stderr
    child = _pexpect_docker(service, "exec", "-it", "box", "sh")
    try:
        child.expect(r"# ")
        child.sendline("stty size; echo $((3*4))")
        child.expect("12")
        assert b"31 97" in child.before
        child.sendline("exit 6")
        child.expect(pexpect.EOF)
    finally:
        child.close(force=True)
    assert child.exitstatus == 6
    service.docker("rm", "-f", "box")


def test_update_changes_limits_and_policy(service, busybox):
    service.docker("run", "-d", "--name", "up", busybox, "sleep", "300")
    service.docker("update", "--memory", "96m", "--restart", "on-failure:2", "up")
    f = service.docker("inspect", "-f", "{{.HostConfig.Memory}} {{.HostConfig.RestartPolicy.Name}}"
                       " {{.HostConfig.RestartPolicy.MaximumRetryCount}}", "up").stdout.split()
    assert f == [str(96 << 20), "on-failure", "2"]
    service.docker("rm", "-f", "up")


def test_default_socket_is_in_the_roots_run_directory(root):
    from engine.paths import Paths
    expected = os.path.join(Paths.from_env(root).run, "docker.sock")
    env = {**os.environ, "BERTH_ROOT": root}
    env.pop("BERTH_RUN", None)
    import sys
    from helpers import REPO
    svc = subprocess.Popen([sys.executable, "-m", "tui.cli", "system", "service", "--timeout",
                            "1"], cwd=REPO, env=env, stderr=subprocess.PIPE)
    try:
        err = svc.stderr.readline().decode()
        assert f"unix://{expected}" in err
        assert svc.wait(30) == 0
    finally:
        if svc.poll() is None:
            svc.kill()
            svc.wait()
    assert not os.path.exists(expected)


def test_cp_both_ways_top_diff_commit_export(service, busybox, tmp_path):
    import tarfile
    service.docker("run", "-d", "--name", "fs", busybox, "sh", "-c",
                   "echo made > /made; exec sleep 300")
    service.docker("exec", "fs", "test", "-f", "/made")
    (tmp_path / "in.txt").write_text("from the host\n")
    service.docker("cp", str(tmp_path / "in.txt"), "fs:/tmp/")
    assert service.docker("exec", "fs", "cat", "/tmp/in.txt").stdout == "from the host\n"
    service.docker("cp", "fs:/made", str(tmp_path / "out.txt"))
    assert (tmp_path / "out.txt").read_text() == "made\n"
    p = service.docker("cp", "fs:/nosuch", str(tmp_path / "x"), check=False)
    assert p.returncode == 1 and "Could not find the file /nosuch" in p.stderr
    top = service.docker("top", "fs").stdout.splitlines()
    assert "PID" in top[0] and top[1].endswith("sleep 300")
    changes = service.docker("diff", "fs").stdout.splitlines()
    assert "A /made" in changes and "A /tmp/in.txt" in changes
    out = service.docker("commit", "-c", 'CMD ["cat", "/made"]', "fs", "snap:v1").stdout
    assert out.startswith("sha256:")
    assert service.docker("run", "--rm", "snap:v1").stdout == "made\n"
    service.docker("stop", "-t", "0", "fs")
    # a stopped container's filesystem too (the engine mounts it privately)
    service.docker("cp", "fs:/tmp/in.txt", str(tmp_path / "again.txt"))
    assert (tmp_path / "again.txt").read_text() == "from the host\n"
    service.docker("export", "-o", str(tmp_path / "fs.tar"), "fs")
    with tarfile.open(tmp_path / "fs.tar") as t:
        names = set(t.getnames())
    assert {"made", "bin/busybox", "tmp/in.txt"} <= {n.lstrip("./") for n in names}
    service.docker("rm", "fs")


def test_login_to_a_registry_then_pull_from_it(service, tmp_path):
    from registry_server import registry
    with registry(auth="htpasswd") as reg:
        reg.skopeo_copy_in(f"oci-archive:{BUSYBOX_MUSL}", "private/bb:1")
        p = service.docker("login", reg.host, "-u", "alice", "--password-stdin",
                           input="wrong\n", check=False)
        assert p.returncode == 1
        p = service.docker("login", reg.host, "-u", "alice", "--password-stdin",
                           input="wonderland\n")
        assert "Login Succeeded" in p.stdout
        service.docker("pull", f"{reg.host}/private/bb:1")
        assert service.docker("run", "--rm", f"{reg.host}/private/bb:1", "echo",
                              "private").stdout == "private\n"


def test_events_stream_as_they_happen(service, busybox):
    import select
    # --since: whenever the CLI's request arrives, the stream starts before the container
    events = subprocess.Popen([DOCKER, "events", "--since", str(int(time.time()) - 1),
                               "--filter", "container=live", "--format", "{{.Action}}"],
                              env=service.env(), stdout=subprocess.PIPE)
    try:
        service.docker("run", "--rm", "--name", "live", busybox, "true")
        data = b""
        deadline = time.monotonic() + 60
        while b"destroy" not in data and time.monotonic() < deadline:
            ready, _, _ = select.select([events.stdout], [], [], 1)
            if ready:
                chunk = os.read(events.stdout.fileno(), 4096)
                if not chunk:
                    break
                data += chunk
        seen = data.decode().split()
        assert "start" in seen and "die" in seen and seen[-1] == "destroy"
    finally:
        events.kill()
        events.wait()


def test_detach_with_ctrl_p_ctrl_q_then_attach_again(service, busybox):
    import pexpect
    child = _pexpect_docker(service, "run", "-it", "--name", "det", busybox, "sh")
    try:
        child.expect(r"# ")
        child.send("\x10\x11")   # ctrl-p ctrl-q
        child.expect(pexpect.EOF)
    finally:
        child.close(force=True)
    assert child.exitstatus == 0
    assert service.docker("inspect", "-f", "{{.State.Status}}", "det").stdout.strip() == "running"
    again = _pexpect_docker(service, "attach", "det")
    try:
        again.sendline("echo again-$((2+2))")
        again.expect("again-4")
        again.sendline("exit 3")
        again.expect(pexpect.EOF)
    finally:
        again.close(force=True)
    assert again.exitstatus == 3
    service.docker("rm", "det")


def test_a_second_service_on_the_same_socket_is_refused(service):
    import sys
    from helpers import REPO
    env = {**os.environ, "BERTH_ROOT": service.root}
    p = subprocess.run([sys.executable, "-m", "tui.cli", "system", "service", "--socket",
                        service.path, "--timeout", "1"], cwd=REPO, env=env, capture_output=True,
                       text=True, timeout=60)
    assert p.returncode == 125 and "already listens" in p.stderr
    assert service.docker("version", "--format", "{{.Server.APIVersion}}").stdout == "1.45\n"


def test_docker_stats_reads_as_berth_stats(service, busybox, cli):
    service.docker("run", "-d", "--name", "twin", "--memory", "40m", "--pids-limit", "20",
                   busybox, "sleep", "300")
    theirs = json.loads(service.docker("stats", "--no-stream", "--format", "{{json .}}",
                                       "twin").stdout)
    ours = json.loads(cli("stats", "--no-stream", "--format", "json", "twin").stdout)
    # the same fields in the same units; the limit and the pids can't move between two readings
    assert set(theirs) == set(ours)
    for key in ("ID", "Name", "PIDs"):
        assert theirs[key] == ours[key]
    assert theirs["MemUsage"].split(" / ")[1] == ours["MemUsage"].split(" / ")[1] == "40MiB"
    service.docker("rm", "-f", "twin")
