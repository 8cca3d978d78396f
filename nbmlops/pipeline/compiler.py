"""Notebook -> PipelineSpec: group cells into steps, infer the variables that flow between them."""

from __future__ import annotations

import ast
import dataclasses
import gc
import os
import re
from typing import Any

from nbmlops.errors import NotebookError, cell_label
from nbmlops.names import MAX_NAME_LENGTH
from nbmlops.notebook.dataflow import (
    KERNEL_NAMES,
    LIBRARY_SIGNATURES,
    METHOD_SIGNATURES,
    READ_ONLY_METHODS,
    Call,
    Delete,
    Event,
    Mutate,
    Read,
    Signature,
    StarImport,
    Write,
    cell_events,
)
from nbmlops.notebook.grammar import CellRole, cell_role
from nbmlops.notebook.ipython_syntax import to_python
from nbmlops.notebook.magic_code import MagicError, expand_magics
from nbmlops.notebook.reader import Cell, Notebook, read_notebook
from nbmlops.pipeline.spec import CellCode, Parameter, PipelineSpec, Step

AMBIENT = "@setup"  # producer of names the setup and parameters cells define
DELETED = "@deleted"
SINGLE_STEP = "notebook"
PARAM_TYPES = {"int", "float", "str", "bool", "list", "dict", "tuple"}
TOO_DEEP = "the code is nested too deeply (or too long an expression) for Python to compile; split it up"


# The two working records below are plain classes: a dataclass costs ~1 ms to create at import.
class _Definition:
    __slots__ = ("producer", "kind", "deferred_reads", "deferred_writes", "cell", "aliases", "binding")

    def __init__(
        self,
        producer: str,
        kind: str = "assign",
        deferred_reads: frozenset[str] = frozenset(),
        deferred_writes: frozenset[str] = frozenset(),
        cell: int | None = None,
        aliases: frozenset[str] = frozenset(),
        binding: Any = None,
    ) -> None:
        self.producer = producer  # step name, AMBIENT or DELETED
        self.kind = kind
        self.deferred_reads = deferred_reads
        self.deferred_writes = deferred_writes
        self.cell = cell
        # variables of the same step whose object this value may be (part of), transitively: changing it in
        # place changes them. Only within a step: values crossing steps are separate copies, so a later step
        # changing it is only warned about (_warn_cross_step_alias).
        self.aliases = aliases
        self.binding = binding  # Write.binding: an import's qualified name, a def's Signature


class _StepState:
    def __init__(self, name: str) -> None:
        self.name = name
        self.cells: list[tuple[Cell, CellRole, str]] = []
        self.inputs: dict[str, str] = {}
        self.params: set[str] = set()
        self.after: dict[str, int] = {}  # explicit upstream -> cell that asked
        self.options: dict[str, Any] = {}
        self.input_cells: dict[str, int] = {}


def compile_notebook(source: str | os.PathLike[str] | Notebook) -> PipelineSpec:
    """Compile a notebook file (or a parsed Notebook) into a PipelineSpec; errors name the cell."""
    notebook = source if isinstance(source, Notebook) else read_notebook(source)
    # The analysis makes many short-lived AST nodes; the cyclic GC would scan them again and again (half the
    # time on a 500-cell notebook) though reference counting frees them. Pause it while compiling.
    paused = gc.isenabled()
    gc.disable()
    try:
        return _Compiler(notebook).compile()
    except RecursionError:  # anything deeper than the per-cell checks caught: still the user's input
        raise NotebookError(TOO_DEEP, path=notebook.path) from None
    finally:
        if paused:
            gc.enable()


def pipeline_name(path: str) -> str:
    """The notebook's file name without its suffix (pathlib's `stem`), made safe as a name."""
    parts = [part for part in path.split("/") if part and part != "."]
    name = parts[-1] if parts else ""
    dot = name.rfind(".")
    stem = name[:dot] if 0 < dot < len(name) - 1 else name
    # the names rule (nbmlops.names): no leading '-', at most MAX_NAME_LENGTH characters
    return re.sub(r"[^A-Za-z0-9_\-]+", "_", stem).lstrip("-")[:MAX_NAME_LENGTH] or "pipeline"


class _Compiler:
    def __init__(self, notebook: Notebook) -> None:
        self.nb = notebook
        self.path = notebook.path
        self.warnings: list[str] = []
        self.setup: list[tuple[Cell, CellRole, str]] = []
        self.steps: dict[str, _StepState] = {}
        self.defined: dict[str, _Definition] = {}
        self.parameters: dict[str, Parameter] = {}
        self.star_import = False
        self.trees: dict[int, ast.Module] = {}  # cell index -> parsed Python, parsed once
        self.cell_events: dict[int, list[Event]] = {}
        self.read_only = READ_ONLY_METHODS  # methods taken not to change their receiver (see _analyse)

    def error(self, cell: Cell, message: str, line: int | None = None) -> NotebookError:
        first = cell.first_line
        if line is not None:
            lines = cell.source.split("\n")
            if 0 < line <= len(lines):
                first = lines[line - 1].strip()[:60]
            message = f"line {line}: {message}"
        return NotebookError(message, path=self.path, cell=cell.index, first_line=first)

    # -- grouping --------------------------------------------------------------------------------------
    def compile(self) -> PipelineSpec:
        if self.nb.language not in ("python", "python3"):
            raise NotebookError(
                f"the notebook's language is {self.nb.language}; only Python is supported", path=self.path
            )
        code_cells = [c for c in self.nb.cells if c.cell_type == "code"]
        if not any(c.source.strip() for c in code_cells):
            raise NotebookError("the notebook has no code to run", path=self.path)
        roles = [(cell, cell_role(cell, self.path)) for cell in code_cells]
        has_steps = any(role.kind == "step" for _, role in roles)
        current: _StepState | None = None
        for cell, role in roles:
            if not role.code.strip() and role.kind == "continue":
                continue
            code = self._python(cell, role)
            if not code.strip() and role.kind == "continue":
                continue  # e.g. a cell holding only `%load_ext nbmlops` or `%pipeline run`
            if role.kind in ("setup", "parameters"):
                self.setup.append((cell, role, code))
            elif role.kind == "skip":
                continue
            elif role.kind == "step" or not has_steps:
                name = role.step or SINGLE_STEP
                if current is None or current.name != name:
                    current = self._start_step(name, cell)
                self._add_to_step(current, cell, role, code)
            elif current is None:
                if role.after or role.options:
                    raise self.error(cell, "'after:' or a step option on a cell before any step")
                self.setup.append((cell, CellRole("setup"), code))  # cells before the first step are setup
            else:
                self._add_to_step(current, cell, role, code)
        if not self.steps:
            raise NotebookError("every code cell is setup, parameters or skip: there is no step to run", path=self.path)
        self._analyse()
        self._collect_parameters()
        self._flow_setup()
        for state in self.steps.values():
            self._flow_step(state)
        return self._build()

    def _python(self, cell: Cell, role: CellRole) -> str:
        try:
            return self._parse(cell, role)
        except (RecursionError, MemoryError):  # e.g. an expression of 200,000 terms: Python's parser gives up
            raise self.error(cell, TOO_DEEP) from None

    def _parse(self, cell: Cell, role: CellRole) -> str:
        try:
            code = to_python(role.code)
        except SyntaxError as exc:
            raise self.error(cell, f"IPython syntax that can't be transformed ({exc.msg})", exc.lineno) from None
        try:
            tree = ast.parse(code)
        except SyntaxError as exc:
            raise self.error(cell, f"syntax error: {exc.msg}", exc.lineno) from None
        try:  # what magics run is analysed as the Python it is
            self.trees[cell.index] = expand_magics(tree, code, headless=True)
        except MagicError as exc:
            raise self.error(cell, str(exc), exc.lineno) from None
        return code

    def _analyse(self) -> None:
        """The events of every setup and step cell. A method the notebook's own classes define to change their
        object is not read-only, whatever its name (a `get` that counts hits): where one is named like a
        read-only method, the cells are analysed again without that name (until no more such are found)."""
        cells = [c for c, _, _ in self.setup] + [c for s in self.steps.values() for c, _, _ in s.cells]
        changing: set[str] = set()
        while True:
            self.cell_events = {c.index: self._cell_events(c, changing) for c in cells}
            if self.read_only.isdisjoint(changing):
                return
            self.read_only = self.read_only - changing

    def _cell_events(self, cell: Cell, changing: set[str] | None = None) -> list[Event]:
        try:
            return cell_events(self.trees[cell.index], self.read_only, changing)
        except (RecursionError, MemoryError):  # code nested deeper than the analysis can walk
            raise self.error(cell, TOO_DEEP) from None

    def events(self, cell: Cell) -> list[Event]:
        """The cell's name events (from `_analyse`), or those of a cell outside the pipeline."""
        found = self.cell_events.get(cell.index)
        if found is None:
            found = self.cell_events[cell.index] = self._cell_events(cell)
        return found

    def _start_step(self, name: str, cell: Cell) -> _StepState:
        if name in self.steps:
            first = self.steps[name].cells[0][0].index
            raise self.error(
                cell,
                f"duplicate step '{name}': it already started at {cell_label(first)} and another "
                "step came in between; rename one or move its cells together",
            )
        for other in self.steps:
            if other.casefold() == name.casefold():
                raise self.error(cell, f"step '{name}' and step '{other}' differ only in case")
        state = _StepState(name)
        self.steps[name] = state
        return state

    def _add_to_step(self, state: _StepState, cell: Cell, role: CellRole, code: str) -> None:
        state.cells.append((cell, role, code))
        for upstream in role.after:
            state.after.setdefault(upstream, cell.index)
        for key, value in role.options.items():
            if key in state.options and state.options[key] != value:
                raise self.error(
                    cell,
                    f"step '{state.name}' option '{key}' is {state.options[key]} in an earlier cell and {value} here",
                )
            state.options[key] = value

    # -- parameters and setup --------------------------------------------------------------------------
    def _collect_parameters(self) -> None:
        for cell, role, _code in self.setup:
            if role.kind != "parameters":
                continue
            for stmt in self.trees[cell.index].body:
                target, value, annotation = None, None, None
                if isinstance(stmt, ast.Assign) and len(stmt.targets) == 1:
                    target, value = stmt.targets[0], stmt.value
                elif isinstance(stmt, ast.AnnAssign) and stmt.value is not None:
                    target, value, annotation = stmt.target, stmt.value, stmt.annotation
                if not isinstance(target, ast.Name):
                    continue
                try:
                    default = ast.literal_eval(value)
                except ValueError:
                    continue  # computed from other values: code, not a parameter one can set
                type_name = type(default).__name__
                if isinstance(annotation, ast.Name) and annotation.id in PARAM_TYPES:
                    type_name = annotation.id
                self.parameters[target.id] = Parameter(target.id, default, type_name, cell.index)

    def _flow_setup(self) -> None:
        for cell, _role, _code in self.setup:
            for event in self.events(cell):
                if isinstance(event, Read):
                    if not self._known_ambient(event.name):
                        producer = self._step_writing(event.name)
                        raise self.error(
                            cell,
                            f"setup reads '{event.name}', which {producer} defines; setup "
                            "and parameters cells run before every step and may only use "
                            "each other's names",
                            event.line,
                        )
                elif isinstance(event, Write):
                    self.defined[event.name] = self._definition(AMBIENT, event, cell)
                elif isinstance(event, StarImport):
                    self.star_import = True
                elif isinstance(event, Delete):
                    self.defined.pop(event.name, None)

    def _step_writing(self, name: str) -> str:
        """Who defines a name a setup cell reads, for the error message (setup flows before any step)."""
        for state in self.steps.values():
            for cell, _role, _code in state.cells:
                if any(isinstance(e, Write) and e.name == name for e in self.events(cell)):
                    return f"step '{state.name}' ({cell_label(cell.index)})"
        return "no setup or parameters cell before it"

    def _known_ambient(self, name: str) -> bool:
        return (
            name in KERNEL_NAMES
            or self.star_import
            or (name in self.defined and self.defined[name].producer == AMBIENT)
        )

    # -- step dataflow ---------------------------------------------------------------------------------
    def _flow_step(self, state: _StepState) -> None:
        for cell, _role, _code in state.cells:
            for event in self.events(cell):
                self._apply(state, cell, event)

    def _apply(self, state: _StepState, cell: Cell, event: Event) -> None:
        if isinstance(event, Read):
            self._read(state, cell, event.name, event.line, strict=True)
        elif isinstance(event, Write):
            previous = self.defined.get(event.name)
            if event.conditional and previous and previous.producer not in (state.name, AMBIENT, DELETED):
                # a rebinding that may not happen must start from the upstream value, as top-to-bottom would
                self._take_input(state, cell, event.name, previous.producer)
            if event.aliases and event.name in event.aliases and previous and previous.producer == state.name:
                # `t += ...` may change t's object in place: what t is part of changes too
                for source in previous.aliases:
                    self._mutate(state, cell, source, event.line, strict=False, aliases=False)
            self.defined[event.name] = self._definition(state.name, event, cell)
        elif isinstance(event, Delete):
            self._read(state, cell, event.name, event.line, strict=True)
            self.defined[event.name] = _Definition(DELETED, cell=cell.index)
        elif isinstance(event, Mutate):
            self._mutate(state, cell, event.name, event.line, strict=True)
        elif isinstance(event, Call):
            self._call(state, cell, event)
        elif isinstance(event, StarImport):
            self.star_import = True
            self.warnings.append(
                f"{cell_label(cell.index)}: `from {event.module} import *` in step '{state.name}': "
                "the names it brings are not tracked; move it to a setup cell"
            )

    def _definition(self, producer: str, event: Write, cell: Cell) -> _Definition:
        aliases = self._aliases(producer, event) if event.aliases else event.aliases
        if event.kind == "alias":  # `g = f`: g is a function or class like f, or a plain value
            source = self.defined.get(next(iter(event.deferred_reads)))
            if source is not None and source.kind in ("def", "import"):
                return _Definition(
                    producer,
                    source.kind,
                    source.deferred_reads,
                    source.deferred_writes,
                    cell.index,
                    aliases,
                    source.binding,
                )
            return _Definition(producer, cell=cell.index, aliases=aliases)
        return _Definition(
            producer, event.kind, event.deferred_reads, event.deferred_writes, cell.index, aliases, event.binding
        )

    def _aliases(self, producer: str, event: Write) -> frozenset[str]:
        """What the written value may be part of: the event's variables and, for those this same step
        bound, what they are part of; a rebinding that may not happen keeps the old value's too. A module is
        no variable a value can be part of: what `pd.DataFrame(...)` or `np.zeros(3)` returns is new, and steps
        import modules themselves rather than receive them."""
        modules = {
            name for name in event.aliases if (known := self.defined.get(name)) is not None and known.kind == "import"
        }
        if modules:
            event = dataclasses.replace(event, aliases=event.aliases - modules)
        found = None
        for name in event.aliases:
            known = self.defined.get(name)
            if known is not None and known.aliases and known.producer == producer:
                found = (found or set(event.aliases)) | known.aliases
        previous = self.defined.get(event.name) if event.conditional else None
        if previous is not None and previous.aliases and previous.producer == producer:
            found = (found or set(event.aliases)) | previous.aliases
        if found is None:
            return event.aliases if event.name not in event.aliases else event.aliases - {event.name}
        found.discard(event.name)
        return frozenset(found)

    def _mutate(self, state: _StepState, cell: Cell, name: str, line: int, strict: bool, aliases: bool = True) -> None:
        """`name`'s object changes in place: a new version of it and, with `aliases`, of what this step bound
        it as (part of)."""
        definition = self.defined.get(name)
        if definition is None or definition.kind == "import" or definition.producer == DELETED:
            return  # module attributes and unknown names: nothing of ours to version
        self._read(state, cell, name, line, strict=strict)
        if definition.producer != state.name and definition.aliases:
            self._warn_cross_step_alias(state, cell, name, definition)
        if definition.producer != state.name:
            self.defined[name] = _Definition(
                state.name,
                definition.kind,
                definition.deferred_reads,
                definition.deferred_writes,
                cell.index,
                binding=definition.binding,
            )
        elif aliases:
            for source in definition.aliases:  # closed over already: theirs are among them
                self._mutate(state, cell, source, line, strict=False, aliases=False)

    def _warn_cross_step_alias(self, state: _StepState, cell: Cell, name: str, definition: _Definition) -> None:
        """A change in place of a value an earlier step bound as part of others reaches only this step's copy:
        steps hand values on separately, so later readers of those others see them unchanged. Said, not
        silently computed differently from a top-to-bottom run."""
        parts = ", ".join(f"`{source}`" for source in sorted(definition.aliases))
        warning = (
            f"{cell_label(cell.index)}: step '{state.name}' changes `{name}` in place, which step "
            f"'{definition.producer}' bound as part of {parts}; steps receive separate copies, so later "
            f"steps see {parts} without this change (a top-to-bottom run would show it): bind `{name}` "
            "and change it in the same step"
        )
        if warning not in self.warnings:
            self.warnings.append(warning)

    def _call(self, state: _StepState, cell: Cell, event: Call) -> None:
        """`f(x, ...)`: where f changes a parameter in place (itself or through the calls it passes it on to),
        the argument passed for it is a new version, with what it is (part of)."""
        signature = self._signature(event.name)
        if signature is None:
            return
        changed = self._changed_by(signature, set())
        if not changed:
            return
        for key, names in event.arguments:
            if signature.changes(key, changed):
                for name in sorted(names):
                    self._mutate(state, cell, name, event.line, strict=False)

    def _signature(self, callee: str) -> Signature | None:
        """The Signature a call of `callee` (dotted) runs here: a function the notebook defines, a library
        function through its import (ARGUMENT_CHANGING_FUNCTIONS), a `.shuffle` method; None if it changes no
        argument as far as is known."""
        root, dot, rest = callee.partition(".")
        definition = self.defined.get(root)
        if definition is not None and definition.producer != DELETED:
            if definition.kind == "import":
                return LIBRARY_SIGNATURES.get(f"{definition.binding}.{rest}" if dot else definition.binding)
            if not dot:
                binding = definition.binding
                return binding if definition.kind == "def" and type(binding) is Signature else None
        return METHOD_SIGNATURES.get(callee.rpartition(".")[2]) if dot else None

    def _changed_by(self, signature: Signature, seen: set[int]) -> frozenset[str] | set[str]:
        """The parameters (and globals) a function changes in place, with those it passes on to calls that
        change them, resolved against the definitions where it is called (as Python looks its globals up)."""
        if not signature.calls:
            return signature.changed
        changed = set(signature.changed)
        if id(signature) in seen:  # recursion: what it changes is found at the outer level
            return changed
        seen.add(id(signature))
        for callee, arguments in signature.calls:
            target = self._signature(callee)
            if target is None:
                continue
            target_changed = self._changed_by(target, seen)
            if target_changed:
                for key, names in arguments:
                    if target.changes(key, target_changed):
                        changed.update(names)
        return changed

    def _read(
        self, state: _StepState, cell: Cell, name: str, line: int, strict: bool, seen: set[str] | None = None
    ) -> None:
        """`seen`: the names already read while following one read through function bodies (None: none yet)."""
        if seen is not None:
            if name in seen:
                return
            seen.add(name)
        definition = self.defined.get(name)
        if definition is None:
            if strict and name not in KERNEL_NAMES and not self.star_import:
                raise self.error(
                    cell, f"step '{state.name}' reads '{name}', which no earlier step or setup cell defines", line
                )
            return
        if definition.producer == DELETED:
            if strict:
                raise self.error(
                    cell, f"step '{state.name}' reads '{name}', deleted in {cell_label(definition.cell)}", line
                )
            return
        if definition.producer == AMBIENT:
            if name in self.parameters:
                state.params.add(name)
        elif definition.producer != state.name:
            self._take_input(state, cell, name, definition.producer)
        if definition.deferred_reads or definition.deferred_writes:
            self._run_body(state, cell, definition, line, {name} if seen is None else seen)

    def _run_body(self, state: _StepState, cell: Cell, definition: _Definition, line: int, seen: set[str]) -> None:
        """Using a function or class runs its body later against this step's globals."""
        for deferred in sorted(definition.deferred_reads):
            self._read(state, cell, deferred, line, strict=False, seen=seen)
        for deferred in sorted(definition.deferred_writes):
            known = self.defined.get(deferred)
            if known is None or known.producer == DELETED:
                # `global x; x = ...` in a function: calling it defines x in this step
                self.defined[deferred] = _Definition(state.name, cell=cell.index)
            else:
                self._mutate(state, cell, deferred, line, strict=False)
        signature = definition.binding
        if definition.kind == "def" and type(signature) is Signature and signature.calls:
            # globals it passes on to a function that changes them
            for changed in sorted(self._changed_by(signature, set()) - signature.names):
                if changed in self.defined:
                    self._mutate(state, cell, changed, line, strict=False)

    def _take_input(self, state: _StepState, cell: Cell, name: str, producer: str) -> None:
        if name not in state.inputs:
            state.inputs[name] = producer
            state.input_cells[name] = cell.index

    # -- the spec --------------------------------------------------------------------------------------
    def _build(self) -> PipelineSpec:
        outputs: dict[str, list[str]] = {name: [] for name in self.steps}
        for state in self.steps.values():
            for variable, producer in state.inputs.items():
                if variable not in outputs[producer]:
                    outputs[producer].append(variable)
            for upstream, cell_index in state.after.items():
                if upstream not in self.steps:
                    cell = next(c for c, _, _ in state.cells if c.index == cell_index)
                    raise self.error(
                        cell, f"'after:{upstream}': there is no step '{upstream}' (steps: {', '.join(self.steps)})"
                    )
        upstream = {name: list(dict.fromkeys([*s.inputs.values(), *s.after])) for name, s in self.steps.items()}
        self._check_cycles(upstream)
        setup_params = self._params_of_setup()
        for state in self.steps.values():
            state.params |= setup_params
        steps = [
            Step(
                name,
                [CellCode(c.index, c.source, code) for c, _, code in s.cells],
                dict(s.inputs),
                sorted(s.params),
                outputs[name],
                upstream[name],
                dict(s.options),
            )
            for name, s in self.steps.items()
        ]
        setup = [CellCode(c.index, c.source, code, role.kind) for c, role, code in self.setup]
        return PipelineSpec(
            pipeline_name(self.path),
            self.path,
            self.nb.sha256,
            list(self.parameters.values()),
            setup,
            steps,
            self.warnings,
            self.nb.kernel_name,
        )

    def _params_of_setup(self) -> set[str]:
        """Parameters the setup code reads: every step depends on their values."""
        return {
            e.name
            for cell, role, _code in self.setup
            if role.kind == "setup"
            for e in self.events(cell)
            if isinstance(e, Read) and e.name in self.parameters
        }

    def _check_cycles(self, upstream: dict[str, list[str]]) -> None:
        # a method, not a recursive closure: a closure that calls itself is a reference cycle, and through
        # `self` it would keep every parsed cell alive until the cyclic GC (~40 ms on 500 cells) found it
        visiting: list[str] = []
        done: set[str] = set()
        for name in upstream:
            self._visit_upstream(name, upstream, visiting, done)

    def _visit_upstream(self, name: str, upstream: dict[str, list[str]], visiting: list[str], done: set[str]) -> None:
        if name in done:
            return
        if name in visiting:
            cycle = visiting[visiting.index(name) :] + [name]
            # name the cell whose `after:` closes the cycle (data only flows forward, so one must)
            cell = self.steps[name].cells[0][0]
            for down, up in zip(cycle, cycle[1:], strict=False):
                if up in self.steps[down].after:
                    index = self.steps[down].after[up]
                    cell = next(c for c, _, _ in self.steps[down].cells if c.index == index)
                    break
            raise self.error(cell, "steps form a cycle: " + " -> ".join(reversed(cycle)))
        visiting.append(name)
        for up in upstream[name]:
            self._visit_upstream(up, upstream, visiting, done)
        visiting.pop()
        done.add(name)
