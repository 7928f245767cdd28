"""Fixtures: every test gets its own berth root (and so its own cgroup parent, bridge names and
nftables table), removed with everything it made on the host, pass or fail."""

from __future__ import annotations

import os
import subprocess

import pytest

from helpers import (ALPINE_ROOTFS, BUSYBOX_MUSL, berth, claim_root, cleanup_root,  # noqa: F401
                     release_root, sweep_abandoned_roots, sweep_released_runs)
from rootless_support import loaded_user, rootless_other, rootless_user  # noqa: F401 (one user per session)

if os.geteuid() != 0:  # pragma: no cover
    pytest.exit("berth's tests run as root against the real kernel", returncode=2)


def pytest_sessionstart(session):
    """Roots a killed earlier run left on this host (its bridges, routes, tables) go first, so its
    leftovers cannot fail this run's fixed subnets and names."""
    swept = sweep_abandoned_roots()
    if swept:
        print(f"removed {len(swept)} test roots a killed run left behind")


def pytest_sessionfinish(session):
    """A released root's run directory that came back meanwhile goes too (tests/helpers.py)."""
    again = sweep_released_runs()
    if again:
        print(f"removed {len(again)} run directories made again after their root was released")


@pytest.fixture
def root():
    """A fresh BERTH_ROOT for this test; whatever it made on the host is removed afterwards."""
    d = claim_root("berth-test-")
    try:
        yield d
    finally:
        release_root(d)


@pytest.fixture
def engine(root):
    from engine import Engine
    return Engine(root)


@pytest.fixture
def cli(root):
    """Run the berth CLI against this test's root: ``cli("ps", "-a").stdout``."""
    def run(*args, **kw):
        return berth(root, *args, **kw)
    return run


# --- images (owned by the images area) ------------------------------------------------------------

class ImageRef(str):
    """An image's reference as a test would type it ("busybox:1.38.0-musl"), carrying the
    Image as ``.image`` and its id as ``.id``."""

    image = None
    id = ""


def _image_template(kind: str) -> tuple[str, str]:
    """A root holding only the one image (built once per test process): (root, id)."""
    cache = _image_template.cache  # type: ignore[attr-defined]
    if kind not in cache:
        from engine import Engine
        d = claim_root(f"berth-tmpl-{kind}-")
        e = Engine(d)
        if kind == "busybox":
            img = e.load(str(BUSYBOX_MUSL))[0]
        else:
            img = e.import_image(str(ALPINE_ROOTFS), "alpine:3.20")
            e.tag("alpine:3.20", "alpine:latest")
        cache[kind] = (d, img.id)
    return cache[kind]


_image_template.cache = {}  # type: ignore[attr-defined]


@pytest.fixture(scope="session", autouse=False)
def _image_templates():
    yield
    for d, _ in _image_template.cache.values():  # type: ignore[attr-defined]
        release_root(d)
    _image_template.cache.clear()  # type: ignore[attr-defined]


def _seed_image(root: str, kind: str, name: str) -> ImageRef:
    """Put the template's image into ``root`` with hardlinked blobs and layer files (layers are
    never written through overlay), merging the names into the root's refs.json."""
    import json
    from engine import Engine
    tmpl, image_id = _image_template(kind)
    for sub in ("blobs", "layers", "images"):
        os.makedirs(os.path.join(root, sub), exist_ok=True)
        src = os.path.join(tmpl, sub)
        names = [n for n in os.listdir(src) if n != "refs.json"]
        if names:
            subprocess.run(["cp", "-al", "--no-clobber", *[os.path.join(src, n) for n in names],
                            os.path.join(root, sub)], check=True)
    refs_path = os.path.join(root, "images", "refs.json")
    mine = json.load(open(os.path.join(tmpl, "images", "refs.json")))
    try:
        refs = json.load(open(refs_path))
    except FileNotFoundError:
        refs = {}
    for key in ("tags", "digests"):
        refs.setdefault(key, {}).update(mine.get(key, {}))
    with open(refs_path + ".tmp", "w") as f:
        json.dump(refs, f)
    os.rename(refs_path + ".tmp", refs_path)
    ref = ImageRef(name)
    ref.image = Engine(root).image(image_id)
    ref.id = image_id
    return ref


@pytest.fixture
def busybox(root, _image_templates):
    """busybox:1.38.0-musl (the shared OCI tar) loaded into this test's root; a str reference
    with ``.id`` and ``.image``."""
    return _seed_image(root, "busybox", "busybox:1.38.0-musl")


@pytest.fixture
def alpine(root, _image_templates):
    """The Alpine 3.20.3 minirootfs imported as alpine:3.20 and tagged alpine:latest in this
    test's root; a str reference ("alpine:3.20") with ``.id`` and ``.image``."""
    return _seed_image(root, "alpine", "alpine:3.20")


@pytest.fixture
def run(cli, engine, busybox, alpine):
    """``run("run", "--rm", "busybox", …)``: the CLI, with busybox (also as plain ``busybox``)
    and alpine in the test's root, seeded from the per-worker templates."""
    engine.tag(str(busybox), "busybox")
    return cli


@pytest.fixture
def cg(root):
    """This root's cgroup backend; the resource measurements are made on cgroup v1."""
    from engine.paths import Paths
    from engine.runtime import cgroups
    backend = cgroups.detect(Paths.from_env(root))
    if backend.version != 1:  # pragma: no cover - this suite's host is v1
        pytest.skip("measured on a cgroup v1 host")
    return backend


@pytest.fixture
def loop_device(tmp_path):
    """A 64 MiB loop device on a file in the test's temp dir; detached afterwards."""
    backing = tmp_path / "disk.img"
    with open(backing, "wb") as f:
        f.truncate(64 << 20)
    dev = subprocess.run(["losetup", "-f", "--show", str(backing)], capture_output=True,
                         text=True, check=True).stdout.strip()
    try:
        yield dev
    finally:
        subprocess.run(["losetup", "-d", dev], capture_output=True)
        backing.unlink(missing_ok=True)
