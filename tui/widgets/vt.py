"""The terminal's xterm side, without Textual: the bytes an xterm sends for keys and mouse
reports, pyte's colour names as Rich's, and ``VtScreen``, a pyte screen with xterm's alternate
screen that answers the program's queries. Pure, so tested without a pty."""

from __future__ import annotations

import copy
from collections import defaultdict, deque

import pyte
from pyte.screens import StaticDefaultDict

HISTORY_LINES = 10_000
"""Lines of scrollback each console keeps (as runs of text, a few hundred bytes a line)."""

__all__ = ["VtScreen", "key_bytes", "mouse_bytes", "rich_color", "DECCKM", "MOUSE_MODES",
           "MOUSE_DRAG", "MOUSE_ANY", "MOUSE_SGR", "BRACKETED_PASTE"]


def _private(mode: int) -> int:
    return mode << 5   # pyte keeps private (DEC) modes shifted by 5


DECCKM = _private(1)                  # application cursor keys
MOUSE_MODES = {_private(9), _private(1000), _private(1002), _private(1003)}
MOUSE_DRAG, MOUSE_ANY, MOUSE_SGR = _private(1002), _private(1003), _private(1006)
BRACKETED_PASTE = _private(2004)
ALT_SCREEN = {47, 1047, 1049}         # private modes that switch to the alternate screen

_NAMED = {"brown": "yellow", "brightbrown": "bright_yellow", "bfightmagenta": "bright_magenta"}
_ANSI = {"black", "red", "green", "yellow", "blue", "magenta", "cyan", "white"}

_KEYS = {
    "enter": b"\r", "tab": b"\t", "shift+tab": b"\x1b[Z", "backspace": b"\x7f",
    "escape": b"\x1b", "delete": b"\x1b[3~", "insert": b"\x1b[2~",
    "home": b"\x1b[H", "end": b"\x1b[F", "pageup": b"\x1b[5~", "pagedown": b"\x1b[6~",
    "f1": b"\x1bOP", "f2": b"\x1bOQ", "f3": b"\x1bOR", "f4": b"\x1bOS",
    "f5": b"\x1b[15~", "f6": b"\x1b[17~", "f7": b"\x1b[18~", "f8": b"\x1b[19~",
    "f9": b"\x1b[20~", "f10": b"\x1b[21~", "f11": b"\x1b[23~", "f12": b"\x1b[24~",
    "ctrl+@": b"\x00", "ctrl+space": b"\x00",
    "ctrl+left_square_bracket": b"\x1b", "ctrl+backslash": b"\x1c",
    "ctrl+right_square_bracket": b"\x1d", "ctrl+circumflex_accent": b"\x1e",
    "ctrl+underscore": b"\x1f",
}
_ARROWS = {"up": b"A", "down": b"B", "right": b"C", "left": b"D"}
_MODIFIED = {"shift": 2, "alt": 3, "shift+alt": 4, "ctrl": 5, "ctrl+shift": 6, "ctrl+alt": 7}


def key_bytes(key: str, character: str | None, app_cursor: bool = False) -> bytes | None:
    """What an xterm sends for a Textual key (None: nothing)."""
    if key in _ARROWS:
        return (b"\x1bO" if app_cursor else b"\x1b[") + _ARROWS[key]
    if key in _KEYS:
        return _KEYS[key]
    mods, _, base = key.rpartition("+")
    if mods in _MODIFIED and base in _ARROWS:   # xterm's modified cursor keys: ESC [ 1 ; 5 C
        return b"\x1b[1;%d" % _MODIFIED[mods] + _ARROWS[base]
    if key.startswith("ctrl+") and len(key) == 6 and key[5].isalpha():
        return bytes([ord(key[5]) & 0x1F])
    if key.startswith("alt+") and character:
        return b"\x1b" + character.encode()
    if character:
        return character.encode()
    return None


def mouse_bytes(button: int, x: int, y: int, release: bool = False, sgr: bool = True) -> bytes:
    """An xterm mouse report: ``button`` is xterm's code (0-2 buttons, +32 motion, 64/65 wheel,
    +4/+8/+16 shift/meta/ctrl), ``x``/``y`` cells from 0. SGR (mode 1006) or the legacy form."""
    if sgr:
        return b"\x1b[<%d;%d;%d%c" % (button, x + 1, y + 1, ord("m" if release else "M"))
    if release:
        button = (button & ~3) | 3
    return b"\x1b[M" + bytes([32 + button, min(32 + x + 1, 255), min(32 + y + 1, 255)])


def rich_color(name: str) -> str | None:
    if name == "default":
        return None
    name = _NAMED.get(name, name)
    if name in _ANSI:
        return name
    if name.startswith("bright") and name[6:] in _ANSI:
        return "bright_" + name[6:]
    if name.startswith("bright_"):
        return name
    if len(name) == 6:
        try:
            int(name, 16)
            return "#" + name
        except ValueError:
            return None
    return None


class VtScreen(pyte.Screen):
    """A pyte screen that answers the program's queries (cursor position, device attributes)
    and has xterm's alternate screen (modes 47, 1047, 1049), so the shell's screen is back
    after ``vi`` or ``top``; with xterm's scrollback (``history``: the lines scrolled off the
    top of the main screen, at most HISTORY_LINES) and xterm's resize (rows below the cursor
    go first, rows pushed off the top go to the scrollback and come back when it grows)."""

    def __init__(self, columns: int, lines: int, reply, history: int = HISTORY_LINES) -> None:
        self._main = None   # (buffer, cursor) of the main screen while the alternate one shows
        self.history: deque[tuple] = deque(maxlen=history)
        """Lines scrolled off the top, oldest first, each a tuple of (text, attributes) runs."""
        self.scrolled = 0
        """Lines added to ``history`` in all (a view scrolled back keeps its place by it)."""
        self._attrs: dict[tuple, tuple] = {}
        super().__init__(columns, lines)
        self._reply = reply

    # --- scrollback -----------------------------------------------------------------------------

    def _keep(self, row) -> None:
        """Put a row that leaves the top of the main screen into the scrollback."""
        runs: list[tuple[str, tuple]] = []
        blank = self.default_char
        width = max((x + 1 for x, ch in row.items() if ch != blank), default=0)
        for x in range(min(width, self.columns)):
            ch = row[x]
            attrs = tuple(ch[1:])
            attrs = self._attrs.setdefault(attrs, attrs)   # one tuple per look, shared
            if runs and runs[-1][1] is attrs:
                runs[-1] = (runs[-1][0] + ch.data, attrs)
            else:
                runs.append((ch.data, attrs))
        if len(self._attrs) > 4096:   # 24-bit colours could otherwise grow it forever
            self._attrs.clear()
        self.history.append(tuple(runs))
        self.scrolled += 1

    def _restore(self, runs: tuple):
        """A scrollback line as a buffer row again (the screen grew)."""
        row = StaticDefaultDict(self.default_char)
        x = 0
        for text, attrs in runs:
            for c in text:
                if x < self.columns:
                    row[x] = pyte.screens.Char(c, *attrs)
                x += 1
        return row

    def erase_in_display(self, how: int = 0, *args, **kwargs) -> None:
        if how == 3:   # xterm's "erase saved lines" (what `clear` sends): the scrollback
            self.history.clear()
            return
        super().erase_in_display(how, *args, **kwargs)

    def index(self) -> None:
        top, bottom = self.margins or (0, self.lines - 1)
        if self.cursor.y == bottom and top == 0 and self._main is None:
            self._keep(self.buffer[0])
        super().index()

    def resize(self, lines: int | None = None, columns: int | None = None) -> None:
        lines = lines or self.lines
        columns = columns or self.columns
        if lines != self.lines and self._main is None:
            self._resize_main(lines)
        super().resize(lines, columns)

    def _resize_main(self, lines: int) -> None:
        """Change the main screen's height as xterm does: shrinking drops the rows below the
        cursor first, then moves rows off the top into the scrollback; growing brings them back
        from it (pyte alone would cut the top, the prompt and what was above it)."""
        old = self.lines
        shift = 0
        if lines < old:
            below = old - 1 - self.cursor.y
            shift = max(0, (old - lines) - below)
            for y in range(shift):
                self._keep(self.buffer[y])
        elif self.history:
            shift = -min(lines - old, len(self.history))
        buffer = self._new_buffer()
        for y, row in self.buffer.items():
            if 0 <= y - shift < lines and y < old:
                buffer[y - shift] = row
        for y in range(-shift):
            buffer[-shift - 1 - y] = self._restore(self.history.pop())
        self.buffer = buffer
        self.cursor.y = min(max(self.cursor.y - shift, 0), lines - 1)
        self.lines = lines   # pyte's resize now only changes the width
        self.dirty.update(range(lines))
        self.set_margins()

    def write_process_input(self, data: str) -> None:
        self._reply(data.encode())

    def _new_buffer(self):
        return defaultdict(lambda: StaticDefaultDict(self.default_char))

    def set_mode(self, *modes: int, **kwargs) -> None:
        if kwargs.get("private"):
            for mode in modes:
                if mode in ALT_SCREEN and self._main is None:
                    self._main = (self.buffer, copy.copy(self.cursor) if mode == 1049 else None)
                    self.buffer = self._new_buffer()
                    self.dirty.update(range(self.lines))
        super().set_mode(*modes, **kwargs)

    def reset_mode(self, *modes: int, **kwargs) -> None:
        if kwargs.get("private"):
            for mode in modes:
                if mode in ALT_SCREEN and self._main is not None:
                    self._leave_alternate()
        super().reset_mode(*modes, **kwargs)

    def _leave_alternate(self) -> None:
        buffer, cursor = self._main
        self._main = None
        # the pane may have changed size meanwhile: keep what fits
        for y in [y for y in buffer if y >= self.lines]:
            del buffer[y]
        for line in buffer.values():
            for x in [x for x in line if x >= self.columns]:
                del line[x]
        self.buffer = buffer
        if cursor is not None:
            self.cursor = cursor
            self.ensure_hbounds()
            self.ensure_vbounds()
        self.dirty.update(range(self.lines))

    @property
    def alternate(self) -> bool:
        """A full-screen program's alternate screen shows."""
        return self._main is not None

    def reset(self) -> None:
        self._main = None
        super().reset()
