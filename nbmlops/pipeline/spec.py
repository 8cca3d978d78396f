"""PipelineSpec: the plain, versioned, JSON-serialisable pipeline every target and backend works from."""

from __future__ import annotations

import copy
import json
import os
from dataclasses import dataclass, field, fields, is_dataclass
from typing import Any

from nbmlops.errors import SpecError

SPEC_VERSION = 1
_IMMUTABLE = (str, int, float, bool, type(None))
_FIELD_NAMES: dict[type, tuple[str, ...]] = {}


def _plain(value: Any) -> Any:
    """What dataclasses.asdict gives, without its copy.deepcopy of every string and number (most of the 5 ms
    it took on a 500-cell notebook): immutable values are shared, containers are new, anything else is copied."""
    if isinstance(value, _IMMUTABLE):
        return value
    if isinstance(value, list):
        return [_plain(item) for item in value]
    if isinstance(value, dict):
        return {_plain(key): _plain(item) for key, item in value.items()}
    if is_dataclass(value) and not isinstance(value, type):
        names = _FIELD_NAMES.get(type(value))
        if names is None:
            names = _FIELD_NAMES[type(value)] = tuple(f.name for f in fields(value))
        return {name: _plain(getattr(value, name)) for name in names}
    return copy.deepcopy(value)


@dataclass
class Parameter:
    name: str
    default: Any
    type: str  # int, float, str, bool, list, dict, NoneType
    cell: int


@dataclass
class CellCode:
    """One notebook cell as the pipeline runs it: `code` is plain Python with the cell's line numbers."""

    index: int
    source: str
    code: str
    kind: str = "step"  # step, setup or parameters


@dataclass
class Step:
    name: str
    cells: list[CellCode]
    inputs: dict[str, str] = field(default_factory=dict)  # variable -> step that produces it
    params: list[str] = field(default_factory=list)  # pipeline parameters the step (or its setup) reads
    outputs: list[str] = field(default_factory=list)  # variables later steps read from this one
    upstream: list[str] = field(default_factory=list)
    options: dict[str, Any] = field(default_factory=dict)

    @property
    def first_cell(self) -> int:
        return self.cells[0].index


@dataclass
class PipelineSpec:
    name: str
    notebook_path: str
    notebook_sha256: str
    parameters: list[Parameter]
    setup: list[CellCode]  # setup and parameters cells, in notebook order; re-run before every step
    steps: list[Step]
    warnings: list[str] = field(default_factory=list)
    kernel_name: str | None = None
    spec_version: int = SPEC_VERSION

    def step(self, name: str) -> Step:
        for step in self.steps:
            if step.name == name:
                return step
        raise SpecError(f"pipeline '{self.name}' has no step '{name}' (steps: {', '.join(s.name for s in self.steps)})")

    @property
    def defaults(self) -> dict[str, Any]:
        return {p.name: p.default for p in self.parameters}

    def to_dict(self) -> dict[str, Any]:
        return _plain(self)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=1)

    def save(self, path: str | os.PathLike[str]) -> None:
        """Write the spec; the notebook path is stored relative to the file, so the pair can move together."""
        # os.path rather than pathlib, which `nbmlops compile` would import for this alone (7 ms)
        data = self.to_dict()
        notebook = os.path.realpath(self.notebook_path)
        data["notebook_path"] = os.path.relpath(notebook, os.path.dirname(os.path.realpath(path)))
        with open(path, "w") as handle:
            handle.write(json.dumps(data, indent=1))

    @classmethod
    def from_dict(cls, data: dict[str, Any], where: str = "pipeline spec") -> PipelineSpec:
        """The spec in `data` (a parsed pipeline.json), every field checked (spec_check): a hand-edited file
        is refused with a SpecError naming the field, never run with a name that escapes its folder."""
        if not isinstance(data, dict) or "steps" not in data:
            raise SpecError(f"{where}: not a pipeline spec (no 'steps')")
        version = data.get("spec_version")
        if version != SPEC_VERSION:
            raise SpecError(
                f"{where}: spec_version {str(version)[:20]} is not supported (this nbmlops reads "
                f"{SPEC_VERSION}); recompile it with `nbmlops compile`"
            )
        from nbmlops.pipeline.spec_check import check_spec_data  # here: a compile never reads a spec file

        check_spec_data(data, where)
        try:
            steps = [Step(**{**s, "cells": [CellCode(**c) for c in s["cells"]]}) for s in data["steps"]]
            return cls(
                **{
                    **data,
                    "parameters": [Parameter(**p) for p in data["parameters"]],
                    "setup": [CellCode(**c) for c in data["setup"]],
                    "steps": steps,
                }
            )
        except (TypeError, KeyError) as exc:
            raise SpecError(f"{where}: malformed spec ({exc})") from None

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> PipelineSpec:
        from pathlib import Path  # here: compiling needs no pathlib

        path = Path(path)
        try:
            data = json.loads(path.read_text())
        except FileNotFoundError:
            raise SpecError(f"{path}: no such file") from None
        except IsADirectoryError:
            raise SpecError(f"{path}: is a folder, not a pipeline spec") from None
        except OSError as exc:
            raise SpecError(f"{path}: can't be read ({exc.strerror})") from None
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise SpecError(f"{path}: not valid JSON ({exc})") from None
        except RecursionError:
            raise SpecError(f"{path}: not a pipeline spec (its JSON is nested too deep)") from None
        spec = cls.from_dict(data, str(path))
        spec.notebook_path = str((path.parent / spec.notebook_path).resolve())
        return spec
