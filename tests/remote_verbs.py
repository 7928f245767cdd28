"""The verbs beyond run/ps/logs/exec, through the CLI against a remote engine (dockerd,
podman's service, berth over ssh): cp both ways, diff, commit, export, update, build, save,
load, import, volume and network create/rm, system df, the prunes, and login, push and search
against a real registry. Shared by test_remote_docker.py, test_remote_podman.py and
test_remote_ssh.py, each with its engine already running."""

from __future__ import annotations

import io
import os
import subprocess
import tarfile

from test_remote_docker import berth


def _tar_names(data: bytes) -> list[str]:
    with tarfile.open(fileobj=io.BytesIO(data)) as t:
        return t.getnames()


def exercise_verbs(target: list[str], tmp, image: str, env=None, network_options=(),
                   lacks: dict[str, str] | None = None, registry_name: str = "127.0.0.1"):
    """Each verb through ``target``; ``lacks``: verb -> the words of its one-line refusal on
    an engine that has no such feature; ``registry_name``: what the engine calls this host's
    registry (podman's login takes plain http only from "localhost")."""
    from registry_server import registry
    lacks = lacks or {}
    env = {**(env or {}), "BERTH_AUTH_FILE": str(tmp / "auth.json")}

    def b(*a, ok=True, **kw):
        p = berth(*target, *a, env=env, **kw)
        if ok:
            assert p.returncode == 0, (a, p.stdout, p.stderr)
        return p

    cid = b("run", "-d", "--name", "verbs", "--network", "none", image, "sleep", "300").stdout
    try:
        # cp: a host file in, under a new name and into a directory; a file out; a tar out
        (tmp / "greeting").write_text("hello from the host\n")
        b("cp", str(tmp / "greeting"), "verbs:/tmp/")
        b("cp", str(tmp / "greeting"), "verbs:/tmp/renamed")
        p = b("exec", "verbs", "cat", "/tmp/greeting", "/tmp/renamed")
        assert p.stdout == "hello from the host\n" * 2, p
        b("cp", "verbs:/tmp/renamed", str(tmp / "back"))
        assert (tmp / "back").read_text() == "hello from the host\n"
        out = subprocess.run(berth_argv(target, "cp", "verbs:/tmp/greeting", "-"),
                             capture_output=True, env=berth_env(env), cwd=REPO_DIR)
        assert out.returncode == 0 and _tar_names(out.stdout) == ["greeting"], out.stderr
        p = b("cp", str(tmp / "no-such-file"), "verbs:/tmp/", ok=False)
        assert p.returncode == 125 and p.stderr.startswith("berth: "), p
        # diff, commit, export, update
        assert "A /tmp/greeting" in b("diff", "verbs").stdout.splitlines()
        image_id = b("commit", "-c", "ENV MADE=commit", "verbs", "committed:v1").stdout.strip()
        assert image_id.startswith("sha256:"), image_id
        p = b("run", "--rm", "--network", "none", "committed:v1", "sh", "-c",
              "cat /tmp/greeting; echo $MADE")
        assert p.stdout == "hello from the host\ncommit\n", p
        b("export", "-o", str(tmp / "fs.tar"), "verbs")
        names = _tar_names((tmp / "fs.tar").read_bytes())
        assert any(n.lstrip("./") == "tmp/greeting" for n in names), names[:20]
        if "update" in lacks:
            p = b("update", "--memory", "64m", "verbs", ok=False)
            assert p.returncode == 125 and lacks["update"] in p.stderr, p
        else:
            b("update", "--memory", "64m", "--memory-swap", "128m", "--restart", "on-failure:2",
              "verbs")
            p = b("inspect", "-f", "{{.HostConfig.Memory}} {{.HostConfig.RestartPolicy.Name}}",
                  "verbs")
            assert p.stdout.split() == [str(64 << 20), "on-failure"], p
        # build, save, load, import
        if True:
            ctx = tmp / "ctx"
            ctx.mkdir()
            (ctx / "Dockerfile").write_text(f"FROM {image}\nCOPY kept /kept\n"
                                            "RUN echo built > /built\n")
            (ctx / "kept").write_text("kept\n")
            (ctx / "secret").write_text("left out\n")
            (ctx / ".dockerignore").write_text("secret\n")
            p = b("build", "--network", "none", "-t", "built:v1", str(ctx))
            assert "Successfully" in p.stdout or "COMMIT" in p.stdout, p.stdout
            p = b("run", "--rm", "--network", "none", "built:v1", "sh", "-c",
                  "cat /built /kept; ls /secret 2>&1 || true")
            assert p.stdout.startswith("built\nkept\n") and "No such file" in p.stdout, p
        b("save", "-o", str(tmp / "saved.tar"), "committed:v1")
        assert "manifest.json" in _tar_names((tmp / "saved.tar").read_bytes())
        b("rmi", "committed:v1")
        p = b("load", "-i", str(tmp / "saved.tar"))
        assert "committed:v1" in p.stdout, p
        p = b("import", "-m", "from a tarball", str(tmp / "fs.tar"), "imported:v1")
        assert p.stdout.strip().startswith("sha256:"), p
        p = b("run", "--rm", "--network", "none", "imported:v1", "cat", "/tmp/greeting")
        assert p.stdout == "hello from the host\n", p
        # volumes and networks
        assert b("volume", "create", "verbvol").stdout.strip() == "verbvol"
        assert "verbvol" in b("volume", "ls").stdout
        b("volume", "rm", "verbvol")
        assert "verbvol" not in b("volume", "ls").stdout
        b("network", "create", *network_options, "verbnet")
        assert "verbnet" in b("network", "ls").stdout
        b("network", "rm", "verbnet")
        assert "verbnet" not in b("network", "ls").stdout
        p = b("system", "df")
        assert p.stdout.startswith("TYPE") and "Images" in p.stdout, p
        # registries: login on this side, push through the engine, search its catalog
        with registry(auth="htpasswd") as reg:
            host = f"{registry_name}:{reg.port}"
            p = b("login", "-u", "alice", "--password-stdin", host, input="wrong\n", ok=False)
            assert p.returncode == 125 and p.stderr.startswith("berth: "), p
            p = b("login", "-u", "alice", "--password-stdin", host, input="wonderland\n")
            assert "Login Succeeded" in p.stdout
            b("tag", "imported:v1", f"{host}/pushed:v1")
            b("push", f"{host}/pushed:v1")
            assert reg.skopeo_inspect(f"pushed:v1")["Name"].endswith("/pushed")
            p = b("search", f"{host}/pushed", ok="search" not in lacks)
            if "search" in lacks:
                assert p.returncode == 125 and lacks["search"] in p.stderr, p
            else:
                assert "pushed" in p.stdout, p
        # prunes
        b("stop", "-t", "0", "verbs")
        assert cid.strip() in b("container", "prune", "-f").stdout
        b("volume", "create", "dangling")
        assert "dangling" in b("volume", "prune", "-a", "-f").stdout
        b("network", "create", *network_options, "unused")
        assert "unused" in b("network", "prune", "-f").stdout
        p = b("image", "prune", "-f")
        assert "Total reclaimed space" in p.stdout, p
        p = b("system", "prune", "-f")
        assert "Total reclaimed space" in p.stdout, p
    finally:
        berth(*target, "rm", "-f", "verbs", env=env)
        berth(*target, "network", "rm", "verbnet", "unused", env=env)


from helpers import REPO as REPO_DIR  # noqa: E402


def berth_argv(target, *args) -> list[str]:
    import sys
    return [sys.executable, "-m", "tui.cli", *target, *args]


def berth_env(env) -> dict:
    full = {k: v for k, v in os.environ.items() if not k.startswith(("BERTH_", "DOCKER_"))}
    full.update(env or {})
    return full
