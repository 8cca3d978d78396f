"""Turning IPython syntax (`%magic`, `!shell`, `obj?`) into plain Python, only when a cell has any."""

from __future__ import annotations

import re

# Cell magics whose body is ordinary Python: the pipeline runs the body itself, so names flow as usual.
PYTHON_BODY_CELL_MAGICS = {"time", "timeit", "capture", "prun"}
_IPY_LINE = re.compile(r"^\s*(%|!|\?)|(\?\s*$)|=\s*[!%]")
# nbmlops's own controls act on the pipeline from the kernel; inside the pipeline they are blank lines
_NBMLOPS_CONTROL = re.compile(r"^\s*%(load_ext|reload_ext|unload_ext)\s+nbmlops\s*$|^\s*%pipeline\b")


def has_ipython_syntax(source: str) -> bool:
    # every pattern of _IPY_LINE needs a '%', '!' or '?': most cells have none, and `in` is far cheaper
    # than a regex search per line
    if "%" not in source and "!" not in source and "?" not in source:
        return False
    return any(_IPY_LINE.search(line) for line in source.splitlines())


def to_python(source: str) -> str:
    """Plain Python for a cell's source; line numbers are kept wherever IPython keeps them."""
    if not has_ipython_syntax(source):
        return source
    lines = ["" if _NBMLOPS_CONTROL.match(line) else line for line in source.split("\n")]
    source = "\n".join(lines)
    for i, line in enumerate(lines):
        stripped = line.strip()
        if not stripped:
            continue
        if stripped.startswith("%%"):
            magic = stripped[2:].split(None, 1)[0] if len(stripped) > 2 else ""
            if magic in PYTHON_BODY_CELL_MAGICS:
                # keep the body, blank the magic line so the cell's line numbers still match
                lines[i] = ""
                return to_python("\n".join(lines))
        break
    from IPython.core.inputtransformer2 import TransformerManager  # lazy: costs ~0.1 s to import

    return TransformerManager().transform_cell(source)
