"""Which optional extra of the package a part needs, and the one-line error when it is not installed.

`pip install nbmlops` gives the CLI, the local backend, tracking, the registry, the feature store and
monitoring; the heavy parts are extras. A part asks `require(extra, what)` before its first import of them, so a
plain install meets `pip install "nbmlops[ray]"` instead of a ModuleNotFoundError.
"""

from __future__ import annotations

import importlib

from nbmlops.errors import NbmlopsError

# extra -> the top-level modules it brings that the code imports
EXTRAS: dict[str, tuple[str, ...]] = {
    "papermill": ("papermill", "nbclient", "jupyter_client", "ipykernel"),
    "ray": ("ray",),
    "serve": ("starlette", "uvicorn"),
    "lab": ("jupyterlab", "jupyter_server"),
}


class MissingExtra(NbmlopsError):
    """A part of nbmlops whose optional dependencies are not installed."""


def missing(extra: str) -> list[str]:
    """The modules of `extra` that can't be imported here (imported to know: the part imports them next anyway,
    and a module that is present but broken or blocked counts as missing, as it would fail the same way)."""
    absent = []
    for name in EXTRAS[extra]:
        try:
            importlib.import_module(name)
        except ImportError:
            absent.append(name)
    return absent


def require(extra: str, what: str) -> None:
    """Raise MissingExtra, naming the exact install command, when `what` can't run for lack of `extra`."""
    absent = missing(extra)
    if absent:
        raise MissingExtra(
            f"{what} needs the '{extra}' extra ({', '.join(absent)} not installed): pip install \"nbmlops[{extra}]\""
        )
