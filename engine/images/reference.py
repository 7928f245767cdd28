"""Image references, parsed and normalised by Docker's rules.

``alpine`` is ``docker.io/library/alpine:latest``; the first component is a registry only when
it has a ``.`` or ``:``, is ``localhost`` or has capitals (``localhost:5000/a/b:t``);
``index.docker.io`` is ``docker.io``; a reference may end in ``@sha256:<64 hex>``. Repositories
are lowercase, tags ``[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}``. Anything else is refused with the
reason.
"""

from __future__ import annotations

from ..errors import InvalidArgument

DEFAULT_REGISTRY = "docker.io"
OFFICIAL_PREFIX = "library/"

# The grammar's rare parts (a registry host, a digest) are regular expressions, compiled on
# first use; the parts every `berth run IMAGE` checks are plain string tests, so that the start
# path loads neither re nor the enum, functools and collections it pulls in (~4 ms).
# tests/test_reference_grammar.py holds them to the expressions they replace (in comments).
_DOMAIN = (r"(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])"
           r"(?:\.(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9]))*"
           r"(?::[0-9]+)?\Z|\[[0-9a-fA-F:.]+\](?::[0-9]+)?\Z")
_DIGEST = r"[a-z0-9]+(?:[.+_-][a-z0-9]+)*:[a-zA-Z0-9=_-]{32,}\Z"
_SHA256 = r"sha256:[0-9a-f]{64}\Z"
_LOWER_ALNUM = frozenset("abcdefghijklmnopqrstuvwxyz0123456789")
_HEX = frozenset("0123456789abcdef")


def _match(pattern: str, text: str) -> bool:
    import re
    return re.match(pattern, text) is not None


def _component(text: str) -> bool:
    """[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*\\Z: lowercase alphanumerics, joined by one '.',
    one '_', '__' or any number of '-'."""
    if not text or text[0] not in _LOWER_ALNUM or text[-1] not in _LOWER_ALNUM:
        return False
    sep = ""
    for c in text:
        if c in _LOWER_ALNUM:
            if sep and sep not in (".", "_", "__") and sep.strip("-"):
                return False
            sep = ""
        elif c in "._-":
            sep += c
        else:
            return False
    return True


def _tag(text: str) -> bool:
    """[\\w][\\w.-]{0,127}\\Z (\\w as re has it for str: alphanumerics in any script, '_')."""
    return 0 < len(text) <= 128 and (text[0].isalnum() or text[0] == "_") \
        and all(c.isalnum() or c in "_.-" for c in text)


def _hex64(text: str) -> bool:
    """[0-9a-f]{64}\\Z"""
    return len(text) == 64 and all(c in _HEX for c in text)


class Reference(tuple):
    """A parsed reference: registry, repository, and a tag and/or a digest ('' when absent).
    (A tuple rather than a dataclass, whose import costs every berth command 5 ms, or a
    namedtuple, whose collections module costs `berth run` 1 ms.)"""

    __slots__ = ()

    def __new__(cls, registry: str, repository: str, tag: str = "", digest: str = ""):
        return tuple.__new__(cls, (registry, repository, tag, digest))

    registry = property(lambda self: self[0])
    repository = property(lambda self: self[1])
    tag = property(lambda self: self[2])
    digest = property(lambda self: self[3])

    def __repr__(self) -> str:
        return (f"Reference(registry={self[0]!r}, repository={self[1]!r}, tag={self[2]!r}, "
                f"digest={self[3]!r})")

    def __getnewargs__(self):
        return tuple(self)

    @property
    def name(self) -> str:
        """``docker.io/library/alpine``: registry and repository."""
        return f"{self.registry}/{self.repository}"

    # the registry area's vocabulary (containerd's) for the same parts
    domain = property(lambda self: self.registry)
    path = property(lambda self: self.repository)

    @property
    def familiar_name(self) -> str:
        """The name as Docker shows it: ``alpine``, ``user/app``, ``localhost:5000/app``."""
        if self.registry == DEFAULT_REGISTRY:
            r = self.repository
            return r[len(OFFICIAL_PREFIX):] if r.startswith(OFFICIAL_PREFIX) else r
        return self.name

    def with_default_tag(self) -> "Reference":
        """``:latest`` when the reference has neither tag nor digest."""
        if self.tag or self.digest:
            return self
        return Reference(self.registry, self.repository, "latest", "")

    def __str__(self) -> str:
        s = self.name
        if self.tag:
            s += ":" + self.tag
        if self.digest:
            s += "@" + self.digest
        return s


def parse(ref: str) -> Reference:
    """Split and normalise ``ref``; InvalidArgument says why it is not a reference."""
    if not isinstance(ref, str) or not ref:
        raise InvalidArgument("invalid reference format: the reference is empty")
    if ref != ref.strip() or any(c.isspace() for c in ref):
        raise InvalidArgument(f"invalid reference format: '{ref}' contains whitespace")
    rest, digest = ref, ""
    if "@" in rest:
        rest, _, digest = rest.partition("@")
        if not _match(_DIGEST, digest):
            raise InvalidArgument(f"invalid reference format: '{digest}' in '{ref}' is not a "
                                  "digest (expected sha256:<64 hex digits>)")
        if digest.startswith("sha256:") and not _match(_SHA256, digest):
            raise InvalidArgument(f"invalid reference format: digest '{digest}' must be "
                                  "sha256: and 64 lowercase hex digits")
    tag = ""
    slash = rest.rfind("/")
    colon = rest.rfind(":")
    if colon > slash:
        rest, tag = rest[:colon], rest[colon + 1:]
        if not _tag(tag):
            raise InvalidArgument(f"invalid reference format: tag '{tag}' in '{ref}' may hold "
                                  "only letters, digits, '_', '.' and '-' (at most 128, not "
                                  "starting with '.' or '-')")
    if not rest:
        raise InvalidArgument(f"invalid reference format: '{ref}' has no repository name")
    first, sep, remainder = rest.partition("/")
    if sep and (("." in first or ":" in first) or first == "localhost" or first != first.lower()):
        registry, repository = first, remainder
        if not _match(_DOMAIN, registry):
            raise InvalidArgument(f"invalid reference format: '{registry}' in '{ref}' is not a "
                                  "registry host[:port]")
    else:
        registry, repository = DEFAULT_REGISTRY, rest
    if registry == "index.docker.io":
        registry = DEFAULT_REGISTRY
    if registry == DEFAULT_REGISTRY and "/" not in repository:
        repository = OFFICIAL_PREFIX + repository
    for comp in repository.split("/"):
        if not _component(comp):
            if comp.lower() != comp and _component(comp.lower()):
                raise InvalidArgument(f"invalid reference format: repository name "
                                      f"({repository}) must be lowercase")
            raise InvalidArgument(f"invalid reference format: '{comp or '(empty)'}' in '{ref}' "
                                  "is not a repository name component (lowercase letters, "
                                  "digits and single separators . _ __ -)")
    if _hex64(rest):
        raise InvalidArgument(f"invalid repository name ({rest}), cannot specify 64-byte "
                              "hexadecimal strings")
    if len(registry) + 1 + len(repository) > 255:
        raise InvalidArgument(f"invalid reference format: repository name of '{ref}' is longer "
                              "than 255 characters")
    return Reference(registry, repository, tag, digest)


def normalize(ref: str) -> str:
    """The full normalised form: ``alpine`` -> ``docker.io/library/alpine:latest``."""
    return str(parse(ref).with_default_tag())


def familiar(ref: str) -> str:
    """A stored (normalised) reference as Docker prints it: ``alpine:3.20``,
    ``localhost:5000/a:t``."""
    try:
        r = parse(ref)
    except InvalidArgument:
        return ref
    s = r.familiar_name
    if r.tag:
        s += ":" + r.tag
    if r.digest:
        s += "@" + r.digest
    return s


def split_tag(ref: str) -> tuple[str, str]:
    """(familiar repository, tag or '<none>') of a stored tag, for the ``images`` columns."""
    r = parse(ref)
    return r.familiar_name, r.tag or "<none>"
