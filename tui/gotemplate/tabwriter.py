"""Go's text/tabwriter as the docker CLI sets it up for ``table`` formats (minwidth 10, padding 3,
padded with spaces): tab-terminated cells aligned in column blocks, the text after a line's last
tab left as it is."""

from __future__ import annotations


def tabwrite(text: str, minwidth: int = 10, padding: int = 3) -> str:
    lines = [line.split("\t") for line in text.split("\n")]
    widths: list[int] = []
    out: list[str] = []

    def write_lines(first: int, end: int) -> None:
        for cells in lines[first:end]:
            parts = []
            for j, cell in enumerate(cells):
                parts.append(cell)
                if j < len(widths):
                    parts.append(" " * (widths[j] - len(cell)))
            out.append("".join(parts))

    def format_block(first: int, end: int) -> None:
        column = len(widths)
        this = first
        while this < end:
            if column >= len(lines[this]) - 1:
                this += 1
                continue
            write_lines(first, this)
            first = this
            width = minwidth
            while this < end and column < len(lines[this]) - 1:
                width = max(width, len(lines[this][column]) + padding)
                this += 1
            widths.append(width)
            format_block(first, this)
            widths.pop()
            first = this
        write_lines(first, end)

    format_block(0, len(lines))
    return "\n".join(out)
