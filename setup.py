"""The optional compiled accelerator (staticcall._accel); everything else is in
pyproject.toml. Where no C compiler or no Python headers exist the build goes on
without it and the package uses its pure-Python runtime path."""

from setuptools import Extension, setup

setup(ext_modules=[Extension("staticcall._accel", ["src/staticcall/_accel.c"], optional=True)])
