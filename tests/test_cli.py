"""The command line: ``staticcall`` / ``python -m staticcall`` (--version, sites, explain,
errors). The benchmark command has its own file (test_bench.py)."""

from __future__ import annotations

import gc
import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, strategies as st

import staticcall
from staticcall.__main__ import main

HERE = Path(__file__).resolve().parent
MOD = HERE / "cli_sites_module.py"
TIMEOUT = 120


def run_main(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def run_process(*argv: str, cwd: Path = HERE, env: dict[str, str] | None = None
                ) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "staticcall", *argv], cwd=str(cwd),
                          capture_output=True, text=True, timeout=TIMEOUT,
                          env={**os.environ, **(env or {})})


def expected_sites() -> list[dict[str, Any]]:
    """The site table of cli_sites_module, read from its ``# site:`` comments."""
    out = []
    for n, line in enumerate(MOD.read_text(encoding="utf-8").splitlines(), 1):
        m = re.search(r"# site: (.*)$", line)
        if m and not line.lstrip().startswith(('"', "Each")):
            words = m[1].split()
            out.append({"lineno": n, "state": words[0], "cond": "cond" in words,
                        "tail": "tail" in words, "runtime": "runtime" in words})
    return out


@pytest.fixture
def cli_mod(monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.syspath_prepend(str(HERE))
    import cli_sites_module

    gc.collect()  # decorated copies that explain() made, if a cycle kept one alive
    return cli_sites_module


# --------------------------------------------------------------------------------------
# --version, help, the two entry points
# --------------------------------------------------------------------------------------

def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run_main(capsys, "--version")
    assert code == 0
    assert out.strip() == f"staticcall {staticcall.__version__}"


def test_python_dash_m_runs_the_same_main() -> None:
    proc = run_process("--version")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == f"staticcall {staticcall.__version__}"


def test_console_script_if_installed(tmp_path: Path) -> None:
    script = Path(sys.executable).parent / ("staticcall.exe" if os.name == "nt" else "staticcall")
    if not script.exists():
        pytest.skip("the console script is not installed next to this interpreter")
    proc = subprocess.run([str(script), "--version"], capture_output=True, text=True,
                          timeout=TIMEOUT, cwd=str(tmp_path))
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == f"staticcall {staticcall.__version__}"


def test_console_script_finds_modules_in_the_current_directory(tmp_path: Path) -> None:
    script = Path(sys.executable).parent / "staticcall"
    if not script.exists():
        pytest.skip("the console script is not installed next to this interpreter")
    proc = subprocess.run([str(script), "sites", "cli_sites_module", "--json"], capture_output=True,
                          text=True, timeout=TIMEOUT, cwd=str(HERE))
    assert proc.returncode == 0, proc.stderr
    assert len(json.loads(proc.stdout)["sites"]) == len(expected_sites())


def test_no_command_prints_help_and_fails(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run_main(capsys)
    assert code == 2
    assert "sites" in err and "explain" in err and "bench" in err


def test_unknown_command_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run_main(capsys, "frobnicate")
    assert code == 2
    assert "invalid choice" in err


def test_main_reads_sys_argv_by_default(monkeypatch: pytest.MonkeyPatch,
                                        capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setattr(sys, "argv", ["staticcall", "--version"])
    assert main() == 0
    assert staticcall.__version__ in capsys.readouterr().out


# --------------------------------------------------------------------------------------
# sites
# --------------------------------------------------------------------------------------

def _as_rows(sites: list[dict[str, Any]]) -> list[tuple[Any, ...]]:
    return sorted((s["lineno"], s["state"], s["cond"], s["tail"]) for s in sites)


def test_sites_json_is_the_modules_table(cli_mod: Any,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run_main(capsys, "sites", "cli_sites_module", "--json")
    assert code == 0, err
    data = json.loads(out)
    assert data["modules"] == ["cli_sites_module"]
    sites = data["sites"]
    expected = expected_sites()
    assert len(sites) == len(expected)
    for s in sites:
        assert Path(s["filename"]).resolve() == MOD
        assert s["key"] in ("cli_key", "cli_hook", "cli_zero")
        assert s["key_module"] == "cli_sites_module"
        assert set(s) >= {"key", "function", "filename", "lineno", "cond", "tail", "state",
                          "reason"}
    runtime = {e["lineno"] for e in expected if e["runtime"]}
    got = {s["lineno"]: s for s in sites}
    for e in expected:
        s = got[e["lineno"]]
        assert s["state"] == e["state"]
        assert s["cond"] == e["cond"]
        if e["lineno"] in runtime:
            assert s["reason"]
        else:
            assert s["tail"] == e["tail"]
            assert s["reason"] is None
    # the module-attribute form (sc.static_call) is a site on every version
    assert any(s["function"] == "uses_sites" and s["lineno"] == 34 for s in sites)


def test_sites_json_matches_the_library_table(cli_mod: Any,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run_main(capsys, "sites", "cli_sites_module", "--json")
    assert code == 0
    table = [s for s in staticcall.static_call_sites()
             if Path(s.filename).resolve() == MOD]
    assert _as_rows(json.loads(out)["sites"]) == _as_rows(
        [{"lineno": s.lineno, "state": s.state, "cond": s.cond, "tail": s.tail} for s in table])


def test_sites_follow_updates(cli_mod: Any, capsys: pytest.CaptureFixture[str]) -> None:
    with staticcall.static_call_override(cli_mod.KEY, staticcall.static_call_return0):
        code, out, _ = run_main(capsys, "sites", "cli_sites_module", "--json")
    assert code == 0
    states = {s["state"] for s in json.loads(out)["sites"] if s["key"] == "cli_key"}
    assert states == {"ret0", "trampoline"}


def test_sites_text_table(cli_mod: Any, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run_main(capsys, "sites", "cli_sites_module")
    assert code == 0, err
    lines = out.splitlines()
    header = lines[0].split()
    assert header[:6] == ["key", "function", "where", "cond", "tail", "state"]
    assert "reason" in header  # one site is on the runtime path
    rows = [ln for ln in lines[2:] if "cli_sites_module.py:" in ln]
    assert len(rows) == len(expected_sites())
    for e in expected_sites():
        row = next(r for r in rows if f"cli_sites_module.py:{e['lineno']} " in r + " ")
        assert e["state"] in row.split()
        assert ("cond" in row.split()) == e["cond"]
        if e["runtime"]:
            assert "trampoline mode" in row
        else:
            assert ("tail" in row.split()) == e["tail"]
    assert "cli_hook" in out and "cli_zero" in out and "Thing.smethod" in out
    assert lines[-1].startswith(f"{len(expected_sites())} sites in cli_sites_module")
    assert "1 on the runtime path" in lines[-1]


def test_sites_only_lists_the_named_modules(cli_mod: Any, tmp_path: Path,
                                            monkeypatch: pytest.MonkeyPatch,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "_cli_other_mod.py").write_text(
        "from staticcall import static_call, static_calls\n"
        "from cli_sites_module import KEY\n"
        "@static_calls\n"
        "def other(x):\n"
        "    return static_call(KEY)(x)\n", encoding="utf-8")
    monkeypatch.syspath_prepend(str(tmp_path))
    code, out, _ = run_main(capsys, "sites", "_cli_other_mod", "--json")
    assert code == 0
    sites = json.loads(out)["sites"]
    assert [(s["function"], s["lineno"]) for s in sites] == [("other", 5)]
    code, out, _ = run_main(capsys, "sites", "_cli_other_mod", "cli_sites_module", "--json")
    assert code == 0
    data = json.loads(out)
    assert data["modules"] == ["_cli_other_mod", "cli_sites_module"]
    assert len(data["sites"]) == len(expected_sites()) + 1


def test_sites_of_a_module_without_sites(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run_main(capsys, "sites", "json")
    assert code == 0
    assert "no static call sites" in out
    code, out, _ = run_main(capsys, "sites", "json", "--json")
    assert code == 0
    assert json.loads(out) == {"modules": ["json"], "sites": []}


def test_sites_of_a_package_include_its_imported_submodules(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    pkg = tmp_path / "_cli_pkg"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("from . import inner\n", encoding="utf-8")
    (pkg / "inner.py").write_text(
        "import staticcall as sc\n"
        "K = sc.define_static_call(abs, name='pkg_key')\n"
        "@sc.static_calls\n"
        "def f(x):\n"
        "    return sc.static_call(K)(x)\n", encoding="utf-8")
    monkeypatch.syspath_prepend(str(tmp_path))
    code, out, _ = run_main(capsys, "sites", "_cli_pkg", "--json")
    assert code == 0
    sites = json.loads(out)["sites"]
    assert [(s["key"], s["function"], s["lineno"]) for s in sites] == [("pkg_key", "f", 5)]


def test_sites_in_a_subprocess(cli_mod: Any) -> None:
    proc = run_process("sites", "cli_sites_module")
    assert proc.returncode == 0, proc.stderr
    assert f"{len(expected_sites())} sites in cli_sites_module" in proc.stdout


# --------------------------------------------------------------------------------------
# errors
# --------------------------------------------------------------------------------------

@pytest.mark.parametrize("name, message", [
    ("no_such_module_for_staticcall", "no module named 'no_such_module_for_staticcall'"),
    ("json.no_such_submodule", "no module named 'json.no_such_submodule'"),
    ("1abc", "is not a module name"),
    ("", "is not a module name"),
    (".relative", "is not a module name"),
])
def test_sites_bad_module_names(name: str, message: str,
                                capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run_main(capsys, "sites", name)
    assert code == 1
    assert out == ""
    assert err.startswith("staticcall sites: error: ")
    assert message in err
    assert "Traceback" not in err


def test_sites_module_that_fails_to_import(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "_cli_broken_mod.py").write_text(
        "import no_such_dependency_of_a_broken_module\n", encoding="utf-8")
    (tmp_path / "_cli_raising_mod.py").write_text("raise RuntimeError('boom')\n",
                                                  encoding="utf-8")
    (tmp_path / "_cli_exiting_mod.py").write_text("import sys\nsys.exit(3)\n",
                                                  encoding="utf-8")
    monkeypatch.syspath_prepend(str(tmp_path))
    code, _, err = run_main(capsys, "sites", "_cli_broken_mod")
    assert code == 1
    # the module exists: the message names what it failed to import
    assert "cannot import '_cli_broken_mod'" in err
    assert "no_such_dependency_of_a_broken_module" in err
    code, _, err = run_main(capsys, "sites", "_cli_raising_mod")
    assert code == 1
    assert "RuntimeError: boom" in err
    code, _, err = run_main(capsys, "sites", "_cli_exiting_mod")
    assert code == 1
    assert "sys.exit(3)" in err


def test_bad_module_in_a_subprocess_exits_non_zero() -> None:
    proc = run_process("sites", "no_such_module_for_staticcall")
    assert proc.returncode == 1
    assert proc.stdout == ""
    assert "no module named 'no_such_module_for_staticcall'" in proc.stderr
    assert "Traceback" not in proc.stderr


@given(st.text(alphabet="abc.1- /:", min_size=1, max_size=12))
def test_sites_never_crashes_on_odd_names(name: str) -> None:
    # Any name: a clean error (status 1), never a traceback; names that happen to exist
    # (from this alphabet only "abc" is importable) succeed.
    code = main(["sites", name])
    assert code in (0, 1, 2)
    if code == 2:  # a usage error: only for what looks like an option ("-x")
        assert name.startswith("-")


# --------------------------------------------------------------------------------------
# explain (the output itself is covered in test_explain.py)
# --------------------------------------------------------------------------------------

def test_explain_command_marks_sites(cli_mod: Any, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run_main(capsys, "explain", "cli_sites_module:undecorated")
    assert code == 0, err
    assert out == staticcall.explain(cli_mod.undecorated)
    assert "--- before" in out and "--- after @static_calls ---" in out
    assert "<-- [1] the callable" in out and "<-- [2] the callable" in out


def test_explain_command_reaches_class_members(cli_mod: Any,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    for name in ("Thing.smethod", "Thing.cmethod", "Thing.method"):
        code, out, err = run_main(capsys, "explain", f"cli_sites_module:{name}")
        assert code == 0, err
        assert f"explain cli_sites_module.{name} " in out
        assert "<-- [1]" in out


def test_explain_command_takes_a_class(cli_mod: Any, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run_main(capsys, "explain", "cli_sites_module:Thing")
    assert code == 0, err
    assert out == staticcall.explain(cli_mod.Thing)
    assert out.startswith("explain class cli_sites_module.Thing: ")
    assert "=== Thing.smethod ===" in out and "=== Thing.cmethod ===" in out
    # Thing.smethod is decorated: before (compiled again) and now
    smethod = out.split("=== Thing.smethod ===")[1].split("\n=== ")[0]
    assert "--- before: the original bytecode (compiled again from" in smethod
    assert "--- now: the decorated function's bytecode ---" in smethod


def test_explain_help_says_what_it_takes(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["explain", "--help"]) == 0
    text = " ".join(capsys.readouterr().out.split())
    assert "For a class, every function of its body" in text
    assert "compiled again from its source file" in text


@pytest.mark.parametrize("spec, message", [
    ("cli_sites_module", "expected MODULE:FUNCTION"),
    ("cli_sites_module:", "expected MODULE:FUNCTION"),
    (":f", "expected MODULE:FUNCTION"),
    ("cli_sites_module:nope", "'nope' not found"),
    ("cli_sites_module:Thing.nope", "'nope' not found"),
    ("cli_sites_module:NOT_A_FUNCTION", "needs a Python function"),
    ("cli_sites_module:KEY", "needs a Python function"),
    ("cli_sites_module:a-b", "is not a dotted name"),
    ("no_such_module_for_staticcall:f", "no module named"),
])
def test_explain_errors(cli_mod: Any, spec: str, message: str,
                        capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run_main(capsys, "explain", spec)
    assert code == 1
    assert out == ""
    assert err.startswith("staticcall explain: error: ")
    assert message in err


def test_explain_in_a_subprocess() -> None:
    proc = run_process("explain", "cli_sites_module:uses_sites")
    assert proc.returncode == 0, proc.stderr
    assert "5 sites" in proc.stdout
    assert "--- before: the original bytecode (compiled again from" in proc.stdout


def test_sites_shows_each_sites_kind(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                     capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "_cli_kinds_mod.py").write_text(
        "import staticcall as sc\n"
        "def t(x): return x\n"
        "KEY = sc.define_static_call(t, name='kinds_key')\n"
        "FLAG = sc.define_static_key_false(name='kinds_flag')\n"
        "TP = sc.define_tracepoint(t, name='kinds_tp')\n"
        "@sc.static_calls\n"
        "def f(x):\n"
        "    TP(x)\n"
        "    if sc.static_branch_unlikely(FLAG):\n"
        "        x += 1\n"
        "    return KEY(x)\n", encoding="utf-8")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.chdir(tmp_path)
    code, out, err = run_main(capsys, "sites", "_cli_kinds_mod")
    assert code == 0, err
    lines = out.splitlines()
    header = lines[0].split()
    assert header[:7] == ["key", "function", "where", "cond", "tail", "state", "kind"]
    rows = {ln.split()[0]: ln.split() for ln in lines[2:-1]}
    assert rows["kinds_tp"][2:7] == ["_cli_kinds_mod.py:8", "-", "-", "disabled",
                                     "tracepoint"]
    assert rows["kinds_flag"][2:7] == ["_cli_kinds_mod.py:9", "-", "-", "disabled", "branch"]
    assert rows["kinds_key"][2] == "_cli_kinds_mod.py:11" and rows["kinds_key"][6] == "call"
    code, out, err = run_main(capsys, "sites", "_cli_kinds_mod", "--json")
    kinds = {s["key"]: s["kind"] for s in json.loads(out)["sites"]}
    assert kinds == {"kinds_tp": "tracepoint", "kinds_flag": "branch", "kinds_key": "call"}


def test_sites_help_explains_the_columns(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["sites", "--help"]) == 0
    out = " ".join(capsys.readouterr().out.split())
    assert "tail: the site's value is returned at once" in out
    assert "kind: call" in out and "branch" in out and "tracepoint" in out
