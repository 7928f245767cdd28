"""TerminalWidget: an embedded terminal (pyte behind a Textual widget) running one program on a pty.

The program is spawned with asyncio's subprocess machinery (never a bare fork in the app's
process) on the slave side of a fresh pty, as the session leader with the pty as its controlling
terminal (``setsid -c``), so full-screen programs get SIGWINCH when the pane resizes. The master
side is read by the event loop (``add_reader``), fed to a pyte screen and drawn line by line;
keys the widget receives are translated to what an xterm would send. The screen is the pyte
grid only, so memory is bounded by the pane's size.
"""

from __future__ import annotations

import asyncio
import fcntl
import os
import signal
import struct
import sys
import termios

import pyte
from rich.segment import Segment
from rich.style import Style
from textual.events import Key, Resize
from textual.message import Message
from textual.strip import Strip
from textual.widget import Widget

__all__ = ["TerminalWidget", "exec_argv", "key_bytes"]

READ_SIZE = 65536
DECCKM = 1 << 5   # pyte keeps private modes shifted by 5: "application cursor keys"

_NAMED = {"brown": "yellow", "brightbrown": "bright_yellow", "bfightmagenta": "bright_magenta"}
_ANSI = {"black", "red", "green", "yellow", "blue", "magenta", "cyan", "white"}

_KEYS = {
    "enter": b"\r", "tab": b"\t", "shift+tab": b"\x1b[Z", "backspace": b"\x7f",
    "escape": b"\x1b", "delete": b"\x1b[3~", "insert": b"\x1b[2~",
    "home": b"\x1b[H", "end": b"\x1b[F", "pageup": b"\x1b[5~", "pagedown": b"\x1b[6~",
    "f1": b"\x1bOP", "f2": b"\x1bOQ", "f3": b"\x1bOR", "f4": b"\x1bOS",
    "f5": b"\x1b[15~", "f6": b"\x1b[17~", "f7": b"\x1b[18~", "f8": b"\x1b[19~",
    "f9": b"\x1b[20~", "f10": b"\x1b[21~", "f11": b"\x1b[23~", "f12": b"\x1b[24~",
}
_ARROWS = {"up": b"A", "down": b"B", "right": b"C", "left": b"D"}


def exec_argv(container_id: str, command: str = "sh") -> list[str]:
    """``berth exec -it <id> <command>`` as the session leader of its pty."""
    return ["setsid", "-w", "-c", sys.executable, "-m", "tui.cli", "exec", "-it", container_id,
            command]


def key_bytes(key: str, character: str | None, app_cursor: bool = False) -> bytes | None:
    """What an xterm sends for a Textual key (None: nothing)."""
    if key in _ARROWS:
        return (b"\x1bO" if app_cursor else b"\x1b[") + _ARROWS[key]
    if key in _KEYS:
        return _KEYS[key]
    if key.startswith("ctrl+") and len(key) == 6 and key[5].isalpha():
        return bytes([ord(key[5]) & 0x1F])
    if key.startswith("alt+") and character:
        return b"\x1b" + character.encode()
    if character:
        return character.encode()
    return None


def _color(name: str) -> str | None:
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


class _Screen(pyte.Screen):
    """A pyte screen that answers the program's queries (cursor position, device attributes)."""

    def __init__(self, columns: int, lines: int, reply) -> None:
        super().__init__(columns, lines)
        self._reply = reply

    def write_process_input(self, data: str) -> None:
        self._reply(data.encode())


class TerminalWidget(Widget, can_focus=True):
    """A terminal running ``argv`` on a pty: colours, cursor, keys, resize with the pane."""

    DEFAULT_CSS = """
    TerminalWidget {
        background: $background;
        color: $foreground;
    }
    """

    class Exited(Message):
        """The program ended (``code`` is its exit status)."""

        def __init__(self, terminal: "TerminalWidget", code: int) -> None:
            super().__init__()
            self.terminal = terminal
            self.code = code

    def __init__(self, argv: list[str], env: dict | None = None, title: str = "",
                 *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self.argv = argv
        self.env = env
        self.title = title
        self.screen_buffer = _Screen(80, 24, self.write)
        self.stream = pyte.ByteStream(self.screen_buffer)
        self.master: int | None = None
        self.proc: asyncio.subprocess.Process | None = None
        self.exit_code: int | None = None
        self.error = ""
        self._styles: dict[tuple, Style] = {}
        self._spawned = False
        self._started_size: tuple[int, int] | None = None

    # --- the program ----------------------------------------------------------------------------

    async def on_mount(self) -> None:
        if self.size.width and self.size.height:
            await self._spawn()
        # else: spawned on the first resize, so the program starts with the pane's size

    async def _spawn(self) -> None:
        if self._spawned:
            return
        self._spawned = True
        cols, rows = max(self.size.width, 2), max(self.size.height, 2)
        self.screen_buffer.resize(rows, cols)
        master, slave = os.openpty()
        try:
            self._set_winsize(master, rows, cols)
            env = {**os.environ, "TERM": "xterm", **(self.env or {})}
            self.proc = await asyncio.create_subprocess_exec(
                *self.argv, stdin=slave, stdout=slave, stderr=slave, env=env, close_fds=True)
        except OSError as e:
            os.close(master)
            self.error = str(e)
            self.exit_code = 127
            self.post_message(self.Exited(self, 127))
            return
        finally:
            os.close(slave)
        self.master = master
        self._started_size = (rows, cols)
        # the pane may have been laid out again while the program was being spawned
        self._set_winsize(master, self.screen_buffer.lines, self.screen_buffer.columns)
        os.set_blocking(master, False)
        asyncio.get_running_loop().add_reader(master, self._readable)

    def _readable(self) -> None:
        try:
            data = os.read(self.master, READ_SIZE)
        except BlockingIOError:
            return
        except OSError:   # EIO: every slave fd is closed, the program is gone
            data = b""
        if not data:
            self._close_master()
            self.run_worker(self._reap(), group="console-reap", exit_on_error=False)
            return
        if self._started_size is not None:
            # the program is up: if the pane changed size while it started, the kernel's
            # SIGWINCH may have come before it listened for it; say it again
            size, self._started_size = self._started_size, None
            if size != (self.screen_buffer.lines, self.screen_buffer.columns):
                try:
                    os.killpg(self.proc.pid, signal.SIGWINCH)
                except OSError:
                    pass
        self.stream.feed(data)
        self.refresh()

    async def _reap(self) -> None:
        code = await self.proc.wait() if self.proc is not None else 0
        self.exit_code = code
        self.refresh()
        self.post_message(self.Exited(self, code))

    def _close_master(self) -> None:
        if self.master is not None:
            try:
                asyncio.get_running_loop().remove_reader(self.master)
            except RuntimeError:
                pass
            os.close(self.master)
            self.master = None

    def close(self) -> None:
        """Hang up the program (its pty goes away) and release the pty."""
        self._close_master()
        if self.proc is not None and self.proc.returncode is None:
            try:
                self.proc.terminate()
            except ProcessLookupError:
                pass

    def on_unmount(self) -> None:
        self.close()

    @property
    def running(self) -> bool:
        return self.master is not None

    def write(self, data: bytes) -> None:
        """Send bytes to the program as if typed."""
        if self.master is None or not data:
            return
        try:
            os.write(self.master, data)
        except OSError:
            pass

    @staticmethod
    def _set_winsize(fd: int, rows: int, cols: int) -> None:
        fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))

    async def on_resize(self, event: Resize) -> None:
        if not self._spawned and event.size.width and event.size.height:
            await self._spawn()
            return
        cols, rows = max(event.size.width, 2), max(event.size.height, 2)
        if (rows, cols) == (self.screen_buffer.lines, self.screen_buffer.columns):
            return
        self.screen_buffer.resize(rows, cols)
        if self.master is not None:
            # the kernel sends SIGWINCH to the pty's foreground process group
            self._set_winsize(self.master, rows, cols)
        self.refresh()

    # --- keys -----------------------------------------------------------------------------------

    def on_key(self, event: Key) -> None:
        data = key_bytes(event.key, event.character, DECCKM in self.screen_buffer.mode)
        if data is None or self.master is None:
            return
        event.stop()
        event.prevent_default()
        self.write(data)

    def on_paste(self, event) -> None:
        event.stop()
        self.write(event.text.replace("\r\n", "\r").replace("\n", "\r").encode())

    # --- drawing --------------------------------------------------------------------------------

    def text(self) -> str:
        """What the terminal shows, as plain lines (tests and copying read this)."""
        return "\n".join(line.rstrip() for line in self.screen_buffer.display)

    def _style(self, ch) -> Style:
        key = (ch.fg, ch.bg, ch.bold, ch.italics, ch.underscore, ch.strikethrough, ch.reverse)
        style = self._styles.get(key)
        if style is None:
            if len(self._styles) > 4096:   # 24-bit colours could otherwise grow it forever
                self._styles.clear()
            style = self._styles[key] = Style(
                color=_color(ch.fg), bgcolor=_color(ch.bg), bold=ch.bold or None,
                italic=ch.italics or None, underline=ch.underscore or None,
                strike=ch.strikethrough or None, reverse=ch.reverse or None)
        return style

    def render_line(self, y: int) -> Strip:
        scr = self.screen_buffer
        width = self.size.width
        base = self.rich_style
        if y >= scr.lines:
            return Strip.blank(width, base)
        row = scr.buffer[y]
        cursor_x = -1
        if (y == scr.cursor.y and not scr.cursor.hidden and self.has_focus
                and self.exit_code is None):
            cursor_x = scr.cursor.x
        segments: list[Segment] = []
        run: list[str] = []
        run_style: Style | None = None
        for x in range(min(scr.columns, width)):
            ch = row[x]
            if ch.data == "":   # the right half of a wide character
                continue
            style = self._style(ch)
            if x == cursor_x:
                style = style + Style(reverse=not ch.reverse)
            if style is not run_style and style != run_style:
                if run:
                    segments.append(Segment("".join(run), base + run_style))
                run, run_style = [], style
            run.append(ch.data)
        if run:
            segments.append(Segment("".join(run), base + run_style))
        strip = Strip(segments)
        if y == scr.lines - 1 and self.exit_code is not None:
            note = f" [exited with {self.exit_code}{': ' + self.error if self.error else ''}] "
            strip = Strip([Segment(note, base + Style(reverse=True))])
        return strip.adjust_cell_length(width, base)
