"""Damaged image-store records (refs.json, an image record, a layer's meta.json; torn, garbled,
of the wrong JSON type): `images`, `system df`, `run` and prune go on for everything readable
and name what isn't in one WARNING line; `image inspect` and `rmi -f` work on the damaged
entry; nothing a readable record or a container needs is removed; `check_images` finds each and
repairs it."""

from __future__ import annotations

import json
import os

import pytest

ALPINE_NAMES = {("alpine", "3.20"), ("alpine", "latest")}
DAMAGE = {
    "torn": lambda data: data[:len(data) // 2],
    "garbled": lambda data: b"\x00\xff{not json" + data[5:40],
    "list": lambda data: b"[]",
    "number": lambda data: b"5",
}


def _replace(path: str, data: bytes) -> None:
    """Write a new file over ``path`` (the fixtures' files are hardlinks shared with others)."""
    with open(path + ".new", "wb") as f:
        f.write(data)
    os.rename(path + ".new", path)


def _damage(path: str, how: str) -> None:
    with open(path, "rb") as f:
        _replace(path, DAMAGE[how](f.read()))


def _names(cli) -> set[tuple[str, str]]:
    p = cli("images", "--format", "json")
    return {(r["Repository"], r["Tag"]) for r in map(json.loads, p.stdout.splitlines())}


def _warning(p) -> str:
    lines = [l for l in p.stderr.splitlines() if l.strip()]
    assert len(lines) == 1 and lines[0].startswith("WARNING: "), p.stderr
    return lines[0]


@pytest.mark.parametrize("how", [*DAMAGE, "wrong-table"])
def test_damaged_refs_loses_no_name_and_prune_deletes_nothing(how, cli, root, busybox, alpine):
    path = os.path.join(root, "images", "refs.json")
    if how == "wrong-table":
        _replace(path, json.dumps({"tags": {"docker.io/library/alpine:3.20": 5},
                                   "digests": []}).encode())
    else:
        _damage(path, how)
    p = cli("images")
    assert "refs.json" in _warning(p)
    assert _names(cli) == ALPINE_NAMES | {("busybox", "1.38.0-musl")}
    cli("run", "--rm", "--network", "none", busybox, "true")
    out = cli("image", "prune", "-f").stdout
    assert "deleted" not in out
    assert cli("system", "df").returncode == 0
    assert _names(cli) == ALPINE_NAMES | {("busybox", "1.38.0-musl")}
    # the next change of names writes refs.json whole again
    cli("tag", busybox, "again:1")
    p = cli("images")
    assert p.stderr == "" and ("again", "1") in _names(cli)


@pytest.mark.parametrize("how", [*DAMAGE, "wrong-id", "wrong-field"])
def test_damaged_image_record_spares_the_others(how, cli, root, busybox, alpine):
    record = os.path.join(root, "images", alpine.id[7:] + ".json")
    if how == "wrong-id":
        doc = json.load(open(record))
        doc["id"] = busybox.id
        _replace(record, json.dumps(doc).encode())
    elif how == "wrong-field":
        doc = json.load(open(record))
        doc["chain_ids"] = "sha256:x"
        _replace(record, json.dumps(doc).encode())
    else:
        _damage(record, how)
    cid = cli("create", "--network", "none", busybox, "true").stdout.strip()
    p = cli("images")
    assert alpine.id[7:19] in _warning(p)
    assert _names(cli) == {("busybox", "1.38.0-musl")}
    df = cli("system", "df", "-v")
    assert busybox.id[7:19] in df.stdout and alpine.id[7:19] in _warning(df)
    assert cli("start", "-a", cid).returncode == 0
    # run names the damage instead of failing in a traceback
    p = cli("run", "--rm", "--network", "none", alpine, "true", check=False)
    assert p.returncode == 125 and "damaged record" in p.stderr.splitlines()[0]
    # inspect and rmi -f work on the damaged image
    (doc,) = json.loads(cli("image", "inspect", alpine).stdout)
    assert doc["Id"] == alpine.id and "Damaged" in doc
    assert sorted(doc["RepoTags"]) == ["alpine:3.20", "alpine:latest"]
    # prune -a keeps the container's image and every layer and blob a record needs
    cli("image", "prune", "-a", "-f")
    layer = os.path.join(root, "layers", alpine.image.chain_ids[0][7:], "diff")
    assert os.path.isdir(layer)
    assert cli("start", "-a", cid).returncode == 0
    out = cli("rmi", "-f", alpine.id[7:19]).stdout
    assert f"Deleted: {alpine.id}" in out
    p = cli("images")
    assert p.stderr == "" and _names(cli) == {("busybox", "1.38.0-musl")}


@pytest.mark.parametrize("how", [*DAMAGE, "no-size"])
def test_damaged_layer_meta_spares_images_df_and_run(how, cli, root, busybox):
    meta = os.path.join(root, "layers", busybox.image.chain_ids[0][7:], "meta.json")
    if how == "no-size":
        _replace(meta, json.dumps({"chain_id": busybox.image.chain_ids[0]}).encode())
    else:
        _damage(meta, how)
    cid = cli("create", "--network", "none", busybox, "true").stdout.strip()
    assert cli("images", "-q").stdout.split() == [busybox.id[7:19]]
    df = cli("system", "df")
    assert busybox.image.chain_ids[0][7:19] in _warning(df)
    assert "1.53" in df.stdout.splitlines()[1]   # counted from the layer itself
    assert cli("start", "-a", cid).returncode == 0
    cli("image", "prune", "-a", "-f")
    assert os.path.isdir(os.path.dirname(meta))


@pytest.mark.parametrize("damaged", ["refs.json", "record"])
def test_check_images_finds_and_repairs(damaged, root, engine, busybox, alpine):
    from engine.images.check import check_images
    store = engine.store
    if damaged == "refs.json":
        _damage(os.path.join(root, "images", "refs.json"), "garbled")
        expect = ("record", "images/refs.json")
    else:
        _damage(os.path.join(root, "images", alpine.id[7:] + ".json"), "torn")
        expect = ("image", alpine.id)
    _damage(os.path.join(root, "layers", busybox.image.chain_ids[0][7:], "meta.json"), "list")
    orphan_blob = os.path.join(root, "blobs", "sha256", "ab" * 32)
    with open(orphan_blob, "wb") as f:
        f.write(b"left by a killed pull")
    stale = os.path.join(root, "tmp", "img-999999999.1-layer-x")
    os.makedirs(os.path.join(stale, "diff"))
    found = check_images(store, repair=False)
    what = {(f.kind, f.id) for f in found}
    assert expect in what
    assert ("layer", busybox.image.chain_ids[0]) in what
    assert ("blob", "sha256:" + "ab" * 32) in what
    assert ("tempfile", "tmp/img-999999999.1-layer-x") in what
    assert not any(f.repaired for f in found) and os.path.exists(orphan_blob)
    fixed = check_images(store, repair=True)
    assert all(f.repaired for f in fixed), [f for f in fixed if not f.repaired]
    assert check_images(store, repair=False) == []
    from engine import Engine
    fresh = Engine(root)
    names = {t for img in fresh.images() for t in img.repo_tags}
    assert names == {"docker.io/library/alpine:3.20", "docker.io/library/alpine:latest",
                     "docker.io/library/busybox:1.38.0-musl"}
    assert fresh.store.damaged == {}
    assert fresh.image("alpine:3.20").layers == alpine.image.layers
    assert not os.path.exists(orphan_blob) and not os.path.exists(stale)


def test_check_images_never_removes_what_a_container_uses(root, cli, engine, busybox):
    """An image whose record can't be rebuilt (its config blob is gone) but which a container
    uses is reported, not removed; its layers stay."""
    from engine.images.check import check_images
    cid = cli("create", "--network", "none", busybox, "true").stdout.strip()
    _damage(os.path.join(root, "images", busybox.id[7:] + ".json"), "garbled")
    os.unlink(os.path.join(root, "blobs", "sha256", busybox.id[7:]))   # a link of its own
    found = check_images(engine.store, repair=True)
    (f,) = [f for f in found if f.id == busybox.id]
    assert not f.repaired and cid[:12] in f.problem
    assert os.path.isdir(os.path.join(root, "layers", busybox.image.chain_ids[0][7:], "diff"))
    assert cli("start", "-a", cid).returncode == 0


def test_check_images_unpacks_a_lost_layer_again(root, cli, engine, busybox):
    from engine.images.check import check_images
    from engine.images.scratch import remove_tree
    layer = os.path.join(root, "layers", busybox.image.chain_ids[0][7:])
    remove_tree(layer)
    p = cli("run", "--rm", "--network", "none", busybox, "true", check=False)
    assert p.returncode != 0
    (f,) = check_images(engine.store, repair=True)
    assert (f.kind, f.id, f.repaired) == ("layer", busybox.image.chain_ids[0], True)
    cli("run", "--rm", "--network", "none", busybox, "true")
    # a lost blob can't be made again: it is named, and nothing is removed for it
    os.unlink(os.path.join(root, "blobs", "sha256", busybox.image.layers[0][7:]))
    (f,) = check_images(engine.store, repair=True)
    assert (f.kind, f.repaired, f.repair) == ("blob", False, "")
    cli("run", "--rm", "--network", "none", busybox, "true")
