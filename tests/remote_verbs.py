"""The verbs beyond run/ps/logs/exec, through the CLI against a remote engine (dockerd,
podman's service, berth over ssh): cp both ways, diff, commit, export, update, build, save,
load, import, volume and network create/rm, system df, the prunes, and login, push and search
against a real registry. Shared by test_remote_docker.py, test_remote_podman.py and
test_remote_ssh.py, each with its engine already running."""

from __future__ import annotations

import io
import os
import subprocess
import sys
import tarfile

from helpers import REPO
from test_remote_docker import berth


def _tar_names(data: bytes) -> list[str]:
    with tarfile.open(fileobj=io.BytesIO(data)) as t:
        return t.getnames()


def exercise_verbs(target: list[str], tmp, image: str, env=None, network_options=(),
                   lacks: dict[str, str] | None = None, registry_name: str = "127.0.0.1",
                   full: bool = True):
    """Each verb through ``target``; ``lacks``: verb -> the words of its one-line refusal on
    an engine that has no such feature; ``registry_name``: what the engine calls this host's
    registry (podman's login takes plain http only from "localhost"). Without ``full``, each
    verb once and no more checks than its own output, and system prune for the other prunes
    (over ssh a command costs a handshake)."""
    lacks = lacks or {}
    env = {**(env or {}), "BERTH_AUTH_FILE": str(tmp / "auth.json")}

    def b(*a, ok=True, **kw):
        p = berth(*target, *a, env=env, **kw)
        if ok:
            assert p.returncode == 0, (a, p.stdout, p.stderr)
        return p

    def refused(verb: str, *a, **kw) -> bool:
        """The verb's one-line refusal where the engine lacks it (then True)."""
        if verb not in lacks:
            return False
        p = b(*a, ok=False, **kw)
        assert p.returncode == 125 and lacks[verb] in p.stderr and p.stderr.count("\n") == 1, p
        return True

    cid = b("run", "-d", "--name", "verbs", "--network", "none", image, "sleep", "300").stdout
    try:
        # cp: a host file into a directory and as a new name; a file out; a tar out
        (tmp / "greeting").write_text("hello from the host\n")
        b("cp", str(tmp / "greeting"), "verbs:/tmp/")
        b("cp", "verbs:/tmp/greeting", str(tmp / "back"))
        assert (tmp / "back").read_text() == "hello from the host\n"
        if full:
            b("cp", str(tmp / "greeting"), "verbs:/tmp/renamed")
            assert b("exec", "verbs", "cat", "/tmp/renamed").stdout == "hello from the host\n"
            out = subprocess.run([sys.executable, "-m", "tui.cli", *target, "cp",
                                  "verbs:/tmp/greeting", "-"], capture_output=True, cwd=REPO,
                                 env={**{k: v for k, v in os.environ.items()
                                         if not k.startswith(("BERTH_", "DOCKER_"))}, **env})
            assert out.returncode == 0 and _tar_names(out.stdout) == ["greeting"], out.stderr
            p = b("cp", str(tmp / "no-such-file"), "verbs:/tmp/", ok=False)
            assert p.returncode == 125 and p.stderr.startswith("berth: "), p
        # diff, commit, export, update
        assert "A /tmp/greeting" in b("diff", "verbs").stdout.splitlines()
        image_id = b("commit", "-c", "ENV MADE=commit", "verbs", "committed:v1").stdout.strip()
        assert image_id.startswith("sha256:"), image_id
        if full:
            p = b("run", "--rm", "--network", "none", "committed:v1", "sh", "-c",
                  "cat /tmp/greeting; echo $MADE")
            assert p.stdout == "hello from the host\ncommit\n", p
        b("export", "-o", str(tmp / "fs.tar"), "verbs")
        names = _tar_names((tmp / "fs.tar").read_bytes())
        assert any(n.lstrip("./") == "tmp/greeting" for n in names), names[:20]
        if not refused("update", "update", "--memory", "64m", "verbs"):
            b("update", "--memory", "64m", "--memory-swap", "128m", "--restart", "on-failure:2",
              "verbs")
            p = b("inspect", "-f", "{{.HostConfig.Memory}} {{.HostConfig.RestartPolicy.Name}}",
                  "verbs")
            assert p.stdout.split() == [str(64 << 20), "on-failure"], p
        # build (the context's .dockerignore applied), save, load, import
        ctx = tmp / "ctx"
        ctx.mkdir()
        (ctx / "Dockerfile").write_text(f"FROM {image}\nCOPY . /ctx/\nRUN echo built > /built\n")
        (ctx / "kept").write_text("kept\n")
        (ctx / "secret").write_text("left out\n")
        (ctx / ".dockerignore").write_text("secret\n")
        p = b("build", "--network", "none", "-t", "built:v1", str(ctx))
        assert "Successfully" in p.stdout or "COMMIT" in p.stdout, p.stdout
        if full:
            p = b("run", "--rm", "--network", "none", "built:v1", "sh", "-c",
                  "cat /built /ctx/kept; ls /ctx")
            assert p.stdout.startswith("built\nkept\n") and "secret" not in p.stdout, p
        b("save", "-o", str(tmp / "saved.tar"), "committed:v1")
        assert "manifest.json" in _tar_names((tmp / "saved.tar").read_bytes())
        b("rmi", "committed:v1")
        assert "Loaded image: committed:v1" in b("load", "-i", str(tmp / "saved.tar")).stdout
        p = b("import", "-m", "from a tarball", str(tmp / "fs.tar"), "imported:v1")
        assert p.stdout.strip().startswith("sha256:"), p
        if full:
            p = b("run", "--rm", "--network", "none", "imported:v1", "cat", "/tmp/greeting")
            assert p.stdout == "hello from the host\n", p
        # volumes, networks, disk use
        assert b("volume", "create", "verbvol").stdout.strip() == "verbvol"
        b("volume", "rm", "verbvol")
        b("network", "create", *network_options, "verbnet")
        b("network", "rm", "verbnet")
        if full:
            assert "verbvol" not in b("volume", "ls").stdout
            assert "verbnet" not in b("network", "ls").stdout
        p = b("system", "df")
        assert p.stdout.startswith("TYPE") and "Images" in p.stdout, p
        _registries(b, refused, registry_name)
        if full:
            b("stop", "-t", "0", "verbs")
            assert cid.strip() in b("container", "prune", "-f").stdout
            b("volume", "create", "dangling")
            assert "dangling" in b("volume", "prune", "-a", "-f").stdout
            b("network", "create", *network_options, "unused")
            assert "unused" in b("network", "prune", "-f").stdout
            assert "Total reclaimed space" in b("image", "prune", "-f").stdout
        # an anonymous volume its container left behind (rm without -v)
        b("create", "--name", "anon", "-v", "/data", "--network", "none", image, "true")
        b("rm", "anon")
        p = b("system", "prune", "-f", "--volumes")   # each prune of the engine's in turn
        assert "Total reclaimed space" in p.stdout and "Deleted Volumes:" in p.stdout, p
    finally:
        berth(*target, "rm", "-f", "verbs", env=env)


def _registries(b, refused, registry_name: str) -> None:
    """login on this side, push through the engine with the saved login, search."""
    from registry_server import registry
    with registry(auth="htpasswd") as reg:
        host = f"{registry_name}:{reg.port}"
        p = b("login", "-u", "alice", "--password-stdin", host, input="wrong\n", ok=False)
        assert p.returncode == 125 and p.stderr.startswith("berth: "), p
        p = b("login", "-u", "alice", "--password-stdin", host, input="wonderland\n")
        assert "Login Succeeded" in p.stdout
        b("tag", "imported:v1", f"{host}/pushed:v1")
        b("push", f"{host}/pushed:v1")
        assert reg.skopeo_inspect("pushed:v1")["Name"].endswith("/pushed")
        if not refused("search", "search", f"{host}/pushed"):
            assert "pushed" in b("search", f"{host}/pushed").stdout
