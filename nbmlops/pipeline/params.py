"""Parameter values from the command line (`-p name=value`), parsed to the type of each default.

One parameter given twice (`-p n=1 -p n=2`) is an error, not the last one winning: a repeated name is far more
often a mistake in a long command or script than an intended override. Ready values (a dict from Python or a
JSON body) are checked against the type of the default as strictly as parsed text: `[1]`, `1.5` or `true` for
an int parameter are errors naming the parameter. Floats are finite: `nan` and `inf` are refused.
"""

from __future__ import annotations

import ast
import json
import math
import numbers
from collections.abc import Iterable
from typing import Any

from nbmlops.errors import ParameterError
from nbmlops.pipeline.spec import Parameter, PipelineSpec

MAX_INT = 2**63 - 1  # what the store (and numpy, most libraries) hold as an integer
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
            number = int(text)
            if abs(number) > MAX_INT:
                raise ParameterError(
                    f"parameter '{param.name}': {text[:40]} is out of range (at most {MAX_INT:,} either way)"
                )
            return number
        if kind == "float":
            number = float(text)
            if not math.isfinite(number):
                raise ParameterError(f"parameter '{param.name}': '{text[:40]}' is not a finite number")
            return number
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
        example = {
            "bool": "true or false",
            "int": "a whole number",
            "float": "a number",
            "list": "a list such as [1, 2]",
            "dict": 'a dict such as {"a": 1}',
            "tuple": "a tuple such as (1, 2)",
        }.get(kind, kind)
        shown = text if len(text) <= 40 else text[:40] + "…"
        raise ParameterError(
            f"parameter '{param.name}': '{shown}' is not {example} (the default is {param.default!r})"
        ) from None


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


_EXPECTED = {
    "int": f"a whole number (at most {MAX_INT:,} either way)",
    "float": "a finite number",
    "bool": "true or false",
    "str": "a string",
    "list": "a list",
    "dict": "an object",
    "tuple": "a list",
}


def check_value(param: Parameter, value: Any) -> Any:
    """A ready (not text) value for `param`, checked against the type of its default: the value to use, or a
    ParameterError naming the parameter. An int is a float's value too (as JSON has one kind of number)."""
    kind = param.type
    real = isinstance(value, numbers.Real) and not isinstance(value, bool)
    ok = {
        "int": isinstance(value, numbers.Integral) and not isinstance(value, bool) and abs(value) <= MAX_INT,
        "float": real and math.isfinite(value),
        "bool": isinstance(value, bool),
        "str": isinstance(value, str),
        "list": isinstance(value, list),
        "dict": isinstance(value, dict),
        "tuple": isinstance(value, list | tuple),
    }.get(kind, True)  # a default of None or another literal type takes any value
    if not ok:
        shown = repr(value)
        shown = shown if len(shown) <= 40 else shown[:40] + "…"
        raise ParameterError(
            f"parameter '{param.name}': {shown} is not {_EXPECTED[kind]} (the default is {param.default!r})"
        )
    return tuple(value) if kind == "tuple" else value


def check_unique(items: Iterable[str]) -> None:
    """Refuse a parameter given twice in `name=value` items (see the module docstring for why)."""
    seen: set[str] = set()
    for item in items:
        name = split_assignment(item)[0]
        if name in seen:
            raise ParameterError(
                f"parameter '{name}' is given twice (-p {name}=...); give it once (a sweep takes "
                f"several values in one: -p {name}=a,b,c)"
            )
        seen.add(name)


def split_assignment(item: str) -> tuple[str, str]:
    name, sep, value = item.partition("=")
    if not sep or not name.strip():
        raise ParameterError(f"'-p {item}': write parameters as name=value")
    return name.strip(), value


def resolve_parameters(
    spec: PipelineSpec, overrides: Iterable[str] | dict[str, Any] | None, base: dict[str, Any] | None = None
) -> dict[str, Any]:
    """The spec's defaults (or `base`) updated by `name=value` strings (parsed) or a dict of ready values."""
    values = {**spec.defaults, **(base or {})}
    for param in spec.parameters:  # JSON (pipeline.json, a run record) turns a tuple default into a list
        if param.type == "tuple" and isinstance(values.get(param.name), list):
            values[param.name] = tuple(values[param.name])
    overrides = overrides or {}
    by_name = {p.name: p for p in spec.parameters}
    if not isinstance(overrides, dict):
        overrides = list(overrides)
        check_unique(overrides)
    items = overrides.items() if isinstance(overrides, dict) else (split_assignment(i) for i in overrides)
    for name, value in items:
        if name not in by_name:
            known = ", ".join(by_name) or "none: the notebook has no parameters cell"
            shown = name if isinstance(name, str) and len(name) <= 60 else repr(name)[:60] + "…"
            raise ParameterError(f"unknown parameter '{shown}' (parameters of '{spec.name}': {known})")
        param = by_name[name]
        values[name] = parse_value(param, value) if isinstance(value, str) else check_value(param, value)
    return values
