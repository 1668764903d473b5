"""Foreign code: standard-library modules run their own unittest suites (from the
interpreter's ``test`` package) with every function of the module turned into a key,
once as they are (each call of one of those functions from the module's own code goes
through its key) and once processed by ``staticcall.install`` (those calls are sites,
rewritten at each function's first call while the suite runs); every test's outcome
must be the same. Each run is a process of its own (tests/stdlib_roundtrip.py).

The suites were chosen for running in about a second, for holding calls between the
module's own functions (copy's also a dispatch table of them), and for not replacing
the module's functions with mocks (a site binds its key when it is processed, so a
mock put in the module's namespace afterwards is seen by one run only: 3.14's
test_gettext patches ``gettext._expand_lang``, and its two FindTestCase tests differ).
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from live_helpers import LIVE

RUNNER = Path(__file__).resolve().parent / "stdlib_roundtrip.py"
TIMEOUT = 600
MODULES = ["base64", "copy", "difflib", "fnmatch", "glob", "ipaddress", "quopri"]

pytestmark = pytest.mark.stdlib


def run(module: str, mode: str, cwd: Path) -> dict[str, Any]:
    env = {k: v for k, v in os.environ.items() if k != "STATICCALL_PACKAGES"}
    # in a folder of its own: the suites make (and normally remove) files in the cwd
    proc = subprocess.run([sys.executable, str(RUNNER), module, f"test.test_{module}", mode],
                          capture_output=True, text=True, timeout=TIMEOUT, env=env, cwd=cwd)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout.splitlines()[-1])  # type: ignore[no-any-return]


@pytest.mark.parametrize("module", MODULES)
def test_a_suite_has_the_same_outcomes_processed(module: str, tmp_path: Path) -> None:
    if importlib.util.find_spec(f"test.test_{module}") is None:
        pytest.skip(f"this interpreter does not ship the test suite test.test_{module} "
                    f"(Debian: the libpython3.{sys.version_info[1]}-testsuite package)")
    plain = run(module, "keys", tmp_path)
    processed = run(module, "processed", tmp_path)
    assert plain["keys"] > 0 and plain["outcomes"]
    assert plain["sites"] == 0
    assert processed["outcomes"] == plain["outcomes"]
    assert processed["sites"] > 0 and processed["reasons"] == []
    if LIVE:
        assert processed["live"] == processed["sites"]
        # the suite ran staged functions, which were rewritten at their first call
        assert processed["staged"] > 0 and processed["rewritten_by_first_call"] > 0
