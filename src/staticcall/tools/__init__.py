"""Tools built on the library, kept out of ``import staticcall``: the benchmark
(``bench``), the command line (``cli``) and the before/after view of rewritten code
(``explain``)."""
