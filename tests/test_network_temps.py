"""A network record's writer SIGKILLed mid-save (a `rm -f` or monitor releasing an address)
leaves ``networks/<name>.json.tmp.<pid>.<tid>``; removing the network sweeps what dead writers
left, so a removed network leaves nothing for `system check` to find (bench/crash's soak)."""

from __future__ import annotations

import os
import subprocess


def test_network_rm_sweeps_the_temporaries_of_killed_writers(cli, root):
    cli("network", "create", "tempnet")
    p = subprocess.Popen(["true"])   # a writer that has exited
    p.wait()
    stray = os.path.join(root, "networks", f"tempnet.json.tmp.{p.pid}.140000000000")
    live = os.path.join(root, "networks", f"other.json.tmp.{os.getpid()}.1")
    for path in (stray, live):
        with open(path, "w") as f:
            f.write('{"half": ')
    try:
        cli("network", "rm", "tempnet")
        assert not os.path.exists(stray)
        assert os.path.exists(live)   # its writer (this test) is alive: not ours to take
        assert "tempnet" not in cli("system", "check").stdout
    finally:
        if os.path.exists(live):
            os.unlink(live)
