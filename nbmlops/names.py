"""The one rule for names that become paths: steps, pipelines, feature sets, models, schedules.

A name is checked where it is read (notebook tags, a hand-edited pipeline.json, an API body, a Python call), so
nothing later joins an unchecked name onto a folder: 1 to 100 ASCII letters, digits, '_', '-' or '.', not starting
with '.' or '-' (no hidden files, no option look-alikes, never `.` or `..`), no '/' or '\\' anywhere. Kinds whose
references use '.' as a separator (steps, feature sets: `set.feature`) pass `dots=False`.

Also the rule for cell numbers in messages: JupyterLab counts cells from 1 ("Cell 15" in its status bar), so every
message says `cell_label(index)` (defined in nbmlops.errors, whose messages use it), while the 0-based index stays
the value that code and the API pass around.
"""

from __future__ import annotations

import re

from nbmlops.errors import NbmlopsError, cell_label

__all__ = ["MAX_NAME_LENGTH", "cell_label", "check_name", "name_problem"]

MAX_NAME_LENGTH = 100
_WITH_DOTS = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.\-]*")
_WITHOUT_DOTS = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_\-]*")


def name_problem(name: object, *, dots: bool = True) -> str | None:
    """Why `name` breaks the rule (a phrase to put in a message), or None when it is a valid name."""
    if not isinstance(name, str):
        return f"must be a string, not {type(name).__name__}"
    if not name:
        return "is empty"
    if len(name) > MAX_NAME_LENGTH:
        return f"is {len(name)} characters long (at most {MAX_NAME_LENGTH})"
    if not (_WITH_DOTS if dots else _WITHOUT_DOTS).fullmatch(name):
        allowed = "letters, digits, '_', '-' or '.'" if dots else "letters, digits, '_' or '-'"
        return f"must be ASCII {allowed}, not starting with " + ("'.' or '-'" if dots else "'-'")
    return None


def check_name(name: object, what: str, *, dots: bool = True, error: type[NbmlopsError] = NbmlopsError) -> str:
    """`name` if it follows the rule; otherwise `error` saying which `what` (e.g. "step", "feature set") and why."""
    problem = name_problem(name, dots=dots)
    if problem is not None:
        shown = name[:40] + "…" if isinstance(name, str) and len(name) > 40 else name
        raise error(f"{what} name {shown!r} {problem}")
    return name  # type: ignore[return-value]  # a str: name_problem checked it
