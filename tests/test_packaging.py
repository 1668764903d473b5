"""The wheel and the sdist build cleanly (``python -m build``, ``twine check --strict``),
the sdist holds what it takes to test and document the package, and the metadata says
what PyPI shows.

Built from a copy of the source tree (the files git knows of, or would add), so that
nothing is written into the working tree. Needs the ``release`` extra (build, twine),
which ``make test`` installs, and the package index for the build's isolated environment.
Whatever the build compiles or adds, these checks hold for every wheel it makes.
"""

from __future__ import annotations

import email
import importlib.util
import shutil
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import pytest

import staticcall

ROOT = Path(__file__).resolve().parent.parent
MISSING = [m for m in ("build", "twine") if importlib.util.find_spec(m) is None]
pytestmark = pytest.mark.skipif(
    bool(MISSING) or shutil.which("git") is None or not (ROOT / ".git").exists(),
    reason=f"needs git, a git checkout and the release extra ({', '.join(MISSING) or 'ok'}): "
           f"pip install -e '.[release]' (make test installs it)")

SUPPORTED = ["3.11", "3.12", "3.13", "3.14", "3.15"]


def _source_files() -> list[str]:
    out = subprocess.run(["git", "ls-files", "--cached", "--others", "--exclude-standard"],
                         cwd=str(ROOT), capture_output=True, text=True, check=True).stdout
    return [f for f in out.splitlines() if (ROOT / f).is_file()]


@pytest.fixture(scope="module")
def dist(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, str]:
    """(the sdist, the wheel, what the build printed)."""
    src = tmp_path_factory.mktemp("source")
    for name in _source_files():
        (src / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / name, src / name)
    out = tmp_path_factory.mktemp("dist")
    # the default: the sdist first, then the wheel built from the sdist (so the sdist
    # must be complete enough to build)
    proc = subprocess.run([sys.executable, "-m", "build", "--outdir", str(out), str(src)],
                          capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    sdists, wheels = sorted(out.glob("*.tar.gz")), sorted(out.glob("*.whl"))
    assert len(sdists) == 1 and wheels, sorted(p.name for p in out.iterdir())
    return sdists[0], wheels[0], proc.stdout + proc.stderr


def test_the_build_is_clean(dist: tuple[Path, Path, str]) -> None:
    _, _, output = dist
    # setuptools frames each of its warnings with "!!" lines
    bad = [line for line in output.splitlines()
           if line.strip() == "!!" or "Deprecat" in line or "SetuptoolsWarning" in line]
    assert not bad, output


def test_twine_check_passes(dist: tuple[Path, Path, str]) -> None:
    sdist, wheel, _ = dist
    proc = subprocess.run([sys.executable, "-m", "twine", "check", "--strict",
                           str(sdist), str(wheel)], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proc.stdout.count("PASSED") == 2, proc.stdout


def test_the_sdist_holds_the_tests_and_the_docs(dist: tuple[Path, Path, str]) -> None:
    sdist, _, _ = dist
    with tarfile.open(sdist) as tar:
        top = tar.getnames()[0].split("/")[0]
        names = {n[len(top) + 1:] for n in tar.getnames() if n.startswith(top + "/")}
    wanted = {f for f in _source_files()
              if f.split("/")[0] in ("src", "tests", "docs", "examples", "benchmarks")
              and "__pycache__" not in f}
    wanted |= {"README.md", "LICENSE", "CHANGELOG.md", "pyproject.toml", "mkdocs.yml",
               "src/staticcall/py.typed", "tests/conftest.py"}
    missing = sorted(wanted - names)
    assert not missing, f"not in the sdist: {missing}"
    assert not any("__pycache__" in n or n.endswith(".pyc") for n in names)


def _metadata(wheel: Path) -> tuple[email.message.Message, set[str]]:
    with zipfile.ZipFile(wheel) as z:
        names = set(z.namelist())
        meta = next(n for n in names if n.endswith(".dist-info/METADATA"))
        return email.message_from_bytes(z.read(meta)), names


def test_the_wheel_has_the_package_and_its_metadata(dist: tuple[Path, Path, str]) -> None:
    _, wheel, _ = dist
    meta, names = _metadata(wheel)
    assert "staticcall/py.typed" in names and "staticcall/tools/cli.py" in names
    assert not any(n.startswith("tests/") for n in names)
    assert any(n.endswith(".dist-info/licenses/LICENSE") for n in names)
    assert meta["Name"] == "staticcall" and meta["Version"] == staticcall.__version__
    assert meta["License-Expression"] == "MIT"
    assert meta["Requires-Python"] == ">=3.11"
    assert meta["Description-Content-Type"] == "text/markdown"
    assert "Five minutes with staticcall" in meta.get_payload()
    classifiers = meta.get_all("Classifier") or []
    assert any(c.startswith("Development Status :: ") for c in classifiers)
    assert [c.rsplit(" ", 1)[-1] for c in classifiers
            if c.startswith("Programming Language :: Python :: 3.")] == SUPPORTED
    assert "Typing :: Typed" in classifiers
    assert {"static call", "tracepoint"} <= {k.strip() for k in meta["Keywords"].split(",")}
    extras = set(meta.get_all("Provides-Extra") or [])
    assert {"test", "docs", "plot", "release"} <= extras
    with zipfile.ZipFile(wheel) as z:
        entry_points = z.read(next(n for n in names if n.endswith("entry_points.txt"))).decode()
    assert "staticcall = staticcall.__main__:main" in entry_points
    assert "staticcall = staticcall.pytest_plugin" in entry_points
