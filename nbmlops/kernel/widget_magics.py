"""`%nbmlops runs|models|features|drift|pipeline`: the browsing widgets for this notebook and project.

    %nbmlops runs                              # runs of this notebook's pipeline (--all: every run)
    %nbmlops runs --filter "metrics.auc > 0.8" --order-by -metrics.auc
    %nbmlops models [NAME]                     # the model registry (promote with a confirmation)
    %nbmlops features [SET]                    # the feature catalog, online values
    %nbmlops drift URI                         # the stored drift results of a model (churn, churn@production)
    %nbmlops pipeline [--notebook PATH]        # this notebook's DAG with its last run, refreshing while it runs

The magic returns the widget, so the notebook shows it; `w = %nbmlops runs` keeps it for code. The kernel does
not import nbmlops.widgets (both are top layers): `%load_ext nbmlops` hands this module the widget classes
(use_widgets), loaded on first use.
"""

from __future__ import annotations

import argparse
import shlex
from collections.abc import Callable
from pathlib import Path
from typing import Any

from nbmlops.errors import NbmlopsError

COMMANDS = ("runs", "models", "features", "drift", "pipeline")
_widgets: Callable[[str], Any] | None = None  # widget class by name, set by the extension's entry point


def use_widgets(load: Callable[[str], Any]) -> None:
    """Where the widget classes come from: `load("RunsBrowser")` -> the class (nbmlops.load_ipython_extension)."""
    global _widgets
    _widgets = load


def _widget(name: str) -> Any:
    if _widgets is None:
        raise NbmlopsError("%nbmlops: the widgets are not loaded; run %load_ext nbmlops")
    return _widgets(name)


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        raise NbmlopsError(f"{self.prog}: {message}\n{self.format_usage().strip()}")


def _parser() -> _Parser:
    parser = _Parser(prog="%nbmlops", add_help=False)
    sub = parser.add_subparsers(dest="command", parser_class=_Parser)
    runs = sub.add_parser("runs", add_help=False)
    runs.add_argument("--pipeline")
    runs.add_argument("--all", action="store_true", help="every run of the project, not only this notebook's")
    runs.add_argument("--filter", dest="filter_")
    runs.add_argument("--order-by", dest="order_by", action="append")
    runs.add_argument("--notebook")
    models = sub.add_parser("models", add_help=False)
    models.add_argument("name", nargs="?")
    features = sub.add_parser("features", add_help=False)
    features.add_argument("name", nargs="?")
    drift = sub.add_parser("drift", add_help=False)
    drift.add_argument("uri")
    pipeline = sub.add_parser("pipeline", add_help=False)
    pipeline.add_argument("--notebook")
    return parser


Locate = Callable[[str | None], Path]  # --notebook value (or None: this kernel's) -> the notebook file


def _this_pipeline(notebook: str | None, locate: Locate) -> str | None:
    """The pipeline name of this kernel's notebook, or None where the kernel cannot say which notebook it is."""
    from nbmlops.pipeline import load_pipeline

    try:
        path = locate(notebook)
    except NbmlopsError:
        if notebook:
            raise
        return None
    return load_pipeline(str(path)).name


def show(line: str, locate: Locate) -> Any:
    """The widget the words after `%nbmlops` ask for; `locate` finds the notebook (magics.find_notebook)."""
    try:
        words = shlex.split(line)
    except ValueError as exc:
        raise NbmlopsError(f"%nbmlops: can't parse '{line}': {exc}") from None
    args = _parser().parse_args(words)
    if args.command == "runs":
        pipeline = args.pipeline or (None if args.all else _this_pipeline(args.notebook, locate))
        return _widget("RunsBrowser")(pipeline=pipeline, filter=args.filter_, order_by=args.order_by)
    if args.command == "models":
        return _widget("ModelRegistry")(args.name)
    if args.command == "features":
        return _widget("FeatureBrowser")(args.name)
    if args.command == "drift":
        history = _widget("DriftDashboard").history
        return _widget("Deferred")(f"Drift of {args.uri}", lambda: history(args.uri))
    if args.command == "pipeline":
        return _widget("PipelineView")(locate(args.notebook))
    raise NbmlopsError(f"%nbmlops needs a command: {', '.join(COMMANDS)} (or serve)")
