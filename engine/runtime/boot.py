"""``python -I [-S] boot.py MODULE ARGS…``: how berth runs its own modules as programs (see
sealed.python_command). -I has kept the caller's directory, environment and user site off
sys.path; this puts berth's own package first and runs MODULE as ``python -m`` would."""

import sys

sys.path.insert(0, __file__.rsplit("/", 3)[0])

from engine.runtime import trace  # noqa: E402

trace.role("monitor")
trace.mark("interpreter up (python -I -S)")

from runpy import run_module  # noqa: E402

run_module(sys.argv.pop(1), run_name="__main__", alter_sys=True)
