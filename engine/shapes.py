"""The shapes of Docker's answers: every key dockerd 28 sends in an inspect, list, info or version
answer (at API 1.45), each with the zero value dockerd gives when the feature is unused, taken
from moby's Go types (their ``json`` tags decide which keys are always there). ``complete``
adds what a Docker-shaped dict of berth's lacks, so a client that reads a key berth has no use
for (CgroupnsMode, MaskedPaths, ExecIDs, …) finds Docker's value instead of a KeyError.

Imports nothing: ``inspect`` (berth's own), ``images.describe`` and the Docker API server use it.
"""

from __future__ import annotations

import copy

ZERO_TIME = "0001-01-01T00:00:00Z"


class ListOf:
    """A JSON list whose items have ``shape`` (``[]`` when missing)."""

    __slots__ = ("shape",)

    def __init__(self, shape):
        self.shape = shape


class MapOf:
    """A JSON object whose keys are data (names, ids) and whose values have ``shape``."""

    __slots__ = ("shape",)

    def __init__(self, shape):
        self.shape = shape


def complete(data, shape):
    """``data`` with every key of ``shape`` it lacks added (Docker's zero value), recursively;
    values it has are kept. Returns ``data`` (changed in place)."""
    if isinstance(shape, ListOf):
        if isinstance(data, list):
            for item in data:
                complete(item, shape.shape)
        return data
    if isinstance(shape, MapOf):
        if isinstance(data, dict):
            for value in data.values():
                complete(value, shape.shape)
        return data
    if not isinstance(shape, dict) or not isinstance(data, dict):
        return data
    for key, sub in shape.items():
        if key not in data:
            data[key] = _zero(sub)
        else:
            complete(data[key], sub)
    return data


def _zero(shape):
    if isinstance(shape, ListOf):
        return []
    if isinstance(shape, MapOf):
        return {}
    if isinstance(shape, dict):
        return {k: _zero(v) for k, v in shape.items()}
    return copy.deepcopy(shape)


# --- containers (api/types/container: InspectResponse, Config, HostConfig, NetworkSettings) ---

STATE = {"Status": "created", "Running": False, "Paused": False, "Restarting": False,
         "OOMKilled": False, "Dead": False, "Pid": 0, "ExitCode": 0, "Error": "",
         "StartedAt": ZERO_TIME, "FinishedAt": ZERO_TIME}

CONFIG = {"Hostname": "", "Domainname": "", "User": "", "AttachStdin": False,
          "AttachStdout": False, "AttachStderr": False, "Tty": False, "OpenStdin": False,
          "StdinOnce": False, "Env": None, "Cmd": None, "Image": "", "Volumes": None,
          "WorkingDir": "", "Entrypoint": None, "OnBuild": None, "Labels": {}}

_DEVICE_LISTS = ("BlkioWeightDevice", "BlkioDeviceReadBps", "BlkioDeviceWriteBps",
                 "BlkioDeviceReadIOps", "BlkioDeviceWriteIOps")

HOST_CONFIG = {
    "Binds": None, "ContainerIDFile": "", "LogConfig": {"Type": "json-file", "Config": {}},
    "NetworkMode": "bridge", "PortBindings": {},
    "RestartPolicy": {"Name": "no", "MaximumRetryCount": 0}, "AutoRemove": False,
    "VolumeDriver": "", "VolumesFrom": None, "ConsoleSize": [0, 0], "CapAdd": None,
    "CapDrop": None, "CgroupnsMode": "private", "Dns": [], "DnsOptions": [], "DnsSearch": [],
    "ExtraHosts": None, "GroupAdd": None, "IpcMode": "private", "Cgroup": "", "Links": None,
    "OomScoreAdj": 0, "PidMode": "", "Privileged": False, "PublishAllPorts": False,
    "ReadonlyRootfs": False, "SecurityOpt": None, "UTSMode": "", "UsernsMode": "",
    "ShmSize": 64 << 20, "Runtime": "runc", "Isolation": "", "CpuShares": 0, "Memory": 0,
    "NanoCpus": 0, "CgroupParent": "", "BlkioWeight": 0, **{k: [] for k in _DEVICE_LISTS},
    "CpuPeriod": 0, "CpuQuota": 0, "CpuRealtimePeriod": 0, "CpuRealtimeRuntime": 0,
    "CpusetCpus": "", "CpusetMems": "", "Devices": [], "DeviceCgroupRules": None,
    "DeviceRequests": None, "MemoryReservation": 0, "MemorySwap": 0, "MemorySwappiness": None,
    "OomKillDisable": None, "PidsLimit": None, "Ulimits": [], "CpuCount": 0, "CpuPercent": 0,
    "IOMaximumIOps": 0, "IOMaximumBandwidth": 0, "MaskedPaths": None, "ReadonlyPaths": None,
}

ENDPOINT = {"IPAMConfig": None, "Links": None, "Aliases": None, "MacAddress": "",
            "DriverOpts": None, "NetworkID": "", "EndpointID": "", "Gateway": "",
            "IPAddress": "", "IPPrefixLen": 0, "IPv6Gateway": "", "GlobalIPv6Address": "",
            "GlobalIPv6PrefixLen": 0, "DNSNames": None}

NETWORK_SETTINGS = {
    "Bridge": "", "SandboxID": "", "SandboxKey": "", "Ports": {}, "HairpinMode": False,
    "LinkLocalIPv6Address": "", "LinkLocalIPv6PrefixLen": 0, "SecondaryIPAddresses": None,
    "SecondaryIPv6Addresses": None, "EndpointID": "", "Gateway": "", "GlobalIPv6Address": "",
    "GlobalIPv6PrefixLen": 0, "IPAddress": "", "IPPrefixLen": 0, "IPv6Gateway": "",
    "MacAddress": "", "Networks": MapOf(ENDPOINT),
}

MOUNT_POINT = {"Type": "", "Source": "", "Destination": "", "Mode": "", "RW": True,
               "Propagation": ""}

CONTAINER = {
    "Id": "", "Created": "", "Path": "", "Args": [], "State": STATE, "Image": "",
    "ResolvConfPath": "", "HostnamePath": "", "HostsPath": "", "LogPath": "", "Name": "",
    "RestartCount": 0, "Driver": "overlay2", "Platform": "linux", "MountLabel": "",
    "ProcessLabel": "", "AppArmorProfile": "", "ExecIDs": None, "HostConfig": HOST_CONFIG,
    "GraphDriver": {"Data": {}, "Name": "overlay2"}, "Mounts": ListOf(MOUNT_POINT),
    "Config": CONFIG, "NetworkSettings": NETWORK_SETTINGS,
}

CONTAINER_SUMMARY = {
    "Id": "", "Names": [], "Image": "", "ImageID": "", "Command": "", "Created": 0,
    "Ports": ListOf({"PrivatePort": 0, "Type": "tcp"}), "Labels": {}, "State": "",
    "Status": "", "HostConfig": {"NetworkMode": "bridge"},
    "NetworkSettings": {"Networks": MapOf(ENDPOINT)},
    "Mounts": ListOf(MOUNT_POINT),
}

# --- images (api/types/image: InspectResponse with the Config of API < 1.47, Summary) --------

IMAGE_CONFIG = {**CONFIG, "Labels": None}

IMAGE = {
    "Id": "", "RepoTags": [], "RepoDigests": [], "Parent": "", "Comment": "", "Created": "",
    "DockerVersion": "", "Author": "", "Config": IMAGE_CONFIG, "Architecture": "",
    "Os": "linux", "Size": 0, "GraphDriver": {"Data": {}, "Name": "overlay2"},
    "RootFS": {"Type": "layers", "Layers": []}, "Metadata": {"LastTagTime": ZERO_TIME},
}

IMAGE_SUMMARY = {"Containers": -1, "Created": 0, "Id": "", "Labels": None, "ParentId": "",
                 "RepoDigests": [], "RepoTags": [], "SharedSize": -1, "Size": 0}

# --- networks, volumes, execs ------------------------------------------------------------------

NETWORK = {
    "Name": "", "Id": "", "Created": ZERO_TIME, "Scope": "local", "Driver": "bridge",
    "EnableIPv4": True, "EnableIPv6": False,
    "IPAM": {"Driver": "default", "Options": None, "Config": []}, "Internal": False,
    "Attachable": False, "Ingress": False, "ConfigFrom": {"Network": ""}, "ConfigOnly": False,
    "Containers": MapOf({"Name": "", "EndpointID": "", "MacAddress": "", "IPv4Address": "",
                         "IPv6Address": ""}),
    "Options": {}, "Labels": {},
}

VOLUME = {"CreatedAt": "", "Driver": "local", "Labels": None, "Mountpoint": "", "Name": "",
          "Options": None, "Scope": "local"}

EXEC = {"ID": "", "Running": False, "ExitCode": None,
        "ProcessConfig": {"tty": False, "entrypoint": "", "arguments": [], "privileged": False},
        "OpenStdin": False, "OpenStderr": False, "OpenStdout": False, "CanRemove": False,
        "ContainerID": "", "DetachKeys": "", "Pid": 0}

# --- the system (api/types/system Info, types.Version, DiskUsage) ------------------------------

INFO = {
    "ID": "", "Containers": 0, "ContainersRunning": 0, "ContainersPaused": 0,
    "ContainersStopped": 0, "Images": 0, "Driver": "overlay2", "DriverStatus": [],
    "Plugins": {"Volume": [], "Network": [], "Authorization": None, "Log": []},
    "MemoryLimit": True, "SwapLimit": True, "CpuCfsPeriod": True, "CpuCfsQuota": True,
    "CPUShares": True, "CPUSet": True, "PidsLimit": True, "IPv4Forwarding": True,
    "BridgeNfIptables": False, "BridgeNfIp6tables": False, "Debug": False, "NFd": 0,
    "OomKillDisable": False, "NGoroutines": 0, "SystemTime": "", "LoggingDriver": "json-file",
    "CgroupDriver": "cgroupfs", "CgroupVersion": "2", "NEventsListener": 0,
    "KernelVersion": "", "OperatingSystem": "", "OSVersion": "", "OSType": "linux",
    "Architecture": "", "IndexServerAddress": "https://index.docker.io/v1/",
    "RegistryConfig": {"InsecureRegistryCIDRs": [], "IndexConfigs": {}, "Mirrors": None},
    "NCPU": 1, "MemTotal": 0, "GenericResources": None, "DockerRootDir": "", "HttpProxy": "",
    "HttpsProxy": "", "NoProxy": "", "Name": "", "Labels": [], "ExperimentalBuild": False,
    "ServerVersion": "", "Runtimes": MapOf({"path": ""}), "DefaultRuntime": "runc",
    "Swarm": {"NodeID": "", "NodeAddr": "", "LocalNodeState": "inactive",
              "ControlAvailable": False, "Error": "", "RemoteManagers": None},
    "LiveRestoreEnabled": False, "Isolation": "", "InitBinary": "",
    "ContainerdCommit": {"ID": ""}, "RuncCommit": {"ID": ""}, "InitCommit": {"ID": ""},
    "SecurityOptions": [], "CDISpecDirs": [],
    "Containerd": {"Address": "", "Namespaces": {"Containers": "", "Plugins": ""}},
    "Warnings": None,
}

VERSION = {"Platform": {"Name": ""},
           "Components": ListOf({"Name": "", "Version": "", "Details": {}}),
           "Version": "", "ApiVersion": "", "MinAPIVersion": "", "GitCommit": "",
           "GoVersion": "", "Os": "linux", "Arch": "", "KernelVersion": "", "BuildTime": ""}

SYSTEM_DF = {
    "LayersSize": 0, "Images": ListOf(IMAGE_SUMMARY),
    "Containers": ListOf({**CONTAINER_SUMMARY, "SizeRw": 0, "SizeRootFs": 0}),
    "Volumes": ListOf({**VOLUME, "UsageData": {"Size": -1, "RefCount": -1}}),
    "BuildCache": [],
}
