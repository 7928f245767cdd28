"""Registry credentials, kept as Docker keeps them in config.json.

The file is ``$BERTH_AUTH_FILE`` when set, otherwise ``$XDG_CONFIG_HOME/berth/auth.json``
(``~/.config/berth/auth.json``). Its shape is Docker's, so either tool can read the other's::

    {"auths": {"127.0.0.1:5000": {"auth": "<base64 of user:password>"}}}

It is written atomically with mode 0600 (it holds passwords in the clear, as Docker's does).
Docker Hub is keyed ``docker.io``; Docker's own key for it (``https://index.docker.io/v1/``) is
read too.
"""

from __future__ import annotations

import base64
import json
import os

from ..errors import HostError, InvalidArgument

DOCKER_HUB_KEYS = ("docker.io", "https://index.docker.io/v1/", "index.docker.io",
                   "registry-1.docker.io")


def auth_file() -> str:
    """The credentials file berth reads and writes."""
    path = os.environ.get("BERTH_AUTH_FILE")
    if path:
        return path
    base = os.environ.get("XDG_CONFIG_HOME") or os.path.join(os.path.expanduser("~"), ".config")
    return os.path.join(base, "berth", "auth.json")


def registry_key(registry: str) -> str:
    """The key a registry's credentials are stored under: host[:port], no scheme or path."""
    r = registry.strip()
    for prefix in ("https://", "http://"):
        if r.startswith(prefix):
            r = r[len(prefix):]
    r = r.split("/", 1)[0]
    if not r:
        raise InvalidArgument(f"invalid registry name {registry!r}: give a host, e.g. "
                              "registry.example.com or 127.0.0.1:5000")
    if r in DOCKER_HUB_KEYS:
        return "docker.io"
    return r


def _read() -> dict:
    try:
        with open(auth_file(), "rb") as f:
            data = json.loads(f.read() or b"{}")
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as e:
        raise HostError(f"cannot read the credentials file {auth_file()}: {e}") from e
    return data if isinstance(data, dict) else {}


def _write(data: dict) -> None:
    from ..store import write_atomic
    path = auth_file()
    try:
        os.makedirs(os.path.dirname(path) or ".", mode=0o700, exist_ok=True)
        write_atomic(path, json.dumps(data, indent=1).encode() + b"\n", mode=0o600)
        os.chmod(path, 0o600)  # an existing file keeps no looser mode than ours
    except OSError as e:
        raise HostError(f"cannot write the credentials file {path}: {e.strerror or e}") from e


def get_credentials(registry: str) -> tuple[str, str] | None:
    """(username, password) saved for ``registry``, or None."""
    key = registry_key(registry)
    auths = _read().get("auths") or {}
    keys = DOCKER_HUB_KEYS if key == "docker.io" else (key, f"https://{key}", f"http://{key}")
    for k in keys:
        entry = auths.get(k)
        if not entry or not entry.get("auth"):
            continue
        try:
            user, _, password = base64.b64decode(entry["auth"]).decode().partition(":")
        except (ValueError, UnicodeDecodeError):
            continue
        return user, password
    return None


def save_credentials(registry: str, username: str, password: str) -> None:
    """Remember credentials for ``registry`` (replacing any saved before)."""
    data = _read()
    auths = data.setdefault("auths", {})
    token = base64.b64encode(f"{username}:{password}".encode()).decode()
    auths[registry_key(registry)] = {"auth": token}
    _write(data)


def remove_credentials(registry: str) -> bool:
    """Forget ``registry``'s credentials; False when none were saved."""
    key = registry_key(registry)
    data = _read()
    auths = data.get("auths") or {}
    keys = DOCKER_HUB_KEYS if key == "docker.io" else (key, f"https://{key}", f"http://{key}")
    found = False
    for k in keys:
        if k in auths:
            del auths[k]
            found = True
    if found:
        _write(data)
    return found
