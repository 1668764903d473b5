"""The package's build backend: setuptools', plus the start-up hook.

Every wheel it builds, editable ones included (``pip install -e .``), also holds
``staticcall-startup.pth`` at its top level, so that it lands in ``site-packages``.
Python runs that one line at start-up: when ``STATICCALL_PACKAGES`` is set it calls
``staticcall.install()`` for the packages named there; when it is not, the line costs
one environment lookup. (Its name sorts after setuptools' ``__editable__`` files, which
must put the package on the path first.)
"""

from __future__ import annotations

import base64
import hashlib
import os
import zipfile

from setuptools import build_meta as _setuptools
from setuptools.build_meta import *  # noqa: F401,F403 - every other hook is setuptools'

PTH_NAME = "staticcall-startup.pth"
PTH_LINE = ('import os; os.environ.get("STATICCALL_PACKAGES") and '
            '__import__("staticcall._install", fromlist=["_"]).from_environment()\n')


def _add_startup_file(wheel_path: str) -> None:
    """Add the .pth file to the wheel, and its line to the wheel's RECORD."""
    data = PTH_LINE.encode()
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    record_line = f"{PTH_NAME},sha256={digest},{len(data)}"
    tmp = wheel_path + ".tmp"
    with zipfile.ZipFile(wheel_path) as src, \
            zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED) as dst:
        dst.writestr(PTH_NAME, data)
        for item in src.infolist():
            content = src.read(item.filename)
            if item.filename.endswith(".dist-info/RECORD"):
                lines = content.decode().splitlines()
                if not any(line.startswith(PTH_NAME + ",") for line in lines):
                    lines.insert(0, record_line)
                content = ("\n".join(lines) + "\n").encode()
            dst.writestr(item, content)
    os.replace(tmp, wheel_path)


def build_wheel(wheel_directory, config_settings=None, metadata_directory=None):  # type: ignore[no-untyped-def]
    name = _setuptools.build_wheel(wheel_directory, config_settings, metadata_directory)
    _add_startup_file(os.path.join(wheel_directory, name))
    return name


def build_editable(wheel_directory, config_settings=None, metadata_directory=None):  # type: ignore[no-untyped-def]
    name = _setuptools.build_editable(wheel_directory, config_settings, metadata_directory)
    _add_startup_file(os.path.join(wheel_directory, name))
    return name
