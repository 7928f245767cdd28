"""Just enough rtnetlink to make bridges and veths, give them addresses and routes, and delete
them again.

Why not pyroute2: importing any part of it costs ~100-160 ms on these machines (its package
``__init__`` loads nearly everything), and this runs in the monitor on every container start.
These few messages cost nothing to import and take microseconds each. The tests check the
results with iproute2's ``ip``, which shares nothing with this code.

Every call raises OSError with the kernel's errno when the kernel refuses; callers turn that
into a HostError that names what they were doing.
"""

from __future__ import annotations

import ipaddress
import os
import _socket as socket  # socket.py costs ~3 ms on a container's start and adds nothing here
import struct
from contextlib import contextmanager

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Iterator

NETLINK_ROUTE = 0
RTM_NEWLINK, RTM_DELLINK, RTM_GETLINK, RTM_SETLINK = 16, 17, 18, 19
RTM_NEWADDR, RTM_DELADDR, RTM_GETADDR = 20, 21, 22
RTM_NEWROUTE, RTM_DELROUTE, RTM_GETROUTE = 24, 25, 26
NLMSG_ERROR, NLMSG_DONE = 2, 3
NLM_F_REQUEST, NLM_F_MULTI, NLM_F_ACK = 0x1, 0x2, 0x4
NLM_F_ROOT, NLM_F_MATCH = 0x100, 0x200
NLM_F_DUMP = NLM_F_ROOT | NLM_F_MATCH
NLM_F_REPLACE, NLM_F_EXCL, NLM_F_CREATE = 0x100, 0x200, 0x400
NLA_F_NESTED = 0x8000

IFLA_ADDRESS, IFLA_IFNAME, IFLA_MTU, IFLA_MASTER = 1, 3, 4, 10
IFLA_LINKINFO, IFLA_NET_NS_PID = 18, 19
IFLA_INFO_KIND, IFLA_INFO_DATA = 1, 2
VETH_INFO_PEER = 1
IFA_ADDRESS, IFA_LOCAL = 1, 2
IFA_F_NODAD = 0x02
RTA_DST, RTA_OIF, RTA_GATEWAY, RTA_TABLE = 1, 4, 5, 15
IFF_UP = 0x1
RT_TABLE_MAIN, RTPROT_BOOT, RTPROT_STATIC = 254, 3, 4
RT_SCOPE_UNIVERSE, RTN_UNICAST = 0, 1
CLONE_NEWNET = 0x40000000

_IFINFO = struct.Struct("=BxHiII")      # family, type, index, flags, change
_IFADDR = struct.Struct("=BBBBI")       # family, prefixlen, flags, scope, index
_RTMSG = struct.Struct("=BBBBBBBBI")    # family, dst_len, src_len, tos, table, proto, scope, type, flags
_NLHDR = struct.Struct("=IHHII")        # len, type, flags, seq, pid


def _attr(kind: int, data: bytes) -> bytes:
    length = 4 + len(data)
    return struct.pack("=HH", length, kind) + data + b"\0" * ((4 - length % 4) % 4)


def _nested(kind: int, *attrs: bytes) -> bytes:
    return _attr(kind | NLA_F_NESTED, b"".join(attrs))


def _str(kind: int, text: str) -> bytes:
    return _attr(kind, text.encode() + b"\0")


def _u32(kind: int, value: int) -> bytes:
    return _attr(kind, struct.pack("=I", value))


def _mac(text: str) -> bytes:
    return bytes(int(x, 16) for x in text.split(":"))


def _parse_attrs(data: bytes) -> dict[int, bytes]:
    out: dict[int, bytes] = {}
    off = 0
    while off + 4 <= len(data):
        length, kind = struct.unpack_from("=HH", data, off)
        if length < 4:
            break
        out[kind & ~NLA_F_NESTED] = data[off + 4:off + length]
        off += (length + 3) & ~3
    return out


class Netlink:
    """One rtnetlink socket, in the network namespace it was opened in."""

    def __init__(self, sock=None):
        self.sock = sock or socket.socket(socket.AF_NETLINK, socket.SOCK_RAW | socket.SOCK_CLOEXEC,
                                          NETLINK_ROUTE)
        self.sock.bind((0, 0))
        self.seq = 0

    def close(self) -> None:
        self.sock.close()

    def __enter__(self) -> "Netlink":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # --- the wire ---------------------------------------------------------------------
    def _send(self, kind: int, flags: int, body: bytes) -> int:
        self.seq += 1
        self.sock.send(_NLHDR.pack(_NLHDR.size + len(body), kind, flags, self.seq, 0) + body)
        return self.seq

    def _replies(self, seq: int) -> Iterator[tuple[int, bytes]]:
        while True:
            data = self.sock.recv(1 << 16)
            off = 0
            while off + _NLHDR.size <= len(data):
                length, kind, flags, rseq, _ = _NLHDR.unpack_from(data, off)
                body = data[off + _NLHDR.size:off + length]
                off += (length + 3) & ~3
                if rseq != seq:
                    continue
                if kind == NLMSG_DONE:
                    return
                if kind == NLMSG_ERROR:
                    (err,) = struct.unpack_from("=i", body)
                    if err:
                        raise OSError(-err, os.strerror(-err))
                    return
                yield kind, body

    def request(self, kind: int, body: bytes, flags: int = 0) -> None:
        """Send one change and wait for the kernel's acknowledgement."""
        seq = self._send(kind, NLM_F_REQUEST | NLM_F_ACK | flags, body)
        for _ in self._replies(seq):
            pass

    def dump(self, kind: int, body: bytes) -> list[bytes]:
        seq = self._send(kind, NLM_F_REQUEST | NLM_F_DUMP, body)
        return [b for _, b in self._replies(seq)]

    # --- links ------------------------------------------------------------------------
    def links(self) -> dict[str, int]:
        """Every link in this namespace: name -> index."""
        out = {}
        for body in self.dump(RTM_GETLINK, _IFINFO.pack(socket.AF_UNSPEC, 0, 0, 0, 0)):
            _, _, index, _, _ = _IFINFO.unpack_from(body)
            attrs = _parse_attrs(body[_IFINFO.size:])
            if IFLA_IFNAME in attrs:
                out[attrs[IFLA_IFNAME].rstrip(b"\0").decode()] = index
        return out

    def link_index(self, name: str) -> int:
        """Index of link ``name`` in this socket's namespace; OSError(ENODEV) when there is none."""
        seq = self._send(RTM_GETLINK, NLM_F_REQUEST,
                         _IFINFO.pack(socket.AF_UNSPEC, 0, 0, 0, 0) + _str(IFLA_IFNAME, name))
        for _, body in self._replies(seq):
            return _IFINFO.unpack_from(body)[2]
        raise OSError(19, f"no link named {name}")

    def create_bridge(self, name: str, mtu: int, mac: str | None = None) -> int:
        attrs = [_str(IFLA_IFNAME, name), _u32(IFLA_MTU, mtu),
                 _nested(IFLA_LINKINFO, _str(IFLA_INFO_KIND, "bridge"))]
        if mac:
            attrs.append(_attr(IFLA_ADDRESS, _mac(mac)))
        self.request(RTM_NEWLINK, _IFINFO.pack(socket.AF_UNSPEC, 0, 0, 0, 0) + b"".join(attrs),
                     NLM_F_CREATE | NLM_F_EXCL)
        return self.link_index(name)

    def create_veth(self, name: str, peer: str, peer_pid: int, master: int, mtu: int,
                    peer_mac: str | None = None) -> None:
        """A veth pair: ``name`` here on bridge ``master`` and up, ``peer`` created directly in
        the net namespace of ``peer_pid`` (so it never exists under its name in this one)."""
        peer_attrs = [_str(IFLA_IFNAME, peer), _u32(IFLA_MTU, mtu), _u32(IFLA_NET_NS_PID, peer_pid)]
        if peer_mac:
            peer_attrs.append(_attr(IFLA_ADDRESS, _mac(peer_mac)))
        info = _nested(IFLA_LINKINFO, _str(IFLA_INFO_KIND, "veth"),
                       _nested(IFLA_INFO_DATA, _attr(VETH_INFO_PEER,
                               _IFINFO.pack(socket.AF_UNSPEC, 0, 0, 0, 0) + b"".join(peer_attrs))))
        body = (_IFINFO.pack(socket.AF_UNSPEC, 0, 0, IFF_UP, IFF_UP)
                + _str(IFLA_IFNAME, name) + _u32(IFLA_MTU, mtu) + _u32(IFLA_MASTER, master) + info)
        self.request(RTM_NEWLINK, body, NLM_F_CREATE | NLM_F_EXCL)

    def set_up(self, index: int) -> None:
        self.request(RTM_NEWLINK, _IFINFO.pack(socket.AF_UNSPEC, 0, index, IFF_UP, IFF_UP))

    def delete_link(self, name: str) -> bool:
        """Delete link ``name``; False when it was already gone."""
        try:
            self.request(RTM_DELLINK, _IFINFO.pack(socket.AF_UNSPEC, 0, 0, 0, 0)
                         + _str(IFLA_IFNAME, name))
        except OSError as e:
            if e.errno in (19, 2):  # ENODEV, ENOENT: gone already (the netns died with it)
                return False
            raise
        return True

    # --- addresses and routes ---------------------------------------------------------
    def add_address(self, index: int, ip: str, prefixlen: int) -> None:
        """Add an IPv4 or IPv6 address. An IPv6 one skips duplicate address detection (as
        Docker's do): the subnet is berth's own, and DAD would hold the address back ~2 s."""
        addr = ipaddress.ip_address(ip)
        family = socket.AF_INET6 if addr.version == 6 else socket.AF_INET
        flags = IFA_F_NODAD if addr.version == 6 else 0
        body = (_IFADDR.pack(family, prefixlen, flags, RT_SCOPE_UNIVERSE, index)
                + _attr(IFA_LOCAL if addr.version == 4 else IFA_ADDRESS, addr.packed))
        if addr.version == 4:
            body += _attr(IFA_ADDRESS, addr.packed)
        self.request(RTM_NEWADDR, body, NLM_F_CREATE | NLM_F_EXCL)

    def add_default_route(self, gateway: str, index: int) -> None:
        """A default route (IPv4 or IPv6, as ``gateway`` is) through link ``index``."""
        addr = ipaddress.ip_address(gateway)
        family = socket.AF_INET6 if addr.version == 6 else socket.AF_INET
        body = (_RTMSG.pack(family, 0, 0, 0, RT_TABLE_MAIN, RTPROT_BOOT,
                            RT_SCOPE_UNIVERSE, RTN_UNICAST, 0)
                + _attr(RTA_GATEWAY, addr.packed) + _u32(RTA_OIF, index))
        self.request(RTM_NEWROUTE, body, NLM_F_CREATE | NLM_F_EXCL)

    def routes(self, family: int = socket.AF_INET) -> list[tuple[ipaddress.IPv4Network, int]]:
        """Routes of every table in this namespace (IPv4, or IPv6 with ``family`` AF_INET6):
        (destination, output link index)."""
        out = []
        size = 16 if family == socket.AF_INET6 else 4
        network = ipaddress.IPv6Network if family == socket.AF_INET6 else ipaddress.IPv4Network
        for body in self.dump(RTM_GETROUTE, _RTMSG.pack(family, 0, 0, 0, 0, 0, 0, 0, 0)):
            _, dst_len, _, _, table, _, _, rtype, _ = _RTMSG.unpack_from(body)
            if rtype != RTN_UNICAST:
                continue  # local, broadcast and friends describe the host's own addresses
            attrs = _parse_attrs(body[_RTMSG.size:])
            dst = attrs.get(RTA_DST, b"\0" * size)
            oif = struct.unpack("=I", attrs[RTA_OIF])[0] if RTA_OIF in attrs else 0
            out.append((network((dst, dst_len)), oif))
        return out


_libc = None


def _setns(fd: int) -> None:
    global _libc
    import ctypes
    if _libc is None:
        _libc = ctypes.CDLL(None, use_errno=True)
    if _libc.setns(fd, CLONE_NEWNET) != 0:
        err = ctypes.get_errno()
        raise OSError(err, os.strerror(err))


@contextmanager
def netns_of(pid: int) -> Iterator[Netlink]:
    """A Netlink socket inside the network namespace of process ``pid``, closed afterwards."""
    nl = open_netns(pid)
    try:
        yield nl
    finally:
        nl.close()


def open_netns(pid: int) -> Netlink:
    """A Netlink socket inside the network namespace of process ``pid``.

    The socket stays in that namespace for its life; this thread goes back to its own namespace
    as soon as the socket exists.
    """
    own = os.open("/proc/thread-self/ns/net", os.O_RDONLY | os.O_CLOEXEC)
    try:
        target = os.open(f"/proc/{pid}/ns/net", os.O_RDONLY | os.O_CLOEXEC)
        try:
            _setns(target)
            try:
                nl = Netlink()
            finally:
                _setns(own)
        finally:
            os.close(target)
    finally:
        os.close(own)
    return nl
