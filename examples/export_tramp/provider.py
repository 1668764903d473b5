"""The module that owns the ``checksum`` key.

It exports the key trampoline-only (the kernel's ``EXPORT_STATIC_CALL_TRAMP``): other
modules can call it, query it and use it at their sites, but only this module, which
holds the key itself, can retarget it.
"""

from __future__ import annotations

import zlib

from staticcall import define_static_call, export_static_call, static_call_update


def sum16(data: bytes, /) -> int:
    """The default checksum: the byte sum, modulo 2**16."""
    return sum(data) & 0xFFFF


_checksum_key = define_static_call(sum16, name="checksum")

#: The public handle, registered as "export_tramp.provider:checksum".
checksum = export_static_call(_checksum_key, tramp=True)


def use_crc32() -> None:
    """Switch every checksum site to CRC-32 (only the owner can do this)."""
    static_call_update(_checksum_key, zlib.crc32)
