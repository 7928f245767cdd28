"""The image verbs as a user runs them: load, import, images, inspect, tag, rmi, history, prune,
save, and the store they leave behind."""

from __future__ import annotations

import json
import lzma
import os
import subprocess

import pytest
import zstandard

from helpers import ALPINE_ROOTFS, BUSYBOX_GLIBC, BUSYBOX_MUSL

BUSYBOX_ID = "sha256:654fc8fd836e35f4a64586bddf8f59b9029b48cf80f520834c6c98ca8ab5def9"
BUSYBOX_LAYER = "sha256:5c3b447848a98e48dce106cb3e6acbd4fb6f9b26ee778798137349ce01f4d3c1"
BUSYBOX_DIFF = "sha256:0f8918d0fe4f272ce8acece89916a9ba0b240584d3c1dd1943f343f69b0d0ffb"


def store_files(root: str) -> tuple[list[str], list[str], list[str]]:
    """(blobs, layers, image records) in the root."""
    return (sorted(os.listdir(os.path.join(root, "blobs", "sha256"))),
            sorted(os.listdir(os.path.join(root, "layers"))),
            sorted(n for n in os.listdir(os.path.join(root, "images")) if n != "refs.json"))


def rows(stdout: str) -> list[list[str]]:
    return [line.split() for line in stdout.strip().splitlines()[1:]]


def test_load_busybox_then_images_lists_it(cli, root):
    p = cli("load", "-i", str(BUSYBOX_MUSL))
    assert p.stdout.strip() == "Loaded image: busybox:1.38.0-musl"
    out = cli("images").stdout
    header = out.splitlines()[0]
    assert [c.strip() for c in header.split("  ") if c.strip()] == \
        ["REPOSITORY", "TAG", "IMAGE ID", "CREATED", "SIZE"]
    (row,) = rows(out)
    assert row[:3] == ["busybox", "1.38.0-musl", "654fc8fd836e"]
    assert row[-1] == "1.53MB"
    assert cli("images", "-q").stdout.split() == ["654fc8fd836e"]
    assert cli("images", "-q", "--no-trunc").stdout.split() == [BUSYBOX_ID]
    assert cli("image", "ls", "-q").stdout.split() == ["654fc8fd836e"]
    blobs, layers, records = store_files(root)
    assert BUSYBOX_ID[7:] in blobs and BUSYBOX_LAYER[7:] in blobs
    assert len(blobs) == 3 and len(layers) == 1 and records == [BUSYBOX_ID[7:] + ".json"]
    assert layers == [BUSYBOX_DIFF[7:]]  # one layer: chain id = diff id
    # the unpacked layer is busybox
    diff = os.path.join(root, "layers", layers[0], "diff")
    assert os.path.samefile(os.path.join(diff, "bin", "sh"), os.path.join(diff, "bin", "busybox"))


def test_images_json_and_digests_and_filter(cli, busybox, alpine):
    lines = [json.loads(l) for l in cli("images", "--format", "json").stdout.splitlines()]
    by_tag = {(l["Repository"], l["Tag"]): l for l in lines}
    assert set(by_tag) == {("busybox", "1.38.0-musl"), ("alpine", "3.20"), ("alpine", "latest")}
    assert by_tag[("busybox", "1.38.0-musl")]["ID"] == "654fc8fd836e"
    out = cli("images", "--digests").stdout
    assert out.splitlines()[0].split()[:3] == ["REPOSITORY", "TAG", "DIGEST"]
    assert [r[:2] for r in rows(cli("images", "alpine").stdout)] == \
        [["alpine", "3.20"], ["alpine", "latest"]]
    assert [r[:2] for r in rows(cli("images", "alpine:latest").stdout)] == [["alpine", "latest"]]
    assert cli("images", "--format", "bogus", check=False).returncode == 125
    assert sorted(cli("images", "--format", "{{.Repository}}:{{.Tag}} {{.ID}}").stdout
                  .splitlines()) == ["alpine:3.20 " + alpine.id[7:19],
                                     "alpine:latest " + alpine.id[7:19],
                                     "busybox:1.38.0-musl 654fc8fd836e"]
    assert cli("images", "-q", "--filter", "reference=busy*").stdout.split() == ["654fc8fd836e"]
    assert cli("images", "-q", "-f", "dangling=true").stdout == ""
    assert cli("images", "-f", "bogus=1", check=False).returncode == 125


def test_import_alpine_has_its_files_and_config(cli, engine, root, tmp_path):
    image_id = cli("import", str(ALPINE_ROOTFS), "myalpine:1", "-c", 'CMD ["/bin/sh", "-l"]',
                   "--change", "ENV A=1 B=two", "-c", "WORKDIR /srv", "-c", "EXPOSE 80 53/udp",
                   "-c", "USER nobody", "-c", "ENTRYPOINT echo hi", "-c", 'LABEL x="y z"',
                   "-m", "from the shared tarball").stdout.strip()
    assert image_id.startswith("sha256:") and len(image_id) == 71
    img = engine.image("myalpine:1")
    assert img.id == image_id
    (layer,) = engine.image_layer_dirs(img)
    with open(os.path.join(layer, "etc", "alpine-release")) as f:
        assert f.read().strip() == "3.20.3"
    (doc,) = json.loads(cli("image", "inspect", "myalpine:1").stdout)
    cfg = doc["Config"]
    assert cfg["Cmd"] == ["/bin/sh", "-l"]
    assert cfg["Env"] == ["A=1", "B=two"]
    assert cfg["WorkingDir"] == "/srv" and cfg["User"] == "nobody"
    assert cfg["ExposedPorts"] == {"80/tcp": {}, "53/udp": {}}
    assert cfg["Entrypoint"] == ["/bin/sh", "-c", "echo hi"]
    assert cfg["Labels"] == {"x": "y z"}
    assert doc["RepoTags"] == ["myalpine:1"] and doc["Os"] == "linux"
    assert doc["Architecture"] == "amd64"
    assert doc["RootFS"]["Type"] == "layers" and len(doc["RootFS"]["Layers"]) == 1
    assert doc["Size"] == img.size > 7_000_000
    hist = cli("history", "myalpine:1").stdout
    assert "from the shared tarball" in hist and image_id[7:19] in hist
    # the blob kept for save/push is the gzip as it came (never the uncompressed tarball)
    import hashlib
    assert img.layers == ["sha256:" + hashlib.sha256(ALPINE_ROOTFS.read_bytes()).hexdigest()]
    assert img.layer_media_types == ["application/vnd.oci.image.layer.v1.tar+gzip"]


def test_bad_change_is_refused(cli, tmp_path):
    p = cli("import", str(ALPINE_ROOTFS), "x", "-c", "RUN rm -rf /", check=False)
    assert p.returncode == 125 and "RUN is not a valid change command" in p.stderr


@pytest.mark.parametrize("kind", ["plain", "xz", "zstd"])
def test_import_from_stdin_in_every_compression(kind, cli, engine, tmp_path):
    plain = subprocess.run(["gzip", "-dc", str(ALPINE_ROOTFS)], capture_output=True,
                           check=True).stdout
    data = {"plain": plain, "xz": lzma.compress(plain, preset=0),
            "zstd": zstandard.ZstdCompressor().compress(plain)}[kind]
    from helpers import BERTH, REPO
    proc = subprocess.run([*BERTH, "import", "-", f"fromstdin:{kind}"], input=data,
                          capture_output=True, env={**os.environ, "BERTH_ROOT": engine.paths.root},
                          cwd=REPO)
    assert proc.returncode == 0, proc.stderr
    image_id = proc.stdout.decode().strip()
    img = engine.image(f"fromstdin:{kind}")
    assert img.id == image_id
    import hashlib
    assert img.diff_ids == ["sha256:" + hashlib.sha256(plain).hexdigest()]
    (layer,) = engine.image_layer_dirs(img)
    assert open(os.path.join(layer, "etc", "alpine-release")).read().strip() == "3.20.3"


def test_inspect_is_docker_shaped(cli, busybox):
    (doc,) = json.loads(cli("image", "inspect", "busybox:1.38.0-musl").stdout)
    for key in ("Id", "RepoTags", "RepoDigests", "Created", "Architecture", "Os", "Size",
                "Config", "RootFS"):
        assert key in doc, key
    assert doc["Id"] == BUSYBOX_ID
    assert doc["RepoTags"] == ["busybox:1.38.0-musl"]
    assert doc["Created"] == "2026-05-13T02:21:49Z"
    assert doc["Config"]["Cmd"] == ["sh"]
    assert doc["RootFS"] == {"Type": "layers", "Layers": [BUSYBOX_DIFF]}
    assert doc["Size"] == 1532848
    p = cli("image", "inspect", "nope", check=False)
    assert p.returncode == 1 and "No such image: nope" in p.stderr


def test_resolve_by_id_prefix_digest_and_full_name(engine, busybox):
    for ref in ("654fc8fd836e", "654f", BUSYBOX_ID, BUSYBOX_ID[7:],
                "docker.io/library/busybox:1.38.0-musl", "library/busybox:1.38.0-musl"):
        assert engine.image(ref).id == BUSYBOX_ID, ref
    from engine.errors import NotFound
    for ref in ("busybox", "busybox:latest", "ffff", "sha256:ffff"):
        with pytest.raises(NotFound, match="No such image"):
            engine.image(ref)


def test_tag_untag_and_delete(cli, root, busybox):
    cli("tag", "busybox:1.38.0-musl", "mybox")
    cli("tag", "654fc8fd836e", "localhost:5000/team/box:v1")
    names = {(r[0], r[1]) for r in rows(cli("images").stdout)}
    assert names == {("busybox", "1.38.0-musl"), ("mybox", "latest"),
                     ("localhost:5000/team/box", "v1")}
    # by id while several names point at it: refused without force
    p = cli("rmi", "654fc8fd836e", check=False)
    assert p.returncode == 1 and "referenced in multiple repositories" in p.stderr
    assert cli("rmi", "mybox").stdout.strip() == "Untagged: mybox:latest"
    assert cli("rmi", "busybox:1.38.0-musl").stdout.strip() == "Untagged: busybox:1.38.0-musl"
    blobs, layers, records = store_files(root)
    assert len(layers) == 1 and len(records) == 1  # a name is left: nothing deleted
    out = cli("rmi", "localhost:5000/team/box:v1").stdout.splitlines()
    assert out == ["Untagged: localhost:5000/team/box:v1", f"Deleted: {BUSYBOX_ID}"]
    assert store_files(root) == ([], [], [])
    assert cli("images", "-q").stdout == ""
    p = cli("rmi", "busybox:1.38.0-musl", check=False)
    assert p.returncode == 1 and "No such image" in p.stderr


def test_tag_refuses_bad_targets(cli, busybox):
    p = cli("tag", "busybox:1.38.0-musl", "Bad/Name", check=False)
    assert p.returncode == 125 and "must be lowercase" in p.stderr
    p = cli("tag", "busybox:1.38.0-musl", f"x@{BUSYBOX_ID}", check=False)
    assert p.returncode == 125 and "digest" in p.stderr
    p = cli("tag", "nothere", "x", check=False)
    assert p.returncode == 125 and "No such image: nothere" in p.stderr


def test_shared_layers_are_kept_while_used(cli, engine, root):
    a = cli("import", str(ALPINE_ROOTFS), "one", "-c", "CMD sh").stdout.strip()
    b = cli("import", str(ALPINE_ROOTFS), "two", "-c", "CMD ls").stdout.strip()
    assert a != b
    assert engine.image("one").chain_ids == engine.image("two").chain_ids
    blobs, layers, records = store_files(root)
    assert len(layers) == 1 and len(records) == 2
    assert len(blobs) == 1 + 2 * 2  # the shared layer tarball, a config and manifest each
    cli("rmi", "one")
    _, layers, records = store_files(root)
    assert len(layers) == 1 and len(records) == 1
    (diff,) = engine.image_layer_dirs(engine.image("two"))
    assert os.path.exists(os.path.join(diff, "etc", "alpine-release"))
    cli("rmi", "two")
    assert store_files(root) == ([], [], [])


def test_rmi_of_everything_leaves_no_blobs_and_no_layers(cli, root):
    cli("load", "-i", str(BUSYBOX_MUSL))
    cli("load", "-i", str(BUSYBOX_GLIBC))
    cli("import", str(ALPINE_ROOTFS), "alpine:3.20")
    cli("tag", "alpine:3.20", "alpine:latest")
    ids = cli("images", "-q").stdout.split()
    assert len(ids) == 3
    for ref in cli("images", "--format", "json").stdout.splitlines():
        r = json.loads(ref)
        cli("rmi", f"{r['Repository']}:{r['Tag']}")
    assert cli("images", "-q").stdout == ""
    assert store_files(root) == ([], [], [])
    assert os.listdir(os.path.join(root, "tmp")) == []


def test_image_used_by_a_container_is_kept_unless_forced(cli, root, busybox):
    cid = cli("create", "--network", "none", busybox, "true").stdout.strip()
    p = cli("rmi", "busybox:1.38.0-musl", check=False)
    assert p.returncode == 1
    assert f"container {cid[:12]} is using its referenced image 654fc8fd836e" in p.stderr
    p = cli("rmi", "654fc8fd836e", check=False)
    assert p.returncode == 1 and "being used by stopped container" in p.stderr
    # forced: the name goes, the layers stay for the container
    assert cli("rmi", "-f", "busybox:1.38.0-musl").stdout.strip() == \
        "Untagged: busybox:1.38.0-musl"
    _, layers, records = store_files(root)
    assert len(layers) == 1 and len(records) == 1
    assert cli("image", "prune", "-a", "-f").stdout.strip() == "Total reclaimed space: 0B"
    # the container still runs from the kept layers
    assert cli("start", "-a", cid).returncode == 0
    cli("rm", cid)
    out = cli("image", "prune", "-f").stdout
    assert f"deleted: {BUSYBOX_ID}" in out and "1.53MB" in out
    assert store_files(root) == ([], [], [])


def test_running_container_image_cannot_be_forced(cli, root, busybox):
    cid = cli("run", "-d", "--network", "none", busybox, "sleep", "600").stdout.strip()
    try:
        p = cli("rmi", "-f", "654fc8fd836e", check=False)
        assert p.returncode == 1 and "cannot be forced" in p.stderr
        assert f"running container {cid[:12]}" in p.stderr
        assert cli("images", "-q").stdout.split() == ["654fc8fd836e"]
    finally:
        cli("rm", "-f", cid)
    out = cli("rmi", "654fc8fd836e").stdout.splitlines()
    assert out[-1] == f"Deleted: {BUSYBOX_ID}"
    assert store_files(root) == ([], [], [])


def test_prune_removes_dangling_only_unless_all(cli, engine, busybox, alpine):
    dangling = cli("import", str(ALPINE_ROOTFS), "-c", "CMD true").stdout.strip()
    assert [r[:2] for r in rows(cli("images").stdout) if r[2] == dangling[7:19]] == \
        [["<none>", "<none>"]]
    out = cli("image", "prune", "-f").stdout
    assert f"deleted: {dangling}" in out
    assert "Total reclaimed space: 0B" in out  # its layer is shared with alpine
    assert len(cli("images", "-q").stdout.split()) == 2
    cli("image", "prune", "-a", "-f")
    assert cli("images", "-q").stdout == ""


def test_history(cli, busybox):
    out = cli("history", "busybox:1.38.0-musl").stdout.splitlines()
    assert out[0].split() == ["IMAGE", "CREATED", "CREATED", "BY", "SIZE", "COMMENT"]
    assert out[1].startswith("654fc8fd836e") and "BusyBox 1.38.0 (musl)" in out[1]
    assert "1.53MB" in out[1]
    assert cli("history", "-q", "busybox:1.38.0-musl").stdout.split() == ["654fc8fd836e"]
    (row,) = [json.loads(l) for l in cli("history", "--format", "json",
                                         "busybox:1.38.0-musl").stdout.splitlines()]
    assert row["Id"] == BUSYBOX_ID and row["Size"] == 1532848


@pytest.mark.parametrize("fmt", ["oci-archive", "docker-archive"])
def test_save_then_load_round_trips(fmt, cli, engine, root, tmp_path, busybox, alpine):
    before = {i.id: (i.diff_ids, i.config, i.repo_tags) for i in engine.images()}
    archive = str(tmp_path / "all.tar")
    cli("save", "--format", fmt, "-o", archive, "busybox:1.38.0-musl", "alpine:3.20")
    for ref in ("busybox:1.38.0-musl", "alpine:3.20", "alpine:latest"):
        cli("rmi", ref)
    assert store_files(root) == ([], [], [])
    out = cli("load", "-i", archive).stdout.splitlines()
    assert sorted(out) == ["Loaded image: alpine:3.20", "Loaded image: busybox:1.38.0-musl"]
    after = {i.id: (i.diff_ids, i.config, i.repo_tags) for i in engine.images()}
    assert after[busybox.id] == before[busybox.id]
    assert after[alpine.id][:2] == before[alpine.id][:2]
    assert after[alpine.id][2] == ["docker.io/library/alpine:3.20"]
    (diff,) = engine.image_layer_dirs(engine.image("alpine:3.20"))
    assert open(os.path.join(diff, "etc", "alpine-release")).read().strip() == "3.20.3"


def test_save_to_stdout_and_load_from_stdin(cli, root, tmp_path, busybox):
    from helpers import BERTH, REPO
    env = {**os.environ, "BERTH_ROOT": root}
    data = subprocess.run([*BERTH, "save", "busybox:1.38.0-musl"], capture_output=True,
                          env=env, cwd=REPO, check=True).stdout
    assert len(data) > 800_000
    cli("rmi", "busybox:1.38.0-musl")
    p = subprocess.run([*BERTH, "load"], input=data, capture_output=True, env=env, cwd=REPO)
    assert p.returncode == 0, p.stderr
    assert p.stdout.decode().strip() == "Loaded image: busybox:1.38.0-musl"
    assert cli("images", "-q").stdout.split() == ["654fc8fd836e"]


def test_load_refuses_what_is_not_an_archive(cli, root, tmp_path):
    junk = tmp_path / "junk.tar"
    junk.write_bytes(b"not an archive at all" * 100)
    p = cli("load", "-i", str(junk), check=False)
    assert p.returncode == 125 and len(p.stderr.strip().splitlines()) == 1
    p = cli("load", "-i", str(tmp_path / "missing.tar"), check=False)
    assert p.returncode == 125 and "no such file" in p.stderr
    assert store_files(root) == ([], [], [])


def test_concurrent_loads_of_the_same_image(root):
    """Three berth processes loading the same image at once all succeed and share one layer."""
    from helpers import BERTH, REPO
    env = {**os.environ, "BERTH_ROOT": root}
    procs = [subprocess.Popen([*BERTH, "load", "-i", str(BUSYBOX_MUSL)], env=env, cwd=REPO,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE)
             for _ in range(3)]
    results = [(p.wait(), p.stderr.read().decode()) for p in procs]
    for p in procs:
        p.stdout.close()
        p.stderr.close()
    assert results == [(0, "")] * 3
    blobs, layers, records = store_files(root)
    assert len(layers) == 1 and len(records) == 1 and len(blobs) == 3
    assert os.listdir(os.path.join(root, "tmp")) == []


def test_events_are_emitted(cli, engine, tmp_path):
    cli("load", "-i", str(BUSYBOX_MUSL))
    cli("tag", "busybox:1.38.0-musl", "other")
    cli("save", "-o", str(tmp_path / "x.tar"), "other")
    cli("import", str(ALPINE_ROOTFS), "alp")
    cli("rmi", "other")
    cli("rmi", "busybox:1.38.0-musl")
    actions = [(e.action if hasattr(e, "action") else e["action"])
               for e in engine.events(filters={"type": ["image"]})]
    assert actions == ["load", "tag", "save", "import", "untag", "untag", "delete"]


def test_add_layer_and_create_image_for_commit(engine, busybox, tmp_path):
    """What commit uses: a new layer from a tar stream on top of an image, and the image."""
    import io
    import tarfile
    from engine.images.store import ImageStore
    store = ImageStore(engine.store)
    base = engine.image(busybox)
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as t:
        ti = tarfile.TarInfo("hello.txt")
        ti.size = 3
        t.addfile(ti, io.BytesIO(b"hi\n"))
        t.addfile(tarfile.TarInfo("etc/.wh.passwd"))
    buf.seek(0)
    layer = store.add_layer(io.BufferedReader(buf), base.chain_ids[-1])
    layers = store.image_layers(base) + [layer]
    img = store.create_image({"architecture": "amd64", "os": "linux", "config": {"Cmd": ["cat"]},
                              "history": []}, layers, ["committed:1"])
    assert engine.image("committed:1").id == img.id
    dirs = engine.image_layer_dirs(img)
    assert dirs[0] == engine.image_layer_dirs(base)[0] and len(dirs) == 2
    assert open(os.path.join(dirs[1], "hello.txt")).read() == "hi\n"
    assert os.stat(os.path.join(dirs[1], "etc", "passwd")).st_rdev == 0
    engine.remove_image("committed:1")
    assert engine.image_layer_dirs(engine.image(busybox))[0] == dirs[0]
    assert os.path.isdir(dirs[0]) and not os.path.exists(dirs[1])


def test_scratch_of_a_killed_berth_is_swept(cli, root):
    """What a berth killed mid-unpack left in tmp/ goes away with the next image verb; the
    scratch of a live process (here: the test's own pid) stays."""
    dead = os.path.join(root, "tmp", "img-999999999-layer-x")   # above any pid_max
    live = os.path.join(root, "tmp", f"img-{os.getpid()}-layer-y")
    for d in (dead, live):
        os.makedirs(os.path.join(d, "diff", "etc"))
    with open(os.path.join(root, "tmp", "img-999999999-1.tar"), "wb") as f:
        f.write(b"partial")
    cli("load", "-i", str(BUSYBOX_MUSL))
    assert sorted(os.listdir(os.path.join(root, "tmp"))) == [os.path.basename(live)]


def test_same_image_from_another_archive_format_leaves_no_stray_blobs(cli, root, tmp_path):
    """busybox from its OCI tar (gzip layer), then again from a docker archive (plain layer):
    one image, the blobs of the last load, and nothing left after rmi."""
    cli("load", "-i", str(BUSYBOX_MUSL))
    archive = str(tmp_path / "bb.docker.tar")
    cli("save", "--format", "docker-archive", "-o", archive, BUSYBOX_ID[7:19])
    cli("load", "-i", archive)
    blobs, layers, records = store_files(root)
    assert len(records) == 1 and len(layers) == 1
    assert BUSYBOX_DIFF[7:] in blobs and BUSYBOX_LAYER[7:] not in blobs and len(blobs) == 3
    cli("load", "-i", str(BUSYBOX_MUSL))
    cli("rmi", BUSYBOX_ID[7:19])
    assert store_files(root) == ([], [], [])


def test_listing_images_stays_light(root, busybox):
    """`berth images` and resolving an image load none of the archive, compression or UI
    machinery (they are the hot path of run and of the dashboard's refresh)."""
    code = ("import sys, contextlib, io\n"
            "from tui.cli import main\n"
            "with contextlib.redirect_stdout(io.StringIO()):\n"
            "    assert main(['images']) == 0\n"
            "from engine import Engine\n"
            "Engine().image_layer_dirs(Engine().image('busybox:1.38.0-musl'))\n"
            "heavy = {'tarfile', 'zstandard', 'textual', 'rich', 'aiohttp',\n"
            "         'pyroute2', 'engine.images.archive', 'engine.images.unpack'}\n"
            "print(sorted(heavy & set(sys.modules)))\n")
    from helpers import REPO
    p = subprocess.run([os.sys.executable, "-c", code], capture_output=True, text=True,
                       env={**os.environ, "BERTH_ROOT": root}, cwd=REPO)
    assert p.returncode == 0, p.stderr
    assert p.stdout.strip() == "[]"
