"""Reading notebooks: the step grammar (tags, magics, Kale's dialect) and static dataflow analysis.

The names below load with their module on first use (PEP 562): reading a saved pipeline.json and choosing how
to run a plain step (ipython_syntax) must not pay for the dataflow analysis they don't run (~9 ms of a run).
"""

from __future__ import annotations

import importlib
from typing import Any

_MODULE_OF = {
    **dict.fromkeys(("Delete", "Mutate", "Read", "StarImport", "Write", "cell_events"), "dataflow"),
    **dict.fromkeys(("CellRole", "cell_role"), "grammar"),
    "to_python": "ipython_syntax",
    **dict.fromkeys(("MagicError", "expand_magics"), "magic_code"),
    **dict.fromkeys(("Cell", "Notebook", "parse_notebook", "read_notebook"), "reader"),
}


def __getattr__(name: str) -> Any:
    module = _MODULE_OF.get(name)
    if module is None:
        raise AttributeError(f"module 'nbmlops.notebook' has no attribute '{name}'")
    value = getattr(importlib.import_module(f"nbmlops.notebook.{module}"), name)
    globals()[name] = value  # once loaded, a plain module attribute
    return value


__all__ = [
    "Cell",
    "CellRole",
    "Delete",
    "MagicError",
    "Mutate",
    "Notebook",
    "Read",
    "StarImport",
    "Write",
    "cell_events",
    "cell_role",
    "expand_magics",
    "parse_notebook",
    "read_notebook",
    "to_python",
]
