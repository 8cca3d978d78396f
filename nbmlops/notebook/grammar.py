"""The step grammar: what each cell is, from its tags (ours and Kale's) or its `%%step` magic line.

One grammar, three carriers: JupyterLab panel and hand-written tags both write `cell.metadata.tags`;
`%%step` / `%%setup` / `%%skip` magics carry the same meaning in the source.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from nbmlops.errors import NotebookError
from nbmlops.notebook.reader import Cell
from nbmlops.step_options import LIMITS, MEMORY, OPTION_KEYS, parse_memory, step_name_problem

WHOLE = re.compile(r"[0-9]+")

ROLE_TAGS = {
    "parameters": "parameters",
    "pipeline-parameters": "parameters",  # Kale
    "injected-parameters": "parameters",  # a papermill-executed notebook
    "setup": "setup",
    "imports": "setup",  # Kale
    "functions": "setup",  # Kale
    "skip": "skip",
}
MAGICS = ("%%step", "%%setup", "%%skip")


@dataclass
class CellRole:
    """What one code cell means to the pipeline."""

    kind: str  # "step" (starts/continues a named step), "continue", "setup", "parameters", "skip"
    step: str | None = None
    after: list[str] = field(default_factory=list)
    options: dict[str, object] = field(default_factory=dict)
    code: str = ""  # the source with a magic header line blanked, so line numbers still match the cell


def _error(cell: Cell, path: str, message: str) -> NotebookError:
    return NotebookError(message, path=path, cell=cell.index, first_line=cell.first_line)


def _check_step_name(name: str, cell: Cell, path: str, where: str | None, tag: bool = False) -> str:
    problem = step_name_problem(name)
    if problem is not None:
        shown = name if len(name) <= 40 else name[:40] + "…"
        where = where if where is None or len(where) <= 60 else where[:60] + "…"
        if tag:
            raise _error(cell, path, f"tag '{where}' needs a step name: this one {problem}")
        inside = f" in '{where}'" if where else ""
        raise _error(cell, path, f"'{shown}'{inside} is not a valid step name: it {problem}")
    return name


def _split_names(value: str, cell: Cell, path: str, what: str) -> list[str]:
    names = [n.strip() for n in value.split(",") if n.strip()]
    if not names:
        raise _error(cell, path, f"'{what}' needs at least one step name")
    for name in names:
        _check_step_name(name, cell, path, what)
    return names


def parse_option(key: str, value: str | None, cell: Cell, path: str) -> tuple[str, object]:
    """Validate one step option (`retries:N`, `cpus:N`, `gpus:N`, `memory:SIZE`, `nocache`)."""
    if key == "nocache":
        if value not in (None, ""):
            raise _error(cell, path, "'nocache' takes no value")
        return "nocache", True
    if value is None or value == "":
        raise _error(cell, path, f"'{key}' needs a value, e.g. '{key}:2'")
    shown = f"{key}:{value if len(value) <= 30 else value[:30] + '…'}"
    if key in ("retries", "gpus"):
        if not WHOLE.fullmatch(value) or len(value) > 6 or int(value) > LIMITS[key]:
            raise _error(cell, path, f"'{shown}' must be a whole number from 0 to {LIMITS[key]}")
        return key, int(value)
    if key == "cpus":
        try:
            number = float(value) if len(value) <= 30 else -1.0
        except ValueError:
            number = -1.0
        if not 0 < number <= LIMITS["cpus"]:  # NaN and infinity compare false: refused too
            raise _error(cell, path, f"'{shown}' must be a number above 0 and at most {LIMITS['cpus']}")
        return key, int(number) if number.is_integer() else number
    if key == "memory":
        if len(value) > 30 or not MEMORY.match(value) or not 0 < parse_memory(value) <= LIMITS["memory"]:
            raise _error(cell, path, f"'{shown}' is not a size such as 512Mi, 2G or 4GiB (above 0, at most 1 PiB)")
        return key, value
    raise _error(cell, path, f"unknown step option '{key}'")


def _role_from_tags(cell: Cell, path: str) -> CellRole | None:
    kinds: set[str] = set()
    steps: list[str] = []
    after: list[str] = []
    options: dict[str, object] = {}
    for tag in cell.tags:
        key, sep, value = tag.partition(":")
        key = key.strip().lower()
        value = value.strip()
        if key in ("step", "block"):
            if not value:
                raise _error(cell, path, f"tag '{tag}' needs a step name of letters, digits, '_' or '-'")
            steps.append(_check_step_name(value, cell, path, tag, tag=True))
        elif key in ("after", "prev"):
            after.extend(_split_names(value, cell, path, tag))
        elif key in OPTION_KEYS:
            name, parsed = parse_option(key, value if sep else None, cell, path)
            options[name] = parsed
        elif not sep and key in ROLE_TAGS:
            kinds.add(ROLE_TAGS[key])
        # any other tag (hide-input, remove-cell, Kale's limit:/annotation:) belongs to other tools
    if len(set(steps)) > 1:
        raise _error(cell, path, f"cell is tagged with several steps: {', '.join(steps)}")
    if len(kinds) > 1 or (kinds and steps):
        found = sorted(kinds) + [f"step:{s}" for s in steps]
        raise _error(cell, path, f"cell has conflicting tags: {', '.join(found)}")
    if steps:
        return CellRole("step", steps[0], after, options)
    if kinds:
        role = CellRole(kinds.pop())
        if after or options:
            raise _error(cell, path, f"'after:' and step options can't go on a {role.kind} cell")
        return role
    if after or options:
        return CellRole("continue", None, after, options)
    return None


def _role_from_magic(cell: Cell, path: str) -> tuple[CellRole | None, str]:
    """Parse a leading `%%step`/`%%setup`/`%%skip` line; return the role and the source with it blanked."""
    if "%%" not in cell.source:
        return None, cell.source
    lines = cell.source.split("\n")
    for i, line in enumerate(lines):
        stripped = line.strip()
        if not stripped:
            continue
        if not stripped.startswith(MAGICS):
            return None, cell.source
        import shlex  # here: most notebooks carry their roles in tags, not magics

        try:
            words = shlex.split(stripped)
        except ValueError as exc:
            raise _error(cell, path, f"can't parse '{stripped}': {exc}") from None
        magic = words[0]
        if magic not in MAGICS:
            return None, cell.source
        body = "\n".join(lines[:i] + [""] + lines[i + 1 :])
        if magic != "%%step":
            if len(words) > 1:
                raise _error(cell, path, f"{magic} takes no arguments")
            return CellRole(magic[2:]), body
        return parse_step_magic_args(words[1:], cell, path), body
    return None, cell.source


def parse_step_magic_args(words: list[str], cell: Cell, path: str) -> CellRole:
    """`%%step NAME [--after A,B] [--retries N] [--cpus N] [--gpus N] [--memory SIZE] [--no-cache]`."""
    if not words or words[0].startswith("-"):
        raise _error(cell, path, "%%step needs a step name: %%step NAME [--after A,B] [--retries N] ...")
    name = _check_step_name(words[0], cell, path, None)
    role = CellRole("step", name)
    rest = iter(words[1:])
    for word in rest:
        flag, eq, inline = word.partition("=")
        if flag == "--no-cache":
            role.options["nocache"] = True
            continue
        key = flag[2:] if flag.startswith("--") else ""
        if key not in ("after", "retries", "cpus", "gpus", "memory"):
            raise _error(cell, path, f"%%step: unknown option '{word}'")
        value = inline if eq else next(rest, None)
        if value is None:
            raise _error(cell, path, f"%%step: '{flag}' needs a value")
        if key == "after":
            role.after.extend(_split_names(value, cell, path, f"--after {value}"))
        else:
            opt, parsed = parse_option(key, value, cell, path)
            role.options[opt] = parsed
    return role


def cell_role(cell: Cell, path: str) -> CellRole:
    """The role of a code cell from its tags and magic; both present must agree."""
    tag_role = _role_from_tags(cell, path)
    magic_role, code = _role_from_magic(cell, path)
    if tag_role and magic_role:
        if (tag_role.kind, tag_role.step) != (magic_role.kind, magic_role.step) and tag_role.kind != "continue":
            raise _error(
                cell,
                path,
                f"tags say {tag_role.kind} {tag_role.step or ''} but the magic says "
                f"{magic_role.kind} {magic_role.step or ''}".replace("  ", " "),
            )
        magic_role.after = list(dict.fromkeys(tag_role.after + magic_role.after))
        magic_role.options = {**tag_role.options, **magic_role.options}
        role = magic_role
    else:
        role = magic_role or tag_role or CellRole("continue")
    role.code = code
    return role
