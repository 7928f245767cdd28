"""Saving the logs console's lines: a form asking where, offering
``~/berth-logs-<names>-<time>.log``; the file is written in a thread, and an existing file is
overwritten only when asked twice (FormDialog.output_path, as the image save form)."""

from __future__ import annotations

import time
from typing import Any

from .resource_dialogs import FormDialog


def default_path(names: list[str]) -> str:
    """~/berth-logs-<names>-<YYYYmmdd-HHMMSS>.log (the names joined, cut at 60 characters)."""
    joined = "-".join(names)
    if len(joined) > 60:
        joined = joined[:59] + "…"
    return f"~/berth-logs-{joined}-{time.strftime('%Y%m%d-%H%M%S')}.log"


class SaveLogsDialog(FormDialog):
    """Where to write the logs' lines (time, [name,] stream, text; one a line)."""

    FIELDS = (("path", "Save to", "~/berth-logs-….log"),)
    VERB = "save logs"

    def __init__(self, engine, entries: list, path: str, labels: bool) -> None:
        super().__init__(engine, f"Save {len(entries)} log lines", {"path": path})
        self.entries = entries
        self.labels = labels

    def parse(self, values: dict[str, Any]) -> dict:
        return {"path": self.output_path(values["path"], "~/web.log")}

    def perform(self, args: dict) -> tuple[str, int]:
        from engine.errors import BerthError
        try:
            with open(args["path"], "w") as f:
                for e in self.entries:
                    label = f"{e.label} " if self.labels else ""
                    f.write(f"{e.time} {label}{e.stream} {e.text.rstrip(chr(10))}\n")
        except OSError as e:
            raise BerthError(f"could not save the logs: {e.strerror or e}") from None
        return args["path"], len(self.entries)

    def done_text(self, result: tuple[str, int]) -> str:
        return f"saved {result[1]} lines to {result[0]}"
