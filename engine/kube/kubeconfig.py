"""A kubeconfig file read into what a client needs: the server's URL, how to trust it and how to
prove who we are (bearer token, or client certificate and key), for one context."""

from __future__ import annotations

import base64
import os
import ssl
import tempfile
from dataclasses import dataclass

from ..errors import InvalidArgument


@dataclass
class KubeConfig:
    """The chosen context of a kubeconfig, with file paths resolved."""

    server: str
    ca_file: str = ""
    ca_data: bytes = b""
    token: str = ""
    cert_file: str = ""
    key_file: str = ""
    insecure: bool = False
    namespace: str = "default"

    def ssl_context(self) -> ssl.SSLContext:
        """A TLS context that trusts the cluster's CA and presents our client certificate."""
        ctx = ssl.create_default_context()
        if self.insecure:
            ctx.check_hostname = False
            ctx.verify_mode = ssl.CERT_NONE
        elif self.ca_file:
            ctx.load_verify_locations(cafile=self.ca_file)
        elif self.ca_data:
            ctx.load_verify_locations(cadata=self.ca_data.decode())
        if self.cert_file:
            ctx.load_cert_chain(self.cert_file, self.key_file or None)
        return ctx


def _data_file(data: str, suffix: str) -> str:
    """A private temporary file holding base64 ``data`` (ssl loads client keys only from files)."""
    fd, path = tempfile.mkstemp(prefix="berth-kube-", suffix=suffix)
    with os.fdopen(fd, "wb") as f:
        f.write(base64.b64decode(data))
    return path


def load(path: str, context: str | None = None) -> KubeConfig:
    """The kubeconfig at ``path`` for ``context`` (default: its current-context)."""
    import yaml
    try:
        with open(path) as f:
            doc = yaml.safe_load(f) or {}
    except OSError as e:
        raise InvalidArgument(f"kubeconfig {path}: {e.strerror}") from None
    except yaml.YAMLError as e:
        raise InvalidArgument(f"kubeconfig {path} is not YAML: {str(e).splitlines()[0]}") from None
    if not isinstance(doc, dict):
        raise InvalidArgument(f"kubeconfig {path} is not a kubeconfig (no mapping)")
    base = os.path.dirname(os.path.abspath(path))

    def named(kind: str, name: str) -> dict:
        for item in doc.get(kind) or []:
            if isinstance(item, dict) and item.get("name") == name:
                return item.get(kind[:-1]) or {}
        raise InvalidArgument(f"kubeconfig {path}: no {kind[:-1]} named {name!r}")

    context = context or doc.get("current-context")
    if not context:
        raise InvalidArgument(f"kubeconfig {path} has no current-context: give --context")
    ctx = named("contexts", context)
    cluster = named("clusters", ctx.get("cluster", ""))
    user = named("users", ctx["user"]) if ctx.get("user") else {}
    if not cluster.get("server"):
        raise InvalidArgument(f"kubeconfig {path}: cluster {ctx.get('cluster')!r} has no server")

    def file_of(key: str) -> str:
        value = cluster.get(key) if key == "certificate-authority" else user.get(key)
        return os.path.join(base, value) if value else ""

    cfg = KubeConfig(server=cluster["server"].rstrip("/"),
                     insecure=bool(cluster.get("insecure-skip-tls-verify")),
                     namespace=ctx.get("namespace") or "default")
    cfg.ca_file = file_of("certificate-authority")
    if cluster.get("certificate-authority-data"):
        cfg.ca_data = base64.b64decode(cluster["certificate-authority-data"])
    cfg.token = user.get("token") or ""
    if user.get("tokenFile"):
        with open(os.path.join(base, user["tokenFile"])) as f:
            cfg.token = f.read().strip()
    cfg.cert_file = file_of("client-certificate")
    cfg.key_file = file_of("client-key")
    if user.get("client-certificate-data"):
        cfg.cert_file = _data_file(user["client-certificate-data"], ".crt")
    if user.get("client-key-data"):
        cfg.key_file = _data_file(user["client-key-data"], ".key")
    return cfg
