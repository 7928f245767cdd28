"""The dashboard driven like a user drives it (Pilot), against a real engine on a test root."""

from __future__ import annotations

import pytest

from dashboard_support import dashboard, make_app, running, screen_text, settle, table_names


@pytest.fixture
def volumes(engine):
    for name in ("cache", "data", "pgdata"):
        engine.create_volume(name, labels={"app": "demo"})
    return engine


async def test_volumes_pane_lists_the_engines_volumes(volumes):
    app = make_app(volumes)
    async with running(app) as pilot:
        await pilot.press("3")
        await settle(pilot, lambda: table_names(app, "volumes"))
        assert table_names(app, "volumes") == ["cache", "data", "pgdata"]
        assert dashboard(app).pane_kind == "volumes"
        assert "volumes(all)[3]" in str(app.screen.query_one("#pane-volumes").border_title)


async def test_panes_cycle_with_tab_and_numbers(volumes):
    app = make_app(volumes)
    async with running(app) as pilot:
        seen = []
        for _ in range(4):
            seen.append(dashboard(app).pane_kind)
            await pilot.press("tab")
        assert seen == ["containers", "images", "volumes", "networks"]
        assert dashboard(app).pane_kind == "containers"
        await pilot.press("shift+tab")
        assert dashboard(app).pane_kind == "networks"
        await pilot.press("2")
        assert dashboard(app).pane_kind == "images"


async def test_missing_engine_verb_is_reported_in_its_pane(engine):
    app = make_app(engine)
    async with running(app) as pilot:
        await pilot.press("2")
        await settle(pilot)
        message = app.screen.query_one("#msg-images")
        if getattr(engine, "images", None) is None:
            assert message.display
            assert "images: not available in this build" in str(message.render())
        else:
            assert not message.display
            assert dashboard(app).table("images").display


async def test_filter_narrows_the_list_and_escape_restores_it(volumes):
    app = make_app(volumes)
    async with running(app) as pilot:
        await pilot.press("3", "slash", "a", "t")
        await settle(pilot)
        assert table_names(app, "volumes") == ["data", "pgdata"]
        await pilot.press("enter")
        assert dashboard(app).table("volumes").has_focus
        await pilot.press("escape")
        await settle(pilot)
        assert table_names(app, "volumes") == ["cache", "data", "pgdata"]


async def test_filter_takes_a_regex_after_a_tilde(volumes):
    app = make_app(volumes)
    async with running(app) as pilot:
        await pilot.press("3", "slash", *"~^(c|p)", "enter")
        await settle(pilot)
        assert table_names(app, "volumes") == ["cache", "pgdata"]


async def test_new_volume_appears_and_the_selection_stays_on_its_row(volumes):
    app = make_app(volumes)
    async with running(app) as pilot:
        await pilot.press("3", "j")   # on "data"
        table = dashboard(app).table("volumes")
        assert table.selected().key == "data"
        volumes.create_volume("aaa")  # sorts before it: the row under the cursor moves
        await settle(pilot, lambda: "aaa" in table_names(app, "volumes"))
        assert table_names(app, "volumes") == ["aaa", "cache", "data", "pgdata"]
        assert table.selected().key == "data"


async def test_sort_by_key_and_by_header_click(volumes):
    app = make_app(volumes)
    async with running(app) as pilot:
        await pilot.press("3", "O")
        await settle(pilot)
        assert table_names(app, "volumes") == ["pgdata", "data", "cache"]
        table = dashboard(app).table("volumes")
        await pilot.click(table, offset=(6, 0))   # the NAME header
        await settle(pilot)
        assert table.sort_index == 0 and not table.sort_reverse
        assert table_names(app, "volumes") == ["cache", "data", "pgdata"]


async def test_remove_asks_and_n_keeps_y_removes(volumes):
    from engine.errors import NotFound
    from tui.screens.confirm import ConfirmScreen
    app = make_app(volumes)
    async with running(app) as pilot:
        await pilot.press("3")
        await pilot.press("d")
        assert isinstance(app.screen, ConfirmScreen)
        await pilot.press("n")
        await settle(pilot)
        assert volumes.volume("cache").name == "cache"
        await pilot.press("d")
        assert isinstance(app.screen, ConfirmScreen)
        await pilot.press("y")
        await settle(pilot, lambda: "cache" not in table_names(app, "volumes"))
        with pytest.raises(NotFound):
            volumes.volume("cache")
        assert table_names(app, "volumes") == ["data", "pgdata"]


async def test_marked_rows_are_removed_together(volumes):
    app = make_app(volumes)
    async with running(app) as pilot:
        await pilot.press("3", "space", "j", "space")   # cache and pgdata marked
        table = dashboard(app).table("volumes")
        assert table.marked == {"cache", "pgdata"}
        await pilot.press("d", "y")
        await settle(pilot, lambda: table_names(app, "volumes") == ["data"])
        assert [v.name for v in volumes.volumes()] == ["data"]


async def test_engine_error_is_a_notification_not_a_traceback(volumes):
    app = make_app(volumes)
    async with running(app) as pilot:
        await pilot.press("3")
        volumes.remove_volume("cache")   # gone behind the dashboard's back
        dashboard(app).run_verb("remove_volume", ["cache"], "remove volume")
        await settle(pilot, lambda: app._notifications)
        messages = [n.message for n in app._notifications]
        assert any("cache" in m and "Traceback" not in m for m in messages), messages


async def test_inspect_shows_the_json_as_a_tree_and_a_summary(volumes):
    from textual.widgets import Tree
    from tui.screens.inspect import InspectScreen
    app = make_app(volumes)
    async with running(app) as pilot:
        await pilot.press("3", "i")
        await settle(pilot, lambda: isinstance(app.screen, InspectScreen)
                     and app.screen.data is not None)
        tree = app.screen.query_one(Tree)
        labels = [str(n.label) for n in tree.root.children]
        assert any(label.startswith("Mountpoint:") for label in labels)
        assert any("Labels" in label for label in labels)
        text = screen_text(app)
        assert "Labels" in text and "app" in text and "demo" in text
        assert "Mountpoint" in text
        await pilot.press("escape")
        assert dashboard(app) is app.screen


async def test_help_lists_every_key_of_the_panes(volumes):
    from tui.screens.dashboard import DashboardScreen
    from tui.screens.help import HelpScreen, sections
    app = make_app(volumes)
    async with running(app) as pilot:
        await pilot.press("question_mark")
        assert isinstance(app.screen, HelpScreen)
        listed = {desc for _, rows in sections(app) for _, desc, _ in rows}
        for b in DashboardScreen.BINDINGS:
            assert (b.tooltip or b.description) in listed
        await pilot.press("escape")
        assert isinstance(app.screen, DashboardScreen)


async def test_keys_can_be_remapped_from_the_config(volumes, tmp_path, monkeypatch):
    from tui.config import load
    cfg = tmp_path / "config.toml"
    cfg.write_text('theme = "berth-light"\nhide_stopped = true\n[keys]\nremove = "D"\n')
    monkeypatch.setenv("BERTH_CONFIG", str(cfg))
    config = load()
    assert config.problems == []
    app = make_app(volumes, config=config)
    async with running(app) as pilot:
        assert app.theme == "berth-light"
        assert dashboard(app).hide_stopped
        await pilot.press("3", "d")
        await settle(pilot)
        assert dashboard(app) is app.screen          # d no longer removes
        await pilot.press("D")
        from tui.screens.confirm import ConfirmScreen
        assert isinstance(app.screen, ConfirmScreen)
        await pilot.press("escape")
        from tui.screens.help import sections
        rows = dict((desc, keys) for _, rs in sections(app) for keys, desc, _ in rs)
        assert rows["Remove"] == "D"


def test_a_broken_config_gives_defaults_and_says_why(tmp_path):
    from tui.config import load
    cfg = tmp_path / "config.toml"
    cfg.write_text('theme = 3\nlog_lines = "many"\ncolour = "x"\n[keys]\nstart = ""\n')
    config = load(str(cfg))
    assert config.theme is None and config.log_lines == 10_000 and config.keys == {}
    assert len(config.problems) == 4
    cfg.write_text("this is not toml = = =")
    assert "using the defaults" in load(str(cfg)).problems[0]


@pytest.mark.parametrize("name", ["berth-dark", "berth-light", "berth-contrast"])
async def test_every_theme_loads_by_name(engine, name):
    app = make_app(engine, theme=name)
    async with running(app):
        assert app.theme == name
        assert app.current_theme.name == name


async def test_an_unknown_theme_falls_back_and_says_so(engine):
    app = make_app(engine, theme="no-such-theme")
    async with running(app) as pilot:
        await settle(pilot)
        assert app.theme == "berth-dark"
        assert any("no-such-theme" in n.message for n in app._notifications)


async def test_palette_switches_theme(engine):
    app = make_app(engine)
    async with running(app) as pilot:
        await pilot.press("colon")
        await settle(pilot)
        await pilot.press(*"Theme: berth-contrast")
        await settle(pilot)
        await pilot.press("enter")
        await settle(pilot, lambda: app.theme == "berth-contrast")
        assert app.theme == "berth-contrast"


def test_tui_subcommand_takes_a_theme(cli):
    out = cli("tui", "--help").stdout
    assert "--theme" in out and "berth-light" in out
