"""What template values are beyond JSON-shaped Python data: Go's "no value", typed nils, structs.

``MISSING`` is Go's invalid value (a map's missing key: prints ``<no value>``). ``NilSlice`` and
``NilMap`` are a typed struct field's nil slice or map (print ``[]``/``map[]``, encode as null).
``Struct`` is a Go struct or one of docker's formatter contexts: fields, methods taking arguments.
"""

from __future__ import annotations


class _Missing:
    __slots__ = ()

    def __repr__(self) -> str:
        return "MISSING"


MISSING = _Missing()


class NilSlice:
    """A nil slice of a typed struct field: ``[]``, false, empty, JSON null."""

    __slots__ = ()


class NilMap:
    """A nil map of a typed struct field: ``map[]``, false, empty, JSON null."""

    __slots__ = ()


NIL_SLICE, NIL_MAP = NilSlice(), NilMap()


class Struct:
    """A Go struct for templates.

    ``fields`` maps names to values, or to callables for methods that take arguments (docker's
    ``.Label "key"``). ``context``: one of docker's formatter contexts, whose fields are all
    methods and whose ``json`` is a sorted, HTML-escaped map. ``is_map``: a map type with methods
    (docker's table header), where a missing name is no value rather than an error.
    """

    __slots__ = ("type", "fields", "context", "is_map", "json")

    def __init__(self, type_name: str, fields: dict, context: bool = False,
                 is_map: bool = False, json=None):
        self.type, self.fields, self.context, self.is_map = type_name, fields, context, is_map
        self.json = json

    def marshal(self):
        """The value encoding/json gives this struct (``json`` where its tags rename fields;
        else its fields, methods with arguments left out)."""
        if self.json is not None:
            return self.json
        items = {k: v for k, v in self.fields.items() if not callable(v)}
        return {k: items[k] for k in sorted(items)} if self.context or self.is_map else items

    def go_string(self) -> str:
        from .gofmt import sprint_value
        if self.is_map:
            return sprint_value(self.marshal())
        return "{" + " ".join(sprint_value(v) for v in self.fields.values()
                              if not callable(v)) + "}"


def is_string_map(v) -> bool:
    """Whether a dict stands for a Go map[string]string (docker's Labels, Options): all values
    strings. Every other dict is a struct or a map of interfaces."""
    return all(type(x) is str for x in v.values())


def gotype(v) -> str:
    """The Go type name of a value, as fmt and text/template's errors name it."""
    if v is None or v is MISSING:
        return "<nil>"
    if isinstance(v, bool):
        return "bool"
    if isinstance(v, int):
        return "int"
    if isinstance(v, float):
        return "float64"
    if isinstance(v, str):
        return "string"
    if isinstance(v, (list, tuple)):
        return "[]string" if v and all(type(x) is str for x in v) else "[]interface {}"
    if isinstance(v, NilSlice):
        return "[]string"
    if isinstance(v, (dict, NilMap)):
        return "map[string]string" if isinstance(v, NilMap) or is_string_map(v) \
            else "map[string]interface {}"
    if isinstance(v, Struct):
        return v.type
    return type(v).__name__


def truth(v) -> bool:
    """Go's template truth: false for zero values, nil and no value."""
    if v is None or v is MISSING or isinstance(v, (NilSlice, NilMap)):
        return False
    if isinstance(v, Struct):
        return True
    if isinstance(v, (bool, int, float)):
        return v != 0
    try:
        return len(v) > 0
    except TypeError:
        return True
