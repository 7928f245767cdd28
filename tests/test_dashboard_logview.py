"""The logs console's view on its own: bounded, filtered, searched, following and pausing."""

from __future__ import annotations

import re

from textual.app import App, ComposeResult

from tui.widgets.log_view import Entry, LogView


class ViewApp(App):
    def compose(self) -> ComposeResult:
        yield LogView(max_lines=100)


def lines(n: int, start: int = 0, stream: str = "stdout") -> list[Entry]:
    return [Entry("c", "cyan", stream, "2026-01-01T00:00:00Z", f"line {i}\n")
            for i in range(start, start + n)]


async def test_scrollback_is_bounded():
    app = ViewApp()
    async with app.run_test(size=(80, 20)) as pilot:
        view = app.query_one(LogView)
        for k in range(50):
            view.add_entries(lines(100, start=k * 100))
        await pilot.pause()
        assert len(view.entries) == 100
        assert len(view.rows) == 100
        assert view.entries[0].text == "line 4900\n"
        assert view.virtual_size.height == 100


async def test_scrolling_up_pauses_and_counts_new_lines():
    app = ViewApp()
    async with app.run_test(size=(80, 20)) as pilot:
        view = app.query_one(LogView)
        view.add_entries(lines(60))
        await pilot.pause()
        assert view.following and view.scroll_y == view.max_scroll_y
        view.focus()
        await pilot.press("pageup")
        await pilot.pause()
        assert not view.following
        view.add_entries(lines(7, start=60))
        await pilot.pause()
        assert view.unseen == 7
        view.following = True
        await pilot.pause()
        assert view.unseen == 0 and view.scroll_y == view.max_scroll_y


async def test_filter_shows_only_matching_lines_and_search_jumps():
    app = ViewApp()
    async with app.run_test(size=(80, 20)) as pilot:
        view = app.query_one(LogView)
        view.add_entries(lines(50))
        view.set_filter(re.compile(r"line \d*7$"))
        await pilot.pause()
        assert [e.text.strip() for e, _, _ in view.rows] == [f"line {i}" for i in range(50)
                                                             if str(i).endswith("7")]
        view.set_filter(None)
        view.set_search(re.compile("line 12$"))
        assert view.next_match()
        assert view.rows[view.match_row][0].text == "line 12\n"
        assert not view.following
        view.set_search(re.compile("nothing"))
        assert not view.next_match()


async def test_wrap_splits_long_lines():
    app = ViewApp()
    async with app.run_test(size=(40, 20)) as pilot:
        view = app.query_one(LogView)
        view.add_entries([Entry("c", "cyan", "stdout", "", "x" * 100)])
        await pilot.pause()
        assert len(view.rows) == 1
        view.wrap = True
        await pilot.pause()
        assert len(view.rows) > 2


async def test_an_empty_log_says_so_until_a_line_comes():
    """A container that printed nothing showed an empty screen, which reads as broken: the
    view says no line has come, until one does (and not when a filter hides them all)."""
    class EmptyApp(App):
        def compose(self) -> ComposeResult:
            yield LogView(max_lines=100, empty_text="no log lines yet")

    app = EmptyApp()
    async with app.run_test(size=(80, 20)) as pilot:
        view = app.query_one(LogView)
        await pilot.pause()
        assert view.render_line(0).text.startswith("no log lines yet")
        view.add_entries(lines(1))
        await pilot.pause()
        assert view.render_line(0).text.startswith("line 0")
        view.set_filter(re.compile("nothing matches this"))
        await pilot.pause()
        assert "no log lines yet" not in view.render_line(0).text
