"""berth build of one Dockerfile using every config instruction, COPY's forms and RUN's, on
busybox: the image's config, its files, its history and the CLI's output, read from one build."""

from __future__ import annotations

import json
import re

import pytest

from build_support import build, build_root, leftovers, run_in, write_tree  # noqa: F401
from helpers import berth

# one root and one build for the module, its tests in order on one worker
pytestmark = pytest.mark.xdist_group("build-run")

DOCKERFILE = r"""# syntax=docker/dockerfile:1
ARG BASE=busybox:1.38.0-musl
FROM ${BASE} AS base
LABEL test.kind="every instruction" "multi.word"="a b"
MAINTAINER Test Person <t@example.com>
ARG GREETING=hello
ARG UNSET_ARG
ENV APP_HOME=/srv/app \
    MODE=prod
WORKDIR $APP_HOME
COPY --chown=1234:2345 --chmod=640 files/a.txt ./renamed.txt
COPY files/ data/
COPY files/*.md docs/
COPY --link files/a.txt /tmp
COPY <<EOF /etc/motd
welcome ${APP_HOME}
EOF
RUN echo "$GREETING from $(pwd) as $(id -u)" > greeting.txt && echo streamed-output-line
RUN ["sh", "-c", "echo exec-form > exec.txt"]
RUN echo "proxy=$http_proxy" > proxy.txt
RUN <<EOT
set -e
mkdir -p /srv/heredoc
echo "script $MODE" > /srv/heredoc/out
EOT
SHELL ["/bin/sh", "-ec"]
RUN ln -s renamed.txt link.txt && mkdir -p /var/lib/appdata
WORKDIR sub/dir
USER 1234:2345
EXPOSE 8080 9000/udp
VOLUME ["/var/lib/appdata"]
HEALTHCHECK --interval=5s --timeout=2s --retries=4 CMD cat /srv/app/greeting.txt
STOPSIGNAL SIGQUIT
ONBUILD RUN echo child-trigger > /tmp/trigger.txt
ENTRYPOINT ["/bin/sh", "-c"]
CMD ["cat /srv/app/greeting.txt"]
"""


@pytest.fixture(scope="module")
def built(build_root, tmp_path_factory):
    ctx = write_tree(str(tmp_path_factory.mktemp("ctx")), {
        "Dockerfile": DOCKERFILE,
        "files/a.txt": ("alpha\n", 0o644),
        "files/b.md": "bravo\n",
        "files/sub/c.md": "charlie\n",
        "files/tool.sh": ("#!/bin/sh\necho tool\n", 0o755),
        "files/link": ("->", "a.txt"),
    })
    p = build(build_root, ctx, "-t", "every:1", "-t", "every:2", "--build-arg", "GREETING=hi",
              "--build-arg", "NOT_USED=1", "--label", "extra=1",
              "--build-arg", "http_proxy=http://127.0.0.1:3128")
    img = json.loads(berth(build_root, "image", "inspect", "every:1").stdout)[0]
    return build_root, p, img


def test_config_is_what_the_instructions_say(built):
    _, _, img = built
    c = img["Config"]
    assert "APP_HOME=/srv/app" in c["Env"] and "MODE=prod" in c["Env"]
    assert not any(e.startswith(("GREETING=", "NOT_USED=")) for e in c["Env"])
    assert c["WorkingDir"] == "/srv/app/sub/dir"
    assert c["User"] == "1234:2345"
    assert c["Entrypoint"] == ["/bin/sh", "-c"]
    assert c["Cmd"] == ["cat /srv/app/greeting.txt"]
    assert c["Labels"] == {"test.kind": "every instruction", "multi.word": "a b", "extra": "1"}
    assert set(c["ExposedPorts"]) == {"8080/tcp", "9000/udp"}
    assert set(c["Volumes"]) == {"/var/lib/appdata"}
    assert c["Healthcheck"] == {"Test": ["CMD-SHELL", "cat /srv/app/greeting.txt"],
                                "Interval": 5_000_000_000, "Timeout": 2_000_000_000,
                                "Retries": 4}
    assert c["StopSignal"] == "SIGQUIT"
    assert c["OnBuild"] == ["RUN echo child-trigger > /tmp/trigger.txt"]
    assert c["Shell"] == ["/bin/sh", "-ec"]
    assert img["Author"] == "Test Person <t@example.com>"
    assert {"every:1", "every:2"} <= {t.split("/")[-1] for t in img["RepoTags"]}


def test_files_are_where_copy_and_run_put_them(built):
    root, _, _ = built
    out = run_in(root, "every:1", (
        "cd /srv/app && stat -c '%n %a %u %g' renamed.txt data data/a.txt data/tool.sh "
        "data/sub/c.md docs/b.md /tmp/a.txt sub/dir /etc/motd; readlink data/link; readlink link.txt; "
        "cat greeting.txt exec.txt /srv/heredoc/out /etc/motd; ls docs; ls data; "
        "cat proxy.txt"))
    lines = out.splitlines()
    assert lines[:9] == ["renamed.txt 640 1234 2345", "data 755 0 0", "data/a.txt 644 0 0",
                         "data/tool.sh 755 0 0", "data/sub/c.md 644 0 0", "docs/b.md 644 0 0",
                         "/tmp/a.txt 644 0 0", "sub/dir 755 0 0", "/etc/motd 644 0 0"]
    assert lines[9:11] == ["a.txt", "renamed.txt"]
    assert lines[11:15] == ["hi from /srv/app as 0", "exec-form", "script prod",
                            "welcome /srv/app"]
    # a glob copies the files it matches (not into directories of their own); a directory's
    # contents are copied, its symlinks as symlinks
    assert lines[15:21] == ["b.md", "a.txt", "b.md", "link", "sub", "tool.sh"]
    # Docker's predefined proxy args reach RUN without an ARG
    assert lines[21:] == ["proxy=http://127.0.0.1:3128"]


def test_the_image_runs_with_its_entrypoint_and_cmd(built):
    root, _, _ = built
    assert berth(root, "run", "--rm", "--network", "none", "every:1").stdout == \
        "hi from /srv/app as 0\n"


def test_output_reads_like_docker_build(built):
    _, p, img = built
    out = p.stdout
    steps = [line for line in out.splitlines() if line.startswith("Step ")]
    assert steps[0] == "Step 1/29 : ARG BASE=busybox:1.38.0-musl"
    assert steps[1] == "Step 2/29 : FROM ${BASE} AS base"
    assert steps[-1] == 'Step 29/29 : LABEL "extra"="1"'
    assert 'Step 14/29 : RUN echo "$GREETING from $(pwd) as $(id -u)" > greeting.txt && ' \
           'echo streamed-output-line' in steps
    assert " ---> Running in " in out and "\nstreamed-output-line\n" in out
    # as moby's classic builder: the removal on a line of its own, then the new layer
    assert re.search(r"\nstreamed-output-line\nRemoving intermediate container [0-9a-f]{12}\n"
                     r" ---> [0-9a-f]{12}\n", out), out
    assert "[Warning] One or more build-args [NOT_USED] were not consumed" in out
    short = img["Id"][7:19]
    assert out.endswith(f"Successfully built {short}\nSuccessfully tagged every:1\n"
                        "Successfully tagged every:2\n")


def test_history_reads_like_dockers(built):
    root, _, _ = built
    hist = berth(root, "history", "--no-trunc", "--format", "{{.CreatedBy}}", "every:1"
                 ).stdout.splitlines()
    assert "/bin/sh -c #(nop)  ENV APP_HOME=/srv/app MODE=prod" in hist
    assert "/bin/sh -c #(nop) WORKDIR /srv/app" in hist
    assert '|1 GREETING=hi /bin/sh -c echo "$GREETING from $(pwd) as $(id -u)" > ' \
           "greeting.txt && echo streamed-output-line" in hist
    assert "|1 GREETING=hi sh -c echo exec-form > exec.txt" in hist
    assert any(h.startswith("/bin/sh -c #(nop) COPY file:") and h.endswith(
        " in /srv/app/renamed.txt ") for h in hist)
    assert any(h.startswith("/bin/sh -c #(nop) COPY dir:") for h in hist)
    assert "/bin/sh -ec #(nop)  USER 1234:2345" in hist
    assert '|1 GREETING=hi /bin/sh -c echo "proxy=$http_proxy" > proxy.txt' in hist
    assert '/bin/sh -ec #(nop)  CMD ["cat /srv/app/greeting.txt"]' in hist


def test_onbuild_triggers_run_in_the_child_build(built, tmp_path):
    root, _, _ = built
    ctx = write_tree(str(tmp_path), {"Dockerfile": "FROM every:1\nRUN cat /tmp/trigger.txt\n"})
    p = build(root, ctx, "-t", "child:1")
    assert "# Executing 1 build trigger" in p.stdout
    assert "child-trigger" in p.stdout
    img = json.loads(berth(root, "image", "inspect", "child:1").stdout)[0]
    assert not img["Config"].get("OnBuild")


def test_nothing_is_left_behind(built):
    root, _, _ = built
    assert leftovers(root)["containers"] == []
    assert [n for n in leftovers(root)["tmp"] if n.startswith(("build-", "img-"))] == []
    # every layer the build made is an image's or the cache's: nothing for check to call orphan
    assert "no problems found" in berth(root, "system", "check").stdout
