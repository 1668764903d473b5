"""The package's structure stays as designed: no import cycle between its modules, no
module reading another module's private names, no version check outside the version
table, and ``import staticcall`` does not load the tools."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "src" / "staticcall"


def _modules() -> dict[str, Path]:
    """Every module of the package by dotted name (a package by its own name)."""
    out = {}
    for path in PACKAGE.rglob("*.py"):
        parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        out[".".join(parts)] = path
    return out


def _resolve(module: str, node: ast.ImportFrom, is_package: bool) -> str:
    """The absolute name of the module ``node`` imports from, inside ``module``."""
    if not node.level:
        return node.module or ""
    # the package a relative import starts from: a package's ``__init__`` is its own
    base = module.split(".") if is_package else module.split(".")[:-1]
    base = base[:len(base) - (node.level - 1)]
    return ".".join(base + ([node.module] if node.module else []))


def _in_type_checking(node: ast.AST, parents: dict[ast.AST, ast.AST]) -> bool:
    """Whether ``node`` is in the body (not the ``else``) of an ``if TYPE_CHECKING:``."""
    while node in parents:
        parent = parents[node]
        if (isinstance(parent, ast.If)
                and ast.unparse(parent.test) in ("TYPE_CHECKING", "typing.TYPE_CHECKING")
                and node in parent.body):
            return True
        node = parent
    return False


def _imports(module: str, path: Path,
             known: set[str]) -> list[tuple[str, str | None, str, int]]:
    """``(imported module, imported name or None, local name, line)`` for every import
    of a package module by ``module``, lazy ones included, except under ``if
    TYPE_CHECKING``."""
    tree = ast.parse(path.read_text())
    parents = {child: node for node in ast.walk(tree) for child in ast.iter_child_nodes(node)}
    out: list[tuple[str, str | None, str, int]] = []
    for node in ast.walk(tree):
        if _in_type_checking(node, parents):
            continue
        if isinstance(node, ast.ImportFrom):
            target = _resolve(module, node, path.name == "__init__.py")
            for alias in node.names:
                local = alias.asname or alias.name
                sub = f"{target}.{alias.name}"
                if sub in known:
                    out.append((sub, None, local, node.lineno))
                elif target in known:
                    out.append((target, alias.name, local, node.lineno))
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name not in known:
                    continue
                if alias.asname:        # ``import a.b as c`` binds ``c`` to ``a.b``
                    out.append((alias.name, None, alias.asname, node.lineno))
                else:                   # ``import a.b`` binds ``a``
                    top = alias.name.split(".")[0]
                    out.append((alias.name, None, "", node.lineno))
                    out.append((top, None, top, node.lineno))
    return out


def _graph() -> dict[str, set[str]]:
    """Which package modules each module imports. Importing ``a.b.c`` also runs the
    ``__init__`` of ``a`` and ``a.b``: edges to those, except to the module's own parent
    packages (they are being imported when it runs); its explicit imports all count,
    ``from .. import name`` of its own parent package too."""
    modules = _modules()
    known = set(modules)
    graph: dict[str, set[str]] = {}
    for m, p in modules.items():
        parts = m.split(".")
        own_parents = {".".join(parts[:i]) for i in range(1, len(parts))}
        targets = set()
        for t, _, _, _ in _imports(m, p, known):
            tparts = t.split(".")
            targets |= {".".join(tparts[:i]) for i in range(1, len(tparts))} - own_parents
            targets.add(t)
        graph[m] = targets - {m}
    return graph


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of ``graph`` with more than one module
    (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    out: list[list[str]] = []

    def connect(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        for w in sorted(graph.get(v, ())):
            if w not in index:
                connect(w)
                low[v] = min(low[v], low[w])
            elif w in stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                out.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            connect(v)
    return out


def test_no_import_cycles() -> None:
    graph = _graph()
    cycles = _cycles(graph)
    assert cycles == [], "modules importing each other, directly or not:\n" + "\n".join(
        "  " + ", ".join(c) + "\n" + "".join(
            f"    {a} -> {b}\n" for a in c for b in sorted(graph[a]) if b in c)
        for c in cycles)


def test_the_cycle_finder_finds_cycles() -> None:
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}, "e": {"f"}, "f": {"e"}}
    assert _cycles(graph) == [["a", "b", "c"], ["e", "f"]]


def test_the_graph_sees_lazy_and_relative_imports() -> None:
    graph = _graph()
    assert "staticcall._opcodes" in graph["staticcall._rewrite.emit"]    # from .. import _opcodes
    assert "staticcall._rewrite.found" in graph["staticcall._rewrite.emit"]   # from .found
    assert "staticcall._rewrite.emit" in graph["staticcall._rewrite"]   # from .emit, in __init__
    assert "staticcall._rewrite" in graph["staticcall._decorator"]      # from ._rewrite import
    assert "staticcall.tools.explain" in graph["staticcall"]      # lazy, inside a function
    assert "staticcall" not in graph["staticcall._keys"]


def test_no_module_reads_another_modules_private_names() -> None:
    modules = _modules()
    known = set(modules)
    bad = []
    for m, path in modules.items():
        name_of = path.relative_to(PACKAGE.parent)
        imports = _imports(m, path, known)
        for target, name, _, line in imports:
            if name is not None and name.startswith("_") and not name.startswith("__"):
                bad.append(f"{name_of}:{line} imports {target}.{name}")
        # package modules bound to a local name, whatever their own names
        bound = {local: t for t, name, local, _ in imports if name is None and local}
        for node in ast.walk(ast.parse(path.read_text())):
            if (isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name)
                    and node.value.id in bound and node.attr.startswith("_")
                    and not node.attr.startswith("__")
                    and f"{bound[node.value.id]}.{node.attr}" not in known):
                bad.append(f"{name_of}:{node.lineno} reads {node.value.id}.{node.attr}")
    assert bad == [], "\n".join(bad)


def test_no_module_reaches_another_through_sys_modules() -> None:
    """``sys.modules["staticcall._x"].name`` is an import the cycle check cannot see:
    a module that needs a higher layer defines what it needs instead (``_keys.Handle``).
    Asking whether a module is loaded yet (``sys.modules.get``) is not reaching it."""
    bad = []
    for m, path in _modules().items():
        for node in ast.walk(ast.parse(path.read_text())):
            if (isinstance(node, ast.Subscript) and ast.unparse(node.value) == "sys.modules"
                    and "staticcall" in ast.unparse(node.slice)):
                bad.append(f"{path.relative_to(PACKAGE)}:{node.lineno}")
    assert bad == []


def test_versions_are_read_in_the_version_table_only() -> None:
    bad = [f"{p.relative_to(PACKAGE)}:{n}" for m, p in _modules().items()
           if m != "staticcall._opcodes"
           for n, line in enumerate(p.read_text().splitlines(), 1)
           if "version_info" in line or "hexversion" in line]
    assert bad == []


def test_import_does_not_load_the_tools() -> None:
    code = ("import sys, staticcall; "
            "print(sorted(m for m in sys.modules if m.startswith('staticcall.')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout
    loaded = eval(out)
    assert "staticcall._keys" in loaded
    assert [m for m in loaded if m == "staticcall.tools" or m.startswith("staticcall.tools.")] == []


#: What ``import staticcall`` must not load: the rewriter, the site table and the
#: libraries only they need, and the standard library's heavier modules (``typing``
#: alone, with ``re``, ``enum`` and ``contextlib``, was half of the import's time).
HEAVY = ("bytecode", "ctypes", "dataclasses", "inspect", "typing", "dis", "ast", "re",
         "enum", "pickle", "threading", "sysconfig", "collections", "functools",
         "contextlib", "weakref",
         "staticcall._decorator", "staticcall._rewrite", "staticcall._patch",
         "staticcall._sites", "staticcall._opcodes", "staticcall._factory",
         "staticcall._signature")


def _modules_after(code: str) -> set[str]:
    """The modules loaded by ``code`` in a fresh interpreter, less those loaded by an
    empty program (the interpreter's own start-up, site, .pth files)."""
    def loaded(src: str) -> set[str]:
        program = f"{src}\nimport sys\nprint(sorted(sys.modules))"
        out = subprocess.run([sys.executable, "-c", program], capture_output=True, text=True,
                             check=True).stdout
        return set(eval(out))

    return loaded(code) - loaded("")


def _heavy(modules: set[str]) -> list[str]:
    return sorted(m for m in modules if any(m == h or m.startswith(h + ".") for h in HEAVY))


def test_import_loads_no_heavy_module() -> None:
    assert _heavy(_modules_after("import staticcall")) == []


def test_the_heavy_modules_load_when_needed() -> None:
    # the check can fail: each of these loads what its use needs
    assert "inspect" in _modules_after("import staticcall\nstaticcall.define_static_call(abs)")
    decorated = _modules_after("import staticcall\n"
                               "@staticcall.static_calls\n"
                               "def f():\n    pass\n")
    assert {"bytecode", "staticcall._decorator", "staticcall._sites"} <= decorated
    assert "staticcall._sites" in _modules_after("from staticcall import Site")
    assert _heavy(_modules_after("import bytecode")) != []


def test_an_update_without_sites_loads_no_rewriter() -> None:
    code = ("import staticcall as s\nk = s.define_static_call(abs)\n"
            "s.static_call_update(k, None)\ns.static_call_update(k, abs)\n"
            "sk = s.define_static_key_false()\ns.static_branch_enable(sk)\n"
            "tp = s.define_tracepoint(None, name='t')\ns.register_probe(tp, print)\n")
    loaded = _modules_after(code)
    assert not {"bytecode", "ctypes", "staticcall._patch", "staticcall._sites"} & loaded
