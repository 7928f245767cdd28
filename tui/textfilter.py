"""The one filter language of the dashboard's lists, logs and events: a substring
(case-insensitive), or a regular expression after ``~``."""

from __future__ import annotations

import re


def compile_filter(text: str):
    """A predicate over a row's text: substring (case-insensitive), or a regex after '~'.
    Raises re.error for a bad regex."""
    text = text.strip()
    if not text:
        return None
    if text.startswith("~"):
        rx = re.compile(text[1:], re.IGNORECASE)
        return lambda s: rx.search(s) is not None
    needle = text.lower()
    return lambda s: needle in s.lower()
