"""The plain record every model is (``Model``): fields from annotations, JSON round-tripping
with nested models, compared by value; ``field`` and ``dataclass`` as in dataclasses.
engine/models.py holds the engine's models; ``MODELS`` names the ones ``from_dict`` rebuilds
when they are nested."""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

_MISSING = object()


class _Default:
    __slots__ = ("value", "factory")

    def __init__(self, value: Any = _MISSING, factory: Any = None):
        self.value = value
        self.factory = factory

    def make(self) -> Any:
        return self.factory() if self.factory is not None else self.value


def field(*, default: Any = _MISSING, default_factory: Any = None) -> Any:
    """A field's default, as dataclasses.field: ``field(default_factory=list)``."""
    return _Default(default, default_factory)


def dataclass(cls):
    """Kept so the models read like dataclasses; Model.__init_subclass__ does the work."""
    return cls


class Model:
    """Plain records with JSON round-tripping, nested models and lists and dicts of them included.

    Not ``dataclasses``: building twenty dataclasses (and importing inspect for them) costs every
    berth command ~12 ms; this does the same job from the annotations at class creation without
    generating code. Fields are the annotated names in order; positional and keyword arguments
    work as in a dataclass; instances compare by value.
    """

    __fields__: tuple[str, ...] = ()
    __field_defaults__: dict[str, _Default] = {}
    __field_types__: dict[str, str] = {}
    __hash__ = None  # type: ignore[assignment]  # mutable, compared by value: unhashable

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        names = list(cls.__fields__)
        defaults = dict(cls.__field_defaults__)
        types = dict(cls.__field_types__)
        for name, annotation in cls.__dict__.get("__annotations__", {}).items():
            if name.startswith("_"):
                continue
            value = cls.__dict__.get(name, _MISSING)
            if isinstance(value, _Default):
                defaults[name] = value
                delattr(cls, name)
            elif value is not _MISSING:
                defaults[name] = _Default(value)
            elif defaults and name not in defaults:
                raise TypeError(f"{cls.__name__}.{name}: a field without a default follows one with")
            if name not in names:
                names.append(name)
            types[name] = annotation
        cls.__fields__ = tuple(names)
        cls.__field_defaults__ = defaults
        cls.__field_types__ = types

    def __init__(self, *args: Any, **kwargs: Any):
        fields = self.__fields__
        if len(args) > len(fields):
            raise TypeError(f"{type(self).__name__} takes {len(fields)} arguments, got {len(args)}")
        for name, value in zip(fields, args):
            setattr(self, name, value)
        for name in fields[len(args):]:
            if name in kwargs:
                setattr(self, name, kwargs.pop(name))
                continue
            default = self.__field_defaults__.get(name)
            if default is None:
                raise TypeError(f"{type(self).__name__} missing argument: {name!r}")
            setattr(self, name, default.make())
        if kwargs:
            raise TypeError(f"{type(self).__name__} got unexpected arguments: {', '.join(kwargs)}")

    def __eq__(self, other: object) -> bool:
        if type(other) is not type(self):
            return NotImplemented
        return all(getattr(self, f) == getattr(other, f) for f in self.__fields__)

    def __repr__(self) -> str:
        inner = ", ".join(f"{f}={getattr(self, f)!r}" for f in self.__fields__)
        return f"{type(self).__name__}({inner})"

    def to_dict(self) -> dict[str, Any]:
        return {f: _plain(getattr(self, f)) for f in self.__fields__}

    @classmethod
    def from_dict(cls, data: dict[str, Any]):
        types = cls.__field_types__
        return cls(**{f: _convert(types[f], data[f]) for f in cls.__fields__ if f in data})


# the models nested fields are rebuilt as, by class name (engine/models.py fills it)
MODELS: dict[str, type[Model]] = {}


def _plain(value: Any) -> Any:
    if isinstance(value, Model):
        return value.to_dict()
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    return value


def _convert(annotation: str, value: Any) -> Any:
    """Rebuild nested models from JSON, reading the annotation as written (``list[Port]``)."""
    if value is None:
        return None
    t = annotation.replace(" | None", "").strip()
    if t.startswith("list[") and isinstance(value, list):
        inner = t[5:-1]
        return [_convert(inner, v) for v in value] if inner in MODELS else list(value)
    if t.startswith("dict[") and isinstance(value, dict):
        inner = t[5:-1].split(",", 1)[1].strip()
        return {k: _convert(inner, v) for k, v in value.items()} if inner in MODELS else dict(value)
    model = MODELS.get(t)
    if model is not None and isinstance(value, dict):
        return model.from_dict(value)
    return value
