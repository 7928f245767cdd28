"""berth's CLI as a client of podman's Docker-compatible service on a private socket (private
storage; its containers' rlimits under this host's hard limits), and a service killed while a
client follows its logs."""

from __future__ import annotations

import signal
import subprocess
import sys

import pytest

from helpers import REPO
from remote_engines import podman_service, wait_for
from test_remote_docker import berth, exercise

pytestmark = pytest.mark.xdist_group("remote-podman")


@pytest.fixture(scope="module")
def podman_host():
    with podman_service() as (url, tmp, proc):
        yield url, proc


def test_every_other_verb_through_podman(podman_host, tmp_path):
    from remote_verbs import exercise_verbs
    url, _ = podman_host
    # podman 4.3's compat API has no update (4.4 has), and its search does not use the
    # X-Registry-Auth it is sent (its push does)
    exercise_verbs(["-H", url], tmp_path, "docker.io/library/busybox:musl",
                   lacks={"update": "has no POST /containers/verbs/update in its API",
                          "search": "authentication required"},
                   registry_name="localhost")


def test_cli_through_podman_and_a_killed_service(podman_host):
    """Last in this file: it kills the service."""
    import engine
    url, proc = podman_host
    if True:
        info = engine.connect(url).engine_info()
        assert info.kind == "podman" and info.label().startswith("Podman "), info
        exercise(["-H", url], image="docker.io/library/busybox:musl")
        p = berth("-H", url, "run", "-d", "--name", "talker", "--network", "none",
                  "docker.io/library/busybox:musl", "sh", "-c",
                  "while :; do echo tick; sleep 0.2; done")
        assert p.returncode == 0, p.stderr
        import os
        env = {k: v for k, v in os.environ.items() if not k.startswith(("BERTH_", "DOCKER_"))}
        follower = subprocess.Popen([sys.executable, "-m", "tui.cli", "-H", url, "logs", "-f",
                                     "talker"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                    cwd=REPO, env=env)
        try:
            assert follower.stdout.readline() == b"tick\n"
            proc.send_signal(signal.SIGKILL)   # the host goes away mid-session
            proc.wait()
            wait_for(lambda: follower.poll() is not None, 20, "the follower to notice")
            err = follower.stderr.read().decode()
            assert follower.returncode == 125 and err.startswith("berth: ") \
                and err.count("\n") == 1, (follower.returncode, err)
        finally:
            if follower.poll() is None:
                follower.kill()
            follower.wait()
        p = berth("-H", url, "ps")
        assert p.returncode == 125 and "cannot reach" in p.stderr, p
