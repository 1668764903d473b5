"""``staticcall bench --plot FILE.svg``: the benchmark's comparison as a chart.

Two panels, drawn with matplotlib (the ``plot`` extra: ``pip install 'staticcall[plot]'``):

- calls: each scenario that has a reference, as its cost relative to that reference
  (1.0: as fast as the reference), with its target marked and the bar coloured by
  whether the target is met;
- updates and decoration: time per operation.

Text stays text in the SVG (``svg.fonttype: none``), so the file can be searched and
its labels read by tools.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

COLOURS = {True: "#2e7d32", False: "#c62828", None: "#78909c"}


class PlotError(Exception):
    """The chart cannot be drawn here (matplotlib missing, the file cannot be written)."""


def require_matplotlib() -> Any:
    """``matplotlib.pyplot`` with a file-only backend, or ``PlotError`` saying how to
    get it."""
    try:
        import matplotlib
    except ImportError as exc:
        raise PlotError("--plot needs matplotlib, which is not installed here: "
                        "pip install 'staticcall[plot]' (or pip install matplotlib)") from exc
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def check_target(path: str | Path) -> None:
    """Fail now, before a run of minutes, if ``path`` cannot be written later."""
    parent = Path(path).resolve().parent
    if not parent.is_dir():
        raise PlotError(f"cannot write {path}: no folder {parent}")
    if not os.access(parent, os.W_OK) or (Path(path).exists() and not os.access(path, os.W_OK)):
        raise PlotError(f"cannot write {path}: permission denied")
    if Path(path).suffix.lower() not in (".svg", ".png", ".pdf"):
        raise PlotError(f"cannot write {path}: the file name must end in .svg, .png or .pdf")


def _title(result: dict[str, Any]) -> str:
    jit = "JIT on" if result["jit"]["enabled"] else "no JIT"
    return (f"staticcall {result['staticcall']} bench ({result['mode']} run): "
            f"{result['implementation']} {result['version']}, {jit}, rewriting "
            f"{result['rewriting']}")


def _call_panel(ax: Any, rows: list[dict[str, Any]], ids: dict[str, Any]) -> None:
    compared = [r for r in rows if r["kind"] == "call" and r["ratio"] is not None]
    labels = [f"{r['label']}\nvs {ids[r['reference']]['label']}" for r in compared]
    ratios = [r["ratio"] for r in compared]
    ys = list(range(len(compared)))[::-1]
    ax.barh(ys, ratios, color=[COLOURS[r["met"] if r["target"] is not None else None]
                               for r in compared], height=0.6)
    for y, r in zip(ys, compared):
        text = f"{r['ratio']:.2f}x"
        if r["target"] is not None:
            ax.plot([r["target"]] * 2, [y - 0.4, y + 0.4], color="black", linewidth=1.5)
            text += f"  (target <= {r['target']:g}x: {'met' if r['met'] else 'missed'})"
        ax.text(r["ratio"], y, "  " + text, va="center", fontsize=7)
    ax.axvline(1.0, color="black", linewidth=0.6, linestyle=":")
    ax.set_yticks(ys, labels, fontsize=7)
    ax.set_xlim(0, max(ratios + [1.0]) * 1.45)
    ax.set_xlabel("cost per call relative to the reference (1.0 = as fast; "
                  "black tick: the target)")
    ax.set_title("Calls", loc="left", fontsize=10)


def _latency_panel(ax: Any, rows: list[dict[str, Any]]) -> None:
    timed = [r for r in rows if r["kind"] != "call" and r["ns_min"] is not None]
    ys = list(range(len(timed)))[::-1]
    values = [r["ns_min"] / 1e6 for r in timed]
    ax.barh(ys, values, color=COLOURS[None], height=0.6)
    for y, v in zip(ys, values):
        ax.text(v, y, f"  {v:.3g} ms", va="center", fontsize=7)
    ax.set_yticks(ys, [r["label"] for r in timed], fontsize=7)
    ax.set_xlim(0, max(values + [1e-3]) * 1.3)
    ax.set_xlabel("milliseconds per operation (min over interleaved rounds)")
    ax.set_title("Updates and decoration", loc="left", fontsize=10)


def draw(result: dict[str, Any], path: str | Path) -> Path:
    """Draw ``result`` (what ``bench.run()`` returns) into ``path``; the format follows
    the file's suffix (``.svg``, ``.png``, ``.pdf``). Returns the path."""
    plt = require_matplotlib()
    path = Path(path)
    rows = result["rows"]
    ids = {r["id"]: r for r in rows}
    n_calls = sum(1 for r in rows if r["kind"] == "call" and r["ratio"] is not None)
    n_other = sum(1 for r in rows if r["kind"] != "call")
    with plt.rc_context({"svg.fonttype": "none", "text.parse_math": False,
                         "font.family": "DejaVu Sans"}):
        fig, (calls, other) = plt.subplots(
            2, 1, figsize=(11, 0.42 * (n_calls + n_other) + 2.5),
            gridspec_kw={"height_ratios": [max(n_calls, 1), max(n_other, 1)]})
        try:
            _call_panel(calls, rows, ids)
            _latency_panel(other, rows)
            fig.suptitle(_title(result), fontsize=11, x=0.01, ha="left")
            fig.tight_layout(rect=(0, 0, 1, 0.98))
            try:
                fig.savefig(path, metadata={"Date": None} if path.suffix == ".svg" else None)
            except OSError as exc:
                raise PlotError(f"cannot write {path}: {exc.strerror or exc}") from exc
        finally:
            plt.close(fig)
    return path
