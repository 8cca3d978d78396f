"""`%load_ext nbmlops`: the %%step, %%setup and %%skip cell magics and the %pipeline line magic.

%%step / %%setup / %%skip cells run exactly as they would without the magic: an input transformer blanks the
magic line before IPython compiles the cell, so execution counts, tracebacks (line numbers included),
display and error status are the kernel's own. After a successful cell one line says what flows: what the
step reads from upstream and what it hands on. The registered cell magics are the fallback for the rare
caller that bypasses transformers (`run_cell_magic("step", ...)`) and the place bad arguments are reported.

%pipeline show|compile|run|check acts on the saved notebook the kernel belongs to. Nothing here ever writes
to that notebook.
"""

from __future__ import annotations

import argparse
import ast
import logging
import os
import shlex
import sys
import time
from collections.abc import Mapping
from pathlib import Path
from types import ModuleType
from typing import Any

from IPython.core.interactiveshell import ExecutionResult, InteractiveShell
from IPython.core.magic import Magics, cell_magic, line_magic, magics_class

from nbmlops.errors import NbmlopsError, NotebookError, StepFailed
from nbmlops.kernel.preflight import KernelRecord
from nbmlops.notebook import Delete, Mutate, Read, Write, cell_events, expand_magics, to_python
from nbmlops.notebook.dataflow import KERNEL_NAMES
from nbmlops.notebook.grammar import CellRole, parse_step_magic_args
from nbmlops.notebook.reader import Cell
from nbmlops.pipeline.targets import TARGETS
from nbmlops.status import mark as status_mark

log = logging.getLogger(__name__)

MAGIC_KINDS = ("step", "setup", "skip")
MAX_NAMES = 8  # names listed in a summary line before "+N more"


# --- finding the notebook the kernel belongs to --------------------------------------------------------------


def find_notebook(
    explicit: str | None = None,
    user_ns: Mapping[str, Any] | None = None,
    environ: Mapping[str, str] | None = None,
    cwd: str | Path | None = None,
) -> Path:
    """The notebook file this kernel runs for.

    In order: an explicit path; VS Code's `__vsc_ipynb_file__` (absolute); `JPY_SESSION_NAME`, which Jupyter
    Server puts in the kernel's environment when it starts the kernel for a notebook session (ipykernel
    copies it to `__session__`). Jupyter Server 2 sets it to the notebook's absolute path (the kernel's
    working directory joined with the file name); older servers set the session path, relative to the
    server root. A relative value is tried against the working directory, its file name in the working
    directory (the kernel starts in the notebook's folder) and each folder above (one is the server root).
    The variable is fixed at kernel start, so a renamed notebook is not found: pass --notebook.
    """
    user_ns = user_ns or {}
    environ = os.environ if environ is None else environ
    here = Path(cwd) if cwd is not None else Path.cwd()
    if explicit:
        path = Path(explicit).expanduser()
        path = path if path.is_absolute() else here / path
        if not path.is_file():
            raise NbmlopsError(f"--notebook {explicit}: no such file (looked in {path.parent})")
        return path.resolve()
    vscode = user_ns.get("__vsc_ipynb_file__")
    if isinstance(vscode, str) and Path(vscode).is_file():
        return Path(vscode).resolve()
    session = environ.get("JPY_SESSION_NAME") or user_ns.get("__session__")
    if not isinstance(session, str) or not session.strip():
        raise NbmlopsError(
            "can't tell which notebook this kernel belongs to: JPY_SESSION_NAME is not set "
            "(Jupyter Server sets it for notebook kernels; VS Code sets __vsc_ipynb_file__). "
            "Pass the notebook: %pipeline ... --notebook PATH"
        )
    session = session.strip()
    if not session.endswith(".ipynb"):
        raise NbmlopsError(
            f"this kernel's session is '{session}', not a .ipynb notebook (a console or a "
            "script?). Pass the notebook: %pipeline ... --notebook PATH"
        )
    value = Path(session).expanduser()
    if value.is_absolute():
        candidates = [value]
    else:
        candidates = [here / value, here / value.name, *(parent / value for parent in here.parents)]
    for candidate in candidates:
        if candidate.is_file():
            return candidate.resolve()
    raise NbmlopsError(
        f"this kernel was started for '{session}' (JPY_SESSION_NAME), but no such file is "
        f"found from {here}; was the notebook renamed or moved? Pass the notebook: "
        "%pipeline ... --notebook PATH"
    )


# --- the magic line of a cell --------------------------------------------------------------------------------


def parse_magic_line(line: str) -> tuple[str, CellRole | None] | None:
    """(kind, role) for a `%%step ...`, `%%setup` or `%%skip` line; None for any other line.
    Bad arguments raise NotebookError with a one-line message."""
    stripped = line.strip()
    if not stripped.startswith("%%"):
        return None
    head = stripped[2:].split(None, 1)
    if not head or head[0] not in MAGIC_KINDS:
        return None
    kind, rest = head[0], head[1] if len(head) > 1 else ""
    return kind, parse_magic_args(kind, rest)


def parse_magic_args(kind: str, args: str) -> CellRole | None:
    try:
        words = shlex.split(args)
    except ValueError as exc:
        raise NotebookError(f"%%{kind}: can't parse '{args}': {exc}") from None
    if kind != "step":
        if words:
            raise NotebookError(f"%%{kind} takes no arguments (got '{args.strip()}')")
        return None
    # the grammar's own validation, so the kernel and the compiler accept exactly the same lines;
    # a cell without an index keeps "cell N" out of the message: in the kernel the cell is this one
    try:
        return parse_step_magic_args(words, Cell(None, "code", ""), "")  # type: ignore[arg-type]
    except NotebookError as exc:
        message = str(exc)
        raise NotebookError(message if message.startswith("%%step") else f"%%step: {message}") from None


def _split_cell(raw_cell: str) -> tuple[str, str] | None:
    """(magic line, body) when the cell starts with one of our magics (after blank lines)."""
    lines = raw_cell.split("\n")
    for i, line in enumerate(lines):
        if not line.strip():
            continue
        words = line.strip().split(None, 1)
        if words[0] in ("%%step", "%%setup", "%%skip"):
            return line, "\n".join(lines[:i] + [""] + lines[i + 1 :])
        return None
    return None


def strip_magic_line(lines: list[str]) -> list[str]:
    """IPython input transformer: blank a valid `%%step`/`%%setup`/`%%skip` line so the cell runs as
    plain code with its own line numbers. A line with bad arguments is left to the cell magic, which
    reports it and doesn't run the cell."""
    if not lines or not lines[0].startswith("%%"):
        return lines
    try:
        parsed = parse_magic_line(lines[0])
    except NbmlopsError:
        return lines
    if parsed is None:
        return lines
    return ["\n", *lines[1:]]


# --- what a cell reads and hands on ------------------------------------------------------------------------


def cell_flow(source: str) -> tuple[list[str], list[str]]:
    """(names the cell reads before binding them, names it binds or changes), in order, from static events."""
    code = to_python(source)
    events = cell_events(expand_magics(ast.parse(code), code))
    bound: set[str] = set()
    reads: dict[str, None] = {}
    writes: dict[str, None] = {}
    for event in events:
        if isinstance(event, Read | Mutate) and event.name not in bound and event.name not in KERNEL_NAMES:
            reads[event.name] = None
        if isinstance(event, Write | Mutate):
            bound.add(event.name)
            writes[event.name] = None
        elif isinstance(event, Delete):
            writes.pop(event.name, None)
    return list(reads), list(writes)


def _names(names: list[str]) -> str:
    shown = names[:MAX_NAMES]
    more = f" +{len(names) - MAX_NAMES} more" if len(names) > MAX_NAMES else ""
    return ", ".join(shown) + more


def _is_ipython_name(name: str) -> bool:
    return name.startswith("_") or name in ("In", "Out")


# --- the magics --------------------------------------------------------------------------------------------


class _ArgumentError(NbmlopsError):
    pass


class _HelpShown(Exception):  # noqa: N818 - a signal, not an error
    pass


class _Parser(argparse.ArgumentParser):
    """argparse that reports a bad line as one message instead of exiting the kernel."""

    def error(self, message: str) -> None:  # type: ignore[override]
        raise _ArgumentError(f"{self.prog}: {message}")

    def exit(self, status: int = 0, message: str | None = None) -> None:  # type: ignore[override]
        if message:
            print(message, file=sys.stderr)
        raise _HelpShown


def _pipeline_parser() -> _Parser:
    parser = _Parser(prog="%pipeline", description="Act on the saved notebook this kernel belongs to.")
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--notebook", metavar="PATH", help="the notebook, when the kernel can't tell")
    sub = parser.add_subparsers(dest="command", parser_class=_Parser, metavar="show|compile|run|check|load")
    show = sub.add_parser("show", parents=[common], help="the steps, what flows between them, the DAG")
    show.add_argument("--format", choices=["text", "mermaid", "dot"], default="text")
    comp = sub.add_parser("compile", parents=[common], help="the PipelineSpec as JSON, or another target")
    comp.add_argument("-o", "--output", metavar="PATH", help="write it here instead of printing it")
    comp.add_argument("--target", choices=list(TARGETS), default="json")
    comp.add_argument("--force", action="store_true", help="replace an existing output nbmlops did not write")
    run = sub.add_parser("run", parents=[common], help="run the saved notebook as a pipeline, in this kernel")
    run.add_argument("-p", "--param", dest="params", action="append", default=[], metavar="NAME=VALUE")
    run.add_argument("--resume", metavar="RUN_ID", help="continue a failed run, reusing finished steps")
    sub.add_parser("check", parents=[common], help="pre-flight: marshal the values that cross steps, and more")
    load = sub.add_parser("load", parents=[common], help="bring a step's values from a past run into this kernel")
    load.add_argument("step", help="the step whose outputs to load")
    load.add_argument("--run", metavar="RUN_ID", help="that run (default: the newest where the step finished)")
    load.add_argument(
        "--inputs",
        action="store_true",
        help="load what the step reads (upstream values, parameters) to debug the step itself",
    )
    return parser


class _CellReporter:
    """One line per finished step, in the cell's output."""

    def __init__(self, total: int, width: int) -> None:
        self.out = sys.stdout  # the cell's stream; steps redirect sys.stdout to their logs while they run
        self.total = total
        self.width = width
        self.done = 0

    def step_started(self, step: str) -> None:
        pass

    def step_finished(self, step: str, status: str, seconds: float, detail: str = "") -> None:
        self.done += 1
        extra = f"  {detail}" if detail else ""
        print(
            f"{status_mark(status)} [{self.done}/{self.total}] {step:<{self.width}}  {seconds:6.2f}s  {status}{extra}",
            file=self.out,
            flush=True,
        )


@magics_class
class NbmlopsMagics(Magics):
    def __init__(self, shell: InteractiveShell) -> None:
        super().__init__(shell)
        self.record = KernelRecord()
        self.current_step: str | None = None  # untagged cells continue the step above, as in the grammar
        self.ran: list[tuple[float, str]] = []  # (time, source) of cells run, to spot edits not yet saved
        self._before: dict[str, int] = {}
        self._before_producers: dict[str, str] = {}
        self._nested = False
        self._running = False
        self._saved: tuple[tuple[str, int, int], set[str], dict[str, tuple[str, str | None]]] | None = None

    # -- cell magics (fallback: normally the transformer has blanked the line already) -------------------
    def _run_body(self, kind: str, line: str, cell: str) -> None:
        try:
            parse_magic_args(kind, line)
        except NbmlopsError as exc:
            print(f"nbmlops: {exc}; the cell was not run", file=sys.stderr)
            return
        outer = getattr(self.shell.displayhook, "exec_result", None)
        self._nested = True  # the hooks see this cell once, with its magic line, when the outer run ends
        try:
            # a leading blank line keeps the body's line numbers those of the cell
            inner: ExecutionResult = self.shell.run_cell("\n" + cell, store_history=False)
        finally:
            self._nested = False
        self.shell.displayhook.exec_result = outer  # the nested run cleared it
        error = inner.error_before_exec or inner.error_in_exec
        if error is not None and outer is not None:
            outer.error_in_exec = error  # the cell fails as it would have without the magic

    @cell_magic
    def step(self, line: str, cell: str) -> None:
        """%%step NAME [--after A,B] [--retries N] [--cpus N] [--gpus N] [--memory SIZE] [--no-cache]

        The cell starts (or continues) pipeline step NAME. It runs exactly as without the magic, then one
        line says what the step reads from upstream and what it hands on."""
        self._run_body("step", line, cell)

    @cell_magic
    def setup(self, line: str, cell: str) -> None:
        """%%setup: imports, helpers, constants; re-run at the start of every pipeline step."""
        self._run_body("setup", line, cell)

    @cell_magic
    def skip(self, line: str, cell: str) -> None:
        """%%skip: the cell runs here but is left out of the pipeline (exploration, plots)."""
        self._run_body("skip", line, cell)

    # -- bookkeeping around every cell ---------------------------------------------------------------------
    def pre_run_cell(self, info: Any) -> None:
        if self._nested:
            return
        # what each name is bound to before the cell, to see what the run really (re)binds
        self._before_producers = dict(self.record.producers)
        self._before = {k: id(v) for k, v in self.shell.user_ns.items() if not _is_ipython_name(k)}

    def post_run_cell(self, result: ExecutionResult) -> None:
        if self._nested or result is None or not result.success or result.info is None or result.info.silent:
            return
        raw = result.info.raw_cell or ""
        try:
            self._after_cell(raw)
        except Exception:  # noqa: BLE001 - bookkeeping must never disturb the user's cell
            log.debug("nbmlops: could not record cell", exc_info=True)

    def _after_cell(self, raw: str) -> None:
        if not raw.strip() or _is_control_cell(raw):
            return
        split = _split_cell(raw)
        kind, role, body = "continue", None, raw
        if split is not None:
            try:
                parsed = parse_magic_line(split[0])
            except NbmlopsError:
                return  # the cell magic said what's wrong; the body didn't run
            if parsed is not None:
                (kind, role), body = parsed, split[1]
        try:
            reads, writes = cell_flow(body)
        except SyntaxError:
            return
        self.ran.append((time.time(), raw.strip()))
        label = self._label(kind, role, raw)
        ns = self.shell.user_ns
        actual = {k for k, v in ns.items() if not _is_ipython_name(k) and self._before.get(k) != id(v)}
        for name in writes:
            self.record.producers[name] = label
            self.record.unseen.pop(name, None)
        for name in actual - set(writes):
            # bound by the run but invisible to the analysis (exec, globals(), %run, import *)
            self.record.producers[name] = label
            self.record.unseen[name] = (label, next((ln.strip()[:60] for ln in body.splitlines() if ln.strip()), ""))
        if label not in ("setup", "parameters", "skip"):
            self.record.steps_run.add(label)
        if kind in MAGIC_KINDS:
            # producers as they were before this cell: a name it reads and rebinds came from upstream
            print(self._summary(kind, label, reads, writes, self._before_producers))

    def _label(self, kind: str, role: CellRole | None, raw: str) -> str:
        if kind == "step" and role is not None:
            self.current_step = role.step
            return role.step or "?"
        if kind in ("setup", "skip"):
            return kind
        saved = self._saved_roles().get(raw.strip())
        if saved is not None:
            saved_kind, saved_step = saved
            if saved_kind == "step" and saved_step:
                self.current_step = saved_step
                return saved_step
            return saved_kind
        return self.current_step or "setup"  # cells before the first step are setup

    def _summary(
        self, kind: str, label: str, reads: list[str], writes: list[str], producers_before: Mapping[str, str]
    ) -> str:
        ns = self.shell.user_ns
        shown = [n for n in writes if n in ns and not _is_ipython_name(n) and not isinstance(ns[n], ModuleType)]
        if kind == "setup":
            return f"setup · defines {_names(shown) or 'nothing'} · re-run before every step"
        if kind == "skip":
            tail = f" · steps can't read what it defines: {_names(shown)}" if shown else ""
            return f"skip · left out of the pipeline{tail}"
        params = self._saved_parameters()
        incoming = []
        for name in reads:
            value = ns.get(name)
            producer = producers_before.get(name, "?")
            if producer == label or isinstance(value, ModuleType):
                continue  # an earlier cell of this step, or a module from setup: not a value that flows
            if name in params and producer in ("setup", "?"):
                producer = "parameters"
            elif producer == "skip":
                producer = "skip (not in the pipeline!)"
            incoming.append(f"{name} ← {producer}")
        reads_text = f"reads {_names(incoming)}" if incoming else "reads nothing from upstream"
        return f"step {label} · {reads_text} · hands on {_names(shown) or 'nothing'}"

    # -- the saved notebook (cached by mtime; silently absent when the kernel can't find it) --------------
    def _saved_info(self) -> tuple[set[str], dict[str, tuple[str, str | None]]]:
        try:
            path = find_notebook(None, self.shell.user_ns)
            stat = path.stat()
        except (NbmlopsError, OSError):
            return set(), {}
        key = (str(path), stat.st_mtime_ns, stat.st_size)
        if self._saved is None or self._saved[0] != key:
            from nbmlops.pipeline import compile_notebook

            try:
                spec = compile_notebook(path)
            except NbmlopsError:
                self._saved = (key, set(), {})
            else:
                roles: dict[str, tuple[str, str | None]] = {c.source.strip(): (c.kind, None) for c in spec.setup}
                for step in spec.steps:
                    roles.update({c.source.strip(): ("step", step.name) for c in step.cells})
                self._saved = (key, {p.name for p in spec.parameters}, roles)
        return self._saved[1], self._saved[2]

    def _saved_parameters(self) -> set[str]:
        return self._saved_info()[0]

    def _saved_roles(self) -> dict[str, tuple[str, str | None]]:
        return self._saved_info()[1]

    # -- %pipeline -----------------------------------------------------------------------------------------
    @line_magic
    def pipeline(self, line: str) -> None:
        """%pipeline show [--format text|mermaid|dot] | compile [-o FILE] | run [-p NAME=VALUE ...] [--resume ID]
        | check | load STEP [--run ID] [--inputs]   — each with [--notebook PATH]

        Acts on the saved notebook this kernel belongs to (found from JPY_SESSION_NAME), never changing it."""
        if self._running:
            print("nbmlops: %pipeline inside a running pipeline is ignored; mark that cell %%skip", file=sys.stderr)
            return
        parser = _pipeline_parser()
        try:
            try:
                args = parser.parse_args(shlex.split(line))
            except ValueError as exc:
                raise _ArgumentError(f"%pipeline: can't parse '{line}': {exc}") from None
            if args.command is None:
                raise _ArgumentError(
                    "%pipeline needs a command: show, compile, run, check or load (%pipeline -h for help)"
                )
            getattr(self, f"_pipeline_{args.command}")(args)
        except _HelpShown:
            return
        except StepFailed as exc:
            print(f"error: {exc}", file=sys.stderr)
            if exc.traceback_text:
                print(exc.traceback_text.rstrip(), file=sys.stderr)
            if exc.run_id:
                print(
                    f"run {exc.run_id} failed; fix the cell, save the notebook, then: "
                    f"%pipeline run --resume {exc.run_id}",
                    file=sys.stderr,
                )
        except NbmlopsError as exc:
            print(f"error: {exc}", file=sys.stderr)

    def _notebook(self, args: argparse.Namespace) -> Path:
        return find_notebook(args.notebook, self.shell.user_ns)

    # -- %nbmlops ------------------------------------------------------------------------------------------
    @line_magic
    def nbmlops(self, line: str) -> Any:
        """%nbmlops runs|models|features|drift URI|pipeline (the widgets: nbmlops.kernel.widget_magics)
        | serve ... (nbmlops.kernel.serve_magic)"""
        words = line.strip().split(maxsplit=1)
        try:
            if words and words[0] == "serve":
                from nbmlops.kernel import serve_magic

                return serve_magic.run(words[1] if len(words) > 1 else "", self.shell.user_ns)
            from nbmlops.kernel import widget_magics

            return widget_magics.show(line, lambda explicit: find_notebook(explicit, self.shell.user_ns))
        except NbmlopsError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return None

    def _pipeline_show(self, args: argparse.Namespace) -> None:
        from nbmlops.pipeline import compile_notebook, to_dot, to_mermaid, to_text

        spec = compile_notebook(self._notebook(args))
        render = {"text": to_text, "mermaid": to_mermaid, "dot": to_dot}[args.format]
        print(render(spec).rstrip("\n"))
        for warning in spec.warnings:
            print(f"warning: {warning}", file=sys.stderr)

    def _pipeline_compile(self, args: argparse.Namespace) -> None:
        from nbmlops.pipeline import compile_notebook
        from nbmlops.pipeline.targets import write_target

        spec = compile_notebook(self._notebook(args))
        if args.output:
            written = write_target(spec, args.target, args.output, force=args.force)
            files = f" ({len(written)} files)" if len(written) > 1 else ""
            print(f"wrote {args.output}: {len(spec.steps)} steps, {len(spec.parameters)} parameters{files}")
        elif args.target != "json":
            raise NbmlopsError(f"--target {args.target} needs -o: where to write it")
        else:
            print(spec.to_json())
        for warning in spec.warnings:
            print(f"warning: {warning}", file=sys.stderr)

    def _pipeline_run(self, args: argparse.Namespace) -> None:
        from nbmlops.pipeline import compile_notebook, resolve_parameters
        from nbmlops.runners import run_pipeline

        path = self._notebook(args)
        spec = compile_notebook(path)
        if not args.resume:
            resolve_parameters(spec, list(args.params))  # a bad -p fails before anything is said to run
        saved = time.strftime("%H:%M:%S", time.localtime(path.stat().st_mtime))
        print(
            f"running the saved {path.name} (saved {saved}): {len(spec.steps)} steps"
            + (f" · {' '.join(args.params)}" if args.params else "")
        )
        for warning in spec.warnings:
            print(f"warning: {warning}", file=sys.stderr)
        unsaved = self._unsaved_cells(path)
        if unsaved:
            print(
                f"note: {unsaved} cell{'s' if unsaved != 1 else ''} run in this kernel since the last save "
                "{} not in the saved file; save the notebook to include edits".format("are" if unsaved != 1 else "is")
            )
        reporter = _CellReporter(len(spec.steps), max(len(s.name) for s in spec.steps))
        self._running = True
        try:
            result = run_pipeline(spec, list(args.params), resume=args.resume, reporter=reporter)
        finally:
            self._running = False
        print(f"run {result.run_id} {result.status} in {result.seconds:.2f}s · {result.run_dir}")

    def _unsaved_cells(self, path: Path) -> int:
        """Cells run since the file was saved whose source the file doesn't have: edits the run won't see.
        The kernel never sees the editor's buffer, so this is all it can tell."""
        from nbmlops.notebook import read_notebook

        mtime = path.stat().st_mtime
        sources = {c.source.strip() for c in read_notebook(path).cells}
        return len({src for when, src in self.ran if when > mtime and src not in sources})

    def _pipeline_load(self, args: argparse.Namespace) -> None:
        from nbmlops.kernel.replay import load_step_values
        from nbmlops.pipeline import compile_notebook
        from nbmlops.store import project_home

        spec = compile_notebook(self._notebook(args))
        run_id, names = load_step_values(
            project_home(), spec, args.step, self.shell.user_ns, run_id=args.run, inputs=args.inputs
        )
        what = f"what step {args.step} reads" if args.inputs else f"the outputs of step {args.step}"
        print(f"loaded {what} from run {run_id}: {', '.join(names) or 'nothing (it has none)'}")

    def _pipeline_check(self, args: argparse.Namespace) -> None:
        from nbmlops.kernel.preflight import check_notebook, format_report

        path = self._notebook(args)
        history = list(self.shell.history_manager.input_hist_raw) if self.shell.history_manager else None
        report = check_notebook(path, self.shell.user_ns, history=history, record=self.record)
        print(format_report(report))


def _is_control_cell(raw: str) -> bool:
    """Cells that only drive nbmlops (`%load_ext nbmlops`, `%pipeline ...`) are no part of any step."""
    lines = [ln.strip() for ln in raw.splitlines() if ln.strip() and not ln.strip().startswith("#")]
    return bool(lines) and all(ln.startswith(("%pipeline", "%load_ext", "%reload_ext")) for ln in lines)


_INSTANCES: dict[int, NbmlopsMagics] = {}


def register(ipython: InteractiveShell) -> NbmlopsMagics:
    """Register the magics, the input transformer and the cell hooks (once per shell, even on reload)."""
    old = _INSTANCES.pop(id(ipython), None)
    if old is not None:
        for event, handler in (("pre_run_cell", old.pre_run_cell), ("post_run_cell", old.post_run_cell)):
            try:
                ipython.events.unregister(event, handler)
            except ValueError:
                pass  # already gone
    transforms = ipython.input_transformers_cleanup
    transforms[:] = [t for t in transforms if getattr(t, "__name__", "") != strip_magic_line.__name__]
    transforms.append(strip_magic_line)
    magics = NbmlopsMagics(ipython)
    if old is not None:
        magics.record, magics.current_step, magics.ran = old.record, old.current_step, old.ran
    ipython.register_magics(magics)
    ipython.events.register("pre_run_cell", magics.pre_run_cell)
    ipython.events.register("post_run_cell", magics.post_run_cell)
    _INSTANCES[id(ipython)] = magics
    return magics
