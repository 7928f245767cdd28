"""Go's text/template as the docker CLI uses it: what berth's ``--format`` and ``-f`` speak.

``compile(text)`` parses once (and caches); ``Template.execute(data, policy)`` runs it on
JSON-shaped data. Light on purpose: ``berth ps --format`` imports it, so nothing heavy loads here.
Docker's formatter conventions (table, json, headers, inspect) are in ``docker``.
"""

from __future__ import annotations

from .execute import MAP, ExecError, Policy, State
from .funcs import DOCKER
from .parse import ParseError, parse
from .values import MISSING, NIL_MAP, NIL_SLICE, Struct

__all__ = ["MAP", "MISSING", "NIL_MAP", "NIL_SLICE", "ExecError", "ParseError", "Policy",
           "Struct", "Template", "compile"]


class Template:
    """A parsed template: its trees (the main one is named ""), ready to run many times."""

    __slots__ = ("text", "trees")

    def __init__(self, text: str):
        self.text, self.trees = text, parse(text, DOCKER)

    def execute(self, data, policy: Policy = MAP, funcs=None, partial: bool = False) -> str:
        """The template's output on ``data``; ExecError as Go words it (or, with ``partial``,
        what was written before the error, as Go leaves it in the writer)."""
        state = State(self.text, self.trees, funcs or DOCKER, policy)
        try:
            return state.run(data)
        except ExecError:
            if partial:
                return "".join(state.out)
            raise


_cache: dict[str, Template] = {}


def compile(text: str) -> Template:  # noqa: A001 - the verb Go's users know it by
    """The parsed template for ``text`` (parsed once); ParseError as Go words it."""
    t = _cache.get(text)
    if t is None:
        t = _cache[text] = Template(text)
    return t
