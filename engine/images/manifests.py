"""What a registry's manifests are: the media types berth accepts, sha256 digests, and the
platform an image is for, with the choice of one entry from an index or manifest list."""

from __future__ import annotations

import hashlib
import os
import re
from collections import namedtuple

from ..errors import InvalidArgument, NotFound

OCI_INDEX = "application/vnd.oci.image.index.v1+json"
DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
SCHEMA1 = ("application/vnd.docker.distribution.manifest.v1+json",
           "application/vnd.docker.distribution.manifest.v1+prettyjws")
INDEX_TYPES = (OCI_INDEX, DOCKER_LIST)
MANIFEST_TYPES = (OCI_MANIFEST, DOCKER_MANIFEST)
ACCEPT = ", ".join((OCI_INDEX, DOCKER_LIST, OCI_MANIFEST, DOCKER_MANIFEST, *SCHEMA1))


def sha256_digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def check_digest(digest: str) -> str:
    """``digest`` when it is a sha256 digest berth can verify; InvalidArgument otherwise."""
    algo, _, hexpart = digest.partition(":")
    if algo != "sha256" or not re.fullmatch(r"[0-9a-f]{64}", hexpart):
        raise InvalidArgument(f"unsupported digest {digest!r}: berth verifies sha256 digests only")
    return digest



class Platform(namedtuple("Platform", "os architecture variant", defaults=("",))):
    """An image platform, as --platform names it: os/arch[/variant]. A named tuple: dataclasses
    would bring inspect and ast to every pull (5-15 ms)."""

    __slots__ = ()

    def __str__(self) -> str:
        return "/".join(p for p in (self.os, self.architecture, self.variant) if p)


_MACHINE = {"x86_64": ("amd64", ""), "amd64": ("amd64", ""), "aarch64": ("arm64", "v8"),
            "arm64": ("arm64", "v8"), "armv7l": ("arm", "v7"), "armv6l": ("arm", "v6"),
            "i386": ("386", ""), "i686": ("386", ""), "ppc64le": ("ppc64le", ""),
            "s390x": ("s390x", ""), "riscv64": ("riscv64", "")}


def host_platform() -> Platform:
    machine = os.uname().machine    # platform.machine(), without platform's import (2-5 ms)
    arch, variant = _MACHINE.get(machine, (machine, ""))
    return Platform("linux", arch, variant)


def parse_platform(text: str | None) -> Platform:
    """The platform named by ``--platform`` (os/arch[/variant]); the host's when empty."""
    if not text:
        return host_platform()
    parts = text.strip().lower().split("/")
    if len(parts) not in (2, 3) or not all(parts):
        raise InvalidArgument(f"invalid platform {text!r}: use os/arch[/variant], "
                              "e.g. linux/amd64 or linux/arm64/v8")
    os_, arch = parts[0], parts[1]
    arch = {"x86_64": "amd64", "aarch64": "arm64"}.get(arch, arch)
    return Platform(os_, arch, parts[2] if len(parts) == 3 else "")


def _variant(arch: str, variant: str) -> str:
    # arm64 images rarely say v8, and it is the only arm64 variant in use
    return variant or ("v8" if arch == "arm64" else "")


def choose_manifest(index: dict, want: Platform) -> dict:
    """The descriptor in an OCI index / Docker manifest list that suits ``want``."""
    entries = [m for m in index.get("manifests") or [] if isinstance(m, dict)]
    fits = []
    for m in entries:
        p = m.get("platform") or {}
        if p.get("os") != want.os or p.get("architecture") != want.architecture:
            continue
        if want.variant and _variant(want.architecture, p.get("variant", "")) != \
                _variant(want.architecture, want.variant):
            continue
        fits.append(m)
    if not fits:
        offered = sorted({str(Platform((m.get("platform") or {}).get("os", "?"),
                                       (m.get("platform") or {}).get("architecture", "?"),
                                       (m.get("platform") or {}).get("variant", "")))
                          for m in entries})
        raise NotFound(f"no image for platform {want} in this manifest list "
                       f"(it has {', '.join(offered) or 'none'}); choose one with --platform")
    # With no variant asked for, prefer the host's own variant, then the first listed.
    if not want.variant:
        host = host_platform()
        for m in fits:
            if host.architecture == want.architecture and \
                    (m.get("platform") or {}).get("variant", "") == host.variant:
                return m
    return fits[0]
