"""The terminal's xterm side (tui/widgets/vt.py): key and mouse bytes, colours, and the pyte
screen's alternate screen and replies, without a pty."""

from __future__ import annotations

import pyte

from tui.widgets.vt import VtScreen, key_bytes, mouse_bytes, rich_color


def test_keys_are_what_an_xterm_sends():
    assert key_bytes("up", None) == b"\x1b[A"
    assert key_bytes("up", None, app_cursor=True) == b"\x1bOA"   # vi, less: DECCKM on
    assert key_bytes("ctrl+right", None) == b"\x1b[1;5C"
    assert key_bytes("ctrl+c", None) == b"\x03"
    assert key_bytes("alt+x", "x") == b"\x1bx"
    assert key_bytes("enter", "\r") == b"\r"
    assert key_bytes("f12", None) == b"\x1b[24~"
    assert key_bytes("é", "é") == "é".encode()
    assert key_bytes("ctrl+shift+f13", None) is None


def test_mouse_reports_in_sgr_and_legacy_form():
    assert mouse_bytes(0, 4, 2) == b"\x1b[<0;5;3M"
    assert mouse_bytes(0, 4, 2, release=True) == b"\x1b[<0;5;3m"
    assert mouse_bytes(0, 4, 2, sgr=False) == b"\x1b[M" + bytes([32, 37, 35])
    assert mouse_bytes(0, 4, 2, release=True, sgr=False) == b"\x1b[M" + bytes([35, 37, 35])
    assert mouse_bytes(0, 300, 0, sgr=False)[4] == 255   # the legacy form tops out


def test_pyte_colour_names_become_richs():
    assert rich_color("default") is None
    assert rich_color("red") == "red"
    assert rich_color("brightblue") == "bright_blue"
    assert rich_color("brown") == "yellow"
    assert rich_color("ff8800") == "#ff8800"
    assert rich_color("zz8800") is None


def test_alternate_screen_gives_the_shell_its_screen_back():
    screen = VtScreen(20, 4, lambda data: None)
    stream = pyte.ByteStream(screen)
    stream.feed(b"$ vi notes\r\n")
    stream.feed(b"\x1b[?1049h\x1b[2J\x1b[HVI SCREEN")
    assert screen.alternate and screen.display[0].startswith("VI SCREEN")
    stream.feed(b"\x1b[?1049l")
    assert not screen.alternate
    assert screen.display[0].startswith("$ vi notes")
    assert (screen.cursor.x, screen.cursor.y) == (0, 1)   # 1049 restores the cursor


def test_alternate_screen_survives_a_resize_while_it_shows():
    screen = VtScreen(20, 6, lambda data: None)
    stream = pyte.ByteStream(screen)
    stream.feed(b"\x1b[6;1Hbottom line")
    stream.feed(b"\x1b[?1049h")
    screen.resize(3, 10)
    stream.feed(b"\x1b[?1049l")
    assert len(screen.display) == 3 and all(len(line) == 10 for line in screen.display)


def test_queries_are_answered_to_the_program():
    replies = []
    screen = VtScreen(20, 4, replies.append)
    stream = pyte.ByteStream(screen)
    stream.feed(b"ab\x1b[6n")          # where is the cursor?
    assert replies[-1] == b"\x1b[1;3R"
