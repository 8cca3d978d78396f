"""The step options' vocabulary: what `retries:N`, `cpus:N`, `gpus:N`, `memory:SIZE` and `nocache` may hold, and
the step-name rule. The grammar reads them from tags and magics, a hand-edited pipeline.json is checked against
them (pipeline.spec_check) and the Ray backend turns sizes into bytes; a base module so that loading a saved
spec doesn't import the notebook package (the analysis is ~12 ms of a `nbmlops run`)."""

from __future__ import annotations

import re

from nbmlops.errors import NbmlopsError
from nbmlops.names import name_problem

__all__ = ["LIMITS", "MEMORY", "OPTION_KEYS", "STEP_NAME", "parse_memory", "step_name_problem"]

# the step grammar's names: the path rule of nbmlops.names (no dots), starting with a letter or '_'
STEP_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_\-]*$")
MEMORY = re.compile(r"^[0-9]+(\.[0-9]+)?\s*([KMGT]i?B?|[kmgt]i?b?|B)?$")
# the largest option values taken: beyond them a value is a typo, not a request any backend could honour
LIMITS = {"retries": 100, "cpus": 4096, "gpus": 1024, "memory": 2**50}  # memory: 1 PiB
SIZE = re.compile(r"^\s*([0-9]+(?:\.[0-9]+)?)\s*([kmgt]?)(i?)(b?)\s*$", re.IGNORECASE)
OPTION_KEYS = ("retries", "cpus", "gpus", "memory", "nocache")


def step_name_problem(name: object) -> str | None:
    """Why `name` is not a step name (nbmlops.names' rule without dots, starting with a letter or '_'), or None."""
    problem = name_problem(name, dots=False)
    if problem is None and not STEP_NAME.match(name):  # type: ignore[arg-type]  # a str: name_problem checked
        return "must be letters, digits, '_' or '-', starting with a letter or '_'"
    if problem is not None and problem.startswith("must be ASCII"):
        return "must be letters, digits, '_' or '-', starting with a letter or '_'"
    return problem


def parse_memory(size: str | int | float) -> int:
    """Bytes from a SIZE option: `512M`/`2G` are powers of 1000, `512Mi`/`2GiB` powers of 1024, a bare
    number is bytes (Kubernetes' convention, which the `memory:` tag follows)."""
    if isinstance(size, int | float):
        return int(size)
    match = SIZE.match(str(size))
    if not match:
        raise NbmlopsError(f"memory '{size}' is not a size such as 512Mi, 2G or 4GiB")
    number, unit, binary, _ = match.groups()
    power = " kmgt".index(unit.lower()) if unit else 0
    return int(float(number) * (1024 if binary else 1000) ** power)
