"""Static checks as tests: ``mypy --strict`` on the package and on tests/typing_check.py,
and ``ruff check`` on src, tests and examples. Skipped where mypy or ruff is missing
(they are in the ``test`` extra)."""

from __future__ import annotations

import importlib.util
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
CHECK_FILE = ROOT / "tests" / "typing_check.py"
TIMEOUT = 600

needs_mypy = pytest.mark.skipif(importlib.util.find_spec("mypy") is None,
                                reason="mypy is not installed (pip install -e .[test])")
needs_ruff = pytest.mark.skipif(importlib.util.find_spec("ruff") is None,
                                reason="ruff is not installed (pip install -e .[test])")

_DIAG = re.compile(r"^(?P<path>[^:]+):(?P<line>\d+): (?P<kind>error|note): (?P<text>.*)$")


@pytest.fixture(scope="module")
def mypy_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("mypy_cache")


def _mypy(cache: Path, *targets: str) -> subprocess.CompletedProcess[str]:
    cmd = [sys.executable, "-m", "mypy", "--strict", "--config-file", str(ROOT / "pyproject.toml"),
           "--cache-dir", str(cache), "--no-color-output", "--no-error-summary",
           "--show-error-codes", "--hide-error-context", *targets]
    return subprocess.run(cmd, cwd=str(ROOT), capture_output=True, text=True, timeout=TIMEOUT)


def _diagnostics(out: str, path_suffix: str) -> list[tuple[int, str, str]]:
    """(line, kind, text) of every diagnostic about the file ending in ``path_suffix``."""
    found = []
    for raw in out.splitlines():
        m = _DIAG.match(raw.strip())
        if m and m["path"].replace("\\", "/").endswith(path_suffix):
            found.append((int(m["line"]), m["kind"], m["text"]))
    return found


def _code(text: str) -> str | None:
    m = re.search(r"\[([a-z0-9-]+)\]\s*$", text)
    return m[1] if m else None


def _normalize(type_text: str) -> str:
    return re.sub(r"\s+|[()]|\bstaticcall\._keys\.|\btyping_check\.", "", type_text)


@needs_mypy
def test_mypy_strict_passes_on_the_package(mypy_cache: Path) -> None:
    proc = _mypy(mypy_cache, "src/staticcall")
    assert proc.returncode == 0, proc.stdout + proc.stderr


@needs_mypy
def test_typing_check_file_reports_exactly_the_marked_lines(mypy_cache: Path) -> None:
    lines = CHECK_FILE.read_text(encoding="utf-8").splitlines()
    expected_errors: dict[int, str] = {}
    expected_reveals: dict[int, str] = {}
    for n, line in enumerate(lines, 1):
        m = re.search(r"# mypy-error: ([a-z0-9-]+)\s*$", line)
        if m:
            expected_errors[n] = m[1]
        m = re.search(r"# reveal: (.+?)\s*$", line)
        if m:
            expected_reveals[n] = m[1]
    assert len(expected_errors) >= 10 and expected_reveals  # the file is what we think

    proc = _mypy(mypy_cache, "tests/typing_check.py")
    diags = _diagnostics(proc.stdout, "tests/typing_check.py")
    assert proc.returncode in (0, 1), proc.stdout + proc.stderr

    errors: dict[int, set[str | None]] = {}
    for line, kind, text in diags:
        if kind == "error":
            errors.setdefault(line, set()).add(_code(text))
    unexpected = {n: codes for n, codes in errors.items() if n not in expected_errors}
    assert not unexpected, "mypy reported lines that should type-check:\n" + "\n".join(
        f"  {n}: {lines[n - 1].strip()}  {sorted(map(str, c))}" for n, c in unexpected.items())
    missing = {n: code for n, code in expected_errors.items()
               if code not in errors.get(n, set())}
    assert not missing, "mypy did not report these lines:\n" + "\n".join(
        f"  {n}: {lines[n - 1].strip()}" for n in missing) + "\n" + proc.stdout

    revealed = {line: text for line, kind, text in diags
                if kind == "note" and text.startswith("Revealed type is ")}
    for n, want in expected_reveals.items():
        assert n in revealed, f"no reveal_type output for line {n}"
        got = revealed[n][len("Revealed type is "):].strip('"')
        assert _normalize(got) == _normalize(want), (n, got, want)


GOOD_AND_BAD = """
    from staticcall import define_static_call, static_call_update

    def double(x: int) -> int:
        return 2 * x

    def good_func(x: int) -> int:
        return x + 1

    def bad_func(x: str) -> int:
        return len(x)

    k = define_static_call(double)
    static_call_update(k, good_func)
    static_call_update(k, bad_func)
"""


@needs_mypy
def test_update_with_wrong_parameter_type_is_a_mypy_error(mypy_cache: Path,
                                                          tmp_path: Path) -> None:
    snippet = tmp_path / "snippet.py"
    snippet.write_text(textwrap.dedent(GOOD_AND_BAD).lstrip(), encoding="utf-8")
    lines = snippet.read_text(encoding="utf-8").splitlines()
    good = lines.index("static_call_update(k, good_func)") + 1
    bad = lines.index("static_call_update(k, bad_func)") + 1

    proc = _mypy(mypy_cache, str(snippet))
    error_lines = {line for line, kind, _ in _diagnostics(proc.stdout, "snippet.py")
                   if kind == "error"}
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert bad in error_lines, proc.stdout
    assert good not in error_lines, proc.stdout
    assert error_lines == {bad}, proc.stdout


@needs_ruff
def test_ruff_check_passes() -> None:
    proc = subprocess.run([sys.executable, "-m", "ruff", "check", "--no-cache",
                           "src", "tests", "examples"],
                          cwd=str(ROOT), capture_output=True, text=True, timeout=TIMEOUT)
    assert proc.returncode == 0, proc.stdout + proc.stderr


@needs_mypy
def test_examples_type_check(mypy_cache: Path) -> None:
    targets = sorted(str(p.relative_to(ROOT)) for p in (ROOT / "examples").glob("*.py"))
    targets.append("examples/export_tramp")
    proc = _mypy(mypy_cache, *targets)
    assert proc.returncode == 0, proc.stdout + proc.stderr
