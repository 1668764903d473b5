"""Whole-package processing: ``staticcall.install()``/``uninstall()``,
``STATICCALL_PACKAGES`` and ``python -m staticcall run``, on a throwaway package on
disk (tests/package_helpers.py).

Every function of every module of an installed package has its sites rewritten with no
decorator; the function objects captured while the module imported (a registry, a
dispatch table, a default argument, a decorator's closure) run the rewritten code;
code with no candidate site is not touched; the table lists the sites.
"""

from __future__ import annotations

import itertools
import json
import os
import subprocess
import sys
import types
import warnings
from pathlib import Path
from typing import Any, Iterator

import pytest

import staticcall
from live_helpers import LIVE, callers
from package_helpers import CALLS, forget, make_package, run_coro
from staticcall import (
    _install,
    _opcodes,
    _packages,
    _recode,
    _trigger,
    define_static_call,
    register_probe,
    static_branch_enable,
    static_call_sites,
    static_call_update,
    unregister_probe,
)
from staticcall.__main__ import main

needs_rewriting = pytest.mark.skipif(not LIVE, reason="sites are not rewritten here")
TIMEOUT = 120
_ARM = _trigger.arm
_serial = itertools.count()


def negate(x: Any) -> Any:
    return -x


WAYS = ["first-call event", "stubs"] if _opcodes.HAS_MONITORING else ["stubs"]


@pytest.fixture(params=WAYS)
def pkg(request: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A fresh package's name, importable; uninstalled and forgotten afterwards. Each
    test runs with each way of catching first calls: a sys.monitoring event (3.12+) and
    first-call stubs in staged code (3.11, or no tool id free)."""
    if request.param == "stubs":
        monkeypatch.setattr(_trigger, "arm", lambda codes, then: False)
    name = f"sc_pkg_{os.getpid()}_{next(_serial)}"
    make_package(tmp_path, name)
    monkeypatch.syspath_prepend(str(tmp_path))
    yield name
    staticcall.uninstall()
    forget(name)


def app_of(name: str) -> Any:
    return __import__(f"{name}.app", fromlist=["app"])


def evaluate(app: Any, expr: str) -> Any:
    return eval(expr, {"app": app, "run_coro": run_coro})


def sites_in(app: Any) -> list[Any]:
    return [s for s in static_call_sites() if s.filename == app.__file__]


# --------------------------------------------------------------------------------------
# install, as modules import
# --------------------------------------------------------------------------------------

@needs_rewriting
@pytest.mark.parametrize("what", list(CALLS))
def test_every_holder_of_a_function_runs_rewritten_code(pkg: str, what: str) -> None:
    staticcall.install(pkg)
    app = app_of(pkg)
    expr, expected = CALLS[what]
    assert evaluate(app, expr) == expected  # the first call rewrites the function
    keys = app.keys
    # the same call again is a direct call of the target: no trampoline, no stub
    target = keys._double
    assert callers(lambda: evaluate(app, expr), target), what
    assert set(callers(lambda: evaluate(app, expr), target)) <= {
        "handler", "_hidden", "method", "smethod", "cmethod", "prop", "<lambda>", "comp",
        "<listcomp>", "gen", "coro", "cached", "wrapped", "inner", "uses_later",
        "through_module"}
    # each expression calls DOUBLE once: a target adding 100 adds 100 to it
    static_call_update(keys.DOUBLE, lambda x: 2 * x + 100)
    try:
        assert evaluate(app, expr) == expected + 100
    finally:
        static_call_update(keys.DOUBLE, target)


@needs_rewriting
def test_the_site_table_lists_every_site(pkg: str) -> None:
    staticcall.install(pkg)
    app = app_of(pkg)
    table = sites_in(app)  # listing the table rewrites what is still staged
    functions = {s.function for s in table}
    assert functions >= {
        "handler", "_hidden", "Service.method", "Service.smethod", "Service.cmethod",
        "Service.prop", "<lambda>", "gen", "coro", "cached", "wrapped",
        "make_closure.<locals>.inner", "traced", "uses_later", "startup", "through_module"}
    assert "plain" not in functions and "route" not in functions
    assert all(s.reason is None for s in table), [s for s in table if s.reason]
    kinds = {(s.function, s.kind) for s in table}
    assert ("traced", "tracepoint") in kinds and ("traced", "branch") in kinds
    late = [s for s in table if s.function == "startup"]
    assert [(s.state, s.bound_at) for s in late] == [("unbound", None)]
    assert {s.bound_at for s in table if s.function != "startup"} == {"processing"}


@needs_rewriting
def test_a_key_assigned_at_start_up_binds_at_first_execution(pkg: str) -> None:
    staticcall.install(pkg)
    app = app_of(pkg)
    with pytest.raises(TypeError, match="not NoneType"):
        app.startup(1)  # as the original code
    key = define_static_call(negate, name="configured")
    app.configure(key)
    assert app.startup(4) == -4
    assert [(s.state, s.bound_at, s.key) for s in sites_in(app)
            if s.function == "startup"] == [("call", "first execution", key)]


@needs_rewriting
def test_tracepoint_and_branch_sites(pkg: str) -> None:
    staticcall.install(pkg)
    app = app_of(pkg)
    keys = app.keys
    assert app.traced(1) == "off"  # the first call: the original code, arguments built
    del app.BUILT[:]
    assert app.traced(2) == "off"
    assert app.BUILT == []  # no probe: the tracepoint statement is skipped whole
    seen: list[str] = []

    def probe(text: str) -> None:
        seen.append(text)

    register_probe(keys.TP, probe)
    static_branch_enable(keys.SK)
    try:
        assert app.traced(3) == "on"
        assert seen == ["item 3"]
    finally:
        unregister_probe(keys.TP, probe)
        staticcall.static_branch_disable(keys.SK)


BRANCHY = """
from . import keys


class Other:
    def DOUBLE(self, x):
        return ("other", x)


def pick(c, x):
    y = (Other() if c else keys).DOUBLE(x)
    z = [y]
    z.append(len(z))
    return z[0]


def pick_tail(c, x):
    return (Other() if c else keys).DOUBLE(x)
"""


@needs_rewriting
def test_a_jump_into_a_module_attribute_call_runs_as_written(pkg: str, tmp_path: Path) -> None:
    """In ``(x if c else keys).DOUBLE(1)`` the other branch jumps to ``.DOUBLE``, past the
    load of ``keys``: staging must not replace the two loads by one (that pushed too
    little there, and crashed the interpreter)."""
    (tmp_path / pkg / "branchy.py").write_text(BRANCHY, encoding="utf-8")
    staticcall.install(pkg)
    branchy = __import__(f"{pkg}.branchy", fromlist=["branchy"])
    for func in (branchy.pick, branchy.pick_tail):
        assert func(True, 3) == ("other", 3)
        assert func(False, 3) == 6
        assert func(True, 4) == ("other", 4)


@needs_rewriting
def test_a_first_call_in_the_middle_of_an_update_waits_for_the_next(
        pkg: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """A processed function first called in the middle of an update of one of its keys,
    in the same thread (a destructor, a gc callback, a signal handler), runs as it is; its
    next call rewrites it (the update would refuse its new sites), with no warning."""
    from staticcall import _update

    staticcall.install(pkg)
    app = app_of(pkg)
    keys = app.keys
    assert app.Service().method(1) == 2  # rewritten: DOUBLE has a site to patch
    seen: list[Any] = []

    def first_call(rec: Any) -> None:
        if not seen:
            seen.append(app.handler(2))

    monkeypatch.setattr(_update, "_before_site_patch", first_call)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        static_call_update(keys.DOUBLE, negate)
        monkeypatch.setattr(_update, "_before_site_patch", None)
        assert seen in ([4], [-2])  # in the middle of the update: either target is right
        assert app.handler(2) == -2
        assert any(s.function.endswith("handler") for s in static_call_sites(keys.DOUBLE))
    static_call_update(keys.DOUBLE, keys._double)
    assert app.handler(2) == 4


NO_CANDIDATES = """
import sys
sys.path.insert(0, sys.argv[1])
import staticcall
staticcall.install("quiet")
import quiet
print(quiet.f(2), [sys.monitoring.get_tool(t) for t in range(6)])
"""


@pytest.mark.skipif(not _opcodes.HAS_MONITORING, reason="no sys.monitoring before 3.12")
def test_a_module_without_candidates_takes_no_monitoring_tool(tmp_path: Path) -> None:
    """A tool id is taken when a first call is to be caught, not for every module that
    holds a key (tools are few, and shared with profilers and debuggers)."""
    (tmp_path / "quiet").mkdir()
    (tmp_path / "quiet" / "__init__.py").write_text(
        "import staticcall\n\ndef f(x):\n    return x + 1\n\n"
        "K = staticcall.define_static_call(f)\n", encoding="utf-8")
    r = subprocess.run([sys.executable, "-c", NO_CANDIDATES, str(tmp_path)],
                       capture_output=True, text=True, timeout=TIMEOUT)
    assert r.returncode == 0, r.stderr
    assert "staticcall" not in r.stdout and r.stdout.startswith("3 "), r.stdout


@needs_rewriting
def test_no_thread_runs_rewritten_code_before_it_is_laid_out(
        pkg: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """The rewritten code is laid out for the keys' states before any function is given
    it: a call made meanwhile (what another thread may do) runs the code it had."""
    from staticcall import _sites

    staticcall.install(pkg)
    app = app_of(pkg)
    static_branch_enable(app.keys.SK)
    seen: list[str] = []
    real = _sites.register

    def register(func: Any, records: Any) -> None:
        seen.append(app.traced(1))  # as if from another thread, just before the lay-out
        real(func, records)

    monkeypatch.setattr(_sites, "register", register)
    try:
        assert app.traced(2) == "on"  # the first call: rewritten
        assert seen == ["on"]
        assert app.traced(3) == "on"
    finally:
        staticcall.static_branch_disable(app.keys.SK)


@needs_rewriting
def test_a_module_imported_already_is_processed_at_once(pkg: str) -> None:
    app = app_of(pkg)
    plain_code = app.plain.__code__
    handler_code = app.handler.__code__
    through_code = app.through_module.__code__
    assert sites_in(app) == []
    staticcall.install(pkg)
    # no candidate name: not touched; a candidate waits for its first call (stubs: in a
    # staged copy of its code); with stubs, one whose only site goes through a module
    # attribute offers none: rewritten now
    assert app.plain.__code__ is plain_code and not _packages.waiting(app.plain)
    assert _packages.waiting(app.handler)
    staged = app.handler.__code__
    assert (staged is handler_code) == (_trigger.arm is _ARM)
    assert app.through_module.__code__ is not through_code or _packages.waiting(
        app.through_module)
    assert app.handler(3) == 6
    assert not _packages.waiting(app.handler)
    assert app.handler.__code__ is not staged and app.handler.__code__ is not handler_code
    assert app.plain.__code__ is plain_code
    assert {s.function for s in sites_in(app)} >= {"handler", "through_module"}


@needs_rewriting
def test_code_that_names_a_key_without_calling_it_keeps_its_code(pkg: str) -> None:
    """Import tests a code object's names only; its first call finds no site in its
    bytes and leaves it as it was, out of the table and waiting no more."""
    staticcall.install(pkg)
    app = app_of(pkg)
    code = app.names_a_key.__code__
    assert app.names_a_key() is app.keys.DOUBLE
    assert app.names_a_key.__code__ is code
    assert not _packages.waiting(app.names_a_key)
    assert "names_a_key" not in {s.function for s in sites_in(app)}
    assert app.names_a_key.__code__ is code


@needs_rewriting
def test_a_first_call_while_the_package_imports_waits(pkg: str) -> None:
    """Importing stays cheap: a call made as another module of the package imports does
    not rewrite the function; the first call after the imports does."""
    staticcall.install(pkg)
    caller = __import__(f"{pkg}.caller", fromlist=["caller"])
    app = app_of(pkg)
    assert caller.AT_IMPORT == 4
    assert _packages.waiting(app.handler)
    assert app.handler(3) == 6
    assert not _packages.waiting(app.handler)
    assert app.handler(3) == 6


@needs_rewriting
def test_captured_functions_are_the_same_objects(pkg: str) -> None:
    staticcall.install(pkg)
    app = app_of(pkg)
    sites_in(app)
    assert app.ROUTES["a"] is app.handler
    assert app.with_default.__defaults__[0] is app.handler
    assert app.wrapped.__wrapped__.__code__ is not None
    code = app.handler.__code__
    assert app.ROUTES["a"].__code__ is code and any(
        s.function == "handler" for s in sites_in(app))


@pytest.mark.skipif(not _opcodes.CODE_ASSIGNMENT_CLEARS_VERSION,
                    reason="assigning __code__ keeps calls fast before 3.13")
@needs_rewriting
def test_calls_to_a_processed_function_keep_their_version(pkg: str) -> None:
    """3.13+: a function given new code in place gets the version a function made from
    that code would have, so that calls to it specialise (staticcall bench measures it)."""
    assert _recode.restores_versions()
    staticcall.install(pkg)
    app = app_of(pkg)
    sites_in(app)
    offset = _recode._layout()
    assert offset is not None
    fresh = types.FunctionType(app.handler.__code__, app.handler.__globals__)
    made = staticcall._factory.make_function(app.handler.__code__, app.handler)
    version = _recode._version(app.handler, offset)
    assert version >= 2 and version == _recode._version(made, offset)
    del fresh


def test_uninstall_stops_processing_new_imports(pkg: str, tmp_path: Path) -> None:
    staticcall.install(pkg)
    assert _install.installed() == [pkg]
    staticcall.uninstall(pkg)
    assert _install.installed() == []
    assert _install._FINDER not in sys.meta_path
    app = app_of(pkg)
    assert sites_in(app) == []


def test_install_errors_change_nothing() -> None:
    with pytest.raises(TypeError, match="at least one package"):
        staticcall.install()
    with pytest.raises(TypeError, match="not int"):
        staticcall.install(3)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="not a module name"):
        staticcall.install("ok_name", "bad name")
    with pytest.raises(ValueError, match="cannot be processed"):
        staticcall.install("staticcall.tools")
    with pytest.raises(ValueError, match="cannot be processed"):
        staticcall.install("bytecode")
    assert _install.installed() == []


def test_a_module_that_fails_to_import_fails_as_it_would(pkg: str, tmp_path: Path) -> None:
    (tmp_path / pkg / "broken.py").write_text("from .keys import DOUBLE\n1 / 0\n")
    staticcall.install(pkg)
    with pytest.raises(ZeroDivisionError):
        __import__(f"{pkg}.broken")
    assert f"{pkg}.broken" not in sys.modules
    app = app_of(pkg)
    assert app.handler(1) == 2


def test_the_loader_is_the_modules_own_after_import(pkg: str) -> None:
    staticcall.install(pkg)
    app = app_of(pkg)
    assert not isinstance(app.__loader__, _install._Loader)
    assert not isinstance(app.__spec__.loader, _install._Loader)
    import importlib
    reloaded = importlib.reload(app)
    assert reloaded.handler(2) == 4


# --------------------------------------------------------------------------------------
# the command line and the environment
# --------------------------------------------------------------------------------------

SCRIPT = """
import json, sys
import {pkg}.app as app
from staticcall import static_call_sites
first = app.handler(3)
sites = [s for s in static_call_sites() if s.filename == app.__file__]
print(json.dumps({{"argv": sys.argv, "first": first, "second": app.ROUTES["a"](4),
                  "functions": sorted({{s.function for s in sites}}),
                  "path0": sys.path[0]}}))
"""


def _run(args: list[str], cwd: Path, env: dict[str, str] | None = None
         ) -> subprocess.CompletedProcess[str]:
    full = {**os.environ, **(env or {})}
    full.pop("STATICCALL_PACKAGES", None) if env is None or "STATICCALL_PACKAGES" not in env \
        else None
    return subprocess.run([sys.executable, *args], cwd=str(cwd), capture_output=True,
                          text=True, timeout=TIMEOUT, env=full)


@needs_rewriting
def test_run_a_script_with_a_package_processed(pkg: str, tmp_path: Path) -> None:
    script = tmp_path / "prog.py"
    script.write_text(SCRIPT.format(pkg=pkg))
    proc = _run(["-m", "staticcall", "run", "-p", pkg, str(script), "a", "-p", "x"],
                cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    assert out["argv"] == [str(script), "a", "-p", "x"]
    assert (out["first"], out["second"]) == (6, 8)
    assert "handler" in out["functions"] and "plain" not in out["functions"]
    assert out["path0"] == str(tmp_path)


@needs_rewriting
def test_run_a_module_with_a_package_processed(pkg: str, tmp_path: Path) -> None:
    (tmp_path / "prog_mod.py").write_text(SCRIPT.format(pkg=pkg))
    proc = _run(["-m", "staticcall", "run", f"--package={pkg}", "-m", "prog_mod", "b"],
                cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    assert out["argv"][1:] == ["b"] and out["argv"][0].endswith("prog_mod.py")
    assert "handler" in out["functions"]


def test_run_without_packages_runs_the_program_unprocessed(pkg: str, tmp_path: Path) -> None:
    (tmp_path / "prog.py").write_text(SCRIPT.format(pkg=pkg))
    proc = _run(["-m", "staticcall", "run", "prog.py"], cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["functions"] == []


def test_run_passes_the_programs_exit_status_and_errors(tmp_path: Path) -> None:
    (tmp_path / "exits.py").write_text("import sys\nsys.exit(7)\n")
    (tmp_path / "fails.py").write_text("raise KeyError('boom')\n")
    assert _run(["-m", "staticcall", "run", "exits.py"], cwd=tmp_path).returncode == 7
    proc = _run(["-m", "staticcall", "run", "fails.py"], cwd=tmp_path)
    assert proc.returncode == 1 and "KeyError: 'boom'" in proc.stderr
    proc = _run(["-m", "staticcall", "run", "missing.py"], cwd=tmp_path)
    assert proc.returncode == 1 and "missing.py" in proc.stderr
    proc = _run(["-m", "staticcall", "run", "-p", "staticcall", "exits.py"], cwd=tmp_path)
    assert proc.returncode == 1 and "cannot be processed" in proc.stderr


def test_run_usage(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["run", "--help"]) == 0
    assert "staticcall run [-p PKG]... (script.py | -m module)" in capsys.readouterr().out
    assert main(["run"]) == 1
    assert "nothing to run" in capsys.readouterr().err
    assert main(["run", "-q", "x.py"]) == 2
    assert "unknown option '-q'" in capsys.readouterr().err


@needs_rewriting
def test_the_environment_variable_installs_at_start_up(pkg: str, tmp_path: Path) -> None:
    (tmp_path / "prog.py").write_text(SCRIPT.format(pkg=pkg))
    proc = _run(["prog.py", "z"], cwd=tmp_path, env={"STATICCALL_PACKAGES": f" {pkg} , "})
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    assert out["argv"] == ["prog.py", "z"] and "handler" in out["functions"]
    assert proc.stderr == ""


def test_trampoline_mode_warns_once_and_processes_nothing(pkg: str, tmp_path: Path) -> None:
    (tmp_path / "prog.py").write_text(SCRIPT.format(pkg=pkg))
    proc = _run(["-W", "always::staticcall.StaticCallWarning", "-m", "staticcall", "run",
                 "-p", pkg, "prog.py"], cwd=tmp_path, env={"STATICCALL_MODE": "trampoline"})
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["functions"] == []
    assert proc.stderr.count("StaticCallWarning") == 1
    assert "not rewritten on this interpreter" in proc.stderr


def test_a_bad_environment_value_is_reported(tmp_path: Path) -> None:
    proc = _run(["-c", "import staticcall._install as i; print(i.installed())"],
                cwd=tmp_path, env={"STATICCALL_PACKAGES": "good, staticcall"})
    assert proc.returncode == 0
    assert proc.stdout.strip() == "[]"
    assert proc.stderr.count("STATICCALL_PACKAGES") == 1 and "cannot be processed" in proc.stderr


def test_without_the_variable_start_up_imports_nothing(tmp_path: Path) -> None:
    proc = _run(["-c", "import sys; print(any(m.startswith('staticcall') for m in sys.modules))"],
                cwd=tmp_path)
    assert proc.stdout.strip() == "False", proc.stderr
    # the start-up file is installed (make test's editable install included)
    import site
    dirs = site.getsitepackages() + [site.getusersitepackages()]
    assert any(Path(d, "staticcall-startup.pth").exists() for d in dirs)


@needs_rewriting
def test_sites_command_processes_a_package(pkg: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["sites", "--process", pkg, "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    functions = {s["function"] for s in data["sites"]}
    assert {"handler", "Service.method", "traced"} <= functions
    assert {s["bound_at"] for s in data["sites"]} == {"processing", None}
    assert main(["sites", "-p", pkg]) == 0
    text = capsys.readouterr().out
    assert "bound" in text.splitlines()[0] and "first-execution" not in text


def test_the_walk_for_a_module_s_functions_skips_builtins(monkeypatch: pytest.MonkeyPatch
                                                           ) -> None:
    """Finding a module's functions reads what its namespace holds, but not
    ``__builtins__`` (a hundred classes, none of them the module's: reading them was
    most of the walk's cost for a typical module)."""
    module = types.ModuleType("walked")
    exec("import builtins\n__builtins__ = builtins.__dict__\n"
         "class C:\n    def m(self): return 1\n\ndef f(): return 2\n", module.__dict__)
    read: list[Any] = []
    children = _packages._children

    def counted(obj: Any, t: type, name: str) -> list[Any]:
        read.append(obj)
        return children(obj, t, name)

    monkeypatch.setattr(_packages, "_children", counted)
    found = _packages.module_functions(module)
    assert {f.__name__ for f in found} == {"m", "f"}
    assert len(read) <= 4, read
