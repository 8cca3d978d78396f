"""Turning IPython syntax (`%magic`, `!shell`, `obj?`) into plain Python, only when a cell has any."""

from __future__ import annotations

import re

_IPY_LINE = re.compile(r"^\s*(%|!|\?)|(\?\s*$)|=\s*[!%]")
# nbmlops's own lines act on the pipeline from a live kernel; inside the pipeline they are blank lines
# (plain Python) or comments (kernel source)
_NBMLOPS_MAGIC = re.compile(r"^\s*%%(step|setup|skip)\b")
_NBMLOPS_CONTROL = re.compile(r"^\s*%(load_ext|reload_ext|unload_ext)\s+nbmlops\s*$|^\s*%pipeline\b")


def has_ipython_syntax(source: str) -> bool:
    # every pattern of _IPY_LINE needs a '%', '!' or '?': most cells have none, and `in` is far cheaper
    # than a regex search per line
    if "%" not in source and "!" not in source and "?" not in source:
        return False
    return any(_IPY_LINE.search(line) for line in source.splitlines())


# IPython's automagic: a one-line cell that starts with a line magic's name and isn't Python (`ls data`) runs the
# magic (IPython prefilters single-line cells only). Tried only when the cell doesn't parse as it is, so Python
# that shadows a magic's name stays Python.
_AUTOMAGIC = re.compile(
    r"^(\s*)(ls|cd|pwd|pip|conda|env|who|whos|who_ls|history|alias|pushd|popd|dhist|bookmark|"
    r"cat|ll|lf|lk|ldir|mkdir|rmdir|rm|mv|cp|clear|lsmagic|load_ext|reload_ext|matplotlib|"
    r"config|time|timeit|prun|run|reset|xdel|precision|store|sx|system)\b(?!\s*=|[.(\[,:)])",
    re.MULTILINE,
)


def to_python(source: str) -> str:
    """Plain Python for a cell's source; line numbers are kept wherever IPython keeps them."""
    if not has_ipython_syntax(source):
        if "\n" in source.strip() or not _AUTOMAGIC.match(source) or _parses(source):
            return source
        source = _AUTOMAGIC.sub(r"\1%\2", source)
    lines = ["" if _NBMLOPS_CONTROL.match(line) else line for line in source.split("\n")]
    source = "\n".join(lines)
    from IPython.core.inputtransformer2 import TransformerManager  # lazy: costs ~0.1 s to import

    return TransformerManager().transform_cell(source)


def _parses(source: str) -> bool:
    import ast

    try:
        ast.parse(source)
    except SyntaxError:
        return False
    return True


def kernel_code(source: str) -> str:
    """A cell as a kernel runs it: as the user wrote it (`!cmd` and `%magic` included), nbmlops's own magic and
    control lines turned into comments so the line numbers still match the original cell."""
    lines = source.split("\n")
    for i, line in enumerate(lines):
        if not line.strip():
            continue
        if _NBMLOPS_MAGIC.match(line):
            lines[i] = "# " + line
        break
    return "\n".join("# " + line if _NBMLOPS_CONTROL.match(line) else line for line in lines)
