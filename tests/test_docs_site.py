"""The documentation site builds with ``mkdocs build --strict`` (a broken reference to
the code, a missing page or a broken link fails), and its reference covers the package.

Needs the ``docs`` extra (MkDocs, Material, mkdocstrings); ``make test`` installs it.
"""

from __future__ import annotations

import importlib.util
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

import staticcall

ROOT = Path(__file__).resolve().parent.parent
DOCS_EXTRA = ("mkdocs", "material", "mkdocstrings", "mkdocstrings_handlers.python")
MISSING = [name for name in DOCS_EXTRA if importlib.util.find_spec(name.split(".")[0]) is None
           or importlib.util.find_spec(name) is None]
needs_docs = pytest.mark.skipif(
    bool(MISSING), reason=f"the docs extra is not installed ({', '.join(MISSING)} missing): "
                          f"pip install -e '.[docs]' (make test installs it)")


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("site")
    proc = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(out)],
        cwd=str(ROOT), capture_output=True, text=True, timeout=600,
        env={**os.environ, "NO_MKDOCS_2_WARNING": "1"})
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return out


@needs_docs
def test_the_site_builds_strictly(site: Path) -> None:
    for page in ("index.html", "reference/index.html", "internals/index.html",
                 "kernel/index.html", "testing/index.html", "tools/index.html",
                 "changelog/index.html", "images/bench.svg"):
        assert (site / page).is_file(), page
    home = (site / "index.html").read_text(encoding="utf-8")
    assert "Five minutes with staticcall" in home  # the README is the home page
    assert "images/bench.svg" in (site / "tools" / "index.html").read_text(encoding="utf-8")


@needs_docs
def test_the_reference_is_built_from_the_docstrings(site: Path) -> None:
    page = (site / "reference" / "index.html").read_text(encoding="utf-8")
    text = re.sub(r"<[^>]+>", "", page)
    # the docstrings and the signatures type checkers see
    assert staticcall.static_call_update.__doc__.split(".")[0].split("(")[0] in text
    assert "KeyOrHandle[F]" in text and "Target[F]" in text
    assert ":func:" not in text and ":class:" not in text  # roles shown as code


def test_every_public_name_is_documented() -> None:
    reference = (ROOT / "docs" / "reference.md").read_text(encoding="utf-8")
    kernel = (ROOT / "docs" / "kernel.md").read_text(encoding="utf-8")
    documented = set(re.findall(r"^::: staticcall\.(\w+)", reference, re.M))
    missing = [name for name in staticcall.__all__
               if name not in documented and f"`{name}" not in kernel]
    assert not missing, f"in __all__ but in neither reference.md nor kernel.md: {missing}"
