"""Fixtures: every test gets its own berth root (and so its own cgroup parent, bridge names and
nftables table), removed with everything it made on the host, pass or fail."""

from __future__ import annotations

import os
import shutil
import tempfile

import pytest

from helpers import ALPINE_ROOTFS, BUSYBOX_MUSL, berth, cleanup_root  # noqa: F401

if os.geteuid() != 0:  # pragma: no cover
    pytest.exit("berth's tests run as root against the real kernel", returncode=2)


@pytest.fixture
def root():
    """A fresh BERTH_ROOT for this test; whatever it made on the host is removed afterwards."""
    d = tempfile.mkdtemp(prefix="berth-test-", dir="/var/tmp")
    try:
        yield d
    finally:
        cleanup_root(d)
        shutil.rmtree(d, ignore_errors=True)


@pytest.fixture
def engine(root):
    from engine import Engine
    return Engine(root)


@pytest.fixture
def cli(root):
    """Run the berth CLI against this test's root: ``cli("ps", "-a").stdout``."""
    def run(*args, **kw):
        return berth(root, *args, **kw)
    return run
