"""Checking a pipeline spec read from JSON (a committed or hand-edited pipeline.json, a cached spec) field by field,
before any of it is used: names that become paths follow nbmlops.names (steps as the step grammar has them),
variable names are identifiers (they name value files), step options are what the tags allow. A SpecError names
the field, e.g. `pipeline.json: steps[2].name '../../outside' must be ASCII letters, ...`.
"""

from __future__ import annotations

import math
from typing import Any

from nbmlops.errors import SpecError
from nbmlops.names import MAX_NAME_LENGTH, name_problem
from nbmlops.step_options import LIMITS, MEMORY, OPTION_KEYS, parse_memory, step_name_problem

CELL_KINDS = ("step", "setup", "parameters")


def check_spec_data(data: dict[str, Any], where: str) -> None:
    """Raise SpecError at the first field of `data` that a spec can't hold."""
    check = _Checker(where)
    check.name("name", data.get("name"))
    for key in ("notebook_path", "notebook_sha256"):
        check.text(key, data.get(key))
    if data.get("kernel_name") is not None:
        check.text("kernel_name", data["kernel_name"])
    for i, warning in enumerate(check.items("warnings", data.get("warnings", []))):
        check.text(f"warnings[{i}]", warning)
    for i, param in enumerate(check.items("parameters", data.get("parameters"))):
        field = f"parameters[{i}]"
        check.mapping(field, param)
        check.variable(f"{field}.name", param.get("name"))
        check.text(f"{field}.type", param.get("type"))
        check.index(f"{field}.cell", param.get("cell"))
    for i, cell in enumerate(check.items("setup", data.get("setup"))):
        check.cell(f"setup[{i}]", cell)
    steps = check.items("steps", data.get("steps"))
    if not steps:
        check.fail("steps", "is empty: a pipeline has at least one step")
    names: list[str] = []
    for i, step in enumerate(steps):
        check.mapping(f"steps[{i}]", step)
        name = step.get("name")
        problem = step_name_problem(name) if isinstance(name, str) else "must be a string"
        if problem:
            check.fail(f"steps[{i}].name", f"{_shown(name)} {problem}")
        if name in names:
            check.fail(f"steps[{i}].name", f"'{name}' is the name of an earlier step too")
        names.append(name)
    for i, step in enumerate(steps):
        field = f"steps[{i}]"
        cells = check.items(f"{field}.cells", step.get("cells"))
        if not cells:
            check.fail(f"{field}.cells", "is empty: a step has at least one cell")
        for j, cell in enumerate(cells):
            check.cell(f"{field}.cells[{j}]", cell)
        inputs = step.get("inputs", {})
        check.mapping(f"{field}.inputs", inputs)
        for variable, producer in inputs.items():
            check.variable(f"{field}.inputs", variable)
            if producer not in names:
                check.fail(f"{field}.inputs.{variable}", f"{_shown(producer)} is not a step of the pipeline")
        for key in ("params", "outputs"):
            for j, variable in enumerate(check.items(f"{field}.{key}", step.get(key, []))):
                check.variable(f"{field}.{key}[{j}]", variable)
        for j, upstream in enumerate(check.items(f"{field}.upstream", step.get("upstream", []))):
            if upstream not in names:
                check.fail(f"{field}.upstream[{j}]", f"{_shown(upstream)} is not a step of the pipeline")
        options = step.get("options", {})
        check.mapping(f"{field}.options", options)
        for key, value in options.items():
            problem = option_problem(key, value)
            if problem:
                check.fail(f"{field}.options.{_shown(key, quote=False)}", problem)


def option_problem(key: str, value: Any) -> str | None:
    """Why `value` can't be step option `key` as a spec stores it (what the tags parse to), or None."""
    if key not in OPTION_KEYS:
        return f"is not a step option ({', '.join(OPTION_KEYS)})"
    if key == "nocache":
        return None if value is True else "must be true"
    if key in ("retries", "gpus"):
        ok = isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= LIMITS[key]
        return None if ok else f"must be a whole number from 0 to {LIMITS[key]}"
    if key == "cpus":
        ok = (
            isinstance(value, int | float)
            and not isinstance(value, bool)
            and math.isfinite(value)
            and 0 < value <= LIMITS["cpus"]
        )
        return None if ok else f"must be a number above 0 and at most {LIMITS['cpus']}"
    ok = (
        isinstance(value, str)
        and len(value) <= 30
        and MEMORY.match(value) is not None
        and 0 < parse_memory(value) <= LIMITS["memory"]
    )
    return None if ok else "must be a size such as 512Mi, 2G or 4GiB (at most 1 PiB)"


def _shown(value: Any, quote: bool = True) -> str:
    text = value if isinstance(value, str) else repr(value)
    text = text if len(text) <= 40 else text[:40] + "…"
    return f"'{text}'" if quote and isinstance(value, str) else text


class _Checker:
    def __init__(self, where: str) -> None:
        self.where = where

    def fail(self, field: str, problem: str) -> None:
        raise SpecError(f"{self.where}: {field} {problem}")

    def text(self, field: str, value: Any) -> None:
        if not isinstance(value, str):
            self.fail(field, f"must be a string, not {type(value).__name__}")

    def mapping(self, field: str, value: Any) -> None:
        if not isinstance(value, dict):
            self.fail(field, f"must be an object, not {type(value).__name__}")

    def items(self, field: str, value: Any) -> list[Any]:
        if not isinstance(value, list):
            self.fail(field, f"must be a list, not {type(value).__name__}")
        return value

    def index(self, field: str, value: Any) -> None:
        if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value < 10**9:
            self.fail(field, f"must be a cell index (a whole number from 0), not {_shown(value)}")

    def name(self, field: str, value: Any) -> None:
        problem = name_problem(value)
        if problem:
            self.fail(field, f"{_shown(value)} {problem}")

    def variable(self, field: str, value: Any) -> None:
        if not isinstance(value, str) or not value.isidentifier() or len(value) > 4 * MAX_NAME_LENGTH:
            self.fail(field, f"{_shown(value)} is not a Python variable name")

    def cell(self, field: str, cell: Any) -> None:
        self.mapping(field, cell)
        self.index(f"{field}.index", cell.get("index"))
        for key in ("source", "code"):
            self.text(f"{field}.{key}", cell.get(key))
        if cell.get("kind", "step") not in CELL_KINDS:
            self.fail(f"{field}.kind", f"{_shown(cell.get('kind'))} is not one of {', '.join(CELL_KINDS)}")
