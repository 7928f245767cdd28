"""Image references, parsed and normalised by Docker's rules.

``alpine`` is ``docker.io/library/alpine:latest``; the first component is a registry only when
it has a ``.`` or ``:``, is ``localhost`` or has capitals (``localhost:5000/a/b:t``);
``index.docker.io`` is ``docker.io``; a reference may end in ``@sha256:<64 hex>``. Repositories
are lowercase, tags ``[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}``. Anything else is refused with the
reason.
"""

from __future__ import annotations

import re
from collections import namedtuple

from ..errors import InvalidArgument

DEFAULT_REGISTRY = "docker.io"
OFFICIAL_PREFIX = "library/"

_COMPONENT = re.compile(r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*\Z")
_DOMAIN = re.compile(r"(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])"
                     r"(?:\.(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9]))*"
                     r"(?::[0-9]+)?\Z|\[[0-9a-fA-F:.]+\](?::[0-9]+)?\Z")
_TAG = re.compile(r"[\w][\w.-]{0,127}\Z")
_DIGEST = re.compile(r"[a-z0-9]+(?:[.+_-][a-z0-9]+)*:[a-zA-Z0-9=_-]{32,}\Z")
_SHA256 = re.compile(r"sha256:[0-9a-f]{64}\Z")
_HEX64 = re.compile(r"[0-9a-f]{64}\Z")


class Reference(namedtuple("_Reference", "registry repository tag digest", defaults=("", ""))):
    """A parsed reference: registry, repository, and a tag and/or a digest ('' when absent).
    (A named tuple rather than a dataclass: dataclasses costs every berth command 5 ms.)"""

    __slots__ = ()

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
        if not _DIGEST.match(digest):
            raise InvalidArgument(f"invalid reference format: '{digest}' in '{ref}' is not a "
                                  "digest (expected sha256:<64 hex digits>)")
        if digest.startswith("sha256:") and not _SHA256.match(digest):
            raise InvalidArgument(f"invalid reference format: digest '{digest}' must be "
                                  "sha256: and 64 lowercase hex digits")
    tag = ""
    slash = rest.rfind("/")
    colon = rest.rfind(":")
    if colon > slash:
        rest, tag = rest[:colon], rest[colon + 1:]
        if not _TAG.match(tag):
            raise InvalidArgument(f"invalid reference format: tag '{tag}' in '{ref}' may hold "
                                  "only letters, digits, '_', '.' and '-' (at most 128, not "
                                  "starting with '.' or '-')")
    if not rest:
        raise InvalidArgument(f"invalid reference format: '{ref}' has no repository name")
    first, sep, remainder = rest.partition("/")
    if sep and (("." in first or ":" in first) or first == "localhost" or first != first.lower()):
        registry, repository = first, remainder
        if not _DOMAIN.match(registry):
            raise InvalidArgument(f"invalid reference format: '{registry}' in '{ref}' is not a "
                                  "registry host[:port]")
    else:
        registry, repository = DEFAULT_REGISTRY, rest
    if registry == "index.docker.io":
        registry = DEFAULT_REGISTRY
    if registry == DEFAULT_REGISTRY and "/" not in repository:
        repository = OFFICIAL_PREFIX + repository
    for comp in repository.split("/"):
        if not _COMPONENT.match(comp):
            if comp.lower() != comp and _COMPONENT.match(comp.lower()):
                raise InvalidArgument(f"invalid reference format: repository name "
                                      f"({repository}) must be lowercase")
            raise InvalidArgument(f"invalid reference format: '{comp or '(empty)'}' in '{ref}' "
                                  "is not a repository name component (lowercase letters, "
                                  "digits and single separators . _ __ -)")
    if _HEX64.match(rest):
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
