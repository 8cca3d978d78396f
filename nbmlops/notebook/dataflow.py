"""Static dataflow of one cell: the ordered name events a top-to-bottom run would perform.

A cell's module-level code is walked in evaluation order and turned into events:
  Read(name)                      the name's current value is used
  Write(name, conditional, kind)  the name is (re)bound; kind is "assign", "import", "def" or "alias"
                                  (`g = f`: deferred_reads holds the one name it copies)
  Delete(name)                    `del name`
  Mutate(name)                    the object is changed in place (`df["a"] = ...`, `lst.append(x)`,
                                  `model.fit(...)`, `df.drop(..., inplace=True)`): a new version of it
  StarImport(module)              `from m import *`: names the analysis can't see
Function and class bodies run later, when called, against the caller's globals: their free names are
recorded as deferred reads/writes on the Write(kind="def") event, and the compiler applies them wherever
the function or class is used.
"""

from __future__ import annotations

import ast
import builtins
from dataclasses import dataclass

# Methods that change their receiver in place; a call of one is a new version of the receiver.
MUTATING_METHODS = frozenset({
    "append", "extend", "insert", "remove", "pop", "clear", "update", "add", "discard", "sort", "reverse",
    "setdefault", "popitem", "appendleft", "extendleft", "popleft", "rotate", "intersection_update",
    "difference_update", "symmetric_difference_update", "fit", "partial_fit", "fit_transform",
    "fit_predict", "set_params", "set_output", "resize", "fill", "put", "itemset", "setflags",
    "__setitem__", "__delitem__", "set_index_inplace", "insert_column", "fillna_inplace",
})

# Names a kernel (or Python) provides without any cell defining them.
KERNEL_NAMES = frozenset(dir(builtins)) | {"display", "get_ipython", "In", "Out", "exit", "quit", "_", "__",
                                           "___", "__name__", "__builtins__", "__doc__", "__file__"}


@dataclass(frozen=True)
class Read:
    name: str
    line: int


@dataclass(frozen=True)
class Write:
    name: str
    line: int
    conditional: bool = False
    kind: str = "assign"
    deferred_reads: frozenset[str] = frozenset()
    deferred_writes: frozenset[str] = frozenset()


@dataclass(frozen=True)
class Delete:
    name: str
    line: int


@dataclass(frozen=True)
class Mutate:
    name: str
    line: int


@dataclass(frozen=True)
class StarImport:
    module: str
    line: int


Event = Read | Write | Delete | Mutate | StarImport


def root_name(node: ast.AST) -> ast.Name | None:
    """`df` for `df["a"].loc[0]`, `model` for `model.steps[0]`; None when the chain starts elsewhere."""
    while isinstance(node, ast.Attribute | ast.Subscript | ast.Starred):
        node = node.value
    return node if isinstance(node, ast.Name) else None


def _is_inplace_call(call: ast.Call) -> bool:
    for kw in call.keywords:
        if kw.arg == "inplace" and not (isinstance(kw.value, ast.Constant) and kw.value.value in (False, None)):
            return True
    return False


def mutated_receiver(call: ast.Call) -> ast.Name | None:
    """The name a method call changes in place, if the call is one that does."""
    func = call.func
    if isinstance(func, ast.Attribute) and (func.attr in MUTATING_METHODS or _is_inplace_call(call)):
        return root_name(func.value)
    return None


# --- scopes of functions, lambdas, comprehensions and classes ------------------------------------------

@dataclass
class ScopeSummary:
    """What a nested scope does to the globals when it runs."""

    reads: set[str]  # free names it reads (globals, or the enclosing scope's for nested scopes)
    global_writes: set[str]  # globals it rebinds (`global x; x = ...`) or mutates in place


def _target_names(target: ast.AST) -> list[str]:
    if isinstance(target, ast.Name):
        return [target.id]
    if isinstance(target, ast.Tuple | ast.List):
        return [n for elt in target.elts for n in _target_names(elt)]
    if isinstance(target, ast.Starred):
        return _target_names(target.value)
    return []


class _ScopeCollector(ast.NodeVisitor):
    """Collects bindings, loads, global declarations and in-place mutations of one function-like scope,
    folding in the free names of the scopes nested inside it."""

    def visit_Constant(self, node: ast.Constant) -> None:
        """Constants name nothing (and NodeVisitor's compatibility shim for them is slow)."""

    def __init__(self) -> None:
        self.bound: set[str] = set()
        self.loads: set[str] = set()
        self.globals: set[str] = set()
        self.nonlocals: set[str] = set()
        self.mutated: set[str] = set()
        self.nested_writes: set[str] = set()

    def visit_Name(self, node: ast.Name) -> None:
        if isinstance(node.ctx, ast.Load):
            self.loads.add(node.id)
        else:
            self.bound.add(node.id)

    def visit_Global(self, node: ast.Global) -> None:
        self.globals.update(node.names)

    def visit_Nonlocal(self, node: ast.Nonlocal) -> None:
        self.nonlocals.update(node.names)

    def visit_AugAssign(self, node: ast.AugAssign) -> None:
        if isinstance(node.target, ast.Name):
            self.loads.add(node.target.id)
        self.generic_visit(node)

    def _mutation_target(self, target: ast.AST) -> None:
        if isinstance(target, ast.Attribute | ast.Subscript):
            root = root_name(target)
            if root is not None:
                self.mutated.add(root.id)
                self.loads.add(root.id)

    def visit_Assign(self, node: ast.Assign) -> None:
        for target in node.targets:
            self._mutation_target(target)
        self.generic_visit(node)

    def visit_Delete(self, node: ast.Delete) -> None:
        for target in node.targets:
            self._mutation_target(target)
        self.generic_visit(node)

    def visit_Call(self, node: ast.Call) -> None:
        receiver = mutated_receiver(node)
        if receiver is not None:
            self.mutated.add(receiver.id)
        self.generic_visit(node)

    def visit_Import(self, node: ast.Import) -> None:
        for alias in node.names:
            self.bound.add(alias.asname or alias.name.split(".")[0])

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        for alias in node.names:
            if alias.name != "*":
                self.bound.add(alias.asname or alias.name)

    def visit_ExceptHandler(self, node: ast.ExceptHandler) -> None:
        if node.name:
            self.bound.add(node.name)
        self.generic_visit(node)

    def visit_MatchAs(self, node: ast.MatchAs) -> None:
        if node.name:
            self.bound.add(node.name)
        self.generic_visit(node)

    def visit_MatchStar(self, node: ast.MatchStar) -> None:
        if node.name:
            self.bound.add(node.name)

    def visit_MatchMapping(self, node: ast.MatchMapping) -> None:
        if node.rest:
            self.bound.add(node.rest)
        self.generic_visit(node)

    def _nested(self, summary: ScopeSummary) -> None:
        self.loads.update(summary.reads)
        self.nested_writes.update(summary.global_writes)

    def visit_FunctionDef(self, node: ast.FunctionDef | ast.AsyncFunctionDef) -> None:
        self.bound.add(node.name)
        for expr in _def_time_exprs(node):
            self.visit(expr)
        self._nested(function_scope(node))

    visit_AsyncFunctionDef = visit_FunctionDef

    def visit_Lambda(self, node: ast.Lambda) -> None:
        for expr in node.args.defaults + [d for d in node.args.kw_defaults if d is not None]:
            self.visit(expr)
        self._nested(function_scope(node))

    def visit_ClassDef(self, node: ast.ClassDef) -> None:
        self.bound.add(node.name)
        immediate, deferred = class_scope(node)
        self._nested(immediate)
        self._nested(deferred)

    def _comprehension(self, node: ast.AST) -> None:
        generators = node.generators  # type: ignore[attr-defined]
        self.visit(generators[0].iter)  # evaluated in the enclosing scope
        summary, walrus = comprehension_scope(node)
        self._nested(summary)
        self.bound.update(walrus)

    visit_ListComp = visit_SetComp = visit_DictComp = visit_GeneratorExp = _comprehension

    def visit_NamedExpr(self, node: ast.NamedExpr) -> None:
        self.visit(node.value)
        self.bound.add(node.target.id)


def _def_time_exprs(node: ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda) -> list[ast.expr]:
    """Expressions evaluated when the `def` runs: decorators, defaults and annotations."""
    args = node.args
    exprs: list[ast.expr] = list(args.defaults) + [d for d in args.kw_defaults if d is not None]
    if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
        exprs = list(node.decorator_list) + exprs
        all_args = args.posonlyargs + args.args + args.kwonlyargs + [a for a in (args.vararg, args.kwarg) if a]
        exprs += [a.annotation for a in all_args if a.annotation is not None]
        if node.returns is not None:
            exprs.append(node.returns)
    return exprs


def _parameters(args: ast.arguments) -> set[str]:
    names = {a.arg for a in args.posonlyargs + args.args + args.kwonlyargs}
    names.update(a.arg for a in (args.vararg, args.kwarg) if a)
    return names


def function_scope(node: ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda) -> ScopeSummary:
    """Free names a function or lambda reads when called, and the globals it rebinds or mutates."""
    collector = _ScopeCollector()
    body = node.body if isinstance(node.body, list) else [node.body]
    for stmt in body:
        collector.visit(stmt)
    local = (collector.bound | _parameters(node.args)) - collector.globals - collector.nonlocals
    reads = collector.loads - local
    writes = (collector.bound & collector.globals) | (collector.mutated - local) | (
        collector.nested_writes - local)
    return ScopeSummary(reads, writes)


def comprehension_scope(node: ast.AST) -> tuple[ScopeSummary, set[str]]:
    """Free names of a comprehension (minus its first iterable) and the names its walruses bind outside."""
    collector = _ScopeCollector()
    generators = node.generators  # type: ignore[attr-defined]
    for i, gen in enumerate(generators):
        collector.visit(gen.target)
        if i:
            collector.visit(gen.iter)
        for cond in gen.ifs:
            collector.visit(cond)
    for part in ("elt", "key", "value"):
        if hasattr(node, part):
            collector.visit(getattr(node, part))
    targets = {n for gen in generators for n in _target_names(gen.target)}
    walrus = {n.target.id for n in ast.walk(node) if isinstance(n, ast.NamedExpr)}
    reads = collector.loads - targets - walrus  # a walrus name is the comprehension's own binding
    writes = (collector.mutated - targets) | collector.nested_writes
    return ScopeSummary(reads, writes), walrus


def class_scope(node: ast.ClassDef) -> tuple[ScopeSummary, ScopeSummary]:
    """(what the class body reads while the class is created, what its methods read when called)."""
    immediate = _ScopeCollector()
    deferred = ScopeSummary(set(), set())
    for expr in node.bases + [k.value for k in node.keywords] + node.decorator_list:
        immediate.visit(expr)
    for stmt in node.body:
        if isinstance(stmt, ast.FunctionDef | ast.AsyncFunctionDef):
            for expr in _def_time_exprs(stmt):
                immediate.visit(expr)
            method = function_scope(stmt)
            deferred.reads |= method.reads
            deferred.global_writes |= method.global_writes
            immediate.bound.add(stmt.name)
        else:
            immediate.visit(stmt)
    reads = immediate.loads - immediate.bound
    return ScopeSummary(reads, immediate.mutated - immediate.bound), deferred


# --- module level: ordered events ---------------------------------------------------------------------

class _ModuleEvents(ast.NodeVisitor):
    def visit_Constant(self, node: ast.Constant) -> None:
        """Constants name nothing; this also skips NodeVisitor's slow compatibility shim for them."""

    def __init__(self) -> None:
        self.events: list[Event] = []
        self.conditional = 0

    # names
    def visit_Name(self, node: ast.Name) -> None:
        if isinstance(node.ctx, ast.Load):
            self.events.append(Read(node.id, node.lineno))
        elif isinstance(node.ctx, ast.Store):
            self._write(node.id, node.lineno)
        else:
            self.events.append(Delete(node.id, node.lineno))

    def _write(self, name: str, line: int, kind: str = "assign", summary: ScopeSummary | None = None) -> None:
        self.events.append(Write(name, line, self.conditional > 0, kind,
                                 frozenset(summary.reads) if summary else frozenset(),
                                 frozenset(summary.global_writes) if summary else frozenset()))

    def _summary(self, summary: ScopeSummary, line: int) -> None:
        """A nested scope that runs right now (lambda passed on, comprehension, class body)."""
        for name in sorted(summary.reads):
            self.events.append(Read(name, line))
        for name in sorted(summary.global_writes):
            self.events.append(Mutate(name, line))

    def _target(self, target: ast.AST) -> None:
        if isinstance(target, ast.Name):
            self._write(target.id, target.lineno)
        elif isinstance(target, ast.Tuple | ast.List):
            for elt in target.elts:
                self._target(elt)
        elif isinstance(target, ast.Starred):
            self._target(target.value)
        elif isinstance(target, ast.Attribute | ast.Subscript):
            self.visit(target)  # reads the chain (root, indices)
            root = root_name(target)
            if root is not None:
                self.events.append(Mutate(root.id, target.lineno))

    # statements
    def visit_Assign(self, node: ast.Assign) -> None:
        if isinstance(node.value, ast.Lambda) and all(isinstance(t, ast.Name) for t in node.targets):
            # `f = lambda ...` is a function definition: its body runs when called, against the caller's globals
            for expr in _def_time_exprs(node.value):
                self.visit(expr)
            summary = function_scope(node.value)
            for target in node.targets:
                self._write(target.id, target.lineno, "def", summary)  # type: ignore[attr-defined]
            return
        if isinstance(node.value, ast.Name) and all(isinstance(t, ast.Name) for t in node.targets):
            # `g = f`: if f is a function or class, g runs f's body when called; the compiler resolves it
            self.visit(node.value)
            for target in node.targets:
                self._write(target.id, target.lineno, "alias",  # type: ignore[attr-defined]
                            ScopeSummary({node.value.id}, set()))
            return
        self.visit(node.value)
        for target in node.targets:
            self._target(target)

    def visit_AnnAssign(self, node: ast.AnnAssign) -> None:
        self.visit(node.annotation)
        if node.value is not None:
            self.visit(node.value)
            self._target(node.target)

    def visit_AugAssign(self, node: ast.AugAssign) -> None:
        if isinstance(node.target, ast.Name):
            self.events.append(Read(node.target.id, node.lineno))
            self.visit(node.value)
            self._write(node.target.id, node.lineno)
        else:
            self.visit(node.value)
            self._target(node.target)

    def visit_Delete(self, node: ast.Delete) -> None:
        for target in node.targets:
            if isinstance(target, ast.Name | ast.Tuple | ast.List):
                for name in _target_names(target):
                    self.events.append(Delete(name, node.lineno))
            else:
                self._target(target)

    def visit_Import(self, node: ast.Import) -> None:
        for alias in node.names:
            self._write(alias.asname or alias.name.split(".")[0], node.lineno, "import")

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        for alias in node.names:
            if alias.name == "*":
                self.events.append(StarImport(node.module or "", node.lineno))
            else:
                self._write(alias.asname or alias.name, node.lineno, "import")

    def visit_FunctionDef(self, node: ast.FunctionDef | ast.AsyncFunctionDef) -> None:
        for expr in _def_time_exprs(node):
            self.visit(expr)
        self._write(node.name, node.lineno, "def", function_scope(node))

    visit_AsyncFunctionDef = visit_FunctionDef

    def visit_ClassDef(self, node: ast.ClassDef) -> None:
        immediate, deferred = class_scope(node)
        self._summary(immediate, node.lineno)
        self._write(node.name, node.lineno, "def", deferred)

    def visit_Lambda(self, node: ast.Lambda) -> None:
        for expr in _def_time_exprs(node):
            self.visit(expr)
        # a lambda in an expression is usually called right away (apply, sorted key): read what it reads now
        self._summary(function_scope(node), node.lineno)

    def _comprehension(self, node: ast.AST) -> None:
        self.visit(node.generators[0].iter)  # type: ignore[attr-defined]
        summary, walrus = comprehension_scope(node)
        self._summary(summary, node.lineno)  # type: ignore[attr-defined]
        for name in sorted(walrus):
            self._write(name, node.lineno)  # type: ignore[attr-defined]

    visit_ListComp = visit_SetComp = visit_DictComp = visit_GeneratorExp = _comprehension

    def visit_NamedExpr(self, node: ast.NamedExpr) -> None:
        self.visit(node.value)
        self._write(node.target.id, node.lineno)

    def visit_Call(self, node: ast.Call) -> None:
        self.generic_visit(node)
        receiver = mutated_receiver(node)
        if receiver is not None:
            self.events.append(Mutate(receiver.id, node.lineno))

    def _conditional_block(self, before: list[ast.AST], blocks: list[ast.AST]) -> None:
        for part in before:
            self.visit(part)
        self.conditional += 1
        for part in blocks:
            self.visit(part)
        self.conditional -= 1

    def visit_If(self, node: ast.If) -> None:
        self._conditional_block([node.test], node.body + node.orelse)

    def visit_While(self, node: ast.While) -> None:
        self._conditional_block([node.test], node.body + node.orelse)

    def visit_For(self, node: ast.For | ast.AsyncFor) -> None:
        self.visit(node.iter)
        self.conditional += 1
        self._target(node.target)
        for stmt in node.body + node.orelse:
            self.visit(stmt)
        self.conditional -= 1

    visit_AsyncFor = visit_For

    def visit_With(self, node: ast.With | ast.AsyncWith) -> None:
        for item in node.items:
            self.visit(item.context_expr)
            if item.optional_vars is not None:
                self._target(item.optional_vars)
        for stmt in node.body:
            self.visit(stmt)

    visit_AsyncWith = visit_With

    def visit_Try(self, node: ast.Try) -> None:
        self.conditional += 1
        for stmt in node.body:
            self.visit(stmt)
        for handler in node.handlers:
            if handler.type is not None:
                self.visit(handler.type)
            if handler.name:
                self._write(handler.name, handler.lineno)
            for stmt in handler.body:
                self.visit(stmt)
            if handler.name:  # Python unbinds `e` of `except E as e` when the handler ends
                self.events.append(Delete(handler.name, handler.lineno))
        for stmt in node.orelse:
            self.visit(stmt)
        self.conditional -= 1
        for stmt in node.finalbody:
            self.visit(stmt)

    visit_TryStar = visit_Try

    def visit_Match(self, node: ast.Match) -> None:
        self.visit(node.subject)
        self.conditional += 1
        for case in node.cases:
            for sub in ast.walk(case.pattern):
                if isinstance(sub, ast.MatchAs | ast.MatchStar) and sub.name:
                    self._write(sub.name, case.pattern.lineno)
                elif isinstance(sub, ast.MatchMapping) and sub.rest:
                    self._write(sub.rest, case.pattern.lineno)
                elif isinstance(sub, ast.MatchValue | ast.MatchClass):
                    self.visit(sub.value if isinstance(sub, ast.MatchValue) else sub.cls)
            if case.guard is not None:
                self.visit(case.guard)
            for stmt in case.body:
                self.visit(stmt)
        self.conditional -= 1


def cell_events(tree: ast.Module) -> list[Event]:
    """The name events of a parsed cell, in the order a run performs them."""
    visitor = _ModuleEvents()
    for stmt in tree.body:
        visitor.visit(stmt)
    return visitor.events
