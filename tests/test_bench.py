"""``staticcall bench``: the structure of its results, never its timings (machines are
noisy; the figures are for people, the structure is for tests)."""

from __future__ import annotations

import gc
import io
import json
import math
import os
import subprocess
import sys
from typing import Any

import pytest

import staticcall
from staticcall.__main__ import main
from staticcall.tools import bench as _bench

TIMEOUT = 300
LATENCY_IDS = ({f"update_{n}_sites" for n in _bench.MODES["tiny"].update_sizes}
               | {"update_1_site_alone", "decorate_0_sites",
                  f"decorate_{_bench.MODES['tiny'].decorate_sites}_sites",
                  f"flip_{max(_bench.MODES['tiny'].update_sizes)}_branch_sites"}
               | {f"import_email_{w}" for w in ("plain", "keys", "processed", "flush")})


@pytest.fixture(scope="module")
def result() -> dict[str, Any]:
    return _bench.run("tiny")


def rows_by_id(result: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {r["id"]: r for r in result["rows"]}


def check_structure(result: dict[str, Any]) -> None:
    assert result["interpreter"] == sys.executable
    assert result["version"] == ".".join(map(str, sys.version_info[:3]))
    assert set(result["jit"]) >= {"available", "enabled", "detail"}
    assert result["staticcall"] == staticcall.__version__
    rows = rows_by_id(result)
    assert len(rows) == len(result["rows"])  # ids are unique
    assert set(_bench.SCENARIO_IDS) <= set(rows)
    assert LATENCY_IDS <= set(rows)
    assert any(r["id"].endswith("_shape") for r in result["rows"])
    for r in result["rows"]:
        for name in ("raw_ns_min", "raw_ns_q1", "raw_ns_median", "raw_ns_q3"):
            assert isinstance(r[name], float) and math.isfinite(r[name]) and r[name] > 0, (
                r["id"], name)
        assert r["raw_ns_min"] <= r["raw_ns_q1"] <= r["raw_ns_median"] <= r["raw_ns_q3"]
        assert all(v > 0 for v in r["samples_ns"])
        assert len(r["samples_ns"]) == r["rounds"] > 0
        assert r["loops"] >= 1
        assert isinstance(r["ns_min"], float) and isinstance(r["ns_median"], float)
        assert r["met"] in (True, False, None)
        if r["kind"] != "call":
            assert r["ns_min"] > 0
            assert r["target"] is None or r["id"] == "import_email_processed"
    for s in _bench.SCENARIOS:
        r = rows[s.id]
        assert r["kind"] == "call" and r["unit"] == "ns/call"
        assert r["reference"] == s.reference and r["target"] == s.target
        if s.reference is not None:
            assert s.reference in rows
            assert r["raw_ratio"] > 0
            assert r["ratio"] is None or r["ratio"] >= 0
            assert r["delta_ns"] is not None
        if s.target is not None and r["ratio"] is not None:
            assert r["met"] == (r["ratio"] <= s.target)
    for n in _bench.MODES["tiny"].update_sizes:
        assert rows[f"update_{n}_sites"]["sites"] == n
        assert rows[f"update_{n}_sites"]["unit"] == "ns/update"
    flip = rows[f"flip_{max(_bench.MODES['tiny'].update_sizes)}_branch_sites"]
    assert flip["sites"] == max(_bench.MODES["tiny"].update_sizes) and flip["ns_min"] > 0
    assert result["method"]["unroll"] == _bench.UNROLL
    assert result["method"]["baseline_ns"] > 0


def test_every_scenario_is_measured(result: dict[str, Any]) -> None:
    check_structure(result)
    assert result["mode"] == "tiny"


def test_targets_are_the_projects_goals(result: dict[str, Any]) -> None:
    rows = rows_by_id(result)
    targets = {r["id"]: (r["reference"], r["target"]) for r in result["rows"]
               if r["target"] is not None}
    assert targets == {
        "undecorated_static_call": ("direct", 1.5),
        "key_call": ("direct", 1.5),
        "site_function": ("direct", 1.03),
        "site_builtin": ("direct_builtin", 1.03),
        "site_bound": ("direct_bound", 1.03),
        "site_null": ("if_hook_none", 1.1),
        "site_ret0": ("inline_ret0", 1.1),
        "call_decorated": ("call_plain", 1.05),
        "call_decorated_updated": ("call_plain", 1.05),
        "branch_off": ("flag_off", 1.0),
        "branch_on": ("flag_on", 1.0),
        "tp_off": ("trace_if_none", 1.0),
        "tp_one_probe": ("direct_probe", 1.05),
        "tp_three_probes": ("direct_probes3", 1.1),
        "call_processed": ("call_plain", 1.05),
        "site_late": ("direct", 1.05),
        "import_email_processed": ("import_email_keys", 1.3),
    }
    assert rows["direct"]["group"] == "floor"


def test_result_is_json(result: dict[str, Any]) -> None:
    again = json.loads(_bench.format_json(result))
    assert again["rows"][0]["id"] == result["rows"][0]["id"]
    assert set(again) >= {"interpreter", "version", "jit", "rows"}


def test_text_table_lists_every_row(result: dict[str, Any]) -> None:
    text = _bench.format_text(result)
    head = text.splitlines()[:6]
    assert head[1].startswith("interpreter: ") and sys.executable in head[1]
    assert head[2].startswith("version: ")
    assert head[3].startswith("JIT: ")
    assert "empty loop" in text and "subtracted" in text
    for col in ("scenario", "ns/call", "median", "noise", "ratio", "target", "met"):
        assert col in text
    for r in result["rows"]:
        assert f"\n{r['id']} " in text
    assert "targets met: " in text


def test_text_table_copes_with_unmeasurable_figures(result: dict[str, Any]) -> None:
    fake = json.loads(json.dumps(result))
    for r in fake["rows"]:
        if r["kind"] == "call":
            r.update(ns_min=-0.5, noise=None, ratio=None, met=None, delta_ns=None)
        elif r["target"] is not None:
            r.update(met=True)  # (only the call rows are made unmeasurable here)
    text = _bench.format_text(fake)
    assert "not measurable (" in text and "missed" not in text


def test_the_import_rows(result: dict[str, Any]) -> None:
    rows = rows_by_id(result)
    processed = rows["import_email_processed"]
    assert processed["kind"] == "import" and processed["unit"] == "ns/import"
    assert processed["ratio"] == processed["ns_min"] / rows["import_email_keys"]["ns_min"]
    assert processed["met"] == (processed["ratio"] <= 1.3)
    assert rows["import_email_plain"]["modules"] == 29
    flush = rows["import_email_flush"]
    if staticcall._decorator.UNSUPPORTED is None:
        # every function of email waited for its first call, and has sites once flushed
        assert flush["waiting"] > 50 and flush["sites"] > 100
    assert "Whole-package processing at import" in _bench.format_text(result)


def test_the_processed_callee_was_rewritten_in_place() -> None:
    from staticcall import _packages

    env = _bench.make_env()
    try:
        callee = env["callee_processed"]
        assert not _packages.waiting(callee)
        mine = [s for s in staticcall.static_call_sites()
                if s.filename == "<staticcall bench processed>"]
        assert mine and {s.function for s in mine} == {"callee_processed"}
    finally:
        _bench.release(env)


def test_run_leaves_no_sites_behind(result: dict[str, Any]) -> None:
    gc.collect()
    left = [s for s in staticcall.static_call_sites()
            if s.filename.startswith("<staticcall bench")]
    assert left == []


def test_command_json_and_progress(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["bench", "--tiny", "--json"]) == 0
    out, err = capsys.readouterr()
    data = json.loads(out)
    check_structure(data)
    assert "staticcall bench: " in err  # the progress line goes to stderr


def test_command_text(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["bench", "--tiny"]) == 0
    out, _ = capsys.readouterr()
    assert out.startswith(f"staticcall {staticcall.__version__} bench (tiny run")
    for s in _bench.SCENARIOS:
        assert f"\n{s.id} " in out


def test_progress_rewrites_one_line_on_a_terminal() -> None:
    class Tty(io.StringIO):
        def isatty(self) -> bool:
            return True

    stream = Tty()
    p = _bench.Progress(stream)
    p("calibrating, a (1/2)")
    p("calibrating, b (2/2)")
    p.done()
    assert "\n" not in stream.getvalue()
    assert stream.getvalue().count("\r") == 4  # two updates, then the line is blanked
    plain = io.StringIO()
    p = _bench.Progress(plain)
    p("measuring calls, round 1/3")
    p("measuring calls, round 2/3")
    p("update latency, round 1/3")
    assert plain.getvalue().count("\n") == 2  # one line per phase when not a terminal


def test_loops_are_generated_alike() -> None:
    sources = {s.id: _bench.loop_source("run", s.statement) for s in _bench.SCENARIOS}
    shapes = {src.replace(s.statement, "STATEMENT")
              for s, src in zip(_bench.SCENARIOS, sources.values())}
    assert len(shapes) == 1
    assert all(src.count(s.statement) == _bench.UNROLL
               for s, src in zip(_bench.SCENARIOS, sources.values()))


def test_every_loop_computes_what_it_says() -> None:
    env, loops = _bench.build_call_loops()
    try:
        # y stays None where the statement assigns nothing (or only when enabled)
        expect = {"baseline": 1, "site_ret0": 0, "inline_ret0": 0, "stub": 0,
                  "if_hook_none": None, "site_null": None, "flag_off": None,
                  "branch_off": None, "trace_if_none": None, "tp_off": None,
                  "direct_probe": None, "tp_one_probe": None, "direct_probes3": None,
                  "tp_three_probes": None}
        for s, func in loops:
            assert func(3) == expect.get(s.id, 1), s.id
    finally:
        _bench.release(env)


def test_bench_in_a_subprocess_on_the_runtime_path() -> None:
    # With rewriting off, every scenario still runs (through the runtime path).
    proc = subprocess.run([sys.executable, "-m", "staticcall", "bench", "--tiny", "--json"],
                          capture_output=True, text=True, timeout=TIMEOUT,
                          env={**os.environ, "STATICCALL_MODE": "trampoline"})
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    assert data["rewriting"].startswith("off")
    assert set(_bench.SCENARIO_IDS) <= {r["id"] for r in data["rows"]}
    assert "staticcall bench: " in proc.stderr


# --------------------------------------------------------------------------------------
# The request pipeline, end to end.
# --------------------------------------------------------------------------------------

def test_the_pipeline_scenario_runs_and_reports(result: dict[str, Any]) -> None:
    from staticcall.tools import bench_pipeline

    rows = [r for r in result["rows"] if r["kind"] == "pipeline"]
    unavailable = result["pipeline"]["unavailable"]
    assert {r["way"] for r in rows} | set(unavailable) == set(bench_pipeline.WAYS)
    assert "pluggy" not in unavailable  # pytest itself needs pluggy: it is installed here
    ref = rows_by_id(result)["pipeline_static"]
    for r in rows:
        assert r["unit"] == "ns/request" and r["ns_min"] > 0
        assert r["reference"] == (None if r is ref else "pipeline_static")
        if r is not ref:
            assert r["ratio"] == pytest.approx(r["ns_min"] / ref["ns_min"])
    line = result["pipeline"]["summary"]
    assert line.startswith(f"per request, static calls take {ref['ns_min']:.0f} ns: ")
    assert line.count(" than ") == len(rows) - 1
    text = _bench.format_text(result)
    assert line in text and "pipeline_pluggy" in text


def test_the_pipeline_ways_compute_the_same_response() -> None:
    from staticcall.tools import bench_pipeline

    env, unavailable = bench_pipeline.make_env()
    answers = {w: env[f"handle_{w}"](env["REQ"]) for w in bench_pipeline.WAYS
               if w not in unavailable}
    assert set(answers.values()) == {"/items/42 42"}, answers
    # the static way really is rewritten: its sites are in the table, not trampolines
    sites = [s for s in staticcall.static_call_sites() if s.function == "handle_static"]
    assert {s.state for s in sites} == {"null", "ret0", "call"}, sites


def test_the_pipeline_runs_without_pluggy(monkeypatch: pytest.MonkeyPatch) -> None:
    from staticcall.tools import bench_pipeline

    monkeypatch.setitem(sys.modules, "pluggy", None)  # what "not installed" looks like
    assert bench_pipeline.pluggy_missing() is not None
    got = bench_pipeline.measure_pipeline(0.0002, 2, lambda text: None)
    assert set(got["unavailable"]) == {"pluggy"}
    assert {r["way"] for r in got["rows"]} == set(bench_pipeline.WAYS) - {"pluggy"}
    assert "pluggy hook calls not measured (pluggy is not installed" in got["summary"]
    text = _bench.pipeline_lines({"rows": got["rows"], "pipeline": got})
    assert any("pipeline_pluggy" in t and "unavailable" in t for t in text)
