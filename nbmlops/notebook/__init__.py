"""Reading notebooks: the step grammar (tags, magics, Kale's dialect) and static dataflow analysis."""

from nbmlops.notebook.dataflow import Delete, Mutate, Read, StarImport, Write, cell_events
from nbmlops.notebook.grammar import CellRole, cell_role
from nbmlops.notebook.ipython_syntax import to_python
from nbmlops.notebook.magic_code import MagicError, expand_magics
from nbmlops.notebook.reader import Cell, Notebook, parse_notebook, read_notebook

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
