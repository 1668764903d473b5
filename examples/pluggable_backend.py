"""A pluggable backend chosen at start-up.

``encode`` is a key whose default target is the standard library's ``json`` encoder.
At start-up the program picks a backend from ``--backend`` (or the environment variable
``EXAMPLE_JSON_BACKEND``) and, if it is not the default, retargets the key once. Every
site of ``encode`` -- here in ``render`` -- then calls the chosen encoder directly.

Run: python examples/pluggable_backend.py [--backend stdlib|mini]
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
from typing import Any

from staticcall import (
    define_static_call,
    static_call,
    static_call_query,
    static_call_sites,
    static_call_update,
    static_calls,
)

ENV_VAR = "EXAMPLE_JSON_BACKEND"


def stdlib_encode(obj: Any, /) -> str:
    """Compact, key-sorted JSON text of ``obj`` (the standard library's encoder)."""
    return json.dumps(obj, separators=(",", ":"), sort_keys=True, allow_nan=False)


_ESCAPES = {'"': '\\"', "\\": "\\\\", "\b": "\\b", "\f": "\\f", "\n": "\\n", "\r": "\\r",
            "\t": "\\t"}


def _string(s: str) -> str:
    out = []
    for ch in s:
        if ch in _ESCAPES:
            out.append(_ESCAPES[ch])
        elif ch < " " or ch > "~":
            out.extend(f"\\u{unit:04x}" for unit in _utf16_units(ch))
        else:
            out.append(ch)
    return '"' + "".join(out) + '"'


def _utf16_units(ch: str) -> list[int]:
    data = ch.encode("utf-16-be")
    return [int.from_bytes(data[i:i + 2], "big") for i in range(0, len(data), 2)]


def mini_encode(obj: Any, /) -> str:
    """A hand-written encoder producing the same text as ``stdlib_encode``."""
    if obj is None:
        return "null"
    if obj is True:
        return "true"
    if obj is False:
        return "false"
    if isinstance(obj, int):
        return int.__repr__(obj)
    if isinstance(obj, float):
        if not math.isfinite(obj):
            raise ValueError(f"out of range float value: {obj!r}")
        return float.__repr__(obj)
    if isinstance(obj, str):
        return _string(obj)
    if isinstance(obj, (list, tuple)):
        return "[" + ",".join(mini_encode(item) for item in obj) + "]"
    if isinstance(obj, dict):
        if not all(isinstance(k, str) for k in obj):
            raise TypeError("mini_encode: only str keys are supported")
        items = sorted(obj.items())
        return "{" + ",".join(_string(k) + ":" + mini_encode(v) for k, v in items) + "}"
    raise TypeError(f"Object of type {type(obj).__name__} is not JSON serializable")


BACKENDS = {"stdlib": stdlib_encode, "mini": mini_encode}

# The key: defined with the default backend, whose signature is the prototype.
encode = define_static_call(stdlib_encode, name="encode")


@static_calls
def render(records: list[dict[str, Any]]) -> str:
    return "\n".join(static_call(encode)(record) for record in records)


def choose_backend(argv: list[str] | None = None) -> str:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", choices=sorted(BACKENDS),
                        default=os.environ.get(ENV_VAR, "stdlib"),
                        help=f"JSON encoder (default: ${ENV_VAR} or stdlib)")
    args = parser.parse_args(argv)
    if args.backend not in BACKENDS:
        parser.error(f"${ENV_VAR}={args.backend!r}: expected one of {sorted(BACKENDS)}")
    return str(args.backend)


def main(argv: list[str] | None = None) -> int:
    name = choose_backend(argv)
    previous = static_call_update(encode, BACKENDS[name])
    current = static_call_query(encode)
    print(f"backend: {name} (was {getattr(previous, '__name__', previous)}, "
          f"now {getattr(current, '__name__', current)})")
    for site in static_call_sites(encode):
        print(f"site in {site.function}: state={site.state}")

    records = [
        {"id": 1, "name": "caf\u00e9", "tags": ["a", "b"], "ok": True},
        {"id": 2, "ratio": 0.25, "note": 'say "hi"\n', "parent": None},
        {"id": 3, "nested": {"z": [], "a": {}}, "emoji": "\U0001f600"},
    ]
    text = render(records)
    print(text)
    lines = text.splitlines()
    same = len(lines) == len(records) and all(
        json.loads(line) == record for line, record in zip(lines, records))
    print(f"round trip: {'ok' if same else 'MISMATCH'}")
    agree = text == "\n".join(stdlib_encode(r) for r in records)
    print(f"same text as stdlib: {agree}")
    return 0 if same and agree else 1


if __name__ == "__main__":
    sys.exit(main())
