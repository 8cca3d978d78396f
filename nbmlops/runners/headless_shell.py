"""A headless IPython shell that runs a step's cells the way a Jupyter kernel runs them.

The local and Ray backends use it for a step that needs a kernel (IPython syntax, `display`, a cell that ends in
an expression, matplotlib ...; `needs_kernel`): magics and `!cmd` run against the step's own namespace, the last
expression of a cell is displayed, `display(..., display_id=True)` returns a handle that updates its output,
`clear_output` clears, and matplotlib uses the inline backend, so figures are shown at the end of each cell.
Everything shown is kept, per cell, as nbformat outputs (`OutputLog`) for the step's executed notebook. Other
steps run with plain `exec` (IPython costs ~0.15 s to import and start: most steps never need it).

One shell per process, re-pointed at each step's namespace, its history and counters reset: steps never see
each other's names through it. While a step runs, the shell is IPython's current instance (what `get_ipython()`
and `IPython.display.display` find), and the instance that was there before (a real kernel's, when a pipeline
runs from a notebook) is put back after.
"""

from __future__ import annotations

import contextlib
import os
import re
from collections.abc import Iterator
from functools import lru_cache
from typing import Any

from nbmlops.notebook.ipython_syntax import has_ipython_syntax
from nbmlops.pipeline.spec import CellCode

# What only a kernel gives a cell, found in its plain Python without parsing it: names the kernel provides (IPython
# syntax is `get_ipython()` calls by then) and libraries whose output a kernel displays. A false hit only costs
# starting the shell.
_KERNEL_HINT = re.compile(
    r"\b(display|get_ipython|clear_output|update_display|IPython|ipywidgets|matplotlib|"
    r"plotly)\b"
)
INLINE_BACKEND = "module://matplotlib_inline.backend_inline"
_FRONT_END_BACKENDS = frozenset({"notebook", "nbagg", "widget", "ipympl"})


def needs_kernel(cells: list[CellCode]) -> bool:
    """Whether these cells behave differently under a kernel than under `exec`: IPython syntax, names only a
    kernel provides, libraries whose output a kernel displays, or a cell whose last statement is an expression
    (a kernel displays its value; not a `print(...)` call, whose None it doesn't)."""
    return any(
        has_ipython_syntax(cell.source) or _KERNEL_HINT.search(cell.code) or _ends_in_expression(cell.code)
        for cell in cells
    )


@lru_cache(maxsize=1024)
def _ends_in_expression(code: str) -> bool:
    import ast

    try:
        body = ast.parse(code).body
    except SyntaxError:
        return False
    if not body or not isinstance(body[-1], ast.Expr):
        return False
    last = body[-1].value
    # `print(...)` returns None, which a kernel doesn't display: exec shows the same (only its stdout)
    is_print = isinstance(last, ast.Call) and isinstance(last.func, ast.Name) and last.func.id == "print"
    return not is_print


class OutputLog:
    """The outputs of each cell of one step as nbformat 4 dicts, kept as a kernel's front end keeps them:
    consecutive stream text merged, a display updated in place by its display_id, cleared by clear_output."""

    def __init__(self) -> None:
        self.cells: dict[int, list[dict[str, Any]]] = {}
        self.counts: dict[int, int] = {}
        self._current: list[dict[str, Any]] = []
        self._by_display_id: dict[str, list[dict[str, Any]]] = {}
        self._clear_on_next = False

    def start_cell(self, index: int, count: int) -> None:
        self._current = self.cells.setdefault(index, [])
        self.counts[index] = count
        self._clear_on_next = False

    def _add(self, output: dict[str, Any]) -> None:
        if self._clear_on_next:
            self._current.clear()
            self._clear_on_next = False
        self._current.append(output)

    def stream(self, name: str, text: str) -> None:
        if not text:
            return
        if self._current and not self._clear_on_next and self._current[-1].get("name") == name:
            self._current[-1]["text"] += text
            return
        self._add({"output_type": "stream", "name": name, "text": text})

    def display(self, data: dict[str, Any], metadata: dict[str, Any], display_id: str | None, update: bool) -> None:
        if update and display_id is not None:
            for output in self._by_display_id.get(display_id, []):
                output["data"], output["metadata"] = dict(data), dict(metadata)
            return
        output = {"output_type": "display_data", "data": dict(data), "metadata": dict(metadata)}
        if display_id is not None:
            self._by_display_id.setdefault(display_id, []).append(output)
        self._add(output)

    def execute_result(self, data: dict[str, Any], metadata: dict[str, Any], count: int) -> None:
        self._add(
            {"output_type": "execute_result", "data": dict(data), "metadata": dict(metadata), "execution_count": count}
        )

    def clear(self, wait: bool) -> None:
        if wait:
            self._clear_on_next = True
        else:
            self._current.clear()

    def error(self, exc: BaseException, traceback_text: str) -> None:
        self._add(
            {
                "output_type": "error",
                "ename": type(exc).__name__,
                "evalue": str(exc),
                "traceback": traceback_text.splitlines(),
            }
        )


class StreamToLog:
    """stdout or stderr of a step, copied into the cell outputs of its OutputLog."""

    def __init__(self, log: OutputLog, name: str) -> None:
        self.log, self.name = log, name

    def write(self, text: str) -> int:
        self.log.stream(self.name, text)
        return len(text)

    def flush(self) -> None:
        pass


_shell: Any = None


def _make_shell() -> Any:
    """The process's headless shell: IPython's InteractiveShell with display going to the step's OutputLog,
    no history file, no GUI event loops and no traceback printing (the step's failure carries it)."""
    from IPython.core.compilerop import CachingCompiler
    from IPython.core.displayhook import DisplayHook
    from IPython.core.displaypub import DisplayPublisher
    from IPython.core.error import UsageError
    from IPython.core.interactiveshell import InteractiveShell
    from traitlets.config import Config

    class CellNamedCompiler(CachingCompiler):
        """Names the code of the cell being run like the plain path does, so a failure names its cell."""

        next_name: str | None = None

        def get_code_name(self, raw_code: str, transformed_code: str, number: int) -> str:
            name, self.next_name = self.next_name, None  # the cell itself; a magic's nested run gets its own
            return name or super().get_code_name(raw_code, transformed_code, number)

    class LoggingDisplayHook(DisplayHook):
        def write_output_prompt(self) -> None:
            pass

        def write_format_data(self, format_dict: dict, md_dict: dict | None = None) -> None:
            self.shell.output_log.execute_result(format_dict, md_dict or {}, self.shell.execution_count)

    class LoggingDisplayPublisher(DisplayPublisher):
        def publish(
            self,
            data: dict,
            metadata: dict | None = None,
            source: Any = None,
            *,
            transient: dict | None = None,
            update: bool = False,
            **kwargs: Any,
        ) -> None:
            display_id = (transient or {}).get("display_id")
            self.shell.output_log.display(data, metadata or {}, display_id, update)

        def clear_output(self, wait: bool = False) -> None:
            self.shell.output_log.clear(wait)

    class HeadlessShell(InteractiveShell):
        displayhook_class = LoggingDisplayHook
        display_pub_class = LoggingDisplayPublisher
        output_log = OutputLog()

        def enable_matplotlib(self, gui: str | None = None) -> Any:
            # the backends that draw into a front end (nbagg, ipympl) have none here: figures are drawn inline,
            # kept in the step's notebook, as papermill's kernel keeps their last image
            return super().enable_matplotlib("inline" if gui in _FRONT_END_BACKENDS else gui)

        def enable_gui(self, gui: str | None = None) -> None:
            if gui not in (None, "inline"):
                raise UsageError(
                    f"a pipeline step has no screen for the '{gui}' event loop; use "
                    "`%matplotlib inline` (figures are kept in the step's notebook)"
                )

        def _showtraceback(self, etype: Any, evalue: Any, stb: Any) -> None:
            pass

    config = Config()
    config.HistoryManager.enabled = False
    config.HistoryManager.hist_file = ":memory:"
    config.InteractiveShell.colors = "nocolor"
    config.InteractiveShell.xmode = "Plain"
    shell = HeadlessShell(config=config)
    shell.compile = CellNamedCompiler()
    shell.compile_class = CellNamedCompiler
    return shell


def _inline_figures(shell: Any) -> None:
    """Figures flushed at the end of each cell, when matplotlib was loaded with the inline backend before this
    shell existed (its module registers only with the shell current at import)."""
    import sys

    if "matplotlib_inline.backend_inline" not in sys.modules or "matplotlib.pyplot" not in sys.modules:
        return
    if getattr(shell, "_nbmlops_inline", False):
        return
    import matplotlib

    if matplotlib.get_backend() in (INLINE_BACKEND, "inline"):
        from matplotlib_inline.backend_inline import configure_inline_support

        configure_inline_support(shell, INLINE_BACKEND)
        shell._nbmlops_inline = True


@contextlib.contextmanager
def kernel_session(namespace: dict[str, Any], log: OutputLog) -> Iterator[Any]:
    """The shell, pointed at `namespace` (its history and counters fresh) and current while the block runs."""
    global _shell
    from IPython.core.interactiveshell import InteractiveShell

    if _shell is None:
        previous = InteractiveShell._instance
        _shell = _make_shell()
        InteractiveShell._instance = previous
    shell = _shell
    previous = InteractiveShell._instance
    shell.output_log = log
    shell.history_manager.reset(new_session=False)
    shell.execution_count = 1
    for name in ("display", "get_ipython"):  # the plain path's stand-ins: the kernel provides the real ones
        namespace.pop(name, None)
    shell.user_module, shell.user_ns = shell.prepare_user_module(user_ns=namespace)
    shell.user_ns_hidden = {}
    shell.init_user_ns()
    InteractiveShell._instance = shell
    # a kernel's default (ipykernel sets it too): figures drawn inline, shown at the end of each cell
    os.environ.setdefault("MPLBACKEND", INLINE_BACKEND)
    _inline_figures(shell)
    try:
        yield shell
    finally:
        InteractiveShell._instance = previous


@contextlib.contextmanager
def kernel_or_none(namespace: dict[str, Any], log: OutputLog | None) -> Iterator[Any]:
    """kernel_session when there is a log to fill (the step needs a kernel), else None: plain `exec`."""
    if log is None:
        yield None
        return
    with kernel_session(namespace, log) as shell:
        yield shell


def run_in_kernel(shell: Any, source: str, index: int, filename: str) -> None:
    """Run one cell's kernel source as a kernel would; raise what it raised (its traceback intact)."""
    shell.output_log.start_cell(index, shell.execution_count)
    shell.compile.next_name = filename
    result = shell.run_cell(source, store_history=True)
    shell.compile.next_name = None
    error = result.error_before_exec or result.error_in_exec
    if error is not None:
        raise error
