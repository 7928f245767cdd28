"""The Engine's ``system check`` and ``system reset`` (engine/check.py, engine/reset.py do the
work; this mixin stays small because every ``import engine`` loads it)."""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from .models import Finding


class CheckAPI:
    """``system check [--repair]`` and ``system reset``."""

    def system_check(self, repair: bool = False) -> list[Finding]:
        """What is wrong in this root (engine/check.py); with ``repair``, fixed."""
        from .check import check
        return check(self.store, repair)

    def system_reset(self) -> list[str]:
        """Remove this root and everything berth made on the host for it (engine/reset.py);
        what was removed, one line each. The Engine can't be used afterwards."""
        from .reset import reset
        return reset(self.store)
