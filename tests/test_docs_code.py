"""Every ```python block of README.md and of docs/*.md runs, so that the documentation's
code cannot rot; and the README's links work where it is shown on its own (PyPI).

The blocks of one file run in order, in one new module (as a reader who pastes them one
after the other would run them), with line numbers of the file, so that a failure points
at the line of the document. A block that must not run (it shows a mistake, or needs
something that is not there) is preceded by the line ``<!-- not run: REASON -->``, which
neither GitHub, PyPI nor MkDocs shows.
"""

from __future__ import annotations

import contextlib
import io
import itertools
import re
import sys
import types
import warnings
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DOCUMENTS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("**/*.md"))]
WITH_CODE = [p for p in DOCUMENTS if "```python" in p.read_text(encoding="utf-8")]
FENCE = re.compile(r"^```python[ \t]*\n(.*?)^```[ \t]*$", re.M | re.S)
RUNS = itertools.count()
NOT_RUN = re.compile(r"<!-- not run: (?P<reason>\S.*?) -->\s*$")


def blocks(path: Path) -> list[tuple[int, str, str | None]]:
    """(first line of the code, the code, why it is not run or None) of each block."""
    text = path.read_text(encoding="utf-8")
    out = []
    for m in FENCE.finditer(text):
        before = text[:m.start()].rstrip("\n").rsplit("\n", 1)[-1]
        skip = NOT_RUN.search(before)
        out.append((text.count("\n", 0, m.start(1)) + 1, m[1], skip["reason"] if skip else None))
    return out


def run_blocks(path: Path) -> str:
    """Run ``path``'s blocks in one new module; returns what they printed."""
    shown = path.relative_to(ROOT).as_posix() if path.is_relative_to(ROOT) else path.name
    # a name of its own for each run: exports are registered by module and name, process-wide
    name = "docs_" + re.sub(r"\W", "_", shown) + f"_{next(RUNS)}"
    module = types.ModuleType(name)
    module.__file__ = str(path)
    sys.modules[name] = module  # so that keys defined there can be found by name
    out = io.StringIO()
    try:
        with contextlib.redirect_stdout(out), warnings.catch_warnings():
            warnings.simplefilter("error")  # a documented call warns nobody
            for line, code, reason in blocks(path):
                if reason is None:
                    # padded so that line numbers in tracebacks are the document's
                    exec(compile("\n" * (line - 1) + code, str(path), "exec"), module.__dict__)
    finally:
        del sys.modules[name]
    return out.getvalue()


@pytest.mark.parametrize("path", WITH_CODE, ids=lambda p: p.relative_to(ROOT).as_posix())
def test_every_python_block_runs(path: Path) -> None:
    assert blocks(path)  # the fence pattern finds what the file has
    run_blocks(path)


def test_the_docs_pages_with_code_are_run() -> None:
    assert {p.name for p in WITH_CODE} >= {"README.md", "internals.md", "testing.md"}


def test_the_readme_has_its_tour_and_runs_it() -> None:
    found = blocks(ROOT / "README.md")
    assert len(found) >= 5 and all(reason is None for _, _, reason in found)
    printed = run_blocks(ROOT / "README.md")
    assert '{"path":"/a"}' in printed  # the five-minute guide's update of the serializer
    assert "handled /b" in printed  # and its static key, once enabled
    assert "item 0" in printed  # the first example's trace, once enabled


def test_a_failing_block_points_at_its_line(tmp_path: Path) -> None:
    doc = tmp_path / "doc.md"
    doc.write_text("# t\n\n```python\nx = 1\n```\n\n<!-- not run: shows a mistake -->\n"
                   "```python\nraise AssertionError\n```\n\n```python\ny = x +\n```\n")
    assert [(line, reason) for line, _, reason in blocks(doc)] == [
        (4, None), (9, "shows a mistake"), (13, None)]
    with pytest.raises(SyntaxError) as info:
        run_blocks(doc)
    assert info.value.filename == str(doc) and info.value.lineno == 13


def test_readme_links_work_on_their_own() -> None:
    # PyPI shows the README alone: a relative link or an in-page anchor leads nowhere there
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    links = re.findall(r"\]\(([^)\s]+)\)|<a [^>]*href=\"([^\"]+)\"|<img [^>]*src=\"([^\"]+)\"",
                       text)
    bad = [target for found in links for target in found
           if target and not target.startswith(("https://", "http://"))]
    assert not bad, f"README.md links that only work in a source tree: {bad}"
