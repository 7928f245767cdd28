"""The dashboard's settings: ``~/.config/berth/config.toml`` (or ``$BERTH_CONFIG``).

    theme = "berth-light"          # a name from themes.THEMES
    hide_stopped = true            # start with stopped containers hidden
    log_lines = 10000              # the logs console's scrollback bound

    [keys]                         # binding id = key(s), comma separated
    start = "S"
    quit = "q,ctrl+c"

    [sort]                         # each pane's sort column, "-" first for descending
    containers = "-cpu"

A missing file is the defaults; a broken one is the defaults plus a message the dashboard
shows once (a typo in a config file must not keep the dashboard from opening). The theme and
the sort chosen in the dashboard are written back here (``save``), the rest left as it was.
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
    sort: dict[str, tuple[str, bool]] = field(default_factory=dict)
    """Each pane's sort: (column key, descending)."""
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
    sort = data.get("sort", {})
    if not isinstance(sort, dict):
        cfg.problems.append(f"{path}: [sort] must be a table of pane = \"column\"")
        sort = {}
    for pane, column in sort.items():
        if not isinstance(column, str) or not column.lstrip("-"):
            cfg.problems.append(f"{path}: sort.{pane} must be a column like \"name\" or \"-cpu\"")
            continue
        cfg.sort[pane] = (column.lstrip("-"), column.startswith("-"))
    unknown = set(data) - {"theme", "hide_stopped", "log_lines", "keys", "sort"}
    for name in sorted(unknown):
        cfg.problems.append(f"{path}: unknown setting {name!r}")
    return cfg


def save(cfg: Config, theme: str | None = None, sort: tuple[str, str, bool] | None = None) -> str:
    """Write the dashboard's choices into the config file: ``theme``, and ``sort`` as (pane,
    column, descending). Only those lines change (comments and other settings stay); the file
    is replaced whole (written aside, then renamed). An error's message, or ""."""
    import re
    if not cfg.path:
        return ""
    if theme is not None:
        cfg.theme = theme
    if sort is not None:
        cfg.sort[sort[0]] = (sort[1], sort[2])
    try:
        with open(cfg.path) as f:
            text = f.read()
    except FileNotFoundError:
        text = ""
    except OSError as e:
        return f"{cfg.path}: {e.strerror or e}"
    head, table, tail = _split_table(text, "sort")
    if cfg.theme is not None:
        line = f'theme = "{cfg.theme}"'
        top_end = re.search(r"^\s*\[", head, re.M)
        top = head[:top_end.start()] if top_end else head
        if re.search(r"^theme\s*=.*$", top, re.M):
            top = re.sub(r"^theme\s*=.*$", line, top, count=1, flags=re.M)
        else:
            top = line + "\n" + top
        head = top + (head[top_end.start():] if top_end else "")
    if cfg.sort:
        table = "[sort]\n" + "".join(f'{pane} = "{"-" if desc else ""}{column}"\n'
                                      for pane, (column, desc) in sorted(cfg.sort.items()))
    text = head.rstrip("\n") + "\n" + (("\n" + table) if table else "") + tail
    try:
        os.makedirs(os.path.dirname(cfg.path) or ".", exist_ok=True)
        tmp = f"{cfg.path}.{os.getpid()}.tmp"
        with open(tmp, "w") as f:
            f.write(text.lstrip("\n"))
        os.replace(tmp, cfg.path)
    except OSError as e:
        return f"could not save the settings to {cfg.path}: {e.strerror or e}"
    return ""


def _split_table(text: str, name: str) -> tuple[str, str, str]:
    """(before, the [name] table, after) of a TOML text; the table "" when it has none."""
    import re
    start = re.search(rf"^\s*\[{name}\]\s*$", text, re.M)
    if start is None:
        return text, "", ""
    end = re.search(r"^\s*\[", text[start.end():], re.M)
    stop = start.end() + end.start() if end else len(text)
    return text[:start.start()], text[start.start():stop], text[stop:]
