"""The command line: ``staticcall`` and ``python -m staticcall``."""

from __future__ import annotations

import argparse
import importlib
import json
import os
import sys
import traceback
import types
from typing import Any, Sequence, TextIO


class CLIError(Exception):
    """A user error: printed as ``staticcall <command>: <message>``, exit status 1."""


def _parser() -> argparse.ArgumentParser:
    from .. import __version__

    p = argparse.ArgumentParser(
        prog="staticcall",
        description="Static calls for CPython: inspect call sites, explain rewrites, "
                    "benchmark.")
    p.add_argument("--version", action="version", version=f"staticcall {__version__}")
    sub = p.add_subparsers(dest="command", metavar="COMMAND")

    s = sub.add_parser(
        "sites", help="import modules and print their static call sites",
        description="Import each MODULE and print the site table entries of the functions "
                    "defined in it (for a package: in it and in its submodules that are "
                    "imported by then). With --process, each MODULE is processed as "
                    "staticcall.install() processes a package, and every submodule of a "
                    "package is imported. The current directory is on the module search "
                    "path.",
        epilog="Columns: key (the key, tracepoint or static key the site names); function "
               "and where (file:line) of the site; cond: a static_call_cond(K)(...) site; "
               "tail: the site's value is returned at once (return K(x)); state: what the "
               "site executes now (call sites: call, null, ret0, or trampoline for the "
               "runtime path; branch and tracepoint sites: enabled or disabled); kind: "
               "call (a call through a key), branch (if static_branch_unlikely(K): and the "
               "like, one patched jump) or tracepoint (a tracepoint statement, skipped whole, "
               "arguments included, while no probe is attached); bound: when the site was "
               "bound to its key, when its code was processed or at its first execution "
               "(a static_call(K) site whose K was not a key yet; state unbound until it "
               "runs); reason: why a site stays on the runtime path. JSON has the same "
               "fields (bound_at: \"processing\", \"first execution\" or null).")
    s.add_argument("modules", nargs="+", metavar="MODULE", help="a module name (pkg.mod)")
    s.add_argument("--json", action="store_true", help="print the table as JSON")
    s.add_argument("-p", "--process", action="store_true",
                   help="process the modules as staticcall.install() does (no decorator "
                        "needed), importing every submodule of a package")

    r = sub.add_parser(
        "run", help="run a program with whole packages processed",
        usage="staticcall run [-p PKG]... (script.py | -m module) [args ...]",
        description="Run a Python program (a script file, or a module as python -m does) "
                    "with each PKG processed as staticcall.install() processes it: every "
                    "function of every module of PKG has its static call sites rewritten, "
                    "with no decorator. sys.argv is the program's own.")
    # (parsed by _parse_run: everything after the script or module is the program's)
    r.add_argument("-p", "--package", action="append", default=[], metavar="PKG",
                   dest="packages", help="a package (or module) to process; repeatable")
    r.add_argument("-m", dest="module", metavar="module", help="run a library module "
                   "as a script (python -m module)")
    r.add_argument("program", nargs="*", metavar="script.py | args",
                   help="the script (without -m) and the program's arguments")

    e = sub.add_parser(
        "explain", help="show a function's bytecode before and after rewriting",
        description="Import MODULE and show the bytecode of FUNCTION (a dotted path in it, "
                    "e.g. Class.method) with each static call site marked, before and after "
                    "rewriting: for an undecorated function, its own code and that of a "
                    "decorated copy; for a decorated one, its code compiled again from its "
                    "source file and its current code. For a class, every function of its "
                    "body (methods, static and class methods, properties, nested classes).")
    e.add_argument("target", metavar="MODULE:FUNCTION",
                   help="a function, method or class, e.g. pkg.mod:Class.method")

    t = sub.add_parser(
        "tracepoints", help="list tracepoints, their probes and their sites",
        description="Import each MODULE and list the tracepoints defined in it (for a "
                    "package: in it and its submodules imported by then), with their "
                    "probes and recorded sites; with no MODULE, every tracepoint defined "
                    "so far. The current directory is on the module search path.")
    t.add_argument("modules", nargs="*", metavar="MODULE", help="a module name (pkg.mod)")
    t.add_argument("--json", action="store_true", help="print the list as JSON")

    b = sub.add_parser(
        "bench", help="benchmark static-call sites against plain indirect calls",
        description="Measure, in this process, each way of making a replaceable call and "
                    "print ns per call and the ratio to its reference.")
    b.add_argument("--json", action="store_true", help="print every figure as JSON")
    b.add_argument("--quick", action="store_true", help="a short run (under 20 s)")
    b.add_argument("--tiny", action="store_true", help=argparse.SUPPRESS)
    b.add_argument("--plot", metavar="FILE.svg",
                   help="also draw the comparison as a chart into FILE (.svg, .png or .pdf; "
                        "needs matplotlib: pip install 'staticcall[plot]')")
    return p


# --------------------------------------------------------------------------------------
# Importing what the user names.
# --------------------------------------------------------------------------------------

def _with_cwd_on_path() -> None:
    # `python -m staticcall` has the current directory on sys.path; the console script
    # has its own directory instead. Make both find the user's modules alike.
    cwd = os.getcwd()
    if not any(os.path.abspath(p or ".") == cwd for p in sys.path):
        sys.path.insert(0, cwd)


def import_module(name: str) -> types.ModuleType:
    if not name or name.startswith(".") or not all(p.isidentifier() for p in name.split(".")):
        raise CLIError(f"{name!r} is not a module name")
    try:
        return importlib.import_module(name)
    except ModuleNotFoundError as exc:
        if exc.name and (name == exc.name or name.startswith(exc.name + ".")):
            raise CLIError(f"cannot import {name!r}: no module named {exc.name!r}") from None
        raise CLIError(f"cannot import {name!r}: {type(exc).__name__}: {exc}") from exc
    except SystemExit as exc:
        raise CLIError(f"cannot import {name!r}: it called sys.exit({exc.code!r})") from None
    except BaseException as exc:
        if isinstance(exc, KeyboardInterrupt):
            raise
        raise CLIError(f"cannot import {name!r}: {type(exc).__name__}: {exc}") from exc


def _module_files(module: types.ModuleType) -> set[str]:
    """The source files of ``module`` and, for a package, of its imported submodules."""
    files: set[str] = set()
    mods = [module]
    if hasattr(module, "__path__"):
        prefix = module.__name__ + "."
        mods += [m for n, m in list(sys.modules.items())
                 if n.startswith(prefix) and isinstance(m, types.ModuleType)]
    for m in mods:
        for path in (getattr(m, "__file__", None),
                     getattr(getattr(m, "__spec__", None), "origin", None)):
            if isinstance(path, str) and path.endswith(".py"):
                files.add(_norm(path))
    return files


def _norm(path: str) -> str:
    return os.path.normcase(os.path.realpath(path))


def _display_path(path: str) -> str:
    try:
        rel = os.path.relpath(path)
    except ValueError:
        return path
    return path if rel.startswith(os.pardir) else rel


# --------------------------------------------------------------------------------------
# sites
# --------------------------------------------------------------------------------------

def site_dict(site: Any) -> dict[str, Any]:
    key = site.key
    return {
        "key": getattr(key, "name", None) or repr(key),
        "key_module": getattr(key, "__module__", None),
        "function": site.function,
        "filename": site.filename,
        "lineno": site.lineno,
        "cond": site.cond,
        "tail": site.tail,
        "state": site.state,
        "kind": getattr(site, "kind", "call"),
        "bound_at": getattr(site, "bound_at", "processing"),
        "reason": site.reason,
    }


def _import_package(module: types.ModuleType, err: TextIO) -> None:
    """Import every submodule of a package (one that fails to import is reported)."""
    import pkgutil

    path = getattr(module, "__path__", None)
    if path is None:
        return
    failed: list[str] = []
    for info in pkgutil.walk_packages(path, module.__name__ + ".", onerror=failed.append):
        try:
            importlib.import_module(info.name)
        except BaseException as exc:  # noqa: B036 - reported, the others are listed
            if isinstance(exc, KeyboardInterrupt):
                raise
            err.write(f"staticcall sites: {info.name} was not imported: "
                      f"{type(exc).__name__}: {exc}\n")
    for name in failed:
        err.write(f"staticcall sites: {name} was not imported\n")


def collect_sites(modules: Sequence[str], process: bool = False,
                  err: TextIO | None = None) -> tuple[list[types.ModuleType], list[Any]]:
    from .. import install, static_call_sites

    _with_cwd_on_path()
    if process:
        for name in modules:
            if not name or not all(p.isidentifier() for p in name.split(".")):
                raise CLIError(f"{name!r} is not a module name")
        try:
            install(*modules)
        except ValueError as exc:
            raise CLIError(str(exc)) from None
    mods = [import_module(name) for name in modules]
    if process:
        for m in mods:
            _import_package(m, err or sys.stderr)
    files: set[str] = set()
    for m in mods:
        files |= _module_files(m)
    sites = [s for s in static_call_sites() if _norm(s.filename) in files]
    sites.sort(key=lambda s: (s.filename, s.lineno, s.function))
    return mods, sites


_BOUND = {"processing": "processing", "first execution": "first-execution", None: "-"}


def cmd_sites(args: argparse.Namespace, out: TextIO) -> int:
    mods, sites = collect_sites(args.modules, process=args.process)
    if args.json:
        json.dump({"modules": [m.__name__ for m in mods],
                   "sites": [site_dict(s) for s in sites]}, out, indent=2)
        out.write("\n")
        return 0
    names = ", ".join(m.__name__ for m in mods)
    if not sites:
        out.write(f"no static call sites recorded in {names}\n")
        return 0
    rows = []
    for s in sites:
        d = site_dict(s)
        reason = d["reason"] or ("" if d["state"] != "trampoline" else "runtime path")
        # a tracepoint's site is recorded as cond (its value is None): not shown as such
        cond = d["cond"] and d["kind"] == "call"
        rows.append([d["key"], d["function"], f"{_display_path(d['filename'])}:{d['lineno']}",
                     "cond" if cond else "-", "tail" if d["tail"] else "-", d["state"],
                     d["kind"], _BOUND.get(d["bound_at"], str(d["bound_at"])), reason])
    headers = ["key", "function", "where", "cond", "tail", "state", "kind", "bound", "reason"]
    if not any(r[-1] for r in rows):
        headers = headers[:-1]
        rows = [r[:-1] for r in rows]
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(headers)]
    for cells in [headers, ["-" * w for w in widths]] + rows:
        out.write("  ".join(c.ljust(w) for c, w in zip(cells, widths)).rstrip() + "\n")
    on_path = sum(1 for s in sites if s.state == "trampoline")
    out.write(f"{len(sites)} site{'s' if len(sites) != 1 else ''} in {names}"
              + (f"; {on_path} on the runtime path" if on_path else "") + "\n")
    return 0


# --------------------------------------------------------------------------------------
# explain
# --------------------------------------------------------------------------------------

def resolve_function(spec: str) -> Any:
    modname, sep, path = spec.partition(":")
    if not sep or not modname or not path:
        raise CLIError(f"expected MODULE:FUNCTION (e.g. pkg.mod:func), got {spec!r}")
    _with_cwd_on_path()
    obj: Any = import_module(modname)
    for part in path.split("."):
        if not part.isidentifier():
            raise CLIError(f"{path!r} is not a dotted name")
        # look in the class __dict__ first, so that staticmethod/classmethod stay visible
        d = getattr(obj, "__dict__", {})
        if isinstance(obj, type) and part in d:
            obj = d[part]
            continue
        try:
            obj = getattr(obj, part)
        except AttributeError:
            raise CLIError(f"{modname!r} has no attribute {path!r} "
                           f"({part!r} not found)") from None
    return obj


def cmd_explain(args: argparse.Namespace, out: TextIO) -> int:
    from .explain import explain

    func = resolve_function(args.target)
    try:
        text = explain(func)
    except TypeError as exc:
        raise CLIError(str(exc)) from None
    out.write(text)
    if not text.endswith("\n"):
        out.write("\n")
    return 0


# --------------------------------------------------------------------------------------
# tracepoints
# --------------------------------------------------------------------------------------

def _callable_name(obj: Any) -> str:
    try:
        module = getattr(obj, "__module__", None)
        qualname = getattr(obj, "__qualname__", None)
    except ReferenceError:  # a weakref.proxy whose referent is gone: its repr says so
        return repr(obj)
    if isinstance(module, str) and isinstance(qualname, str):
        return f"{module}.{qualname}"
    return repr(obj)


def _site_text(rec: Any) -> str:
    """``file:line in function`` of a tracepoint's site record, with what it does now
    (``[runtime path: why]`` for a site that is not rewritten)."""
    if isinstance(getattr(rec, "filename", None), str) and hasattr(rec, "lineno"):
        where: Any = f"{_display_path(rec.filename)}:{rec.lineno}"
    else:
        where = getattr(rec, "where", None)
    function = getattr(rec, "function", None)
    text = str(where if where is not None else rec)
    text = f"{text} in {function}" if function else text
    reason = getattr(rec, "reason", None)
    if reason:
        text += f" [runtime path: {reason}]"
    return text


class _Raw:
    """An annotation shown as written (string annotations print without quotes)."""

    def __init__(self, text: str) -> None:
        self.text = text

    def __repr__(self) -> str:
        return self.text


def _show_signature(sig: Any) -> str:
    def raw(annotation: Any) -> Any:
        return _Raw(annotation) if isinstance(annotation, str) else annotation

    params = [p.replace(annotation=raw(p.annotation)) for p in sig.parameters.values()]
    return str(sig.replace(parameters=params, return_annotation=raw(sig.return_annotation)))


def tracepoint_dict(tp: Any) -> dict[str, Any]:
    from .._naming import find_name

    proto = tp.prototype
    return {
        "name": tp.name,
        "module": tp.__module__,
        "qualname": find_name(tp, tp.__module__) or tp.__qualname__,
        "prototype": None if proto is None else _show_signature(proto),
        "enabled": bool(tp._tp_key.enabled),
        "probes": [_callable_name(p) for p in tp.probes],
        "sites": [_site_text(rec) for rec in sorted(
            list(tp._tp_sites.values()),
            key=lambda r: (str(getattr(r, "filename", "")), getattr(r, "lineno", 0)))],
    }


def collect_tracepoints(modules: Sequence[str]) -> tuple[list[types.ModuleType], list[Any]]:
    from .._tracepoints import all_tracepoints

    _with_cwd_on_path()
    mods = [import_module(name) for name in modules]
    tps = all_tracepoints()
    if mods:
        names = [m.__name__ for m in mods]
        tps = [tp for tp in tps
               if any(tp.__module__ == n or tp.__module__.startswith(n + ".") for n in names)]
    return mods, tps


def cmd_tracepoints(args: argparse.Namespace, out: TextIO) -> int:
    mods, tps = collect_tracepoints(args.modules)
    where = ", ".join(m.__name__ for m in mods) if mods else "this process"
    if args.json:
        json.dump({"modules": [m.__name__ for m in mods],
                   "tracepoints": [tracepoint_dict(tp) for tp in tps]}, out, indent=2)
        out.write("\n")
        return 0
    if not tps:
        out.write(f"no tracepoints defined in {where}\n")
        return 0
    for tp in tps:
        d = tracepoint_dict(tp)
        proto = d["prototype"] or "(no prototype)"
        state = "enabled" if d["enabled"] else "disabled"
        n = len(d["probes"])
        out.write(f"{d['name']}  {d['module']}.{d['qualname']}  {proto}  {state}, "
                  f"{n} probe{'s' if n != 1 else ''}\n")
        for i, probe in enumerate(d["probes"], 1):
            out.write(f"  probe {i}: {probe}\n")
        if d["sites"]:
            doing = "calls its probes" if n else "skipped whole, arguments included"
            for site in d["sites"]:
                what = "" if "[runtime path" in site else f" ({doing})"
                out.write(f"  site: {site}{what}\n")
        else:
            out.write("  no sites recorded (calls take the runtime path)\n")
    enabled = sum(1 for tp in tps if tp._tp_key.enabled)
    out.write(f"{len(tps)} tracepoint{'s' if len(tps) != 1 else ''} in {where}; "
              f"{enabled} enabled\n")
    return 0


# --------------------------------------------------------------------------------------
# run
# --------------------------------------------------------------------------------------

def _parse_run(argv: Sequence[str]) -> argparse.Namespace | None:
    """``run``'s arguments, as python reads its own: options up to the script or the
    ``-m`` module, the program's arguments after it; ``None`` for ``--help``."""
    packages: list[str] = []
    module: str | None = None
    program: list[str] = []
    i = 0
    while i < len(argv):
        a = argv[i]
        if a in ("-h", "--help"):
            return None
        if a in ("-p", "--package", "-m"):
            if i + 1 >= len(argv):
                raise CLIError(f"argument {a}: expected one argument")
            value, i = argv[i + 1], i + 2
        elif a.startswith("--package="):
            a, value, i = "-p", a.partition("=")[2], i + 1
        elif a[:2] in ("-p", "-m") and len(a) > 2:
            a, value, i = a[:2], a[2:], i + 1
        elif a == "--":
            program = list(argv[i + 1:])
            break
        elif a.startswith("-") and a != "-":
            raise CLIError(f"unknown option {a!r} (options go before the script or -m)")
        else:
            program = list(argv[i:])
            break
        if a == "-m":
            module, program = value, list(argv[i:])
            break
        packages.append(value)
    return argparse.Namespace(command="run", packages=packages, module=module,
                              program=program)


def cmd_run(args: argparse.Namespace, out: TextIO) -> int:
    import runpy

    from .. import install

    program = list(args.program)
    if args.module is None and not program:
        raise CLIError("nothing to run: give a script, or -m and a module")
    try:
        if args.packages:
            install(*args.packages)
    except ValueError as exc:
        raise CLIError(str(exc)) from None
    if args.module is not None:
        sys.argv = [args.module] + program
        _with_cwd_on_path()
        runpy.run_module(args.module, run_name="__main__", alter_sys=True)
        return 0
    script = program[0]
    if not os.path.exists(script):
        raise CLIError(f"can't open file {script!r}: no such file")
    sys.argv = program
    # as `python script.py` does: the script's folder first on the search path
    sys.path[0] = os.path.dirname(os.path.abspath(script))
    runpy.run_path(script, run_name="__main__")
    return 0


def _run_program(args: argparse.Namespace, out: TextIO) -> int:
    """``run``: the program's SystemExit is the exit status; an exception it raises is
    printed as Python prints it, exit status 1."""
    try:
        return cmd_run(args, out)
    except SystemExit as exc:
        code = exc.code
        if code is None or isinstance(code, int):
            return code or 0
        sys.stderr.write(f"{code}\n")
        return 1
    except CLIError:
        raise
    except BaseException as exc:
        if isinstance(exc, KeyboardInterrupt):
            raise
        traceback.print_exception(exc)
        return 1


# --------------------------------------------------------------------------------------
# bench
# --------------------------------------------------------------------------------------

def cmd_bench(args: argparse.Namespace, out: TextIO) -> int:
    from . import bench as _bench
    from .plot import PlotError

    try:
        return _bench.main(json_output=args.json, quick=args.quick, tiny=args.tiny, out=out,
                           plot=args.plot)
    except PlotError as exc:
        raise CLIError(str(exc)) from exc


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``staticcall`` and ``python -m staticcall``; returns the exit status."""
    parser = _parser()
    argv = list(sys.argv[1:] if argv is None else argv)
    try:
        args = _parse_run(argv[1:]) if argv[:1] == ["run"] else parser.parse_args(argv)
        if args is None:  # run --help
            args = parser.parse_args(["run", "--help"])
    except SystemExit as exc:  # --help, --version, usage errors: argparse's own status
        return exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 2)
    except CLIError as exc:
        sys.stderr.write(f"staticcall run: error: {exc}\n")
        return 2
    if args.command is None:
        parser.print_help(sys.stderr)
        return 2
    out = sys.stdout
    handler = {"sites": cmd_sites, "explain": cmd_explain, "bench": cmd_bench,
               "tracepoints": cmd_tracepoints, "run": _run_program}[args.command]
    try:
        return handler(args, out)
    except CLIError as exc:
        sys.stderr.write(f"staticcall {args.command}: error: {exc}\n")
        if exc.__cause__ is not None and os.environ.get("STATICCALL_DEBUG"):
            traceback.print_exception(exc.__cause__)
        return 1
    except BrokenPipeError:
        # output piped into `head` and the like
        try:
            sys.stdout = open(os.devnull, "w")
        except OSError:
            pass
        return 1
