"""Every start installs Docker's default seccomp profile from a cache (issue 23: its cost on a
start <= 2 %): the default profile is found in the cache by its file's identity, without reading
or hashing it on every start."""

from __future__ import annotations

import os
import subprocess
import sys

from helpers import REPO

from engine.runtime import caps, seccomp


def test_the_default_profile_is_cached_under_its_files_identity(tmp_path):
    by_name, by_bytes = str(tmp_path / "a"), str(tmp_path / "b")
    prog = seccomp.cached_bpf(None, caps.DEFAULT_CAPS, by_name)
    # the same program as the profile's text compiles to
    assert prog == seccomp.cached_bpf(seccomp.profile_bytes(None), caps.DEFAULT_CAPS, by_bytes)
    (name,) = os.listdir(by_name)
    assert name.startswith("default-") and str(os.stat(seccomp.DEFAULT_PROFILE).st_ino) in name
    # the next start reads the cached file: a recognisable copy comes back
    with open(os.path.join(by_name, name), "wb") as f:
        f.write(b"\0" * 16)
    assert seccomp.cached_bpf(None, caps.DEFAULT_CAPS, by_name) == b"\0" * 16
    # another capability set is another program
    seccomp.cached_bpf(None, caps.DEFAULT_CAPS + ["SYS_ADMIN"], by_name)
    assert len(os.listdir(by_name)) == 2


def test_a_start_with_the_default_profile_hashes_nothing(tmp_path):
    """What `berth run` computes for the container's containment: with the cache warm (a root's
    first start compiles), no hash module is loaded (hashlib's OpenSSL alone cost 4 ms)."""
    code = f"""
import sys
from engine.models import ContainerConfig
from engine.runtime import security
spec = security.prepare(ContainerConfig(image="x"), cache_dir={str(tmp_path)!r},
                        root={str(tmp_path)!r})
assert spec["seccomp_bpf"], spec
print(sorted(m for m in sys.modules if "hashlib" in m or "sha" in m.replace("marshal", "")))
"""
    subprocess.run([sys.executable, "-c", code], capture_output=True, cwd=REPO, check=True)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         cwd=REPO, check=True).stdout
    assert out.strip() == "[]", out
