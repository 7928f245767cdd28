"""``POST /build`` and friends through berth's socket, with the clients people use: the docker CLI
28 (``DOCKER_BUILDKIT=0`` and its default path without buildx), docker-compose 1.29 ``build`` and
``up --build``, docker-py's ``images.build`` (``path=`` and ``fileobj=``) and its streaming
low-level ``build``; raw HTTP for the stream's shape, compressed bodies, bad queries, a client
that goes away (the build is cancelled and leaves nothing) and the BuildKit endpoints."""

from __future__ import annotations

import bz2
import io
import json
import lzma
import os
import shutil
import socket
import subprocess
import tarfile
import time

import pytest

from test_api_support import service  # noqa: F401

COMPOSE = shutil.which("docker-compose")

MULTI_STAGE = """\
FROM busybox AS build
WORKDIR /src
COPY . .
RUN echo built-$(cat data.txt) > /src/out.txt && ls /src
FROM busybox
COPY --from=build /src/out.txt /out.txt
CMD ["cat", "/out.txt"]
"""


@pytest.fixture
def svc(service, busybox):
    """The service with busybox also as plain ``busybox`` (the Dockerfiles' FROM)."""
    service.docker("tag", busybox, "busybox")
    return service


def project(path, dockerfile: str = MULTI_STAGE, **files: str):
    path.mkdir(exist_ok=True)
    (path / "Dockerfile").write_text(dockerfile)
    (path / "data.txt").write_text("data")
    (path / "secret.txt").write_text("secret")
    (path / ".dockerignore").write_text("secret.txt\n")
    for name, text in files.items():
        (path / name).write_text(text)
    return path


def build(svc, ctx, *args: str, buildkit: str | None = "0", check: bool = True):
    env = svc.env()
    env.pop("DOCKER_BUILDKIT", None)
    if buildkit is not None:
        env["DOCKER_BUILDKIT"] = buildkit
    p = subprocess.run(["docker", "build", *args, "."], cwd=ctx, env=env, capture_output=True,
                       text=True, timeout=300)
    if check:
        assert p.returncode == 0, p.stdout + p.stderr
    return p


def test_docker_cli_builds_caches_and_runs(svc, tmp_path):
    ctx = project(tmp_path / "app")
    p = build(svc, ctx, "-t", "app:2")
    steps = [line for line in p.stdout.splitlines() if line.startswith("Step ")]
    assert steps[0] == "Step 1/7 : FROM busybox AS build" and len(steps) == 7
    # the .dockerignore'd file never reached the build
    assert "data.txt" in p.stdout and "secret.txt" not in p.stdout
    assert "Successfully built " in p.stdout and "Successfully tagged app:2" in p.stdout
    assert svc.docker("run", "--rm", "app:2").stdout == "built-data\n"
    # again, by the CLI's default path (no buildx here: it falls back to the legacy builder)
    again = build(svc, ctx, "-t", "app:2", buildkit=None)
    assert "legacy builder is deprecated" in again.stderr
    assert again.stdout.count("Using cache") == 5 and "Running in" not in again.stdout
    built = [line.split()[-1] for line in (p.stdout + again.stdout).splitlines()
             if line.startswith("Successfully built")]
    assert built[0] == built[1]
    # -q prints the image id only; --build-arg, --label and --target reach the engine
    (ctx / "Dockerfile").write_text("FROM busybox AS one\nARG WHO=nobody\nLABEL who=$WHO\n"
                                    "RUN grep -q '10.1.2.3.*myhost' /etc/hosts\n"
                                    "FROM one AS two\nRUN false\n")
    q = build(svc, ctx, "-q", "-t", "app:3", "--build-arg", "WHO=me", "--label", "l=v",
              "--target", "one", "--add-host", "myhost:10.1.2.3")
    assert q.stdout.startswith("sha256:") and len(q.stdout.split()) == 1
    labels = json.loads(svc.docker("inspect", "-f", "{{json .Config.Labels}}", "app:3").stdout)
    assert labels == {"who": "me", "l": "v"}


def test_docker_cli_failing_run_exits_with_its_code(svc, tmp_path):
    ctx = project(tmp_path / "bad", "FROM busybox\nRUN echo going down; exit 3\n")
    p = build(svc, ctx, "-t", "bad", check=False)
    assert p.returncode == 3
    assert "going down" in p.stdout
    assert "returned a non-zero code: 3" in p.stderr
    assert svc.docker("ps", "-aq").stdout == ""   # the step's container is gone
    # with -q the output is held back, and shown when the build fails
    q = build(svc, ctx, "-q", "-t", "bad", check=False)
    assert q.returncode == 3 and "going down" in q.stdout + q.stderr


def test_docker_cli_bad_dockerfile_is_a_400_before_the_stream(svc, tmp_path):
    ctx = project(tmp_path / "bad", "FROM busybox\nFOO bar\n")
    p = build(svc, ctx, check=False)
    assert p.returncode == 1
    assert "Error response from daemon: Dockerfile:2: unknown instruction: FOO" in p.stderr
    assert "Step " not in p.stdout


def test_docker_cli_dockerfile_from_stdin(svc, tmp_path):
    ctx = project(tmp_path / "ctx", "FROM busybox\nRUN false\n")
    env = {**svc.env(), "DOCKER_BUILDKIT": "0"}
    # -f -: the Dockerfile from stdin, the files from the directory
    p = subprocess.run(["docker", "build", "-t", "stdin:1", "-f", "-", "."], cwd=ctx, env=env,
                       input="FROM busybox\nCOPY data.txt /\nCMD [\"cat\", \"/data.txt\"]\n",
                       capture_output=True, text=True, timeout=300)
    assert p.returncode == 0, p.stdout + p.stderr
    assert svc.docker("run", "--rm", "stdin:1").stdout == "data"
    # -: a Dockerfile alone, no context
    p = subprocess.run(["docker", "build", "-t", "stdin:2", "-"], env=env, capture_output=True,
                       input="FROM busybox\nENV FROM_STDIN=yes\n", text=True, timeout=300)
    assert p.returncode == 0, p.stdout + p.stderr
    env_list = svc.docker("inspect", "-f", "{{json .Config.Env}}", "stdin:2").stdout
    assert "FROM_STDIN=yes" in env_list


def _request(svc, method: str, path: str, body: bytes = b"", headers: dict | None = None,
             timeout: float = 120) -> tuple[int, dict, bytes]:
    """One HTTP/1.1 request on the service's socket; (status, headers, decoded body)."""
    import http.client

    class Conn(http.client.HTTPConnection):
        def connect(self):
            self.sock = socket.socket(socket.AF_UNIX)
            self.sock.settimeout(timeout)
            self.sock.connect(svc.path)

    c = Conn("localhost")
    try:
        c.request(method, path, body=body, headers=headers or {})
    except (BrokenPipeError, ConnectionResetError):
        pass   # a bad query is answered before the body is read, as the docker CLI copes with
    r = c.getresponse()
    data = r.read()
    c.close()
    return r.status, dict(r.getheaders()), data


def _tar(files: dict[str, str]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for name, text in files.items():
            data = text.encode()
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def _lines(body: bytes) -> list[dict]:
    return [json.loads(line) for line in body.splitlines() if line.strip()]


@pytest.mark.parametrize("compress", [lambda b: b, bz2.compress, lzma.compress],
                         ids=["identity", "bzip2", "xz"])
def test_raw_stream_shape_and_compressed_bodies(svc, compress):
    body = compress(_tar({"Dockerfile": "FROM busybox\nLABEL a=b\n"}))
    status, headers, data = _request(svc, "POST", "/v1.45/build?t=raw:1&rm=1", body,
                                     {"Content-Type": "application/x-tar",
                                      "X-Registry-Config": "e30="})
    assert status == 200 and headers["Content-Type"] == "application/json"
    lines = _lines(data)
    assert lines[0] == {"stream": "Step 1/2 : FROM busybox\n"}
    aux = [line["aux"]["ID"] for line in lines if "aux" in line]
    assert len(aux) == 1 and aux[0].startswith("sha256:")
    assert lines[-1] == {"stream": "Successfully tagged raw:1\n"}
    assert not any("error" in line for line in lines)


def test_failed_step_ends_the_stream_with_error_detail(svc):
    body = _tar({"Dockerfile": "FROM busybox\nRUN exit 7\n"})
    status, _, data = _request(svc, "POST", "/build", body)
    assert status == 200
    last = _lines(data)[-1]
    assert last["errorDetail"]["code"] == 7 and last["error"] == last["errorDetail"]["message"]


def test_remote_git_context(svc, tmp_path):
    import urllib.parse
    repo = tmp_path / "repo"
    (repo / "app").mkdir(parents=True)
    (repo / "app" / "Dockerfile").write_text("FROM busybox\nLABEL from=git\n")
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@x"]
    for args in (["init", "-q", "-b", "main"], ["add", "."], ["commit", "-q", "-m", "one"]):
        subprocess.run([*git, *args], cwd=repo, check=True, capture_output=True)
    remote = urllib.parse.quote(f"file://{repo}#main:app", safe="")
    status, _, data = _request(svc, "POST", f"/build?t=git:1&remote={remote}")
    assert status == 200 and "Successfully tagged git:1" in data.decode(), data
    labels = svc.docker("inspect", "-f", "{{json .Config.Labels}}", "git:1").stdout
    assert json.loads(labels) == {"from": "git"}


@pytest.mark.parametrize("query,message", [
    ("buildargs=notjson", "error reading build args"),
    ("labels=%5B1%5D", "error reading labels"),
    ("version=2", "buildkit not supported by daemon"),
    ("squash=1", "squash is only supported with experimental mode"),
    ("platform=linux/s390x", "berth builds only for this machine's platform"),
    ("dockerfile=../../etc/passwd", "must be within the build context"),
    ("dockerfile=Nope", "Cannot locate specified Dockerfile: Nope"),
])
def test_bad_requests_answer_docker_errors(svc, query, message):
    status, _, data = _request(svc, "POST", f"/build?{query}",
                               _tar({"Dockerfile": "FROM busybox\n"}))
    assert status in (400, 404), data
    assert message in json.loads(data)["message"]


def test_buildkit_endpoints_are_refused_and_ping_says_classic(svc):
    status, _, data = _request(svc, "POST", "/session")
    assert status == 400 and "DOCKER_BUILDKIT=0" in json.loads(data)["message"]
    _, headers, _ = _request(svc, "GET", "/_ping")
    assert headers["Builder-Version"] == "1"
    status, _, data = _request(svc, "POST", "/build/prune?all=1")
    assert status == 200 and set(json.loads(data)) == {"CachesDeleted", "SpaceReclaimed"}


def test_client_going_away_cancels_the_build(svc, root):
    body = _tar({"Dockerfile": "FROM busybox\nRUN echo running; sleep 60\n"})
    s = socket.socket(socket.AF_UNIX)
    s.settimeout(60)
    s.connect(svc.path)
    s.sendall(b"POST /build?t=never HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-tar\r\n"
              b"Content-Length: %d\r\n\r\n" % len(body) + body)
    seen = b""
    deadline = time.monotonic() + 60
    while b'{"stream": "running\\n"}' not in seen and time.monotonic() < deadline:
        seen += s.recv(65536)
    assert b'{"stream": "running\\n"}' in seen   # the RUN's own output: it is running
    s.close()
    # the RUN's container goes, no image is made, the context is removed
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if svc.docker("ps", "-aq").stdout == "" and \
                not [n for n in os.listdir(os.path.join(root, "tmp"))
                     if n.startswith("berth-api-build-")]:
            break
        time.sleep(0.2)
    assert svc.docker("ps", "-aq").stdout == ""
    assert [n for n in os.listdir(os.path.join(root, "tmp")) if n.startswith("berth-api-build-")] \
        == []
    assert svc.docker("images", "-q", "never").stdout == ""


def test_docker_py_build_path_fileobj_and_stream(svc, tmp_path):
    import docker
    ctx = project(tmp_path / "py")
    client = docker.DockerClient(base_url=svc.url, version="auto", timeout=120)
    try:
        image, logs = client.images.build(path=str(ctx), tag="py:1", rm=True)
        assert "py:1" in image.tags
        assert any("Successfully built" in chunk.get("stream", "") for chunk in logs)
        assert client.containers.run("py:1", remove=True) == b"built-data\n"
        image, _ = client.images.build(fileobj=io.BytesIO(b"FROM busybox\nENV K=v\n"),
                                       tag="py:2")
        assert "K=v" in image.attrs["Config"]["Env"]
        chunks = list(client.api.build(path=str(ctx), tag="py:3", decode=True,
                                       buildargs={"UNUSED": "x"}))
        streams = [c["stream"] for c in chunks if "stream" in c]
        assert streams[0].startswith("Step 1/7") and streams[-1] == "Successfully tagged py:3\n"
        assert any("UNUSED" in s for s in streams)   # Docker's warning of an unused build-arg
    finally:
        client.close()


COMPOSE_PROJECT = """\
version: "3.8"
services:
  api:
    build: ./api
    image: demo-api:dev
    command: ["sh", "-c", "cat /msg; sleep 60"]
  worker:
    build:
      context: ./worker
      dockerfile: Worker.Dockerfile
      args: {GREETING: hi}
    command: ["sh", "-c", "cat /msg; sleep 60"]
"""


def test_compose_build_and_up_build(svc, tmp_path):
    (tmp_path / "api").mkdir()
    (tmp_path / "api" / "Dockerfile").write_text("FROM busybox\nRUN echo api > /msg\n")
    (tmp_path / "worker").mkdir()
    (tmp_path / "worker" / "Worker.Dockerfile").write_text(
        "FROM busybox\nARG GREETING=none\nRUN echo worker-$GREETING > /msg\n")
    (tmp_path / "docker-compose.yml").write_text(COMPOSE_PROJECT)

    def compose(*args: str) -> subprocess.CompletedProcess:
        p = subprocess.run([COMPOSE, "-p", "demo", *args], cwd=tmp_path, env=svc.env(),
                           capture_output=True, text=True, timeout=300)
        assert p.returncode == 0, p.stdout + p.stderr
        return p

    try:
        out = compose("build").stdout
        assert "Successfully tagged demo-api:dev" in out
        assert "Successfully tagged demo_worker:latest" in out
        (tmp_path / "api" / "Dockerfile").write_text("FROM busybox\nRUN echo api2 > /msg\n")
        compose("up", "-d", "--build")
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            logs = compose("logs", "--no-color").stdout
            if "api2" in logs and "worker-hi" in logs:
                break
            time.sleep(0.3)
        assert "api2" in logs and "worker-hi" in logs
    finally:
        subprocess.run([COMPOSE, "-p", "demo", "down", "-t", "0"], cwd=tmp_path,
                       env=svc.env(), capture_output=True, timeout=120)
