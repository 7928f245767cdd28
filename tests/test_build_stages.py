"""Multi-stage builds: stages by name and index, FROM an earlier stage, FROM scratch, COPY
--from a stage and from an image, --target stopping where it says."""

from __future__ import annotations

import json

import pytest

from build_support import build, build_root, write_tree  # noqa: F401
from helpers import berth

# one root and one build for the module, its tests in order on one worker
pytestmark = pytest.mark.xdist_group("build-stages")

DOCKERFILE = """FROM busybox AS builder
RUN mkdir -p /out && echo built > /out/artifact && ln -s artifact /out/link
FROM alpine:3.20 AS second
COPY --from=builder /out/ /from-builder/
COPY --from=0 /out/artifact /from-index
COPY --from=busybox:1.38.0-musl /bin/busybox /opt/busybox
FROM scratch AS final
COPY --from=second /from-builder /x/
COPY --from=builder /bin/busybox /bin/busybox
ENTRYPOINT ["/bin/busybox"]
CMD ["cat", "/x/artifact"]
FROM second AS later
RUN echo later-stage-ran > /later
"""


@pytest.fixture(scope="module")
def built(build_root, tmp_path_factory):
    ctx = write_tree(str(tmp_path_factory.mktemp("ctx")), {"Dockerfile": DOCKERFILE})
    target = build(build_root, ctx, "--target", "final", "-t", "final:1")
    full = build(build_root, ctx, "-t", "later:1")
    return build_root, ctx, target, full


def test_target_builds_the_stages_up_to_it(built):
    root, _, target, _ = built
    assert "Step 11/11 : CMD" in target.stdout and "later-stage-ran" not in target.stdout
    p = berth(root, "run", "--rm", "--network", "none", "final:1")
    assert p.stdout == "built\n"
    listing = berth(root, "run", "--rm", "--network", "none", "final:1", "ls", "-l", "/x/link"
                    ).stdout
    assert listing.rstrip().endswith("/x/link -> artifact")
    img = json.loads(berth(root, "image", "inspect", "final:1").stdout)[0]
    assert len(img["RootFS"]["Layers"]) == 2      # FROM scratch: its own two COPY layers only


def test_from_an_earlier_stage_and_copy_from_image_and_index(built):
    root, _, _, full = built
    assert "Step 13/13 : RUN echo later-stage-ran > /later" in full.stdout
    # the stages the --target build made are cached for the full build
    assert full.stdout.count(" ---> Using cache") == 8
    out = berth(root, "run", "--rm", "--network", "none", "later:1", "sh", "-c",
                "cat /later /from-index /from-builder/artifact; /opt/busybox echo bb-runs; "
                "cat /etc/alpine-release").stdout.splitlines()
    assert out[:4] == ["later-stage-ran", "built", "built", "bb-runs"]
    assert out[4].startswith("3.20")


def test_from_pulls_a_missing_base_image(build_root, tmp_path):
    from helpers import BUSYBOX_MUSL
    from registry_server import registry
    with registry() as r:
        r.skopeo_copy_in(f"oci-archive:{BUSYBOX_MUSL}", "library/busybox:pulled")
        ref = f"{r.host}/library/busybox:pulled"
        ctx = write_tree(str(tmp_path), {"Dockerfile": f"FROM {ref}\nRUN echo on-pulled\n"})
        p = build(build_root, ctx, "-t", "pulled:1")
        assert "on-pulled" in p.stdout
        assert berth(build_root, "image", "inspect", "--format", "{{.Id}}", ref).stdout.strip()
        p = build(build_root, ctx, "--pull", "-t", "pulled:2")   # pulled again, still cached
        assert p.stdout.count(" ---> Using cache") == 1
