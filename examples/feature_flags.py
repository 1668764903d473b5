"""Feature flags as static keys, switched on from the environment at start-up.

Each flag is a static key, off by default. ``FEATURES=fast_path,audit`` in the
environment enables those flags before any request runs. In the ``@static_calls``
function ``checkout``, each ``if static_branch_unlikely(FLAG):`` is a branch site: the
rewritten code has no load of the key, no call and no test there, only one jump whose
direction was patched in when the flag was set (and is patched again whenever it
changes, here at the end: ``static_branch_enable``/``static_branch_disable``).

Run: python examples/feature_flags.py
     FEATURES=fast_path,audit python examples/feature_flags.py
"""

from __future__ import annotations

import os
import sys

from staticcall import (
    StaticKey,
    define_static_key_false,
    static_branch_disable,
    static_branch_enable,
    static_branch_likely,
    static_branch_unlikely,
    static_call_sites,
    static_calls,
    static_key_enabled,
)

fast_path = define_static_key_false(name="fast_path")
audit = define_static_key_false(name="audit")
legacy_rounding = define_static_key_false(name="legacy_rounding")

FLAGS: dict[str, StaticKey] = {
    "fast_path": fast_path,
    "audit": audit,
    "legacy_rounding": legacy_rounding,
}

audit_log: list[str] = []


def enable_from_environment(variable: str = "FEATURES") -> list[str]:
    """Enable the flags named in ``$variable`` (comma-separated); return their names."""
    names = [n.strip() for n in os.environ.get(variable, "").split(",") if n.strip()]
    unknown = [n for n in names if n not in FLAGS]
    if unknown:
        sys.exit(f"{variable}: unknown feature(s) {unknown}; expected some of {sorted(FLAGS)}")
    for name in names:
        static_branch_enable(FLAGS[name])
    return names


@static_calls
def checkout(prices: list[int]) -> int:
    if static_branch_unlikely(fast_path):
        total = sum(prices)
    else:
        total = 0
        for p in prices:
            total += p
    if static_branch_unlikely(audit):
        audit_log.append(f"checkout of {len(prices)} items: {total}")
    # likely: the fall-through is the enabled side; both are correct either way
    cents = total if not static_branch_likely(legacy_rounding) else total // 10 * 10
    return cents


def show(label: str) -> None:
    on = [name for name, key in FLAGS.items() if static_key_enabled(key)]
    print(f"{label}: enabled={on}")
    for site in sorted(static_call_sites(), key=lambda s: s.lineno):
        if site.function == "checkout":
            print(f"  {site.kind} site of {site.key.name} at "
                  f"{os.path.basename(site.filename)}:{site.lineno}: state={site.state}")


def run(label: str) -> None:
    audit_log.clear()
    total = checkout([199, 250, 1003])
    print(f"{label}: total={total} audit entries={len(audit_log)}")


def main() -> None:
    names = enable_from_environment()
    print(f"from FEATURES: {names}")
    show("start-up")
    run("start-up")

    static_branch_enable(audit)
    static_branch_disable(legacy_rounding)
    show("audit on, legacy rounding off")
    run("audit on, legacy rounding off")

    for key in FLAGS.values():
        static_branch_disable(key)
    show("all off")
    run("all off")


if __name__ == "__main__":
    main()
