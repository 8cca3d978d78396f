"""Static checks of a saved notebook: what `nbmlops check` (CI, pre-commit) reports and the kernel's pre-flight
check builds on. No kernel is needed: the notebook is compiled and its cells are read as the pipeline will see them.

What it looks for:
  notebook  the notebook doesn't compile (unknown names, cycles, tags that don't parse, ...)
  dataflow  the compiler's warnings: where the pipeline's values would differ from a top-to-bottom run
            (a value changed in place by a later step, `import *` in a step)
  install   `!pip install` / `%pip` / `%conda` lines: the pipeline would reinstall on every run
  path      absolute paths (/home/..., /Users/..., C:\\...) that won't exist on another machine
  magic     `%pipeline` lines inside a step: the pipeline would run them too
Cells are numbered from 1, as JupyterLab's status bar numbers them.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass, field
from pathlib import Path

from nbmlops.errors import NbmlopsError, NotebookError, cell_label
from nbmlops.notebook import Cell, Notebook, cell_role, read_notebook
from nbmlops.notebook.ipython_syntax import to_python
from nbmlops.notebook.magic_code import expand_magics
from nbmlops.pipeline.compiler import compile_notebook
from nbmlops.pipeline.spec import PipelineSpec

PROBLEM = "problem"
NOTE = "note"

# `!pip install`, `!{sys.executable} -m pip install`, `!conda install`, `%pip ...`, `%conda ...`, `%mamba ...`
_INSTALL = re.compile(
    r"^\s*(?:%(?:pip|conda|mamba|micromamba|uv)\b"
    r"|!.*\b(?:pip3?|conda|mamba|micromamba|uv\s+pip|-m\s+pip)\s+install\b)"
)
# Paths that only exist on the machine that wrote them: user homes and Windows drives / shares.
_ABSOLUTE = re.compile(r"^(?:/home/|/Users/|/root/|/mnt/[a-z]/|/Volumes/|[A-Za-z]:[\\/]|\\\\[^\\]+\\)")
_QUOTED = re.compile(r"""(['"])((?:/home/|/Users/|/root/|[A-Za-z]:[\\/]).*?)\1""")
_PIPELINE_MAGIC = re.compile(r"^\s*%(?:pipeline|load_ext\s+nbmlops)\b")


@dataclass(frozen=True)
class Finding:
    kind: str  # marshal, missing, kernel, install, path, order, notebook, magic, dataflow
    message: str
    cell: int | None = None
    first_line: str = ""
    step: str | None = None
    name: str | None = None
    severity: str = PROBLEM  # "problem" (fix before running) or "note" (couldn't check, worth knowing)

    def where(self) -> str:
        if self.cell is None:
            return ""
        return cell_label(self.cell) + (f" `{self.first_line}`" if self.first_line else "")


@dataclass
class CellInfo:
    cell: Cell
    kind: str  # setup, parameters, step, skip
    step: str | None
    tree: ast.Module | None  # None when the cell doesn't parse (the compile error reports it)


def cell_infos(notebook: Notebook) -> list[CellInfo]:
    """Every code cell with its role; tolerant, because the checks should run even if compiling fails."""
    code = [c for c in notebook.cells if c.cell_type == "code" and c.source.strip()]
    roles = []
    for cell in code:
        try:
            roles.append(cell_role(cell, notebook.path))
        except NotebookError:
            roles.append(None)
    has_steps = any(r is not None and r.kind == "step" for r in roles)
    infos: list[CellInfo] = []
    current: str | None = None if has_steps else "notebook"
    for cell, role in zip(code, roles, strict=True):
        kind = role.kind if role is not None else "continue"
        if kind == "step":
            current = role.step
        if kind == "continue":
            kind, step = ("setup", None) if current is None else ("step", current)
        else:
            step = current if kind == "step" else None
        try:
            code = to_python(role.code if role is not None else cell.source)
            tree = expand_magics(ast.parse(code), code)
        except (SyntaxError, ValueError):
            tree = None
        infos.append(CellInfo(cell, kind, step, tree))
    return infos


def text_checks(infos: list[CellInfo]) -> list[Finding]:
    findings: list[Finding] = []
    for info in infos:
        if info.kind == "skip":
            continue  # left out of the pipeline: installs and local paths there don't travel
        cell = info.cell
        for number, line in enumerate(cell.source.splitlines(), 1):
            if _INSTALL.match(line):
                findings.append(
                    Finding(
                        "install",
                        f"line {number} installs packages (`{line.strip()[:60]}`): "
                        "the pipeline would run it on every run; list the package in "
                        "requirements and drop the line (or mark the cell %%skip)",
                        cell.index,
                        cell.first_line,
                        info.step,
                    )
                )
            elif _PIPELINE_MAGIC.match(line) and info.kind == "step":
                findings.append(
                    Finding(
                        "magic",
                        f"line {number} `{line.strip()[:60]}` is part of step "
                        f"'{info.step}', so the pipeline would run it too; mark the "
                        "cell %%skip",
                        cell.index,
                        cell.first_line,
                        info.step,
                    )
                )
        for path in absolute_paths(info):
            findings.append(
                Finding(
                    "path",
                    f"absolute path '{path}' won't exist on another machine or for "
                    "another user; make it relative to the notebook or a parameter",
                    cell.index,
                    cell.first_line,
                    info.step,
                )
            )
    return findings


def absolute_paths(info: CellInfo) -> list[str]:
    if info.tree is not None:
        strings = [n.value for n in ast.walk(info.tree) if isinstance(n, ast.Constant) and isinstance(n.value, str)]
    else:
        strings = [m.group(2) for m in _QUOTED.finditer(info.cell.source)]
    return list(dict.fromkeys(s[:80] for s in strings if _ABSOLUTE.match(s)))


@dataclass
class StaticReport:
    """A notebook's static findings, with its compiled spec (None when it doesn't compile)."""

    notebook: str
    spec: PipelineSpec | None
    error: NbmlopsError | None
    infos: list[CellInfo]
    findings: list[Finding] = field(default_factory=list)


def check_static(notebook: str | Path | Notebook) -> StaticReport:
    """Compile the notebook and read its cells: every finding above, in cell order (compile errors first)."""
    nb = notebook if isinstance(notebook, Notebook) else read_notebook(notebook)
    infos = cell_infos(nb)
    spec: PipelineSpec | None = None
    error: NbmlopsError | None = None
    try:
        spec = compile_notebook(nb)
    except NbmlopsError as exc:
        error = exc
    report = StaticReport(nb.path, spec, error, infos)
    if error is not None:
        reason = getattr(error, "reason", None) if getattr(error, "cell", None) is not None else None
        report.findings.append(
            Finding(
                "notebook",
                f"the notebook doesn't compile: {reason or error}",
                getattr(error, "cell", None),
                getattr(error, "first_line", None) or "",
            )
        )
    if spec is not None:
        report.findings.extend(Finding("dataflow", warning) for warning in spec.warnings)
    report.findings.extend(text_checks(infos))
    return report


def is_tagged(notebook: Notebook) -> bool:
    """Whether the notebook names steps (tags, %%step magics or Kale's): what `nbmlops check` looks for in a
    folder, where exploration notebooks without steps are not pipelines yet."""
    for cell in notebook.cells:
        if cell.cell_type != "code":
            continue
        try:
            if cell_role(cell, notebook.path).kind == "step":
                return True
        except NotebookError:
            return True  # a step tag that doesn't parse: the check must report it
    return False
