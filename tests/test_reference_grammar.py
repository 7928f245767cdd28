"""engine/images/reference.py checks a reference's components, tag and hex names with plain
string tests instead of the regular expressions Docker's grammar is written in (so `berth run`
loads no re): here both are run on the same strings, chosen and random, and must agree."""

from __future__ import annotations

import random
import re

import pytest

from engine.errors import InvalidArgument
from engine.images import blobs, reference

COMPONENT = re.compile(r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*\Z")
TAG = re.compile(r"[\w][\w.-]{0,127}\Z")
HEX64 = re.compile(r"[0-9a-f]{64}\Z")
SHA256 = re.compile(r"sha256:[0-9a-f]{64}\Z")

CHOSEN = ["", "a", "A", "0", "ab", "a.b", "a..b", "a_b", "a__b", "a___b", "a-b", "a--b",
          "a---b", "a.-b", "a-.b", "a_-b", ".a", "a.", "-a", "a-", "_a", "a_", "a/b", "a b",
          "a\n", "é", "aé", "latest", "1.38.0-musl", "v1_2", "x" * 128, "x" * 129, "_x", ".x",
          "-x", "x.", "٣", "a٣", "ß", "a:b", "a@b", "0" * 64, "f" * 64, "F" * 64, "0" * 63,
          "g" + "0" * 63, "0" * 65, "busybox", "library", "my-app__x.y"]


def _random_strings(n: int, seed: int = 23):
    rng = random.Random(seed)
    alphabet = "ab09._-_-A:/é٣ \n" + "0123456789abcdef"
    for _ in range(n):
        yield "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 12)))
    for _ in range(200):
        yield "".join(rng.choice("0123456789abcdefg") for _ in range(rng.choice((63, 64, 65))))


@pytest.mark.parametrize("name, plain, pattern", [
    ("component", reference._component, COMPONENT), ("tag", reference._tag, TAG),
    ("hex64", reference._hex64, HEX64)])
def test_string_tests_agree_with_the_expressions(name, plain, pattern):
    for text in [*CHOSEN, *_random_strings(4000)]:
        assert plain(text) == bool(pattern.match(text)), (name, text)


def test_blob_digests_checked_as_the_expression_does():
    for text in ["sha256:" + "a" * 64, "sha256:" + "A" * 64, "sha256:" + "a" * 63,
                 "sha512:" + "a" * 64, "sha256:" + "a" * 64 + "\n", "", "sha256:"]:
        try:
            ok = blobs.check_digest(text) == text
        except InvalidArgument:
            ok = False
        assert ok == bool(SHA256.match(text)), text


def test_reference_is_still_a_tuple_with_named_parts():
    r = reference.parse("localhost:5000/a/b:t@sha256:" + "0" * 64)
    assert (r.registry, r.repository, r.tag, r.digest) == tuple(r)
    assert r == reference.Reference("localhost:5000", "a/b", "t", "sha256:" + "0" * 64)
    assert reference.parse("busybox") == ("docker.io", "library/busybox", "", "")
    assert str(reference.parse("busybox").with_default_tag()) == "docker.io/library/busybox:latest"
    import pickle
    assert pickle.loads(pickle.dumps(r)) == r
