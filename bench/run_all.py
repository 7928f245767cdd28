"""`make bench`: run every bench/*/run in turn with the project's interpreter, show each one's
output as it comes, and end with one summary line per bench from the `RESULT` lines it printed
(bench/README.md says the format). A bench that exits non-zero is reported as failed and makes
the whole run exit 1; a target that is not met is reported, not an error.

``BENCH=pull,unpack make bench`` runs only the benches named; ``BENCH_ARGS="--rounds 3"`` is
passed to each of them.
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
RESULT = re.compile(r"RESULT (\S+) (\S+)x target <=(\S+)x (met|NOT met)\s*$")


def main() -> int:
    wanted = {n for n in os.environ.get("BENCH", "").replace(",", " ").split() if n}
    extra = shlex.split(os.environ.get("BENCH_ARGS", ""))
    benches = sorted(p for p in HERE.glob("*/run") if not wanted or p.parent.name in wanted)
    if wanted - {p.parent.name for p in benches}:
        print(f"bench: no such bench: {', '.join(sorted(wanted - {p.parent.name for p in benches}))}",
              file=sys.stderr)
        return 2
    summary: list[str] = []
    failed = False
    for run in benches:
        name = run.parent.name
        print(f"== bench/{name}/run {' '.join(extra)}".rstrip(), flush=True)
        t = time.monotonic()
        p = subprocess.Popen([sys.executable, str(run), *extra], stdout=subprocess.PIPE,
                             stderr=subprocess.STDOUT, text=True, bufsize=1)
        results = []
        assert p.stdout is not None
        for line in p.stdout:
            sys.stdout.write(line)
            m = RESULT.search(line)
            if m:
                results.append(m)
        rc = p.wait()
        took = time.monotonic() - t
        if rc != 0:
            failed = True
            summary.append(f"{name:14} FAILED (exit {rc}) after {took:.0f}s")
        elif not results:
            summary.append(f"{name:14} ran in {took:.0f}s, no RESULT line (no ratio to report)")
        for m in results:
            summary.append(f"{m.group(1):14} {m.group(2):>7}x  target <={m.group(3)}x  {m.group(4)}")
    print(f"== summary (load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores)")
    for line in summary:
        print(line)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
