"""The public exceptions are shown, and pickle, as ``staticcall.<name>``."""

from __future__ import annotations

import pickle
import traceback

import pytest

import staticcall

NAMES = ["StaticCallError", "StaticCallNullError", "StaticCallSignatureError",
         "StaticCallPermissionError", "StaticCallWarning"]


@pytest.mark.parametrize("name", NAMES)
def test_shown_as_the_package_names_them(name: str) -> None:
    cls = getattr(staticcall, name)
    assert cls.__module__ == "staticcall"
    assert repr(cls) == f"<class 'staticcall.{name}'>"
    exc = cls("boom")
    assert pickle.loads(pickle.dumps(exc)).args == ("boom",)
    text = "".join(traceback.format_exception_only(type(exc), exc))
    assert text.startswith(f"staticcall.{name}: boom")


def test_the_version_is_the_installed_metadata(capsys: pytest.CaptureFixture[str]) -> None:
    import importlib.metadata

    from staticcall.__main__ import main

    version = importlib.metadata.version("staticcall")
    assert staticcall.__version__ == version
    try:
        main(["--version"])
    except SystemExit:
        pass
    assert capsys.readouterr().out.strip() == f"staticcall {version}"
