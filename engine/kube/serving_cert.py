"""The kubelet API's serving certificate: given (--tls-cert-file), one the cluster's CA signed
through a CertificateSigningRequest (signer kubernetes.io/kubelet-serving, as a kubelet with
serverTLSBootstrap asks for it; an administrator approves it with ``kubectl certificate approve``),
or until then one of the node's own, made once. All live in ``ROOT/kube/pki``."""

from __future__ import annotations

import base64
import os
import subprocess
import threading

from .client import KubeClient, KubeError

CSR_PATH = "/apis/certificates.k8s.io/v1/certificatesigningrequests"
POLL = 2.0


def pki_dir(root: str) -> str:
    d = os.path.join(root, "kube", "pki")
    os.makedirs(d, mode=0o700, exist_ok=True)
    return d


def self_signed(root: str, name: str, address: str) -> tuple[str, str]:
    """(cert, key) of the node's own certificate, made with openssl the first time."""
    d = pki_dir(root)
    crt, key = os.path.join(d, "kubelet.crt"), os.path.join(d, "kubelet.key")
    if not (os.path.exists(crt) and os.path.exists(key)):
        subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days",
                        "3650", "-subj", f"/CN={name}", "-keyout", key, "-out", crt,
                        "-addext", f"subjectAltName=DNS:{name},IP:{address}"],
                       check=True, capture_output=True)
    return crt, key


def signed(root: str) -> tuple[str, str] | None:
    """(cert, key) the cluster signed for an earlier run, if any."""
    d = pki_dir(root)
    crt, key = os.path.join(d, "kubelet-signed.crt"), os.path.join(d, "kubelet-signed.key")
    return (crt, key) if os.path.exists(crt) and os.path.exists(key) else None


def request(client: KubeClient, root: str, name: str, address: str, stop: threading.Event,
            installed, log) -> None:
    """Ask the cluster to sign a serving certificate and wait (until ``stop``) for an
    administrator's approval and the signer's certificate; ``installed(cert, key)`` then.
    A request an earlier run made, still waiting (its name and key kept in the pki directory),
    is waited for again rather than asked anew: an agent restarted before the approval left
    one more CSR for the administrator each time."""
    d = pki_dir(root)
    key = os.path.join(d, "kubelet-signed.key.new")
    pending = os.path.join(d, "csr-name")
    csr_name = _pending(client, pending, key)
    if csr_name is None:
        csr = subprocess.run(["openssl", "req", "-new", "-newkey", "rsa:2048", "-nodes",
                              "-keyout", key, "-subj", f"/O=system:nodes/CN=system:node:{name}",
                              "-addext", f"subjectAltName=DNS:{name},IP:{address}"],
                             check=True, capture_output=True).stdout
        obj = client.post(CSR_PATH, {
            "apiVersion": "certificates.k8s.io/v1", "kind": "CertificateSigningRequest",
            "metadata": {"generateName": f"berth-node-{name}-"},
            "spec": {"request": base64.b64encode(csr).decode(),
                     "signerName": "kubernetes.io/kubelet-serving",
                     "usages": ["digital signature", "key encipherment", "server auth"]}})
        csr_name = obj["metadata"]["name"]
        from ..store import write_atomic
        write_atomic(pending, csr_name.encode(), 0o600, fsync=False)
    log(f"serving certificate: CSR {csr_name} waits for approval "
        f"(kubectl certificate approve {csr_name}); serving a certificate of the node's own")
    while not stop.wait(POLL):
        try:
            status = client.get(f"{CSR_PATH}/{csr_name}").get("status") or {}
        except KubeError as e:
            if e.status == 404:
                log(f"serving certificate: CSR {csr_name} was deleted")
                _forget(pending)
                return
            continue
        if any(c.get("type") in ("Denied", "Failed") for c in status.get("conditions") or []):
            log(f"serving certificate: CSR {csr_name} was denied")
            _forget(pending)
            return
        if status.get("certificate"):
            crt = os.path.join(d, "kubelet-signed.crt")
            with open(crt + ".new", "wb") as f:
                f.write(base64.b64decode(status["certificate"]))
            os.rename(key, key[:-len(".new")])
            os.rename(crt + ".new", crt)
            _forget(pending)
            installed(crt, key[:-len(".new")])
            log(f"serving certificate: signed by the cluster (CSR {csr_name})")
            return


def _pending(client: KubeClient, pending: str, key: str) -> str | None:
    """The name of the CSR an earlier run made, if it and its key are still there and the
    cluster has neither refused it nor forgotten it; else None (and the file forgotten)."""
    try:
        with open(pending) as f:
            csr_name = f.read().strip()
    except FileNotFoundError:
        return None
    try:
        status = client.get(f"{CSR_PATH}/{csr_name}").get("status") or {}
    except KubeError:
        status = None
    if status is None or not os.path.exists(key) or any(
            c.get("type") in ("Denied", "Failed") for c in status.get("conditions") or []):
        _forget(pending)
        return None
    return csr_name


def _forget(pending: str) -> None:
    try:
        os.unlink(pending)
    except FileNotFoundError:
        pass
