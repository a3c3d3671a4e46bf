"""Whether a host is on the public internet: fetches made for members must not reach the bot
host's own network (localhost, LAN, cloud metadata)."""

from __future__ import annotations

import asyncio
import ipaddress
import socket


async def resolves_to_public_only(host: str) -> bool:
    """True when every address `host` is or resolves to is global; OSError if it won't resolve."""
    try:
        addresses = [ipaddress.ip_address(host)]
    except ValueError:
        infos = await asyncio.get_running_loop().getaddrinfo(host, None, type=socket.SOCK_STREAM)
        addresses = [ipaddress.ip_address(str(info[4][0]).split("%")[0]) for info in infos]
    for address in addresses:
        if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
            address = address.ipv4_mapped
        if not address.is_global:
            return False
    return True
