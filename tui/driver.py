"""QuietDriver: Textual's Linux terminal driver whose input thread sleeps until there is input.

Textual's input thread wakes ten times a second (``select(0.1)``) to see whether it is to stop
and whether a partly read escape sequence has timed out (a lone Esc). An idle dashboard spent a
quarter of its CPU there (py-spy, 100 containers, the stats tab open: 34 of 126 samples).
Here the thread waits without a timeout unless the parser is in the middle of a sequence (then
until that sequence's deadline), and stopping it wakes it through a pipe: ``exit_event.set()``
writes to it. Keys, the mouse, pastes and resizes reach the app as through Textual's own
thread: the same parser, decoder and ``process_message``.
"""

from __future__ import annotations

import os
import selectors
import threading
import time
from codecs import getincrementaldecoder

from textual.drivers.linux_driver import LinuxDriver

TEXTUAL_WAKE = 0.1   # Textual's own poll: used if its parser's deadline can't be read
INPUT_THREAD = "textual-input"


class _WakingEvent(threading.Event):
    """The driver's exit event: setting it also wakes the input thread's wait."""

    def __init__(self) -> None:
        super().__init__()
        self.wake_fd = -1

    def set(self) -> None:
        super().set()
        if self.wake_fd >= 0:
            try:
                os.write(self.wake_fd, b"x")
            except OSError:
                pass   # full (it is being woken already) or closed (the thread ended)


class QuietDriver(LinuxDriver):
    """LinuxDriver with an input thread that waits for input (see the module doc)."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.exit_event = _WakingEvent()

    def run_input_thread(self) -> None:
        from textual._xterm_parser import XTermParser
        try:   # its name for top -H and ps -L (and the tests), as Python names the thread
            with open("/proc/thread-self/comm", "w") as f:
                f.write(INPUT_THREAD)
        except OSError:
            pass
        wake_r, wake_w = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
        self.exit_event.wake_fd = wake_w
        selector = selectors.DefaultSelector()
        selector.register(self.fileno, selectors.EVENT_READ)
        selector.register(wake_r, selectors.EVENT_READ)
        parser = XTermParser(self._debug)
        decode = getincrementaldecoder("utf-8")().decode

        def take(events, final: bool = False) -> None:
            for key, _ in events:
                if key.fd == wake_r:
                    os.read(wake_r, 4096)
                    continue
                raw = os.read(self.fileno, 4096)
                if not raw:   # end of input (a pipe): no more to wait for from it
                    selector.unregister(self.fileno)
                    continue
                # (no text yet when the read ends inside a character: the decoder keeps it)
                for message in parser.feed(decode(raw, final=final)):
                    self.process_message(message)
            for message in parser.tick():
                self.process_message(message)

        try:
            while not self.exit_event.is_set():
                take(selector.select(_wait(parser)))
            if self.fileno in selector.get_map():
                # what is already typed, as Textual's thread reads it on the way out
                take(selector.select(0), final=True)
        finally:
            self.exit_event.wake_fd = -1
            selector.close()
            os.close(wake_r)
            os.close(wake_w)
            try:
                for _ in parser.feed(""):
                    pass
            except Exception:  # noqa: BLE001 - as Textual's: a sequence cut short at the end
                pass


def _wait(parser) -> float | None:
    """How long the input thread may wait: until the parser's pending sequence times out (on
    Textual's clock, monotonic), or for input alone when none is pending."""
    try:
        deadline = parser._timeout_time
    except AttributeError:
        return TEXTUAL_WAKE
    if deadline is None:
        return None
    return max(0.0, deadline - time.monotonic())
