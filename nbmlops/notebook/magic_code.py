"""What IPython's magics and shell escapes do to names, for the dataflow analysis.

IPython syntax becomes calls with the code as a string (`%time total = np.sum(big)` is
`get_ipython().run_line_magic('time', 'total = np.sum(big)')`), which an analysis of Python sees as one call
of constants. `expand_magics` rewrites such calls into the Python they run, as the kernel runs it:
  %time / %prun STMT, %%time, %%prun      the code runs in the namespace: its reads and bindings happen here
  %timeit STMT, %%timeit                  the code runs inside a function (timeit's): it reads, binds nothing
  %%capture [opts] [VAR]                  the body runs here, then VAR is bound
  %%bash --out O --err E (script magics)  the body is another program's; O and E are bound
  !cmd, x = !cmd, other magics' lines     `{expr}` and `$name` are filled in from the namespace (IPython's
                                          var_expand) where they name something, and left as they are where not:
                                          reads that are no error when nothing defines them
Reads that must not be errors are made the body of a function called on the spot (`def _nbmlops_magic_L(): ...`),
whose free names the compiler follows without requiring them. The rewritten tree is for analysis only; the
cell still runs as the user wrote it. Line numbers stay those of the cell.

With `headless=True` (compiling a pipeline) the magics a step can't run without a screen or a terminal are
refused with MagicError naming the line.
"""

from __future__ import annotations

import ast
import re
import shlex

RUNS_HERE = frozenset({"time", "prun"})
RUNS_IN_FUNCTION = frozenset({"timeit"})
# magics IPython leaves unexpanded (`@no_var_expand`): their line is code, not text with {} fields
NO_VAR_EXPAND = RUNS_HERE | RUNS_IN_FUNCTION | {"capture", "debug"}
# options that take a value, per magic (from IPython's parse_options strings); the code follows the options
_VALUE_OPTIONS = {"timeit": "nrp", "prun": "DlsT"}
_GUI_LOOPS = frozenset(
    {
        "qt",
        "qt4",
        "qt5",
        "qt6",
        "tk",
        "gtk",
        "gtk3",
        "gtk4",
        "wx",
        "osx",
        "macosx",
        "glut",
        "pyglet",
        "gtkagg",
        "qtagg",
        "tkagg",
        "wxagg",
    }
)
# magics that wait on a person (a debugger, an editor, the clipboard) or another front end
_INTERACTIVE = frozenset({"debug", "edit", "ed", "paste", "cpaste", "qtconsole"})
# cell magics that run their body with another program and can bind its output (IPython's ScriptMagics)
SCRIPT_MAGICS = frozenset({"script", "bash", "sh", "zsh", "python", "python2", "python3", "pypy", "perl", "ruby"})
_VAR_FIELD = re.compile(r"(?<!\$)\$(\w+)|\{([^{}]+)\}")


class MagicError(ValueError):
    def __init__(self, message: str, lineno: int) -> None:
        super().__init__(message)
        self.lineno = lineno


def expand_magics(tree: ast.Module, source: str, headless: bool = False) -> ast.Module:
    """`tree` (of `source`, a cell's plain Python) with IPython's calls replaced by the code they run."""
    if "get_ipython" not in source:
        return tree
    tree.body = _Expander(headless).statements(tree.body)
    ast.fix_missing_locations(tree)
    return tree


def _magic_call(node: ast.AST) -> tuple[str, list[str]] | None:
    """('line:NAME' / 'cell:NAME' / 'system' / 'getoutput', its string arguments) for a call IPython made."""
    if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)):
        return None
    owner = node.func.value
    if not (isinstance(owner, ast.Call) and isinstance(owner.func, ast.Name) and owner.func.id == "get_ipython"):
        return None
    args = [a.value for a in node.args if isinstance(a, ast.Constant) and isinstance(a.value, str)]
    if len(args) != len(node.args) or not args:
        return None
    method = node.func.attr
    if method == "run_line_magic" and len(args) == 2:
        return f"line:{args[0]}", args[1:]
    if method == "run_cell_magic" and len(args) == 3:
        return f"cell:{args[0]}", args[1:]
    if method in ("system", "getoutput"):
        return method, args
    return None


def _strip_options(line: str, magic: str) -> str:
    """The code after a magic's leading options (`-n 3 -r 2 np.sum(big)` -> `np.sum(big)`)."""
    takes_value = _VALUE_OPTIONS.get(magic, "")
    rest = line.lstrip()
    while rest.startswith("-") and not rest.startswith("--"):
        flag, _, after = rest.partition(" ")
        letters = flag[1:]
        rest = after.lstrip()
        if letters and letters[-1] in takes_value and len(letters) == 1:
            _, _, rest = rest.partition(" ")  # the option's value is the next word
            rest = rest.lstrip()
    return rest


def _parse(code: str, lineno: int, first_line_offset: int = 0) -> list[ast.stmt] | None:
    """Statements of `code` placed at `lineno` (+ `first_line_offset` lines); None if it isn't Python."""
    try:
        body = ast.parse(code).body
    except SyntaxError:
        return None
    module = ast.Module(body=body, type_ignores=[])
    ast.increment_lineno(module, lineno - 1 + first_line_offset)
    return body


def _field_names(text: str) -> list[str]:
    """The names var_expand would fill in: `$name` and those read by `{expr}`."""
    names: list[str] = []
    for match in _VAR_FIELD.finditer(text):
        if match.group(1):
            names.append(match.group(1))
            continue
        try:
            expr = ast.parse(match.group(2).strip(), mode="eval")
        except SyntaxError:
            continue  # not an expression: IPython leaves it as text
        names.extend(n.id for n in ast.walk(expr) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load))
    return list(dict.fromkeys(names))


def _soft_reads(body: list[ast.stmt], lineno: int) -> list[ast.stmt]:
    """A function holding `body`, called on the spot: what it reads is followed where defined, never required."""
    name = f"_nbmlops_magic_{lineno}"
    where = {"lineno": lineno, "col_offset": 0}
    func = ast.FunctionDef(
        name=name,
        args=ast.arguments(posonlyargs=[], args=[], kwonlyargs=[], kw_defaults=[], defaults=[]),
        body=body or [ast.Pass(**where)],
        decorator_list=[],
        returns=None,
        type_params=[],
        **where,
    )
    return [func, ast.Expr(ast.Call(ast.Name(name, ast.Load(), **where), [], [], **where), **where)]


def _name_reads(names: list[str], lineno: int) -> list[ast.stmt]:
    return [ast.Expr(ast.Name(n, ast.Load(), lineno=lineno, col_offset=0)) for n in names]


class _Expander:
    def __init__(self, headless: bool) -> None:
        self.headless = headless

    def statements(self, body: list[ast.stmt]) -> list[ast.stmt]:
        out: list[ast.stmt] = []
        for stmt in body:
            for field in ("body", "orelse", "finalbody"):
                inner = getattr(stmt, field, None)
                if isinstance(inner, list) and inner and isinstance(inner[0], ast.stmt):
                    setattr(stmt, field, self.statements(inner))
            for handler in getattr(stmt, "handlers", []):
                handler.body = self.statements(handler.body)
            for case in getattr(stmt, "cases", []):
                case.body = self.statements(case.body)
            if isinstance(stmt, ast.Expr) and (found := _magic_call(stmt.value)) is not None:
                out.extend(self._statement(stmt, *found))
            else:
                before: list[ast.stmt] = []
                self._expressions(stmt, before)
                out.extend(before)
                out.append(stmt)
        return out

    def _check(self, kind: str, args: list[str], lineno: int) -> None:
        if not self.headless or not kind.startswith("line:"):
            return
        magic, line = kind[5:], args[0].strip()
        words = line.split()
        if magic in _INTERACTIVE or (magic == "pdb" and words[:1] in (["on"], ["1"])):
            raise MagicError(f"%{magic} waits for a person at a terminal, which a pipeline step doesn't have", lineno)
        loop = words[0].lower() if words else ""
        if magic in ("gui", "matplotlib", "pylab") and loop in _GUI_LOOPS:
            raise MagicError(
                f"%{magic} {loop} needs a screen, which a pipeline step doesn't have; use "
                "`%matplotlib inline` (figures are kept in the step's notebook)",
                lineno,
            )

    def _statement(self, stmt: ast.Expr, kind: str, args: list[str]) -> list[ast.stmt]:
        lineno = stmt.lineno
        self._check(kind, args, lineno)
        magic = kind.partition(":")[2]
        if kind.startswith("line:") and magic in RUNS_HERE | RUNS_IN_FUNCTION:
            body = _parse(_strip_options(args[0], magic), lineno)
            if body is None:
                return [stmt]
            return _soft_reads(body, lineno) if magic in RUNS_IN_FUNCTION else body
        if kind.startswith("cell:") and magic in RUNS_HERE | RUNS_IN_FUNCTION | {"capture"}:
            line, cell = args
            body = _parse(cell, lineno, first_line_offset=1)  # the body starts on the line after the magic
            if body is None:
                return [stmt]
            if magic in RUNS_IN_FUNCTION:
                setup = _parse(_strip_options(line, magic), lineno) or []
                return _soft_reads(setup + body, lineno)
            if magic == "capture":
                words = [w for w in _split(line) if not w.startswith("-")]
                if words:
                    body.append(
                        ast.Assign(
                            [ast.Name(words[0], ast.Store(), lineno=lineno, col_offset=0)],
                            ast.Constant(None, lineno=lineno, col_offset=0),
                            lineno=lineno,
                            col_offset=0,
                        )
                    )
            return body
        bound = _script_outputs(magic, args[0]) if kind.startswith("cell:") else []
        return (
            self._expanded_text(kind, args, lineno)
            + [stmt]
            + [
                ast.Assign(
                    [ast.Name(name, ast.Store(), lineno=lineno, col_offset=0)],
                    ast.Constant(None, lineno=lineno, col_offset=0),
                    lineno=lineno,
                    col_offset=0,
                )
                for name in bound
            ]
        )

    def _expanded_text(self, kind: str, args: list[str], lineno: int) -> list[ast.stmt]:
        """Soft reads of the `{expr}` and `$name` fields IPython fills in from the namespace."""
        magic = kind.partition(":")[2]
        if magic in NO_VAR_EXPAND:
            return []
        names = _field_names(args[0])
        return _soft_reads(_name_reads(names, lineno), lineno) if names else []

    def _expressions(self, stmt: ast.stmt, before: list[ast.stmt]) -> None:
        """Magic calls inside a statement (`x = %time f(y)`, `files = !ls {d}`): replaced by the expression they
        evaluate where that is Python, their soft reads put before the statement. Nested statements were
        expanded on their own."""
        pending: list[ast.AST] = [stmt]
        while pending:
            node = pending.pop()
            for field, value in ast.iter_fields(node):
                items = value if isinstance(value, list) else [value]
                for item in items:
                    if isinstance(item, ast.stmt) and item is not stmt:
                        continue
                    if isinstance(item, ast.expr) and (found := _magic_call(item)) is not None:
                        replacement = self._expression(item, *found, before)
                        if isinstance(value, list):
                            value[value.index(item)] = replacement
                        else:
                            setattr(node, field, replacement)
                    elif isinstance(item, ast.AST):
                        pending.append(item)

    def _expression(self, call: ast.Call, kind: str, args: list[str], before: list[ast.stmt]) -> ast.expr:
        lineno = call.lineno
        self._check(kind, args, lineno)
        magic = kind.partition(":")[2]
        if kind.startswith("line:") and magic in RUNS_HERE | RUNS_IN_FUNCTION:
            code = _strip_options(args[0], magic)
            try:
                expr = ast.parse(code, mode="eval").body
            except SyntaxError:
                return call
            if magic in RUNS_HERE:
                ast.increment_lineno(expr, lineno - 1)
                return expr
            before.extend(_soft_reads([ast.Expr(expr)], lineno))
            return call
        before.extend(self._expanded_text(kind, args, lineno))
        return call


def _script_outputs(magic: str, line: str) -> list[str]:
    """The variables a script cell magic binds: `%%bash --out o --err e --proc p` (IPython's script magics)."""
    if magic not in SCRIPT_MAGICS:
        return []
    words = _split(line)
    return [words[i + 1] for i, word in enumerate(words[:-1]) if word in ("--out", "--err", "--proc")]


def _split(line: str) -> list[str]:
    try:
        return shlex.split(line)
    except ValueError:
        return line.split()
