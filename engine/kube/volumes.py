"""A pod's volumes as host directories the containers bind: emptyDir (one directory the pod's
containers share), hostPath, and configMap, secret, downwardAPI and projected volumes written as
files. The written ones are swapped atomically as the kubelet does (each key a symlink through
``..data`` to a timestamped directory), so a refresh after the ConfigMap changes is seen whole.

As the kubelet's, an emptyDir of ``medium: Memory`` is a tmpfs (its ``sizeLimit`` the tmpfs's
size) and a secret volume is one too, so a secret's bytes never reach the disk; the pod's
removal unmounts them. (Where berth may not mount, rootless, they are plain directories.)"""

from __future__ import annotations

import base64
import errno
import os
import shutil
import time

from ..errors import InvalidArgument
from .client import KubeClient, KubeError
from .fields import field_value, resource_value
from .quantity import memory_bytes


class VolumeNotReady(Exception):
    """A volume's source (a ConfigMap or Secret) can't be read yet: the pod waits."""


def pods_base(root: str) -> str:
    return os.path.join(root, "kube", "pods")


def pod_dir(root: str, uid: str) -> str:
    return os.path.join(pods_base(root), uid)


def materialize(client: KubeClient, pod: dict, root: str, node: str, pod_ip: str,
                host_ip: str) -> dict[str, str]:
    """Every volume of the pod made (or refreshed) on the host: name -> host path."""
    ns = pod["metadata"]["namespace"]
    base = os.path.join(pod_dir(root, pod["metadata"]["uid"]), "volumes")
    fs_group = (pod.get("spec", {}).get("securityContext") or {}).get("fsGroup")
    out = {}
    for vol in pod.get("spec", {}).get("volumes") or []:
        name = vol["name"]
        path = os.path.join(base, name)
        if "hostPath" in vol:
            out[name] = _host_path(vol["hostPath"])
            continue
        if "emptyDir" in vol:
            src = vol["emptyDir"] or {}
            made = not os.path.isdir(path)
            os.makedirs(path, mode=0o777, exist_ok=True)
            if src.get("medium") == "Memory":
                limit = src.get("sizeLimit")
                _tmpfs(path, memory_bytes(limit) if limit else None)
            if made:
                os.chmod(path, 0o777)   # as the kubelet's: any user of the pod may write
        elif "configMap" in vol:
            made = _write(path, _configmap_files(client, ns, vol["configMap"]),
                          vol["configMap"].get("defaultMode", 0o644))
        elif "secret" in vol:
            src = vol["secret"]
            os.makedirs(path, mode=0o755, exist_ok=True)
            _tmpfs(path, None)
            made = _write(path, _secret_files(client, ns, {**src, "name": src.get("secretName")}),
                          src.get("defaultMode", 0o644))
        elif "downwardAPI" in vol:
            made = _write(path, _downward_files(pod, vol["downwardAPI"], node, pod_ip, host_ip),
                          vol["downwardAPI"].get("defaultMode", 0o644))
        elif "projected" in vol:
            files: dict[str, tuple[bytes, int | None]] = {}
            for src in vol["projected"].get("sources") or []:
                if "configMap" in src:
                    files.update(_configmap_files(client, ns, src["configMap"]))
                elif "secret" in src:
                    files.update(_secret_files(client, ns, src["secret"]))
                elif "downwardAPI" in src:
                    files.update(_downward_files(pod, src["downwardAPI"], node, pod_ip, host_ip))
            made = _write(path, files, vol["projected"].get("defaultMode", 0o644))
        else:
            kind = next((k for k in vol if k != "name"), "?")
            raise InvalidArgument(f"volume {name!r}: {kind} volumes are not supported by berth")
        if fs_group is not None and made:
            # when made or rewritten, as the kubelet at mount time: not a walk of what the
            # pod keeps in an emptyDir at every refresh (REFRESH, pods.py)
            _give_to_group(path, int(fs_group))
        out[name] = path
    return out


def _give_to_group(path: str, gid: int) -> None:
    """As the kubelet applies a pod's ``fsGroup`` to its volumes (not to a hostPath): each
    entry's group is ``gid`` and readable by it (a directory searchable, and set-group-id so
    that what the containers make in it belongs to ``gid`` too); an emptyDir stays writable
    by all."""
    import stat
    for dirpath, dirs, files in os.walk(path):
        for entry in [dirpath] + [os.path.join(dirpath, n) for n in dirs + files]:
            st = os.lstat(entry)
            if st.st_gid != gid:
                os.lchown(entry, -1, gid)
            if stat.S_ISLNK(st.st_mode):
                continue
            want = st.st_mode | (0o2050 if stat.S_ISDIR(st.st_mode) else 0o040)
            if stat.S_IMODE(st.st_mode) != stat.S_IMODE(want):
                os.chmod(entry, stat.S_IMODE(want))


def remove(root: str, uid: str) -> None:
    """The pod's directory and everything in it, its tmpfs volumes unmounted first (its
    containers are gone: nothing else has them)."""
    from ..volumes.store import unmount_all
    directory = pod_dir(root, uid)
    unmount_all(directory)
    shutil.rmtree(directory, ignore_errors=True)


def _tmpfs(path: str, size: int | None) -> None:
    """A tmpfs on the directory ``path``, unless one is there already (the agent restarted
    and adopts its pods); without the right to mount (rootless) the directory stays."""
    if os.path.ismount(path):
        return
    from ..runtime import linux
    try:
        linux.mount("tmpfs", path, "tmpfs", linux.MS_NOSUID | linux.MS_NODEV,
                    "mode=0777" + (f",size={size}" if size else ""))
    except OSError as e:
        if e.errno != errno.EPERM:
            raise


def _host_path(src: dict) -> str:
    path, kind = src.get("path", ""), src.get("type", "")
    if not os.path.isabs(path):
        raise InvalidArgument(f"hostPath {path!r} is not absolute")
    if kind == "DirectoryOrCreate":
        os.makedirs(path, mode=0o755, exist_ok=True)
    elif kind == "FileOrCreate" and not os.path.exists(path):
        os.makedirs(os.path.dirname(path), exist_ok=True)
        open(path, "a").close()
    elif kind in ("Directory", "File", "Socket", "CharDevice", "BlockDevice") \
            and not os.path.exists(path):
        raise VolumeNotReady(f"hostPath {path} does not exist")
    return path


def _items(data: dict[str, bytes], items, mode_default) -> dict[str, tuple[bytes, int | None]]:
    if not items:
        return {k: (v, None) for k, v in data.items()}
    out = {}
    for item in items:
        if item["key"] in data:
            out[item.get("path") or item["key"]] = (data[item["key"]], item.get("mode"))
    return out


def _fetch(client: KubeClient, kind: str, ns: str, name: str, optional: bool) -> dict | None:
    try:
        return client.get(f"/api/v1/namespaces/{ns}/{kind}/{name}")
    except KubeError as e:
        if e.status == 404:
            if optional:
                return None
            raise VolumeNotReady(f'{kind[:-1]} "{name}" not found') from None
        raise VolumeNotReady(str(e)) from None


def _configmap_files(client, ns: str, src: dict):
    obj = _fetch(client, "configmaps", ns, src.get("name", ""), src.get("optional", False)) or {}
    data = {k: v.encode() for k, v in (obj.get("data") or {}).items()}
    data.update({k: base64.b64decode(v) for k, v in (obj.get("binaryData") or {}).items()})
    return _items(data, src.get("items"), None)


def _secret_files(client, ns: str, src: dict):
    obj = _fetch(client, "secrets", ns, src.get("name", ""), src.get("optional", False)) or {}
    data = {k: base64.b64decode(v) for k, v in (obj.get("data") or {}).items()}
    data.update({k: v.encode() for k, v in (obj.get("stringData") or {}).items()})
    return _items(data, src.get("items"), None)


def _downward_files(pod: dict, src: dict, node: str, pod_ip: str, host_ip: str):
    out = {}
    containers = {c["name"]: c for c in pod["spec"].get("containers") or []}
    for item in src.get("items") or []:
        if "fieldRef" in item:
            value = field_value(pod, item["fieldRef"]["fieldPath"], node, pod_ip, host_ip)
        else:
            ref = item["resourceFieldRef"]
            value = resource_value(containers.get(ref.get("containerName"), {}), ref)
        out[item["path"]] = (value.encode(), item.get("mode"))
    return out


def _write(path: str, files: dict[str, tuple[bytes, int | None]], default_mode: int) -> bool:
    """The files under ``path`` through the ``..data`` symlink, swapped in one rename when they
    changed; unchanged files are left alone. Whether they were (re)written."""
    os.makedirs(path, mode=0o755, exist_ok=True)
    data_link = os.path.join(path, "..data")
    if os.path.islink(data_link) and _same(os.path.join(path, os.readlink(data_link)), files):
        return False
    for rel in files:
        if rel.startswith("/") or ".." in rel.split("/"):
            raise InvalidArgument(f"volume file path {rel!r} leaves its volume")
    stamp = time.strftime("..%Y_%m_%d_%H_%M_%S.") + f"{time.time_ns() % 10**9:09d}"
    new = os.path.join(path, stamp)
    os.makedirs(new, mode=0o755)
    for rel, (content, mode) in files.items():
        target = os.path.join(new, rel)
        os.makedirs(os.path.dirname(target), exist_ok=True)
        with open(target, "wb") as f:
            f.write(content)
        os.chmod(target, mode if mode is not None else default_mode)
    tmp = os.path.join(path, "..data_tmp")
    if os.path.lexists(tmp):
        os.unlink(tmp)
    os.symlink(stamp, tmp)
    old = os.readlink(data_link) if os.path.islink(data_link) else ""
    os.rename(tmp, data_link)
    for top in {rel.split("/")[0] for rel in files}:
        link = os.path.join(path, top)
        if not os.path.lexists(link):
            os.symlink(os.path.join("..data", top), link)
    for entry in os.listdir(path):   # keys that were removed, and the old generation
        full = os.path.join(path, entry)
        if entry == old or (not entry.startswith("..") and entry not in
                            {rel.split("/")[0] for rel in files}):
            shutil.rmtree(full) if os.path.isdir(full) and not os.path.islink(full) \
                else os.unlink(full)
    return True


def _same(directory: str, files: dict[str, tuple[bytes, int | None]]) -> bool:
    found = {}
    for dirpath, _, names in os.walk(directory):
        for n in names:
            full = os.path.join(dirpath, n)
            with open(full, "rb") as f:
                found[os.path.relpath(full, directory)] = f.read()
    return found == {k: v for k, (v, _) in files.items()}
