"""The images, volumes and networks panes' own actions (tag, save, history, create, prune),
driven by keys against a real engine; every assertion is on the engine's state or the screen."""

from __future__ import annotations

import json
import os
import random
import shutil
import subprocess
import tarfile
import tempfile

import pytest

from dashboard_support import dashboard, make_app, running, screen_text, settle, table_names

BUSYBOX_REF = "docker.io/library/busybox:1.38.0-musl"


async def _until(pilot, cond, rounds=400):
    for _ in range(rounds):
        if cond():
            return True
        await pilot.pause(0.05)
    return cond()


async def _type(pilot, dialog, key: str, text: str) -> None:
    """Clear one field of a form and type ``text`` into it as a user would."""
    from textual.widgets import Input
    field = dialog.query_one(f"#form-{key}", Input)
    field.focus()
    field.value = ""
    await pilot.press(*text)


async def _open_pane(pilot, app, number: str, kind: str, until=None) -> None:
    await pilot.press(number)
    await settle(pilot, until or (lambda: table_names(app, kind)))


def _notes(app) -> list[str]:
    return [str(n.message) for n in app._notifications]


# --- images -------------------------------------------------------------------------------------

async def test_tag_the_selected_image(engine, busybox):
    from tui.screens.resource_dialogs import TagDialog
    app = make_app(engine, live=False)
    async with running(app) as pilot:
        await _open_pane(pilot, app, "2", "images")
        await pilot.press("t")
        dialog = app.screen
        assert isinstance(dialog, TagDialog)
        assert dialog.source == BUSYBOX_REF
        await pilot.press(*"mine/bb:v1", "enter")
        assert await _until(pilot, lambda: app.screen is app.dashboard), dialog.error_text()
        img = engine.image("mine/bb:v1")
        assert img.id == busybox.id
        assert "docker.io/mine/bb:v1" in img.repo_tags
        assert await _until(pilot, lambda: "mine/bb" in table_names(app, "images"))
        assert any("tagged busybox:1.38.0-musl as mine/bb:v1" in m for m in _notes(app))


async def test_a_bad_tag_shows_the_engines_message_and_tags_nothing(engine, cli, busybox):
    from tui.screens.resource_dialogs import TagDialog
    expected = cli("tag", busybox, "UPPER:case", check=False).stderr.strip()
    assert expected.startswith("berth: ")
    expected = expected.removeprefix("berth: ")
    before = sorted(t for img in engine.images() for t in img.repo_tags)
    app = make_app(engine, live=False)
    async with running(app) as pilot:
        await _open_pane(pilot, app, "2", "images")
        await pilot.press("t", *"UPPER:case", "enter")
        dialog = app.screen
        assert isinstance(dialog, TagDialog)
        assert await _until(pilot, lambda: dialog.error_text() == expected), dialog.error_text()
        assert isinstance(app.screen, TagDialog)          # stays open to be corrected
        await pilot.press("escape")
        assert app.screen is app.dashboard
    assert sorted(t for img in engine.images() for t in img.repo_tags) == before


async def test_save_writes_archives_that_load_back(engine, busybox):
    from textual.widgets import Checkbox, Input
    from tui.screens.resource_dialogs import SaveDialog
    from helpers import claim_root
    out = tempfile.mkdtemp(prefix="berth-save-", dir="/var/tmp")
    second = claim_root("berth-test-load-")
    try:
        path = os.path.join(out, "bb.tar")
        app = make_app(engine, live=False)
        async with running(app) as pilot:
            await _open_pane(pilot, app, "2", "images")
            await pilot.press("S")
            dialog = app.screen
            assert isinstance(dialog, SaveDialog)
            assert dialog.query_one("#form-path", Input).value == "./busybox-1.38.0-musl.tar"
            await _type(pilot, dialog, "path", path)
            await pilot.press("enter")
            assert await _until(pilot, lambda: app.screen is app.dashboard), dialog.error_text()
            with tarfile.open(path) as tar:
                index = json.load(tar.extractfile("index.json"))
            names = [m.get("annotations", {}).get("io.containerd.image.name")
                     or m.get("annotations", {}).get("org.opencontainers.image.ref.name")
                     for m in index["manifests"]]
            assert any(n and "busybox" in n for n in names), index
            size = os.path.getsize(path)
            from tui.widgets.rows import human_size
            assert any(f"to {path} ({human_size(size)})" in m for m in _notes(app)), _notes(app)

            # the same file again, as a docker-archive: asks before overwriting it
            await pilot.press("S")
            dialog = app.screen
            await _type(pilot, dialog, "path", path)
            dialog.query_one("#form-check", Checkbox).value = True
            await pilot.press("enter")
            assert await _until(pilot, lambda: "exists" in dialog.error_text())
            with tarfile.open(path) as tar:
                assert "index.json" in tar.getnames()      # not overwritten yet
            await pilot.press("ctrl+s")
            assert await _until(pilot, lambda: app.screen is app.dashboard), dialog.error_text()
            with tarfile.open(path) as tar:
                manifest = json.load(tar.extractfile("manifest.json"))
            assert manifest[0]["RepoTags"] == ["busybox:1.38.0-musl"]

        from engine import Engine
        loaded = Engine(second).load(path)
        assert [img.id for img in loaded] == [busybox.id]
        assert BUSYBOX_REF in loaded[0].repo_tags
    finally:
        from helpers import release_root
        release_root(second)
        shutil.rmtree(out, ignore_errors=True)


async def test_history_lists_the_layers(engine, busybox):
    from tui.screens.image_history import HistoryScreen
    rows = engine.history(busybox)
    created_by = rows[0]["CreatedBy"]
    assert created_by
    app = make_app(engine, live=False)
    async with running(app) as pilot:
        await _open_pane(pilot, app, "2", "images")
        await pilot.press("H")
        assert isinstance(app.screen, HistoryScreen)
        assert await _until(pilot, lambda: app.screen.rows is not None)
        await pilot.pause()
        text = screen_text(app)
        assert created_by in text, text
        assert busybox.id.removeprefix("sha256:")[:12] in text
        assert "CREATED BY" in text and "1.53MB" in text and "ago" in text
        await pilot.press("escape")
        assert app.screen is app.dashboard


async def test_run_from_the_images_pane_fills_in_the_image(engine, busybox):
    from textual.widgets import Input
    from tui.screens.run_dialog import RunDialog
    app = make_app(engine, live=False)
    async with running(app) as pilot:
        await _open_pane(pilot, app, "2", "images")
        await pilot.press("R")
        assert isinstance(app.screen, RunDialog)
        assert app.screen.query_one("#run-image", Input).value == BUSYBOX_REF
        await pilot.press("escape")


async def test_prune_removes_dangling_images_only(engine, busybox, tmp_path):
    from tui.screens.resource_actions import PruneScreen
    rootfs = tmp_path / "rootfs.tar"
    (tmp_path / "hello").write_text("hello\n")
    with tarfile.open(rootfs, "w") as tar:
        tar.add(tmp_path / "hello", arcname="hello")
    dangling = engine.import_image(str(rootfs))
    assert not dangling.repo_tags
    app = make_app(engine, live=False)
    async with running(app) as pilot:
        await _open_pane(pilot, app, "2", "images", lambda: len(table_names(app, "images")) == 2)
        await pilot.press("D")
        assert isinstance(app.screen, PruneScreen)
        await pilot.press("n")
        assert app.screen is app.dashboard
        assert dangling.id in {img.id for img in engine.images()}
        await pilot.press("D", "y")
        assert await _until(pilot, lambda: any("removed 1 image" in m for m in _notes(app)))
        assert {img.id for img in engine.images()} == {busybox.id}
        assert any("reclaimed" in m for m in _notes(app))
        assert await _until(pilot, lambda: len(table_names(app, "images")) == 1)


# --- volumes ------------------------------------------------------------------------------------

async def test_create_a_volume_then_prune_it(engine):
    from engine.errors import NotFound
    from tui.screens.resource_actions import PruneScreen
    from tui.screens.resource_dialogs import VolumeDialog
    app = make_app(engine, live=False)
    async with running(app) as pilot:
        await _open_pane(pilot, app, "3", "volumes", lambda: dashboard(app).loaded)
        await pilot.press("n")
        dialog = app.screen
        assert isinstance(dialog, VolumeDialog)
        await _type(pilot, dialog, "name", "resvol")
        await _type(pilot, dialog, "labels", "=x")
        await pilot.press("ctrl+s")
        assert await _until(pilot, lambda: dialog.error_text() ==
                            "invalid label '=x': use KEY=VALUE"), dialog.error_text()
        assert engine.volumes() == []
        await _type(pilot, dialog, "labels", "app=demo note='two words'")
        await _type(pilot, dialog, "options", "type=tmpfs device=tmpfs o=size=8m")
        await pilot.press("enter")
        assert await _until(pilot, lambda: app.screen is app.dashboard), dialog.error_text()
        vol = engine.volume("resvol")
        assert vol.labels == {"app": "demo", "note": "two words"}
        assert vol.options == {"type": "tmpfs", "device": "tmpfs", "o": "size=8m"}
        assert await _until(pilot, lambda: table_names(app, "volumes") == ["resvol"])
        assert any("created volume resvol" in m for m in _notes(app))
        # the same name again keeps the volume as it is, and says so
        await pilot.press("n")
        again = app.screen
        await _type(pilot, again, "name", "resvol")
        await pilot.press("enter")
        assert await _until(pilot, lambda: any("volume resvol already exists" in m
                                               for m in _notes(app))), _notes(app)
        assert engine.volume("resvol").labels == {"app": "demo", "note": "two words"}

        # prune without --all keeps named volumes, as `berth volume prune` does
        await pilot.press("D")
        assert isinstance(app.screen, PruneScreen)
        await pilot.press("y")
        assert await _until(pilot, lambda: any("removed 0 volumes" in m for m in _notes(app)))
        assert engine.volume("resvol").name == "resvol"
        await pilot.press("D", "a", "y")
        assert await _until(pilot, lambda: any("removed 1 volume" in m for m in _notes(app)))
        with pytest.raises(NotFound):
            engine.volume("resvol")
        assert await _until(pilot, lambda: table_names(app, "volumes") == [])


# --- networks -----------------------------------------------------------------------------------

def _free_subnet(engine) -> str:
    """A /24 neither a host route nor another root's network covers (asked of the engine)."""
    from engine.network import ipam
    for _ in range(50):
        subnet = f"10.{random.randint(200, 250)}.{random.randint(0, 255)}.0/24"
        if not ipam.conflict(engine.store, ipam.parse_subnet(subnet)):
            return subnet
    pytest.skip("no free /24 found for the test network")


def _link_exists(name: str) -> bool:
    return subprocess.run(["ip", "link", "show", name], capture_output=True).returncode == 0


async def test_create_a_network_then_prune_it(engine, cli):
    from engine.errors import NotFound
    from tui.screens.resource_actions import PruneScreen
    from tui.screens.resource_dialogs import NetworkDialog
    subnet = _free_subnet(engine)
    gateway = subnet.replace(".0/24", ".1")
    expected = cli("network", "create", "--gateway", gateway, "resnet",
                   check=False).stderr.strip().removeprefix("berth: ")
    assert expected
    try:
        app = make_app(engine, live=False)
        async with running(app) as pilot:
            await _open_pane(pilot, app, "4", "networks", lambda: dashboard(app).loaded)
            before = set(table_names(app, "networks"))
            await pilot.press("n")
            dialog = app.screen
            assert isinstance(dialog, NetworkDialog)
            await _type(pilot, dialog, "name", "resnet")
            await _type(pilot, dialog, "gateway", gateway)
            await pilot.press("enter")         # a gateway without its subnet: the CLI's refusal
            assert await _until(pilot, lambda: dialog.error_text() == expected), \
                dialog.error_text()
            with pytest.raises(NotFound):
                engine.network("resnet")
            await _type(pilot, dialog, "subnet", subnet)
            await _type(pilot, dialog, "labels", "app=demo")
            await pilot.press("ctrl+s")
            assert await _until(pilot, lambda: app.screen is app.dashboard), dialog.error_text()
            net = engine.network("resnet")
            assert (net.subnet, net.gateway, net.labels) == (subnet, gateway, {"app": "demo"})
            assert _link_exists(net.bridge)
            assert await _until(pilot, lambda: "resnet" in table_names(app, "networks"))

            await pilot.press("D")
            assert isinstance(app.screen, PruneScreen)
            await pilot.press("y")
            assert await _until(pilot, lambda: any("removed 1 network" in m for m in _notes(app)))
            with pytest.raises(NotFound):
                engine.network("resnet")
            assert not _link_exists(net.bridge)
            assert await _until(pilot, lambda: set(table_names(app, "networks")) == before)
    finally:
        try:
            engine.remove_network("resnet")
        except NotFound:
            pass


# --- keys ---------------------------------------------------------------------------------------

async def test_each_pane_offers_only_its_own_actions(engine, busybox):
    from tui.screens.resource_dialogs import NetworkDialog, VolumeDialog
    app = make_app(engine, live=False)
    async with running(app) as pilot:
        dash = dashboard(app)
        assert dash.check_action("tag_image", ()) is False
        assert dash.check_action("create", ()) is False
        await _open_pane(pilot, app, "2", "images")
        assert dash.check_action("tag_image", ()) and dash.check_action("image_history", ())
        await pilot.press("n")                       # no "new" for images: nothing opens
        assert app.screen is dash
        footer = screen_text(app).splitlines()[-1]
        assert "Tag" in footer and "History" in footer and "Prune" in footer
        assert "New" not in footer and "Start" not in footer
        await _open_pane(pilot, app, "3", "volumes", lambda: dash.pane_kind == "volumes")
        await pilot.press("t")                       # no tag for volumes
        assert app.screen is dash
        await pilot.press("n")
        assert isinstance(app.screen, VolumeDialog)
        await pilot.press("escape", "4", "n")
        assert isinstance(app.screen, NetworkDialog)
        await pilot.press("escape")
    assert engine.volumes() == []


async def test_the_new_keys_can_be_remapped(engine, busybox, tmp_path, monkeypatch):
    from tui.config import load
    from tui.screens.help import sections
    from tui.screens.image_history import HistoryScreen
    cfg = tmp_path / "config.toml"
    cfg.write_text('[keys]\nimage_history = "y"\n')
    monkeypatch.setenv("BERTH_CONFIG", str(cfg))
    app = make_app(engine, config=load(), live=False)
    async with running(app) as pilot:
        await _open_pane(pilot, app, "2", "images")
        await pilot.press("H")
        assert app.screen is app.dashboard
        await pilot.press("y")
        assert isinstance(app.screen, HistoryScreen)
        keys = {desc: k for _, rows in sections(app) for k, desc, _ in rows}
        assert keys["Image history (its layers)"] == "y"
        assert keys["Tag the image"] == "t"
