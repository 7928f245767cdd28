"""TerminalWidget: an embedded terminal (pyte behind a Textual widget) for one session.

A session is either a program of ours on a fresh pty (``PtySession``: the exec console runs
``berth exec -it``, spawned with asyncio's subprocess machinery, never a bare fork in the app's
process, as the session leader of the pty so full-screen programs get SIGWINCH when the pane
resizes) or the container's main process through its monitor (``AttachSession``: the frames
socket of ``berth attach`` / ``run -it``, with Docker's ctrl-p ctrl-q to detach). Either way the
event loop reads the descriptor (``add_reader``), the output goes to a pyte screen, and only the
rows pyte marks dirty are drawn again; keys become what an xterm would send. The screen is the
pyte grid (and, while a full-screen program runs, the saved main screen): memory is bounded by
the pane's size.

The mouse selects text (press, drag, release; a double click a word, a triple click a row) and
the selection goes to the clipboard on release; once the program asks for mouse reports (xterm
modes 1000/1002/1003), the mouse is the program's and shift+drag selects, as in xterm.

The sessions are in terminal_sessions.py; the mouse and the selection in terminal_select.py;
the xterm bytes and the pyte screen in vt.py.
"""

from __future__ import annotations

import asyncio
import os

import pyte
from rich.segment import Segment
from rich.style import Style
from textual import events
from textual.geometry import Region
from textual.message import Message
from textual.strip import Strip
from textual.widget import Widget

from .terminal_select import MouseAndSelection
from .terminal_sessions import READ_SIZE, AttachSession, PtySession, exec_argv, kube_exec_argv
from .vt import BRACKETED_PASTE, DECCKM, VtScreen, key_bytes, mouse_bytes, rich_color

PAGE_KEYS = {"shift+pageup": 1, "shift+pagedown": -1}
"""Keys that scroll the scrollback a page (a terminal's own, never the program's)."""

__all__ = ["AttachSession", "PtySession", "TerminalWidget", "exec_argv", "kube_exec_argv",
           "key_bytes", "mouse_bytes"]

class TerminalWidget(MouseAndSelection, Widget, can_focus=True):
    """A terminal for one session: colours, cursor, keys, mouse, selection, resize with the
    pane."""

    ALLOW_SELECT = False   # the widget selects cells itself (Textual's selection is for text)

    DEFAULT_CSS = """
    TerminalWidget {
        background: $background;
        color: $foreground;
    }
    """

    class Exited(Message):
        """The session ended: the program exited (``code`` its status) or, attached, the user
        detached (``detached``; the container runs on)."""

        def __init__(self, terminal: "TerminalWidget", code: int | None,
                     detached: bool = False) -> None:
            super().__init__()
            self.terminal = terminal
            self.code = code
            self.detached = detached

    def __init__(self, argv: list[str] | None = None, env: dict | None = None, title: str = "",
                 *, session: PtySession | AttachSession | None = None,
                 reserved_keys: frozenset[str] = frozenset(),
                 id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self.session = session if session is not None else PtySession(argv or ["sh"], env)
        self.title = title
        self.container_id = ""
        """The container the session is in (set by the console screen)."""
        self.reserved_keys = reserved_keys
        """Keys left to the screen's bindings; every other key is the program's."""
        self.screen_buffer = VtScreen(80, 24, self._reply)
        self.stream = pyte.ByteStream(self.screen_buffer)
        self.fd: int | None = None
        self.exit_code: int | None = None
        self.detached = False
        self.error = ""
        self.selection: tuple[tuple[int, int], tuple[int, int]] | None = None
        """(anchor, head) as (row, column) cells, both inclusive, while text is selected."""
        self.last_copied = ""
        """The text this terminal last put on the clipboard."""
        self._selecting = False
        self._mouse_button = 0          # a button held while the program gets mouse reports
        self._styles: dict[tuple, Style] = {}
        self._spawned = False
        self._started_size: tuple[int, int] | None = None
        self._outgoing = bytearray()
        self._writer = False
        self._cursor_row = 0
        self.back = 0
        """Lines the view is scrolled back into the scrollback (0: the live screen)."""
        self._seen_scrolled = 0

    # --- the session ----------------------------------------------------------------------------

    @property
    def verb(self) -> str:
        """"exec" or "attach"."""
        return self.session.verb

    @property
    def proc(self):
        return self.session.proc

    @property
    def master(self) -> int | None:
        return self.fd

    @property
    def running(self) -> bool:
        return self.fd is not None

    @property
    def ended(self) -> bool:
        """The program exited, or the user detached: keys no longer go anywhere."""
        return self.detached or self.exit_code is not None or (self._spawned and self.fd is None)

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
        try:
            await self.session.start(rows, cols)
        except OSError as e:
            self.error = str(e)
            self.exit_code = 127
            self.session.close()
            self.post_message(self.Exited(self, 127))
            return
        self.fd = self.session.fd
        self._started_size = (rows, cols)
        os.set_blocking(self.fd, False)
        # the pane may have been laid out again while the program was being spawned; what
        # was typed meanwhile goes after
        typed, self._outgoing = self._outgoing, bytearray()
        self._send(self.session.resize(self.screen_buffer.lines, self.screen_buffer.columns))
        self._send(bytes(typed))
        asyncio.get_running_loop().add_reader(self.fd, self._readable)

    def _readable(self) -> None:
        try:
            data = os.read(self.fd, READ_SIZE)
        except BlockingIOError:
            return
        except OSError:   # EIO: every slave fd is closed, the program is gone
            data = b""
        if not data:
            self._finish()
            return
        data = self.session.output(data)
        if self._started_size is not None:
            # the program is up: if the pane changed size while it started, the kernel's
            # SIGWINCH may have come before it listened for it; say it again
            size, self._started_size = self._started_size, None
            if size != (self.screen_buffer.lines, self.screen_buffer.columns):
                self.session.nudge()
        if data:
            self.stream.feed(data)
            self._refresh_dirty()

    def _refresh_dirty(self) -> None:
        """Draw again the rows the output changed (and the cursor's old and new rows)."""
        scr = self.screen_buffer
        changed = set(scr.dirty)
        scr.dirty.clear()
        if self.back:   # scrolled back: stay on the same lines while new ones come
            self.back = min(self.back + scr.scrolled - self._seen_scrolled, len(scr.history))
            self._seen_scrolled = scr.scrolled
            self.refresh()
            return
        if self.selection is not None:
            (y0, _), (y1, _) = self._ordered()
            if any(y0 <= y <= y1 for y in changed):   # what was selected is no longer there
                self.selection = None
                self.refresh()
                return
        rows = changed | {self._cursor_row, scr.cursor.y}
        self._cursor_row = scr.cursor.y
        width = self.size.width
        if len(rows) * 2 > scr.lines or not width:
            self.refresh()
        else:
            self.refresh(*(Region(0, y, width, 1) for y in rows if y < scr.lines))

    def _finish(self) -> None:
        self._close_fd()
        self.run_worker(self._reap(), group="console-reap", exit_on_error=False)

    async def _reap(self) -> None:
        if self.detached:
            code = None
        else:
            code, self.error = await self.session.wait()
        self.exit_code = code
        self.refresh()
        self.post_message(self.Exited(self, code, self.detached))

    def _close_fd(self) -> None:
        if self.fd is not None:
            try:
                loop = asyncio.get_running_loop()
                loop.remove_reader(self.fd)
                if self._writer:
                    loop.remove_writer(self.fd)
            except RuntimeError:
                pass
            self._writer = False
            self._outgoing.clear()
            os.close(self.fd)
            self.fd = None
            self.session.fd = None

    def close(self) -> None:
        """End the session: an exec'd program is hung up; an attached container runs on."""
        self._close_fd()
        self.session.close()

    def on_unmount(self) -> None:
        self.close()

    def write(self, data: bytes) -> None:
        """Send bytes to the program as if typed (kept until it runs, when it is starting)."""
        if not data or self.ended:
            return
        out, detach = self.session.input(data, True)
        self._send(out)
        if detach:
            self.detached = True
            if not self._outgoing:
                self._finish()

    def _reply(self, data: bytes) -> None:
        """The terminal's own answers to the program's queries (never the detach keys)."""
        if self.fd is not None and data and not self.detached:
            self._send(self.session.input(data, False)[0])

    def _send(self, data: bytes) -> None:
        if not data:
            return
        if self.fd is None:
            if not self._spawned:
                self._outgoing += data   # the session starts once the pane has a size
            return
        self._outgoing += data
        self._flush()

    def _flush(self) -> None:
        """Write what the program takes now; the rest waits for the descriptor to be
        writable (a long paste must neither block the dashboard nor be cut)."""
        while self._outgoing and self.fd is not None:
            try:
                del self._outgoing[:os.write(self.fd, self._outgoing)]
            except BlockingIOError:
                break
            except OSError:
                self._outgoing.clear()
        loop = asyncio.get_running_loop()
        if self._outgoing and not self._writer:
            loop.add_writer(self.fd, self._flush)
            self._writer = True
        elif not self._outgoing:
            if self._writer:
                if self.fd is not None:
                    loop.remove_writer(self.fd)
                self._writer = False
            if self.detached and self.fd is not None:
                self._finish()

    async def on_resize(self, event: events.Resize) -> None:
        if not self._spawned and event.size.width and event.size.height:
            await self._spawn()
            return
        cols, rows = max(event.size.width, 2), max(event.size.height, 2)
        if (rows, cols) == (self.screen_buffer.lines, self.screen_buffer.columns):
            return
        self.screen_buffer.resize(rows, cols)
        self.screen_buffer.dirty.clear()
        self.selection = None
        if self.fd is not None:
            self._send(self.session.resize(rows, cols))
        self.refresh()

    # --- keys -----------------------------------------------------------------------------------

    def check_consume_key(self, key: str, character: str | None) -> bool:
        # the program's keys hide the dashboard's bindings (even priority ones such as
        # ctrl+q, which is also the second detach key); the screen keeps reserved_keys
        return key not in self.reserved_keys and (key in PAGE_KEYS
                                                   or key_bytes(key, character) is not None)

    def on_key(self, event: events.Key) -> None:
        if event.key in PAGE_KEYS:
            event.stop()
            event.prevent_default()
            self.scroll_history(PAGE_KEYS[event.key] * max(1, self.size.height - 1))
            return
        data = key_bytes(event.key, event.character, DECCKM in self.screen_buffer.mode)
        if data is None or self.ended:
            return
        event.stop()
        event.prevent_default()
        self.clear_selection()
        self.scroll_history(-self.back)   # typing shows the live screen, as a terminal does
        self.write(data)

    # --- scrollback -----------------------------------------------------------------------------

    def scroll_history(self, lines: int) -> None:
        """Scroll the view ``lines`` back into the scrollback (negative: forward); none while a
        full-screen program shows its alternate screen."""
        scr = self.screen_buffer
        back = 0 if scr.alternate else min(max(self.back + lines, 0), len(scr.history))
        if back != self.back:
            self.back = back
            self._seen_scrolled = scr.scrolled
            self.clear_selection()
            self.refresh()

    def _history_strip(self, runs: tuple, width: int, base: Style) -> Strip:
        from pyte.screens import Char
        segments = [Segment(text, base + self._style(Char("", *attrs))) for text, attrs in runs]
        return Strip(segments).adjust_cell_length(width, base).crop(0, width)

    def on_paste(self, event: events.Paste) -> None:
        event.stop()
        data = event.text.replace("\r\n", "\r").replace("\n", "\r").encode()
        if BRACKETED_PASTE in self.screen_buffer.mode:
            data = b"\x1b[200~" + data + b"\x1b[201~"
        self.write(data)

    def on_focus(self) -> None:
        self.refresh()

    def on_blur(self) -> None:
        self.refresh()

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
                color=rich_color(ch.fg), bgcolor=rich_color(ch.bg), bold=ch.bold or None,
                italic=ch.italics or None, underline=ch.underscore or None,
                strike=ch.strikethrough or None, reverse=ch.reverse or None)
        return style

    def render_line(self, y: int) -> Strip:
        strip = self._row(y)
        if self.back and y == 0:   # where the view is, over the right end of the top row
            note = f" ↑ {self.back} lines back: shift+PgDn or type to return "
            width = self.size.width
            strip = Strip.join([strip.crop(0, max(0, width - len(note))),
                                Strip([Segment(note, self.rich_style + Style(reverse=True))])])
            strip = strip.crop(0, width)
        return strip

    def _row(self, y: int) -> Strip:
        scr = self.screen_buffer
        width = self.size.width
        base = self.rich_style
        if y >= scr.lines:
            return Strip.blank(width, base)
        if self.back:
            n = len(scr.history)
            i = n - self.back + y
            if i < n:
                return self._history_strip(scr.history[i], width, base)
            y = i - n
        if y == scr.lines - 1 and (self.exit_code is not None or self.detached):
            note = (" [detached: the container runs on] " if self.detached else
                    f" [exited with {self.exit_code}{': ' + self.error if self.error else ''}] ")
            return Strip([Segment(note, base + Style(reverse=True))]).adjust_cell_length(
                width, base)
        row = scr.buffer[y]
        cursor_x = -1
        if (y == scr.cursor.y and not scr.cursor.hidden and self.has_focus
                and self.exit_code is None and not self.detached):
            cursor_x = scr.cursor.x
        span = self._selected_span(y)
        selected = None
        if span is not None:
            # the theme's selection background under the cells' own colours (its foreground
            # is "transparent", which Rich sees as the background colour)
            background = self.selection_style.bgcolor
            selected = (Style(bgcolor=background, reverse=False) if background is not None
                        else Style(reverse=True))
        segments: list[Segment] = []
        run: list[str] = []
        run_style: Style | None = None
        for x in range(min(scr.columns, width)):
            ch = row[x]
            if ch.data == "":   # the right half of a wide character
                continue
            style = self._style(ch)
            if span is not None and span[0] <= x < span[1]:
                style = style + selected
            if x == cursor_x:
                style = style + Style(reverse=not ch.reverse)
            if style is not run_style and style != run_style:
                if run:
                    segments.append(Segment("".join(run), base + run_style))
                run, run_style = [], style
            run.append(ch.data)
        if run:
            segments.append(Segment("".join(run), base + run_style))
        return Strip(segments).adjust_cell_length(width, base)
