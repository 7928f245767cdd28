"""``python -I [-S] boot.py MODULE ARGS…``: how berth runs its own modules as programs (see
sealed.python_command). -I has kept the caller's directory, environment and user site off
sys.path; this puts berth's own package first and runs MODULE as ``python -m`` would."""

import sys

sys.path.insert(0, __file__.rsplit("/", 3)[0])

import engine.codebundle  # noqa: E402

engine.codebundle.install()   # berth's modules from their bundle while it is current
from engine.runtime import trace  # noqa: E402

MODULE = sys.argv.pop(1)
trace.role("monitor" if MODULE == "engine.runtime.monitor" else MODULE.rpartition(".")[2])
trace.mark("interpreter up (python -I -S)")
if MODULE == "engine.runtime.monitor":
    # one per running container: imported as itself and its main() called, without runpy,
    # whose importlib.util, contextlib and collections cost every monitor 3 ms and 0.6 MiB
    from engine.runtime.monitor import main
    sys.exit(main(sys.argv))

from runpy import run_module  # noqa: E402

run_module(MODULE, run_name="__main__", alter_sys=True)
