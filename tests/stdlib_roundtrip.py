"""Run one standard-library module's own unittest suite with the module's functions
turned into keys, processed by ``staticcall.install`` or not; print every test's outcome
as JSON (tests/test_stdlib_roundtrip.py compares the two runs).

    python stdlib_roundtrip.py MODULE TEST_MODULE (keys | processed)

Turning a function into a key puts ``define_static_call(func, name=...)`` in its place in
the module's namespace, so that every call of it from the module's own code is a site
(``K(args)``); with ``processed`` the module is then processed at once, as ``install``
processes a module imported already, and each function is rewritten at its first call
while the suite runs.
"""

from __future__ import annotations

import importlib
import json
import sys
import types
import unittest
from typing import Any


def make_keys(module: types.ModuleType) -> list[str]:
    """Replace each function defined in ``module`` by a key targeting it."""
    from staticcall import define_static_call

    names = []
    for name, value in sorted(vars(module).items()):
        if (type(value) is types.FunctionType and value.__globals__ is vars(module)
                and value.__module__ == module.__name__ and not name.startswith("__")):
            setattr(module, name, define_static_call(value, name=name, prototype=...))
            names.append(name)
    return names


class Outcomes(unittest.TextTestResult):
    """Records each test's outcome by id."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.outcomes: dict[str, str] = {}

    def _set(self, test: Any, what: str) -> None:
        self.outcomes[test.id()] = what

    def addSuccess(self, test: Any) -> None:
        super().addSuccess(test)
        self.outcomes.setdefault(test.id(), "pass")

    def addFailure(self, test: Any, err: Any) -> None:
        super().addFailure(test, err)
        self._set(test, "fail")

    def addError(self, test: Any, err: Any) -> None:
        super().addError(test, err)
        self._set(test, "error")

    def addSkip(self, test: Any, reason: str) -> None:
        super().addSkip(test, reason)
        self._set(test, "skip")

    def addExpectedFailure(self, test: Any, err: Any) -> None:
        super().addExpectedFailure(test, err)
        self._set(test, "expected failure")

    def addUnexpectedSuccess(self, test: Any) -> None:
        super().addUnexpectedSuccess(test)
        self._set(test, "unexpected success")

    def addSubTest(self, test: Any, subtest: Any, err: Any) -> None:
        super().addSubTest(test, subtest, err)
        if err is not None:
            self._set(subtest, "fail" if issubclass(err[0], test.failureException)
                      else "error")


def main(module_name: str, test_name: str, mode: str) -> int:
    import staticcall
    from staticcall import _packages

    module = importlib.import_module(module_name)
    keys = make_keys(module)
    if mode == "processed":
        staticcall.install(module_name)

    def staged() -> int:
        return sum(1 for u in list(_packages.WAITING) if u.state == _packages.PENDING
                   and u.root.co_filename == module.__file__)

    before = staged()
    tests = unittest.defaultTestLoader.loadTestsFromName(test_name)
    runner = unittest.TextTestRunner(stream=sys.stderr, verbosity=0, resultclass=Outcomes)
    result = runner.run(tests)
    # functions the suite ran (rewritten at their first call), before the table is read
    # (listing it rewrites the rest)
    waiting = staged()
    filename = module.__file__
    sites = [s for s in staticcall.static_call_sites() if s.filename == filename]
    print(json.dumps({
        "outcomes": result.outcomes,
        "keys": len(keys),
        "sites": len(sites),
        "live": sum(1 for s in sites if s.state != "trampoline"),
        "reasons": sorted({s.reason for s in sites if s.reason}),
        "staged": before,
        "rewritten_by_first_call": before - waiting,
    }))
    return 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:4]))
