"""A container that can't start says why, with Docker's code, whatever its network."""

from __future__ import annotations

import pytest


@pytest.mark.parametrize("network", ["bridge", "none"])
def test_missing_command_is_127_on_every_network(cli, busybox, network):
    r = cli("run", "--rm", "--network", network, busybox, "nosuchcmd", check=False)
    assert r.returncode == 127, r.stderr
    assert r.stderr.strip() == 'berth: exec: "nosuchcmd": executable file not found in $PATH'
    assert cli("ps", "-aq").stdout.strip() == ""
