"""Parameter values from the command line (`-p name=value`), parsed to the type of each default."""

from __future__ import annotations

import ast
import json
from collections.abc import Iterable
from typing import Any

from nbmlops.errors import ParameterError
from nbmlops.pipeline.spec import Parameter, PipelineSpec

TRUE = {"true", "1", "yes", "y", "on"}
FALSE = {"false", "0", "no", "n", "off"}


def parse_value(param: Parameter, text: str) -> Any:
    """`text` as a value of the parameter's type; a ParameterError that says what was expected otherwise."""
    kind = param.type
    try:
        if kind == "bool":
            lowered = text.strip().lower()
            if lowered in TRUE | FALSE:
                return lowered in TRUE
            raise ValueError
        if kind == "int":
            return int(text)
        if kind == "float":
            return float(text)
        if kind == "str":
            return text
        if kind in ("list", "dict", "tuple"):
            value = _literal(text)
            expected = {"list": list, "dict": dict, "tuple": tuple}[kind]
            if isinstance(value, list) and kind == "tuple":
                value = tuple(value)
            if not isinstance(value, expected):
                raise ValueError
            return value
        return _literal(text, fallback_to_text=True)  # default None or another literal type
    except (ValueError, SyntaxError):
        example = {"bool": "true or false", "int": "a whole number", "float": "a number",
                   "list": "a list such as [1, 2]", "dict": 'a dict such as {"a": 1}',
                   "tuple": "a tuple such as (1, 2)"}.get(kind, kind)
        raise ParameterError(f"parameter '{param.name}': '{text}' is not {example} (the default is "
                             f"{param.default!r})") from None


def _literal(text: str, fallback_to_text: bool = False) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        pass
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError):
        if fallback_to_text:
            return text
        raise


def split_assignment(item: str) -> tuple[str, str]:
    name, sep, value = item.partition("=")
    if not sep or not name.strip():
        raise ParameterError(f"'-p {item}': write parameters as name=value")
    return name.strip(), value


def resolve_parameters(spec: PipelineSpec, overrides: Iterable[str] | dict[str, Any] | None,
                       base: dict[str, Any] | None = None) -> dict[str, Any]:
    """The spec's defaults (or `base`) updated by `name=value` strings (parsed) or a dict of ready values."""
    values = {**spec.defaults, **(base or {})}
    for param in spec.parameters:  # JSON (pipeline.json, a run record) turns a tuple default into a list
        if param.type == "tuple" and isinstance(values.get(param.name), list):
            values[param.name] = tuple(values[param.name])
    overrides = overrides or {}
    by_name = {p.name: p for p in spec.parameters}
    items = overrides.items() if isinstance(overrides, dict) else (split_assignment(i) for i in overrides)
    for name, value in items:
        if name not in by_name:
            known = ", ".join(by_name) or "none: the notebook has no parameters cell"
            raise ParameterError(f"unknown parameter '{name}' (parameters of '{spec.name}': {known})")
        values[name] = parse_value(by_name[name], value) if isinstance(value, str) else value
    return values
