"""ResourceTable draws a cell again only when that cell changed (DataTable alone renders every
cell on screen after any one update), and what it shows is still right after updates, a
re-sort and cursor moves."""

from __future__ import annotations

import pytest
from textual.app import App
from textual.widgets import DataTable

from tui.widgets.resource_table import ResourceTable
from tui.widgets.rows import Column, Row

COLUMNS = (Column("name", "NAME"), Column("cpu", "CPU%", width=6, right=True))


def _row(name: str, cpu: float) -> Row:
    return Row(key=name, ref=name, cells=(name, f"{cpu:.1f}"), sort=(name, cpu), text=name,
               model=None)


class _TableApp(App):
    def compose(self):
        yield ResourceTable("containers", COLUMNS, id="t")


def _shown(app) -> list[str]:
    strips = app.screen._compositor.render_strips()
    return [" ".join(strip.text.split()) for strip in strips if strip.text.strip()]


async def test_only_changed_cells_are_rendered_again(monkeypatch):
    rendered = []
    real = DataTable._render_cell

    def counting(self, row_index, column_index, *args, **kwargs):
        rendered.append((row_index, column_index))
        return real(self, row_index, column_index, *args, **kwargs)
    monkeypatch.setattr(DataTable, "_render_cell", counting)

    app = _TableApp()
    async with app.run_test(size=(60, 20)) as pilot:
        table = app.query_one(ResourceTable)
        table.apply([_row(f"c{i:02d}", float(i)) for i in range(10)])
        await pilot.pause()
        assert "c03 3.0" in " | ".join(_shown(app))
        rendered.clear()

        table.update_rows([_row("c03", 42.5)])
        await pilot.pause()
        cells = [c for c in rendered if c[0] >= 0]
        # the changed cell (and the row under the cursor, restyled) - not all 30 cells
        assert 1 <= len(cells) <= 4, cells
        assert "c03 42.5" in " | ".join(_shown(app))

        # a re-sort moves rows: each shows its own values at its new place
        table.sort_index = 1
        table.sort_reverse = True
        table._order()
        await pilot.pause()
        shown = [line for line in _shown(app) if line.startswith("c")]
        assert shown[0] == "c03 42.5" and shown[1] == "c09 9.0", shown

        # the cursor moves: the highlighted row is drawn as the cursor row, the old one isn't
        await pilot.press("down")
        await pilot.pause()
        assert table.cursor_row == 1
        assert "c09 9.0" in " | ".join(_shown(app))


@pytest.mark.parametrize("size", [(80, 24), (200, 60)], ids=lambda s: f"{s[0]}x{s[1]}")
async def test_home_end_and_pages_move_over_the_rows_not_sideways(size):
    app = _TableApp()
    async with app.run_test(size=size) as pilot:
        table = app.query_one(ResourceTable)
        # names wider than the screen: DataTable's Home/End would scroll sideways
        table.apply([_row(f"{i:03d}-" + "x" * 300, float(i)) for i in range(100)])
        table.focus()
        await pilot.pause()
        await pilot.press("end")
        assert table.cursor_row == 99 and table.scroll_x == 0
        assert any(line.startswith("099-") for line in _shown(app))
        await pilot.press("home")
        assert table.cursor_row == 0 and table.scroll_x == 0
        page = table.scrollable_content_region.height - 2
        await pilot.press("pagedown")
        assert table.cursor_row == page
        await pilot.press("pagedown")
        assert table.cursor_row == min(2 * page, 99)
        await pilot.press("pageup")
        assert table.cursor_row == min(2 * page, 99) - page
        await pilot.press("pageup", "pageup")
        assert table.cursor_row == 0



async def test_a_paint_before_the_widths_settle_leaves_no_row_at_the_old_widths():
    """DataTable measures a changed cell's column on idle, without a new update count, and
    keys what it drew on that count alone: a paint in between (a busy machine) left the header
    and rows at the old widths beside rows at the new ones, for good (a worker row shifted
    two cells left in the 80x24 snapshot, once in a full run). KeptDrawing takes new widths
    as a new count."""
    from textual.geometry import Region
    app = _TableApp()
    async with app.run_test(size=(60, 12)) as pilot:
        table = app.query_one(ResourceTable)
        table.apply([_row(f"c{i:02d}", float(i)) for i in range(3)])
        await pilot.pause()
        table.update_rows([Row(key="c01", ref="c01", cells=("c01-now-a-much-longer-name", "1.0"),
                               sort=("c01", 1.0), text="c01", model=None)])
        table.render_lines(Region(0, 0, *table.size))   # a paint before the idle
        await pilot.pause()
        drawn = [strip.text.rstrip() for strip in app.screen._compositor.render_strips()]
        ends = {line.split()[0]: len(line) for line in drawn if line.strip()}
        assert ends == {"NAME": 38, "c00": 35, "c01-now-a-much-longer-name": 35, "c02": 35}, \
            drawn
