"""The dashboard tables' filter: words matched against what a row is called, or by field.

``web`` keeps rows whose name or image contains "web" (case-insensitive; never the id, which
is hex and matches too much); ``~^(web|db)$`` is a regular expression, anchored at each field
as typed. Fields narrow it: ``name:``, ``image:``, ``status:``, ``label:`` (a key, or
``key=value``) and ``id:`` (a prefix), each taking text or ``~regex``; several words must all
match. A filter that starts with ``~`` is one regular expression, spaces included.
"""

from __future__ import annotations

import re
from typing import Callable

FIELDS = ("name", "image", "status", "label", "id")


def _matcher(value: str) -> Callable[[str], bool]:
    if value.startswith("~"):
        rx = re.compile(value[1:], re.IGNORECASE)
        return lambda s: rx.search(s) is not None
    needle = value.lower()
    return lambda s: needle in s.lower()


def row_fields(kind: str, row) -> dict[str, list[str]]:
    """What each field of a row of ``kind`` reads (a list: an image has several tags)."""
    m = row.model
    if kind == "containers":
        from .widgets.rows import health_of, short_image
        status = [m.state.status] + ([health_of(m)] if health_of(m) else [])
        return {"name": [m.name], "image": [short_image(m.config.image)], "status": status,
                "label": [f"{k}={v}" for k, v in (m.config.labels or {}).items()],
                "id": [m.id]}
    labels = getattr(m, "labels", None) or {}
    if kind == "images":
        from .widgets.rows import short_image
        ref = short_image(row.ref) if row.ref != m.id else ""
        return {"name": [ref], "image": [ref], "status": [], "id": [m.id.removeprefix("sha256:")],
                "label": [f"{k}={v}" for k, v in labels.items()]}
    return {"name": [m.name], "image": [], "status": [], "id": [getattr(m, "id", "") or ""],
            "label": [f"{k}={v}" for k, v in labels.items()]}


def compile_row_filter(text: str, kind: str):
    """A predicate over a pane's rows, or None for an empty filter. Raises re.error for a bad
    regular expression."""
    text = text.strip()
    if not text:
        return None
    terms: list[tuple[tuple[str, ...], Callable[[str], bool]]] = []
    words = [text] if text.startswith("~") else text.split()
    for word in words:
        field, sep, value = word.partition(":")
        if sep and field.lower() in FIELDS:
            field = field.lower()
            if field == "id":
                prefix = value.lower()
                terms.append((("id",), lambda s, p=prefix: s.lower().startswith(p)))
            elif field == "label" and "=" not in value and not value.startswith("~"):
                key = value.lower()
                terms.append((("label",), lambda s, k=key: s.lower().partition("=")[0] == k))
            else:
                terms.append(((field,), _matcher(value)))
        else:
            terms.append((("name", "image"), _matcher(word)))

    def keep(row) -> bool:
        fields = row_fields(kind, row)
        return all(any(match(v) for f in names for v in fields.get(f, ()))
                   for names, match in terms)
    return keep
