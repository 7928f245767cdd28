"""Support for the build tests (tests/test_build_*.py): a root per test module with busybox
and Alpine in it (one build per module, the tests reading what it made), context trees written
from dicts, and what a build must not leave behind."""

from __future__ import annotations

import os

import pytest

from helpers import berth, claim_root, release_root


@pytest.fixture(scope="module")
def build_root(_image_templates):
    """A root for this module's builds with busybox:1.38.0-musl (also ``busybox``) and
    alpine:3.20 in it."""
    from conftest import _seed_image
    from engine import Engine
    d = claim_root("berth-build-")
    try:
        _seed_image(d, "busybox", "busybox:1.38.0-musl")
        _seed_image(d, "alpine", "alpine:3.20")
        Engine(d).tag("busybox:1.38.0-musl", "busybox")
        yield d
    finally:
        release_root(d)


def write_tree(top: str, files: dict[str, str | bytes | tuple]) -> str:
    """Files under ``top``: name -> content, or (content, mode), or ("->", target) for a
    symlink; directories are made as needed."""
    for name, spec in files.items():
        path = os.path.join(top, name)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        mode = None
        if isinstance(spec, tuple) and spec[0] == "->":
            os.symlink(spec[1], path)
            continue
        if isinstance(spec, tuple):
            spec, mode = spec
        with open(path, "wb") as f:
            f.write(spec.encode() if isinstance(spec, str) else spec)
        if mode is not None:
            os.chmod(path, mode)
    return top


def build(root: str, context: str, *flags: str, check: bool = True, input=None):
    """``berth build`` as a user runs it."""
    return berth(root, "build", *flags, context, check=check, input=input, timeout=180)


def leftovers(root: str) -> dict[str, list[str]]:
    """What a finished build must not leave: step containers and scratch in tmp/."""
    out = {}
    for sub in ("containers", "tmp"):
        try:
            out[sub] = sorted(os.listdir(os.path.join(root, sub)))
        except FileNotFoundError:
            out[sub] = []
    return out


def run_in(root: str, image: str, script: str) -> str:
    """``script`` run by sh in a container of ``image``; its output."""
    return berth(root, "run", "--rm", "--network", "none", "--entrypoint", "sh", "--user", "0",
                 image, "-c",
                 script).stdout
