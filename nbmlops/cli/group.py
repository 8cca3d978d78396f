"""The click group every `nbmlops` command group uses: errors a user caused are one line, never a traceback.

An NbmlopsError prints `error: ...` and exits 2; a failed pipeline step also shows its own traceback and how to
resume, and exits 1. Sub-groups use it too, so they behave the same when invoked on their own (tests, scripts).
"""

from __future__ import annotations

import sys
from typing import Any

import click

from nbmlops.cli.commands import exit_code_of
from nbmlops.errors import NbmlopsError


class NbmlopsGroup(click.Group):
    """`lazy`: sub-command name -> "module:attribute", imported only when that command runs (or for --help),
    so `nbmlops run` doesn't pay for the imports of `nbmlops features` (click's documented lazy-group way)."""

    def __init__(self, *args: Any, lazy: dict[str, str] | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.lazy = dict(lazy or {})

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *self.lazy})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name in self.lazy and cmd_name not in self.commands:
            import importlib

            module, _, attribute = self.lazy[cmd_name].partition(":")
            self.add_command(getattr(importlib.import_module(module), attribute), cmd_name)
        return super().get_command(ctx, cmd_name)

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except NbmlopsError as exc:
            sys.exit(exit_code_of(exc))
