"""Static checks as tests.

- ``mypy --strict`` on the package;
- tests/typing_pass.py (the documented calls): no error from ``mypy --strict`` nor from
  ``pyright`` (strict), and it runs;
- tests/typing_errors.py (mistakes): each checker reports exactly the marked lines, with
  the marked codes and texts;
- ``help()`` of the update functions shows their types;
- ``ruff check`` on src, tests and examples; ``mypy --strict`` on the examples.

mypy, pyright and ruff are in the ``test`` extra; a test whose tool is missing is skipped
with the reason. pyright runs on Node.js (``node`` on PATH); without it the pyright tests
are skipped rather than letting the pyright wrapper download a Node.js of its own.
"""

from __future__ import annotations

import importlib
import importlib.util
import inspect
import json
import os
import pydoc
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import staticcall

ROOT = Path(__file__).resolve().parent.parent
PASS_FILE = "tests/typing_pass.py"
ERRORS_FILE = "tests/typing_errors.py"
TIMEOUT = 600

needs_mypy = pytest.mark.skipif(importlib.util.find_spec("mypy") is None,
                                reason="mypy is not installed (pip install -e .[test])")
needs_ruff = pytest.mark.skipif(importlib.util.find_spec("ruff") is None,
                                reason="ruff is not installed (pip install -e .[test])")
needs_pyright = pytest.mark.skipif(
    importlib.util.find_spec("pyright") is None or shutil.which("node") is None,
    reason="pyright needs the pyright package (pip install -e .[test]) and node on PATH")

_MYPY_LINE = re.compile(r"^(?P<path>[^:]+):(?P<line>\d+): (?P<kind>error|note): (?P<text>.*)$")
_MARK = re.compile(r"# E: mypy\[(?P<mypy>[a-z0-9,-]+)\] pyright\[(?P<pyright>[A-Za-z,]+)\]\s*$")
_EXPECT = re.compile(r"^\s*# expect (?P<checker>mypy|pyright): (?P<text>.+)$")

# (line, code, message) of each error a checker reported on one file
Errors = list[tuple[int, str, str]]


@pytest.fixture(scope="module")
def mypy_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("mypy_cache")


def _mypy(cache: Path, *targets: str) -> subprocess.CompletedProcess[str]:
    cmd = [sys.executable, "-m", "mypy", "--strict", "--config-file", str(ROOT / "pyproject.toml"),
           "--cache-dir", str(cache), "--no-color-output", "--no-error-summary",
           "--show-error-codes", "--hide-error-context", *targets]
    return subprocess.run(cmd, cwd=str(ROOT), capture_output=True, text=True, timeout=TIMEOUT)


def _mypy_errors(cache: Path, target: str) -> Errors:
    proc = _mypy(cache, target)
    assert proc.returncode in (0, 1), proc.stdout + proc.stderr
    errors = []
    for raw in proc.stdout.splitlines():
        m = _MYPY_LINE.match(raw.strip())
        if m and m["kind"] == "error" and m["path"].replace("\\", "/").endswith(target):
            code = re.search(r"\[([a-z0-9-]+)\]\s*$", m["text"])
            errors.append((int(m["line"]), code[1] if code else "", m["text"]))
    return errors


@pytest.fixture(scope="module")
def pyright_errors() -> dict[str, Errors]:
    """pyright's errors on both files, from one run (it takes a few seconds)."""
    # --outputjson also keeps the wrapper from asking PyPI for a newer version
    cmd = [sys.executable, "-m", "pyright", "--outputjson", "--pythonpath", sys.executable,
           PASS_FILE, ERRORS_FILE]
    env = {**os.environ, "PYRIGHT_PYTHON_IGNORE_WARNINGS": "1"}
    proc = subprocess.run(cmd, cwd=str(ROOT), capture_output=True, text=True,
                          timeout=TIMEOUT, env=env)
    assert proc.returncode in (0, 1), proc.stdout + proc.stderr
    report = json.loads(proc.stdout)
    found: dict[str, Errors] = {PASS_FILE: [], ERRORS_FILE: []}
    for diag in report["generalDiagnostics"]:
        if diag["severity"] != "error":
            continue
        path = Path(diag["file"]).resolve().relative_to(ROOT).as_posix()
        found.setdefault(path, []).append(
            (diag["range"]["start"]["line"] + 1, diag.get("rule", ""), diag["message"]))
    return found


def _errors_of(checker: str, target: str, mypy_cache: Path,
               request: pytest.FixtureRequest) -> Errors:
    if checker == "mypy":
        return _mypy_errors(mypy_cache, target)
    return request.getfixturevalue("pyright_errors")[target]


CHECKERS = [pytest.param("mypy", marks=needs_mypy), pytest.param("pyright", marks=needs_pyright)]


@needs_mypy
def test_mypy_strict_passes_on_the_package(mypy_cache: Path) -> None:
    proc = _mypy(mypy_cache, "src/staticcall")
    assert proc.returncode == 0, proc.stdout + proc.stderr


@pytest.mark.parametrize("checker", CHECKERS)
def test_the_documented_calls_type_check(checker: str, mypy_cache: Path,
                                         request: pytest.FixtureRequest) -> None:
    errors = _errors_of(checker, PASS_FILE, mypy_cache, request)
    assert not errors, f"{checker} on {PASS_FILE}:\n" + "\n".join(
        f"  {line}: [{code}] {text}" for line, code, text in errors)


def test_the_documented_calls_run() -> None:
    sys.modules.pop("typing_pass", None)
    module = importlib.import_module("typing_pass")
    assert module.static_call_query(module.key) is module.triple
    assert module.hot(2) == 12 and module.trace_item_added(1, "x") is None


def _expectations(checker: str) -> tuple[list[str], dict[int, set[str]], dict[int, list[str]]]:
    """The errors file's lines, the codes expected on each marked line and the texts."""
    lines = (ROOT / ERRORS_FILE).read_text(encoding="utf-8").splitlines()
    codes: dict[int, set[str]] = {}
    texts: dict[int, list[str]] = {}
    pending: list[str] = []
    for n, line in enumerate(lines, 1):
        expect = _EXPECT.match(line)
        if expect:
            if expect["checker"] == checker:
                pending.append(expect["text"])
            continue
        mark = _MARK.search(line)
        if mark:
            codes[n] = set(mark[checker].split(","))
            texts[n], pending = pending, []
        assert not pending or not line.strip(), f"'# expect' above an unmarked line {n}"
    return lines, codes, texts


@pytest.mark.parametrize("checker", CHECKERS)
def test_mistakes_are_reported_with_the_types(checker: str, mypy_cache: Path,
                                              request: pytest.FixtureRequest) -> None:
    lines, codes, texts = _expectations(checker)
    assert len(codes) >= 25 and sum(map(len, texts.values())) >= 5  # the file is what we think
    errors = _errors_of(checker, ERRORS_FILE, mypy_cache, request)

    got: dict[int, set[str]] = {}
    messages: dict[int, str] = {}
    for line, code, text in errors:
        got.setdefault(line, set()).add(code)
        messages[line] = messages.get(line, "") + "\n" + text
    problems = []
    for n in sorted(set(got) | set(codes)):
        if got.get(n, set()) != codes.get(n, set()):
            problems.append(f"  {n}: {lines[n - 1].strip()}\n      expected "
                            f"{sorted(codes.get(n, ()))}, got {sorted(got.get(n, ()))}")
        for text in texts.get(n, []):
            if text not in messages.get(n, ""):
                problems.append(f"  {n}: {lines[n - 1].strip()}\n      no {text!r} in:"
                                f"{messages.get(n, ' (nothing)')}")
    assert not problems, f"{checker} on {ERRORS_FILE}:\n" + "\n".join(problems)


@pytest.mark.parametrize("func", [staticcall.static_call_update, staticcall.static_call_override,
                                  staticcall.static_call_query, staticcall.register_probe,
                                  staticcall.export_static_call])
def test_help_shows_the_types(func: object) -> None:
    sig = inspect.signature(func)  # type: ignore[arg-type]
    shown = str(sig)
    assert "Any" not in shown and "[F]" in shown, shown
    first = next(iter(sig.parameters.values()))
    assert first.annotation in ("KeyOrHandle[F]", "TracepointOf[F]", "StaticCall[F]")
    # help() shows each annotation (how it lays the signature out varies by version)
    text = pydoc.render_doc(func, renderer=pydoc.plaintext)
    for annotation in [p.annotation for p in sig.parameters.values()] + [sig.return_annotation]:
        assert str(annotation) in text, (annotation, text)


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
