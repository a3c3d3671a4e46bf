"""Whether a host is on the public internet: fetches made for members must not reach the bot
host's own network (localhost, LAN, cloud metadata)."""

from __future__ import annotations

import ipaddress
import socket

import anyio

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

# IPv6 ranges that reach IPv4 hosts (or old site-local networks) and that Python still counts
# as global: through them `http://[64:ff9b::7f00:1]/` is 127.0.0.1 behind a NAT64 gateway.
_NOT_PUBLIC_V6 = tuple(
    ipaddress.IPv6Network(net)
    for net in (
        "::/96",  # IPv4-compatible (::a.b.c.d), deprecated; also :: and ::1
        "64:ff9b::/96",  # NAT64, well-known prefix
        "64:ff9b:1::/48",  # NAT64, local-use prefix
        "2002::/16",  # 6to4
        "2001::/32",  # Teredo
        "fec0::/10",  # site-local, deprecated but still routed on some networks
    )
)


def is_public_address(address: IPAddress | str) -> bool:
    """Whether an address is on the public internet: not loopback, private, link-local,
    shared, reserved, multicast, or an IPv6 form that carries such an IPv4 address."""
    if isinstance(address, str):
        address = ipaddress.ip_address(address.split("%", 1)[0])  # drop an IPv6 zone
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            address = address.ipv4_mapped
        elif any(address in net for net in _NOT_PUBLIC_V6):
            return False
    return address.is_global and not address.is_multicast


async def resolve(host: str, port: int = 443) -> list[str]:
    """The addresses `host` is or resolves to, in the resolver's order; OSError when it does
    not resolve (a connection failure, for every fetch alike)."""
    try:
        return [str(ipaddress.ip_address(host.strip("[]")))]
    except ValueError:
        pass
    infos = await anyio.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    addresses = list(dict.fromkeys(str(info[4][0]) for info in infos))
    if not addresses:
        raise socket.gaierror(socket.EAI_NONAME, f"{host} has no address")
    return addresses


async def resolves_to_public_only(host: str) -> bool:
    """True when every address `host` is or resolves to is public; OSError if it won't resolve."""
    return all(is_public_address(address) for address in await resolve(host))


async def is_public_host(host: str) -> bool:
    """A first answer when a member adds a web source: whether `host` is public. A name that
    does not resolve is not called private: like every fetch, its sync fails to connect. (The
    fetches themselves are checked again, connection by connection, by `outbound_client`.)"""
    try:
        return await resolves_to_public_only(host)
    except OSError:
        return True
