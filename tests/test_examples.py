"""Each example runs as a script with this interpreter and prints what it claims."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
TIMEOUT = 120

# (script, extra arguments, extra environment) -> lines that must appear, in this order.
# Lines naming a site state are checked separately (they depend on the mode).
CASES: dict[str, tuple[list[str], dict[str, str], list[str]]] = {
    "tracing_hook": ([], {}, [
        "tracing off: target=None",
        "tracing off: total=385 events=0",
        "tracing on: target=record",
        "tracing on: total=385 events=10 first=(0, 1) last=(9, 10)",
        "enabled inside the running loop at item 6: traced items [6, 7, 8, 9]",
        "tracing off again: target=None",
        "tracing off again: total=385 events=0",
    ]),
    "pluggable_backend-default": ([], {}, [
        "backend: stdlib (was stdlib_encode, now stdlib_encode)",
        '{"id":1,"name":"caf\\u00e9","ok":true,"tags":["a","b"]}',
        '{"id":2,"note":"say \\"hi\\"\\n","parent":null,"ratio":0.25}',
        '{"emoji":"\\ud83d\\ude00","id":3,"nested":{"a":{},"z":[]}}',
        "round trip: ok",
        "same text as stdlib: True",
    ]),
    "pluggable_backend-arg": (["--backend", "mini"], {}, [
        "backend: mini (was stdlib_encode, now mini_encode)",
        '{"id":1,"name":"caf\\u00e9","ok":true,"tags":["a","b"]}',
        '{"id":2,"note":"say \\"hi\\"\\n","parent":null,"ratio":0.25}',
        '{"emoji":"\\ud83d\\ude00","id":3,"nested":{"a":{},"z":[]}}',
        "round trip: ok",
        "same text as stdlib: True",
    ]),
    "pluggable_backend-env": ([], {"EXAMPLE_JSON_BACKEND": "mini"}, [
        "backend: mini (was stdlib_encode, now mini_encode)",
        "round trip: ok",
        "same text as stdlib: True",
    ]),
    "feature_switch": ([], {}, [
        "feature off: total=16500 discount calls=0",
        "feature on: total=15100 discount calls=3",
        "feature off again: total=16500 discount calls=0",
    ]),
    "tracepoints": ([], {}, [
        "site in handle at tracepoints.py:53: kind=tracepoint",
        "no probe: enabled=False probes=[] sites=disabled",
        "one probe: enabled=True probes=['to_first'] sites=enabled",
        "one probe: total=20 messages built=5 first=5 second=0",
        "one probe: first message='request #0 -> 0'",
        "two probes: enabled=True probes=['to_first', 'to_second'] sites=enabled",
        "two probes: total=20 messages built=5 first=5 second=5",
        "two probes: last messages='request #4 -> 8' 'request #4 -> 8'",
        "detached: enabled=False probes=[] sites=disabled",
    ]),
    "feature_flags": ([], {}, [
        "from FEATURES: []",
        "start-up: enabled=[]",
        "  branch site of fast_path at feature_flags.py:57: state=disabled",
        "  branch site of audit at feature_flags.py:63: state=disabled",
        "  branch site of legacy_rounding at feature_flags.py:66: state=disabled",
        "start-up: total=1452 audit entries=0",
        "audit on, legacy rounding off: enabled=['audit']",
        "  branch site of audit at feature_flags.py:63: state=enabled",
        "audit on, legacy rounding off: total=1452 audit entries=1",
        "all off: enabled=[]",
        "all off: total=1452 audit entries=0",
    ]),
    "feature_flags-env": ([], {"FEATURES": "fast_path, audit,legacy_rounding"}, [
        "from FEATURES: ['fast_path', 'audit', 'legacy_rounding']",
        "start-up: enabled=['fast_path', 'audit', 'legacy_rounding']",
        "  branch site of fast_path at feature_flags.py:57: state=enabled",
        "  branch site of audit at feature_flags.py:63: state=enabled",
        "  branch site of legacy_rounding at feature_flags.py:66: state=enabled",
        "start-up: total=1450 audit entries=1",
        "audit on, legacy rounding off: enabled=['fast_path', 'audit']",
        "  branch site of legacy_rounding at feature_flags.py:66: state=disabled",
        "audit on, legacy rounding off: total=1452 audit entries=1",
        "all off: enabled=[]",
        "all off: total=1452 audit entries=0",
    ]),
    "export_tramp": ([], {}, [
        "declared handle: export_tramp.provider:checksum (trampoline-only: True)",
        "target via handle: sum16",
        "framed with sum16: 7374617469632063616c6c73000004b7",
        "update through declare_static_call handle refused: StaticCallPermissionError: "
        "static call 'export_tramp.provider:checksum' is exported trampoline-only: "
        "it can be called but not updated",
        "update through exported handle refused: StaticCallPermissionError: "
        "static call 'export_tramp.provider:checksum' is exported trampoline-only: "
        "it can be called but not updated",
        "target still: sum16",
        "provider switched; target via handle: crc32",
        "framed with crc32: 7374617469632063616c6c739b470ac1",
    ]),
}

# Site-state lines when sites are rewritten (inline mode).
INLINE_STATES: dict[str, list[str]] = {
    "tracing_hook": [
        "  site in sum_of_squares at tracing_hook.py:45: state=null",
        "  site in sum_of_squares at tracing_hook.py:45: state=call",
        "  site in sum_of_squares at tracing_hook.py:45: state=null",
    ],
    "pluggable_backend-default": ["site in render.<locals>.<genexpr>: state=call"],
    "pluggable_backend-arg": ["site in render.<locals>.<genexpr>: state=call"],
    "pluggable_backend-env": ["site in render.<locals>.<genexpr>: state=call"],
    "feature_switch": [
        "feature off: target=RET0 sites=ret0",
        "feature on: target=ten_percent_for_regulars sites=call",
        "feature off again: target=RET0 sites=ret0",
    ],
    # no probe: the message is not even built (the statement is skipped whole)
    "tracepoints": [
        "no probe: total=20 messages built=0 first=0 second=0",
        "detached: total=20 messages built=0 first=0 second=0",
    ],
    "feature_flags": [],
    "feature_flags-env": [],
    "export_tramp": [],
}

TRAMPOLINE_STATES: dict[str, list[str]] = {
    "tracing_hook": ["  site in sum_of_squares at tracing_hook.py:45: state=trampoline"] * 3,
    "pluggable_backend-default": ["site in render.<locals>.<genexpr>: state=trampoline"],
    "pluggable_backend-arg": ["site in render.<locals>.<genexpr>: state=trampoline"],
    "pluggable_backend-env": ["site in render.<locals>.<genexpr>: state=trampoline"],
    "feature_switch": [
        "feature off: target=RET0 sites=trampoline",
        "feature on: target=ten_percent_for_regulars sites=trampoline",
        "feature off again: target=RET0 sites=trampoline",
    ],
    # the runtime path evaluates arguments as Python always does
    "tracepoints": [
        "no probe: total=20 messages built=5 first=0 second=0",
        "detached: total=20 messages built=5 first=0 second=0",
    ],
    "feature_flags": [],
    "feature_flags-env": [],
    "export_tramp": [],
}


def _script(case: str) -> Path:
    name = case.split("-")[0]
    package = EXAMPLES / name
    return package if package.is_dir() else EXAMPLES / f"{name}.py"


def _run(case: str, mode: str | None) -> subprocess.CompletedProcess[str]:
    args, extra_env, _ = CASES[case]
    env = dict(os.environ)
    env.pop("EXAMPLE_JSON_BACKEND", None)
    env.pop("FEATURES", None)
    env.pop("STATICCALL_MODE", None)
    env.update(extra_env)
    env["PYTHONIOENCODING"] = "utf-8"
    if mode is not None:
        env["STATICCALL_MODE"] = mode
    return subprocess.run([sys.executable, str(_script(case)), *args], env=env,
                          cwd=str(EXAMPLES.parent), capture_output=True, text=True,
                          encoding="utf-8", timeout=TIMEOUT)


def _assert_in_order(out: list[str], expected: list[str]) -> None:
    pos = 0
    for line in expected:
        try:
            pos = out.index(line, pos) + 1
        except ValueError:
            pytest.fail(f"expected line (in order) not found: {line!r}\noutput:\n"
                        + "\n".join(out))


def _rewriting_supported() -> bool:
    from staticcall import _patch

    return _patch.unsupported_reason() is None


def test_every_example_is_tested() -> None:
    names = {p.stem for p in EXAMPLES.glob("*.py")}
    names |= {p.name for p in EXAMPLES.iterdir() if (p / "__main__.py").is_file()}
    assert names == {case.split("-")[0] for case in CASES}


@pytest.mark.parametrize("case", sorted(CASES))
def test_example_inline(case: str) -> None:
    proc = _run(case, None)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    out = proc.stdout.splitlines()
    _assert_in_order(out, CASES[case][2])
    if _rewriting_supported():
        _assert_in_order(out, INLINE_STATES[case])
        assert "Traceback" not in proc.stderr
        assert "StaticCallWarning" not in proc.stderr


@pytest.mark.parametrize("case", sorted(CASES))
def test_example_trampoline_mode(case: str) -> None:
    proc = _run(case, "trampoline")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    out = proc.stdout.splitlines()
    _assert_in_order(out, CASES[case][2])
    _assert_in_order(out, TRAMPOLINE_STATES[case])
    # Said once, and attributed to the decorated function's module, not to staticcall.
    warnings = [line for line in proc.stderr.splitlines() if "StaticCallWarning" in line]
    assert len(warnings) == 1, proc.stderr
    where = "consumer.py" if case == "export_tramp" else _script(case).name
    match = re.match(r"(.+):\d+: StaticCallWarning", warnings[0])
    assert match is not None, warnings
    path = Path(match.group(1)).resolve()
    # the example's own file, wherever the checkout is (its folder may well be "staticcall")
    assert path.name == where and EXAMPLES in path.parents, warnings


def test_pluggable_backend_rejects_unknown_backend() -> None:
    env = dict(os.environ, EXAMPLE_JSON_BACKEND="nope")
    proc = subprocess.run([sys.executable, str(EXAMPLES / "pluggable_backend.py")], env=env,
                          capture_output=True, text=True, timeout=TIMEOUT)
    assert proc.returncode == 2
    assert "expected one of ['mini', 'stdlib']" in proc.stderr


def test_feature_flags_rejects_unknown_feature() -> None:
    env = dict(os.environ, FEATURES="fast_path,nope")
    proc = subprocess.run([sys.executable, str(EXAMPLES / "feature_flags.py")], env=env,
                          capture_output=True, text=True, timeout=TIMEOUT)
    assert proc.returncode == 1
    assert "unknown feature(s) ['nope']" in proc.stderr


def test_tracepoints_example_prints_the_timing_side_by_side() -> None:
    proc = _run("tracepoints", None)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    out = proc.stdout
    for label in ("loop without any tracing:", "tracepoint site (no probe):",
                  "if hook is not None: hook(f'...'):", "tracepoint / hook idiom:"):
        assert re.search(re.escape(label) + r"\s+\d+(\.\d+)?", out), out


def test_examples_tests_pass_in_a_folder_named_staticcall(tmp_path: Path) -> None:
    # A fresh clone is usually in a folder named after the project: the checks above must
    # not depend on what the checkout's folder is called.
    root = tmp_path / "staticcall"
    shutil.copytree(EXAMPLES, root / "examples",
                    ignore=shutil.ignore_patterns("__pycache__"))
    (root / "tests").mkdir()
    shutil.copy(__file__, root / "tests" / "test_examples.py")
    env = dict(os.environ, PYTEST_DISABLE_PLUGIN_AUTOLOAD="1")
    proc = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                           "tests/test_examples.py", "-k", "trampoline_mode and tracing_hook"],
                          cwd=str(root), env=env, capture_output=True, text=True,
                          timeout=TIMEOUT)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "1 passed" in proc.stdout, proc.stdout
