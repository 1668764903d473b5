"""``staticcall bench --plot FILE``: the chart is written and names every scenario; a
clear error, before any measuring, where matplotlib is missing or the file cannot be
written."""

from __future__ import annotations

import importlib.util
import json
import sys
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest

from staticcall.__main__ import main

needs_matplotlib = pytest.mark.skipif(
    importlib.util.find_spec("matplotlib") is None,
    reason="matplotlib is not installed (pip install -e .[plot]; make test installs it)")

SVG = "{http://www.w3.org/2000/svg}"


def svg_texts(path: Path) -> str:
    """Every text of the SVG, joined (a label of two lines is two text elements)."""
    root = ET.parse(path).getroot()
    assert root.tag == f"{SVG}svg"
    return "\n".join("".join(t.itertext()) for t in root.iter(f"{SVG}text"))


@needs_matplotlib
def test_the_chart_names_every_scenario(tmp_path: Path,
                                        capsys: pytest.CaptureFixture[str]) -> None:
    chart = tmp_path / "bench.svg"
    assert main(["bench", "--tiny", "--json", "--plot", str(chart)]) == 0
    out, err = capsys.readouterr()
    result = json.loads(out)
    assert f"chart written to {chart}" in err
    texts = svg_texts(chart)
    assert f"CPython {result['version']}" in texts
    ids = {r["id"]: r for r in result["rows"]}
    compared = [r for r in result["rows"] if r["kind"] == "call" and r["ratio"] is not None]
    assert len(compared) >= 15
    for r in compared:
        assert r["label"] in texts, r["label"]
        assert f"vs {ids[r['reference']]['label']}" in texts
        assert f"{r['ratio']:.2f}x" in texts
    for r in result["rows"]:
        if r["kind"] != "call":
            assert r["label"] in texts, r["label"]
    met = sum(1 for r in compared if r["met"])
    assert texts.count(": met)") == met


@needs_matplotlib
@pytest.mark.parametrize("name", ["bench.png", "bench.pdf"])
def test_other_formats_follow_the_suffix(tmp_path: Path, name: str,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    chart = tmp_path / name
    assert main(["bench", "--tiny", "--plot", str(chart)]) == 0
    magic = {"bench.png": b"\x89PNG", "bench.pdf": b"%PDF"}[name]
    assert chart.read_bytes().startswith(magic)


@pytest.mark.parametrize("name, message", [
    ("no_such_folder/bench.svg", "no folder"),
    ("bench.txt", "the file name must end in .svg, .png or .pdf"),
])
def test_a_file_that_cannot_be_written_fails_before_the_run(
        tmp_path: Path, name: str, message: str, capsys: pytest.CaptureFixture[str]) -> None:
    if importlib.util.find_spec("matplotlib") is None:
        pytest.skip("matplotlib is missing: the missing matplotlib is reported first")
    assert main(["bench", "--tiny", "--plot", str(tmp_path / name)]) == 1
    out, err = capsys.readouterr()
    assert f"staticcall bench: error: cannot write {tmp_path / name}: {message}" in err
    assert out == "" and "measuring" not in err


def test_without_matplotlib_a_clear_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    # None in sys.modules makes `import matplotlib` raise ImportError, as if missing
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # type: ignore[arg-type]
    chart = tmp_path / "bench.svg"
    assert main(["bench", "--tiny", "--plot", str(chart)]) == 1
    out, err = capsys.readouterr()
    assert "staticcall bench: error: --plot needs matplotlib" in err
    assert "pip install 'staticcall[plot]'" in err
    assert out == "" and not chart.exists()


def test_help_names_the_option(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["bench", "--help"]) == 0
    text: Any = " ".join(capsys.readouterr().out.split())
    assert "--plot FILE.svg" in text and "staticcall[plot]" in text
