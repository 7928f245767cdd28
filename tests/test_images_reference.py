"""Image references: Docker's normalisation, and refusals that say why."""

from __future__ import annotations

import pytest

from engine.errors import InvalidArgument
from engine.images import reference

D = "sha256:" + "ab" * 32


@pytest.mark.parametrize("given, full", [
    ("alpine", "docker.io/library/alpine:latest"),
    ("alpine:3.20", "docker.io/library/alpine:3.20"),
    ("library/alpine", "docker.io/library/alpine:latest"),
    ("docker.io/alpine", "docker.io/library/alpine:latest"),
    ("index.docker.io/library/alpine:1", "docker.io/library/alpine:1"),
    ("user/app:v1.2-rc_3", "docker.io/user/app:v1.2-rc_3"),
    ("localhost/app", "localhost/app:latest"),
    ("localhost:5000/a/b:t", "localhost:5000/a/b:t"),
    ("127.0.0.1:5000/busybox", "127.0.0.1:5000/busybox:latest"),
    ("quay.io/org/sub/img:tag", "quay.io/org/sub/img:tag"),
    ("Registry.Example/ns/img", "Registry.Example/ns/img:latest"),
    (f"alpine@{D}", f"docker.io/library/alpine@{D}"),
    (f"alpine:3@{D}", f"docker.io/library/alpine:3@{D}"),
    (f"localhost:5000/a@{D}", f"localhost:5000/a@{D}"),
    ("a__b/c-d/e.f", "docker.io/a__b/c-d/e.f:latest"),
])
def test_normalised_as_docker_does(given, full):
    assert reference.normalize(given) == full


def test_parts_and_familiar_form():
    r = reference.parse("localhost:5000/a/b:t")
    assert (r.registry, r.repository, r.tag, r.digest) == ("localhost:5000", "a/b", "t", "")
    assert r.name == "localhost:5000/a/b"
    assert reference.familiar("docker.io/library/busybox:1.38.0-musl") == "busybox:1.38.0-musl"
    assert reference.familiar("docker.io/user/app:1") == "user/app:1"
    assert reference.familiar("localhost:5000/app:1") == "localhost:5000/app:1"
    assert reference.split_tag("docker.io/library/alpine:3.20") == ("alpine", "3.20")


@pytest.mark.parametrize("bad, why", [
    ("", "empty"),
    ("Alpine", "lowercase"),
    ("library/Alpine:1", "lowercase"),
    ("alpine:", "tag"),
    ("alpine:-bad", "tag"),
    ("alpine:" + "t" * 129, "tag"),
    ("alpine:a/b", "registry"),
    ("a//b", "component"),
    ("-a/b", "component"),
    ("a_/b", "component"),
    ("alpine@sha256:123", "digest"),
    ("alpine@sha256:" + "AB" * 32, "digest"),
    ("alpine@md5", "digest"),
    ("alp ine", "whitespace"),
    ("ab" * 32, "64-byte hexadecimal"),
    ("exa_mple.com/a", "registry"),
    (":tag", "repository"),
    ("a" * 256, "255"),
])
def test_invalid_references_are_refused_with_the_reason(bad, why):
    with pytest.raises(InvalidArgument) as e:
        reference.parse(bad)
    assert why in str(e.value)
    assert "\n" not in str(e.value)
