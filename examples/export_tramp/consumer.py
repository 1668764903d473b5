"""A module that uses the ``checksum`` key without owning it.

It reaches the key two ways: by forward declaration (``declare_static_call``, resolved
at first use) and through the exported handle. Both can call; neither can update.
"""

from __future__ import annotations

from typing import Callable

from staticcall import (
    StaticCallHandle,
    StaticCallPermissionError,
    declare_static_call,
    static_call,
    static_call_query,
    static_call_update,
    static_calls,
)

from . import provider

# annotated with the key's type, so that calls and updates through it are type-checked
Checksum = Callable[[bytes], int]
checksum: StaticCallHandle[Checksum] = declare_static_call("export_tramp.provider:checksum")


@static_calls
def frame(payload: bytes) -> bytes:
    """``payload`` followed by its 4-byte checksum."""
    value: int = static_call(checksum)(payload)
    return payload + value.to_bytes(4, "big")


def try_to_update(handle: StaticCallHandle[Checksum], label: str) -> None:
    try:
        static_call_update(handle, lambda data: 0)
    except StaticCallPermissionError as exc:
        print(f"update through {label} refused: {type(exc).__name__}: {exc}")
    else:
        print(f"update through {label} was allowed (unexpected)")


def target_name(handle: StaticCallHandle[Checksum]) -> str:
    target = static_call_query(handle)
    return "NULL" if target is None else target.__name__


def main() -> int:
    payload = b"static calls"
    print(f"declared handle: {checksum.name} (trampoline-only: {checksum.tramp})")
    print(f"target via handle: {target_name(checksum)}")
    print(f"framed with sum16: {frame(payload).hex()}")

    try_to_update(checksum, "declare_static_call handle")
    try_to_update(provider.checksum, "exported handle")
    print(f"target still: {target_name(checksum)}")

    provider.use_crc32()
    print(f"provider switched; target via handle: {target_name(checksum)}")
    print(f"framed with crc32: {frame(payload).hex()}")
    return 0
