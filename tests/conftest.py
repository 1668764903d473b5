"""Shared test configuration.

Hypothesis profiles: ``default`` (100 examples), ``ci`` (300 examples) and ``many``
(``STATICCALL_EXAMPLES`` examples, default 3000, for fuzzing a change to the rewriter),
selected with the environment variable ``HYPOTHESIS_PROFILE``. No deadlines: CI machines are noisy.
"""

from __future__ import annotations

import os

from hypothesis import settings

# pytester runs the plugin's fixtures in inner pytest sessions (tests/test_plugin.py)
pytest_plugins = ["pytester"]

settings.register_profile("default", max_examples=100, deadline=None)
settings.register_profile("ci", max_examples=300, deadline=None)
settings.register_profile("many", max_examples=int(os.environ.get("STATICCALL_EXAMPLES", "3000")),
                          deadline=None)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "default"))
