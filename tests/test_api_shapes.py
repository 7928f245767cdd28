"""The keys of berth's Docker API answers against dockerd 28's (tests/fixtures/dockerd28): every
key dockerd sends is there, and no key it would not send, for the same container, image,
network, volume and exec, and for info, version and system df."""

from __future__ import annotations

import json
import pathlib

import pytest

from test_api_support import service  # noqa: F401

docker = pytest.importorskip("docker")

FIXTURES = pathlib.Path(__file__).parent / "fixtures" / "dockerd28"

# objects whose keys are data (names, ids, ports, options): their values are compared by shape
_MAPS = {"Labels", "Data", "Config/Config", "Ports", "PortBindings", "ExposedPorts", "Options",
         "Networks", "Containers", "Runtimes", "IndexConfigs", "DriverOpts", "Details",
         "Volumes", "Sysctls", "Tmpfs", "Status", "status"}


def dockerd(kind: str):
    return json.loads((FIXTURES / f"{kind}.json").read_text())["response"]


def _is_map(path: str) -> bool:
    last = path.rsplit("/", 1)[-1]
    return last in _MAPS or "/".join(path.split("/")[-2:]) in _MAPS


def differences(ours, theirs, path: str = "") -> list[str]:
    """Where the keys of ``ours`` differ from ``theirs``, recursively: '+path' for a key only
    berth sends, '-path' for one berth lacks."""
    if isinstance(theirs, dict) and isinstance(ours, dict):
        if _is_map(path):
            sample = next(iter(theirs.values()), None)
            if isinstance(sample, dict):
                return [d for k, v in ours.items() for d in differences(v, sample, f"{path}/*")]
            return []
        out = [f"-{path}/{k}" for k in theirs if k not in ours]
        out += [f"+{path}/{k}" for k in ours if k not in theirs]
        for k in theirs.keys() & ours.keys():
            out += differences(ours[k], theirs[k], f"{path}/{k}")
        return out
    if isinstance(theirs, list) and isinstance(ours, list) and theirs and \
            isinstance(theirs[0], dict):
        return [d for item in ours for d in differences(item, theirs[0], f"{path}[]")]
    return []


@pytest.fixture
def api(service):
    c = docker.APIClient(base_url=service.url, version="1.45", timeout=60)
    try:
        yield c
    finally:
        c.close()


def test_every_answer_has_dockerd_28s_keys(service, api, busybox):
    """The fixtures' container, made the way their README says, through the docker CLI."""
    from test_api_cli import _free_port
    service.docker("tag", busybox, "busybox")
    service.docker("volume", "create", "data")
    service.docker("run", "-d", "--name", "web", "-p", f"{_free_port()}:80", "--label",
                   "app=web", "-v", "data:/data", "busybox", "httpd", "-f", "-p", "80")
    exec_id = api.exec_create("web", ["sh", "-c", "exit 3"])["Id"]
    api.exec_start(exec_id)
    network = api.inspect_container("web")["HostConfig"]["NetworkMode"]
    answers = {
        "container_inspect": api.inspect_container("web"),
        "container_list": api.containers()[0],
        "image_inspect": api.inspect_image("busybox"),
        "image_list": api.images(name="busybox")[0],
        "network_inspect": api.inspect_network(network),
        "volume_inspect": api.inspect_volume("data"),
        "exec_inspect": api.exec_inspect(exec_id),
        "info": api.info(),
        "version": api.version(),
        "system_df": api.df(),
    }
    found = {kind: differences(ours, dockerd(kind)) for kind, ours in answers.items()}
    assert {k: v for k, v in found.items() if v} == {}
    # values a client parses: times and the exec's outcome
    assert answers["image_inspect"]["Metadata"]["LastTagTime"].startswith("20")
    assert answers["exec_inspect"]["ExitCode"] == 3
    assert answers["container_inspect"]["HostConfig"]["MaskedPaths"] == \
        dockerd("container_inspect")["HostConfig"]["MaskedPaths"]
