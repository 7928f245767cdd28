"""The dashboard's settings: ``~/.config/berth/config.toml`` (or ``$BERTH_CONFIG``).

    theme = "berth-light"          # a name from themes.THEMES
    hide_stopped = true            # start with stopped containers hidden
    log_lines = 10000              # the logs console's scrollback bound

    [keys]                         # binding id = key(s), comma separated
    start = "S"
    quit = "q,ctrl+c"

A missing file is the defaults; a broken one is the defaults plus a message the dashboard
shows once (a typo in a config file must not keep the dashboard from opening).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

DEFAULT_LOG_LINES = 10_000


def config_path() -> str:
    """Where the config file is read from: $BERTH_CONFIG, else the XDG config directory."""
    explicit = os.environ.get("BERTH_CONFIG")
    if explicit:
        return explicit
    base = os.environ.get("XDG_CONFIG_HOME") or os.path.join(os.path.expanduser("~"), ".config")
    return os.path.join(base, "berth", "config.toml")


@dataclass
class Config:
    """What the config file can set; every field has a default."""

    theme: str | None = None
    hide_stopped: bool = False
    log_lines: int = DEFAULT_LOG_LINES
    keys: dict[str, str] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)   # shown once as notifications
    path: str = ""


def load(path: str | None = None) -> Config:
    """Read the config file; never raises."""
    import tomllib
    path = path or config_path()
    cfg = Config(path=path)
    try:
        with open(path, "rb") as f:
            data = tomllib.load(f)
    except FileNotFoundError:
        return cfg
    except (OSError, tomllib.TOMLDecodeError) as e:
        cfg.problems.append(f"{path}: {e}; using the defaults")
        return cfg
    theme = data.get("theme")
    if theme is not None:
        if isinstance(theme, str):
            cfg.theme = theme
        else:
            cfg.problems.append(f"{path}: theme must be a string")
    hide = data.get("hide_stopped")
    if hide is not None:
        if isinstance(hide, bool):
            cfg.hide_stopped = hide
        else:
            cfg.problems.append(f"{path}: hide_stopped must be true or false")
    lines = data.get("log_lines")
    if lines is not None:
        if isinstance(lines, int) and not isinstance(lines, bool) and 100 <= lines <= 1_000_000:
            cfg.log_lines = lines
        else:
            cfg.problems.append(f"{path}: log_lines must be a number from 100 to 1000000")
    keys = data.get("keys", {})
    if not isinstance(keys, dict):
        cfg.problems.append(f"{path}: [keys] must be a table of binding = \"key\"")
        keys = {}
    for action, key in keys.items():
        if isinstance(key, list):
            key = ",".join(str(k) for k in key)
        if not isinstance(key, str) or not key.strip():
            cfg.problems.append(f"{path}: keys.{action} must be a key name like \"S\" or \"ctrl+s\"")
            continue
        cfg.keys[action] = key.strip()
    unknown = set(data) - {"theme", "hide_stopped", "log_lines", "keys"}
    for name in sorted(unknown):
        cfg.problems.append(f"{path}: unknown setting {name!r}")
    return cfg
