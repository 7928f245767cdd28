"""UpdateLimitsScreen: the container's current limits as a form; saving hands back the changes
for Engine.update, which writes them to the running container's cgroup at once.

Values are typed as on the command line (``256m``, ``0.5``, ``on-failure:3``) and parsed by the
same functions as ``berth update``, so a bad value reads the same here as there; the form checks
the combination with the engine's own rules before it closes.
"""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Grid
from textual.screen import ModalScreen
from textual.widgets import Input, Label, Static

from .dialog_fit import DialogFrame, FitsTheTerminal, focus_keys

# (Resources field or "restart", label, hint)
FIELDS = (
    ("memory", "Memory", "hard limit, e.g. 256m"),
    ("memory_reservation", "Memory reservation", "soft limit, e.g. 128m"),
    ("memory_swap", "Memory + swap", "e.g. 512m; -1 unlimited"),
    ("nano_cpus", "CPUs", "e.g. 0.5"),
    ("cpu_shares", "CPU shares", "relative weight, e.g. 512"),
    ("cpuset_cpus", "CPU set", "e.g. 0-1"),
    ("pids_limit", "PIDs limit", "-1 unlimited"),
    ("blkio_weight", "Block I/O weight", "10-1000"),
    ("restart", "Restart policy", "no, always, on-failure[:N], unless-stopped"),
)


def _size(n: int) -> str:
    for unit, shift in (("g", 30), ("m", 20), ("k", 10)):
        if n and n % (1 << shift) == 0:
            return f"{n >> shift}{unit}"
    return str(n)


def current_values(container) -> dict[str, str]:
    """The form's text for each field from the container's record ("" = not set)."""
    r = container.config.resources
    policy = container.config.restart_policy
    restart = policy.name + (f":{policy.max_retries}" if policy.name == "on-failure"
                             and policy.max_retries else "")
    return {
        "memory": _size(r.memory) if r.memory else "",
        "memory_reservation": _size(r.memory_reservation) if r.memory_reservation else "",
        "memory_swap": "-1" if r.memory_swap < 0 else _size(r.memory_swap) if r.memory_swap
        else "",
        "nano_cpus": f"{r.nano_cpus / 1e9:g}" if r.nano_cpus else "",
        "cpu_shares": str(r.cpu_shares) if r.cpu_shares else "",
        "cpuset_cpus": r.cpuset_cpus,
        "pids_limit": str(r.pids_limit) if r.pids_limit else "",
        "blkio_weight": str(r.blkio_weight) if r.blkio_weight else "",
        "restart": restart,
    }


def parse_changes(container, values: dict[str, str]):
    """(resource changes, restart policy or None) from the form's text: only what differs
    from the record. Raises engine errors with the CLI's messages."""
    from engine import options
    from engine.errors import InvalidArgument
    from engine.models import Resources
    from engine.resource_options import validate_resources
    from engine.public import merge_resources as merge
    before = current_values(container)
    parsers = {
        "memory": lambda v: options.parse_size(v, "--memory"),
        "memory_reservation": lambda v: options.parse_size(v, "--memory-reservation"),
        "memory_swap": lambda v: -1 if v == "-1" else options.parse_size(v, "--memory-swap"),
        "nano_cpus": options.parse_cpus,
        "cpu_shares": lambda v: _int(v, "--cpu-shares"),
        "cpuset_cpus": str,
        "pids_limit": options.parse_pids_limit,
        "blkio_weight": lambda v: _int(v, "--blkio-weight"),
    }
    changes = {}
    for key, parse in parsers.items():
        text = values.get(key, "").strip()
        if text == before[key]:
            continue
        label = next(f[1] for f in FIELDS if f[0] == key)
        if not text:
            raise InvalidArgument(f"{label}: a limit can be changed but not removed by an "
                                  "update; give a larger value instead")
        changes[key] = parse(text)
    restart = None
    text = values.get("restart", "").strip()
    if text and text != before["restart"]:
        restart = options.parse_restart(text)
    merge(container.config.resources, changes)          # Docker's rules for what changes together
    validate_resources(Resources(**changes))            # and for the values themselves
    return changes, restart


def _int(text: str, flag: str) -> int:
    from engine.errors import InvalidArgument
    try:
        return int(text)
    except ValueError:
        raise InvalidArgument(f'invalid argument "{text}" for "{flag}" flag: not an '
                              "integer") from None


class UpdateLimitsScreen(FitsTheTerminal, ModalScreen[tuple | None]):
    """Edit one container's limits; dismisses with (changes, restart policy) or None."""

    DEFAULT_CSS = """
    UpdateLimitsScreen { align: center middle; }
    #limits { width: 72; max-width: 100%; height: auto; max-height: 100%; padding: 1 2;
              border: round $primary; background: $surface; }
    #limits-title { text-style: bold; margin-bottom: 1; }
    #limits-grid { grid-size: 2; grid-columns: 22 1fr; grid-rows: 3; height: auto; }
    #limits-grid Label { padding: 1 0 0 0; }
    #limits-error { color: $error; height: auto; }
    #limits-keys { color: $text-muted; margin-top: 1; }
    UpdateLimitsScreen.-compact #limits { padding: 0 2; }
    UpdateLimitsScreen.-compact #limits-grid { grid-rows: 1; }
    UpdateLimitsScreen.-compact #limits-grid Label { padding: 0; }
    """

    BINDINGS = [
        Binding("ctrl+s", "save", "Save", id="limits.save"),
        Binding("escape", "cancel", "Cancel", id="limits.cancel"),
        *focus_keys(),
    ]
    """ctrl+s (or enter in a field) saves; escape closes without changing anything."""

    def __init__(self, container):
        super().__init__()
        self.container = container

    def compose(self) -> ComposeResult:
        values = current_values(self.container)
        with DialogFrame(id="limits"):
            yield Static(f"Limits of {self.container.name}"
                         + (" (applied live)" if self.container.running else
                            " (applied at its next start)"), id="limits-title", markup=False)
            with Grid(id="limits-grid"):
                for key, label, hint in FIELDS:
                    yield Label(label)
                    yield Input(values[key], placeholder=hint, id=f"limit-{key}")
            yield Static("", id="limits-error", markup=False)
            yield Static("[b]ctrl+s[/b]/[b]enter[/b] save    [b]esc[/b] cancel",
                         id="limits-keys")

    def values(self) -> dict[str, str]:
        return {key: self.query_one(f"#limit-{key}", Input).value for key, _, _ in FIELDS}

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.action_save()

    def action_save(self) -> None:
        from engine.errors import BerthError
        try:
            changes, restart = parse_changes(self.container, self.values())
        except BerthError as e:
            self.query_one("#limits-error", Static).update(str(e))
            return
        self.dismiss((changes, restart) if changes or restart else None)

    def action_cancel(self) -> None:
        self.dismiss(None)
