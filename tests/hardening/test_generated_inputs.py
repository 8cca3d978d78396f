"""Generated inputs (hypothesis) at every point a value is read: names, notebook cells and their sources, tag
options, run filters, model URIs, API paths and run parameters. Each reader either accepts a value that keeps its
rule (a path-safe name, finite bounded options, a filter that runs on a real database, a URI that reads back the
same) or refuses it with the project's own error; nothing else escapes (no ValueError, RecursionError, 500)."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
from hypothesis import HealthCheck, assume, event, given, settings
from hypothesis import strategies as st

from nbmlops.errors import NbmlopsError, NotebookError, ParameterError
from nbmlops.names import MAX_NAME_LENGTH, check_name, name_problem
from nbmlops.notebook.grammar import cell_role
from nbmlops.notebook.reader import Cell, parse_notebook
from nbmlops.pipeline.compiler import compile_notebook
from nbmlops.pipeline.params import resolve_parameters
from nbmlops.pipeline.spec import Parameter, PipelineSpec
from nbmlops.pipeline.spec_check import option_problem
from nbmlops.registry.errors import RegistryError
from nbmlops.registry.uri import MAX_VERSION, parse_uri
from nbmlops.store.errors import QueryError
from nbmlops.store.query import select_runs, split_filter

SETTINGS = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=20,
)
NAMEISH = st.text(st.sampled_from("ab_-.1/\\ é\x00~:@"), max_size=12) | st.text(max_size=120)


@SETTINGS
@given(NAMEISH)
def test_names_are_path_safe_or_refused(name: str) -> None:
    problem = name_problem(name)
    if problem is None:
        assert check_name(name, "step") == name
        assert 0 < len(name) <= MAX_NAME_LENGTH and name.isascii()
        assert "/" not in name and "\\" not in name and "\x00" not in name
        assert not name.startswith((".", "-")) and name not in (".", "..")
        assert Path("/base", name).parent == Path("/base")  # joined onto a folder, it stays in it
    else:
        with pytest.raises(NbmlopsError, match="step name"):
            check_name(name, "step")


def _cell(source: object, tags: object, metadata: object, cell_type: object) -> dict:
    cell = {"cell_type": cell_type, "source": source, "outputs": []}
    if metadata is not None:
        cell["metadata"] = metadata if not isinstance(metadata, dict) else {**metadata, "tags": tags}
    return cell


SOURCES = (
    st.text(st.sampled_from("x=1+()[]:\n #%!.ab'\"\\"), max_size=40) | JSON | st.lists(st.text(max_size=10), max_size=3)
)
TAGS = (
    st.lists(
        st.sampled_from(
            [
                "step:a",
                "step:b",
                "step:",
                "step:1x",
                "after:a",
                "after:zz",
                "parameters",
                "setup",
                "skip",
                "retries:2",
                "cpus:nan",
                "memory:2G",
                "nocache",
                "block:c",
            ]
        )
        | st.text(max_size=15),
        max_size=3,
    )
    | JSON
)


@SETTINGS
@given(
    st.lists(
        st.tuples(SOURCES, TAGS, JSON | st.just({}), st.sampled_from(["code", "markdown", "raw", 3])),
        min_size=0,
        max_size=5,
    )
)
def test_generated_notebooks_compile_or_name_the_problem(cells: list) -> None:
    raw = json.dumps({"nbformat": 4, "nbformat_minor": 5, "metadata": {}, "cells": [_cell(*c) for c in cells]})
    try:
        spec = compile_notebook(parse_notebook(raw.encode(), "gen.ipynb"))
    except NotebookError as error:
        event("refused")
        assert str(error).startswith("gen.ipynb")
        if error.cell is not None:
            assert f"cell {error.cell + 1}" in str(error) and 0 <= error.cell < len(cells)
        return
    event("compiled")
    reread = PipelineSpec.from_dict(json.loads(spec.to_json()), "gen")  # what it wrote, the spec checks accept
    assert [s.name for s in reread.steps] == [s.name for s in spec.steps]


SNIPPETS = st.sampled_from(
    [
        "x = 1",
        "y = x + 1",
        "print(y)",
        "%%step a\nz = 2",
        "%%step b --after a\nw = z",
        "del x",
        "n = 3",
        "%%skip\nplot()",
        "import math\nq = math.pi",
        "",
        "for i in range(n):\n  x = i",
        "%%step " + "c" * 120 + "\nx = 1",
        "def f():\n    return y",
        "f()",
        "x = (",
        "%%setup",
    ]
)
TAGGED_CELLS = st.lists(
    st.tuples(
        SNIPPETS,
        st.lists(
            st.sampled_from(
                [
                    "step:a",
                    "step:b",
                    "after:a",
                    "parameters",
                    "setup",
                    "skip",
                    "retries:2",
                    "cpus:0.5",
                    "memory:2G",
                    "nocache",
                    "cpus:nan",
                    "retries:101",
                    "step:../x",
                    "hide-input",
                ]
            ),
            max_size=2,
        ),
    ),
    min_size=1,
    max_size=6,
)


@SETTINGS
@given(TAGGED_CELLS)
def test_tagged_notebooks_compile_to_checked_specs_or_name_the_cell(cells: list) -> None:
    raw = json.dumps(
        {
            "nbformat": 4,
            "nbformat_minor": 5,
            "metadata": {},
            "cells": [
                {
                    "cell_type": "code",
                    "source": source,
                    "metadata": {"tags": tags},
                    "outputs": [],
                    "execution_count": None,
                }
                for source, tags in cells
            ],
        }
    )
    try:
        spec = compile_notebook(parse_notebook(raw.encode(), "gen.ipynb"))
    except NotebookError as error:
        event("refused")
        assert str(error).startswith("gen.ipynb") and (error.cell is None or f"cell {error.cell + 1}" in str(error))
        return
    event("compiled")
    data = json.loads(json.dumps(spec.to_dict(), allow_nan=False))  # valid JSON: no NaN or infinity anywhere
    reread = PipelineSpec.from_dict(data, "gen")
    assert all(name_problem(step.name, dots=False) is None for step in reread.steps)


OPTION_VALUES = st.one_of(
    st.integers(-5, 10**25).map(str),
    st.floats(allow_nan=True, allow_infinity=True).map(str),
    st.sampled_from(
        ["", "1e400", "nan", "inf", "-0", "²", "2Gi", "512Mi", "99999999999999TiB", "1.5", "0x10", " 3", "3 "]
    ),
    st.text(max_size=12),
)


@SETTINGS
@given(st.sampled_from(["retries", "cpus", "gpus", "memory", "nocache"]), OPTION_VALUES)
def test_tag_options_are_finite_and_bounded_or_refused_naming_the_tag(key: str, value: str) -> None:
    tag = f"{key}:{value}"
    try:
        role = cell_role(Cell(4, "code", "x = 1", ("step:a", tag)), "gen.ipynb")
    except NotebookError as error:
        event("refused")
        assert error.cell == 4 and "cell 5" in str(error)
        return
    event("accepted")
    for option, parsed in role.options.items():
        assert option_problem(option, parsed) is None, (tag, parsed)
        json.dumps(parsed, allow_nan=False)  # a spec holding it is valid JSON


FIELDS = st.sampled_from(
    [
        "metrics.acc",
        "params.wid",
        "tags.team",
        "status",
        "pid",
        "started_at",
        "name",
        "x",
        "params.",
        "attributes.status",
    ]
)
VALUES = st.one_of(
    st.integers().map(str),
    st.floats().map(str),
    st.text(max_size=15),
    st.sampled_from(
        [
            "'a b'",
            '"q"',
            "[1, 2]",
            '{"a": 1}',
            "null",
            "true",
            "3 or params.wid = 4",
            "1; DROP TABLE runs; --",
            "NaN",
            "1e999",
            "9" * 30,
        ]
    ),
)


@pytest.fixture(scope="module")
def run_db(tmp_path_factory):
    from nbmlops.store import open_store

    store = open_store(tmp_path_factory.mktemp("filters") / ".nbmlops")
    for wid in (3, 4):
        store.create_run(name=f"r{wid}", kind="pipeline", pipeline="p", params={"wid": wid}, tags={"team": "ml"})
    return store


@SETTINGS
@given(
    st.lists(
        st.tuples(FIELDS, st.sampled_from(["=", "==", "!=", "<", "<=", ">", ">=", "~", ""]), VALUES),
        min_size=1,
        max_size=3,
    ),
    st.one_of(st.none(), st.integers(-2, 2_000_000), st.integers(10**20, 10**22)),
)
def test_filters_run_on_a_real_database_or_are_refused(run_db, terms: list, limit: int | None) -> None:
    text = " and ".join(f"{field} {op} {value}" for field, op, value in terms)
    try:
        statement, params = select_runs({"pipeline": "p"}, split_filter(text), (), limit)
    except QueryError:
        event("refused")
        return
    event("ran")
    assert ";" not in statement and "DROP" not in statement  # values are bound, never formatted in
    runs = run_db.db.query(statement, params)
    assert len(runs) <= 2


@SETTINGS
@given(
    st.one_of(
        st.text(max_size=30),
        st.builds(
            lambda n, sep, v: f"{n}{sep}{v}",
            st.sampled_from(["churn", " churn", "ch urn", "../x", "a" * 101, ""]),
            st.sampled_from([":", "@", ": ", ":0", "::"]),
            st.one_of(st.integers(-3, 10**30).map(str), st.text(max_size=6)),
        ),
    )
)
def test_model_uris_read_back_as_written_or_are_refused(uri: str) -> None:
    try:
        ref = parse_uri(uri)
    except RegistryError:
        event("refused")
        return
    event("accepted")
    assert (
        str(ref) == uri.removeprefix("models:/").replace("/", ":", 1) if uri.startswith("models:/") else str(ref) == uri
    )  # one spelling per URI: nothing trimmed or normalised on the way
    assert name_problem(ref.name) is None
    assert ref.version is None or 1 <= ref.version <= MAX_VERSION
    assert parse_uri(str(ref)) == ref


@SETTINGS
@given(
    st.one_of(
        st.text(max_size=40),
        st.lists(st.sampled_from(["a", "..", ".", ".hid", "~x", "", "b.ipynb", "x" * 300]), max_size=6).map("/".join),
        JSON,
    )
)
def test_api_paths_stay_in_the_root_or_are_4xx(tmp_path_factory, path: object) -> None:
    from tornado.web import HTTPError

    from nbmlops.server.paths import safe_path

    root = tmp_path_factory.getbasetemp() / "api_root"
    (root / "sub").mkdir(parents=True, exist_ok=True)
    try:
        found = safe_path(str(root), path, must_exist=False)  # type: ignore[arg-type]
    except HTTPError as error:
        assert 400 <= error.status_code < 500
        return
    real = root.resolve()
    assert found == real or real in found.parents
    assert not any(part.startswith(".") for part in found.relative_to(real).parts)


PARAMS = [
    Parameter("n", 3, "int", 0),
    Parameter("rate", 0.5, "float", 0),
    Parameter("flag", True, "bool", 0),
    Parameter("label", "a", "str", 0),
    Parameter("layers", [1], "list", 0),
    Parameter("opts", {}, "dict", 0),
]
SPEC = PipelineSpec("p", "nb.ipynb", "0" * 64, PARAMS, [], [], [])
TYPES = {"int": int, "float": (int, float), "bool": bool, "str": str, "list": list, "dict": dict}


@SETTINGS
@given(st.dictionaries(st.sampled_from([p.name for p in PARAMS] + ["nope"]), JSON, max_size=4))
def test_api_run_parameters_are_typed_or_refused_naming_them(body: dict) -> None:
    try:
        values = resolve_parameters(SPEC, body)
    except ParameterError as error:
        assert any(f"'{name}'" in str(error) for name in body)
        return
    for param in PARAMS:
        value = values[param.name]
        assert isinstance(value, TYPES[param.type]), (param, value)
        assert not (param.type in ("int", "float") and isinstance(value, bool))
        if isinstance(value, float):
            assert math.isfinite(value)


@SETTINGS
@given(st.sampled_from([p.name for p in PARAMS]), st.text(max_size=30))
def test_cli_parameter_text_is_typed_or_refused(name: str, text: str) -> None:
    assume("=" not in name)
    try:
        values = resolve_parameters(SPEC, [f"{name}={text}"])
    except ParameterError as error:
        assert f"'{name}'" in str(error)
        return
    param = next(p for p in PARAMS if p.name == name)
    assert isinstance(values[name], TYPES[param.type])
    json.dumps(values[name], allow_nan=False)


@SETTINGS
@given(
    st.one_of(
        st.binary(max_size=200),
        JSON.map(lambda v: json.dumps(v).encode()),
        st.integers(1, 3000).map(lambda n: b"[" * n + b"]" * n),
    )
)
def test_api_bodies_are_objects_or_4xx(raw: bytes) -> None:
    from tornado.web import HTTPError

    from nbmlops.server.guards import parse_body

    try:
        body = parse_body(raw)
    except HTTPError as error:
        assert error.status_code in (400, 413)
        return
    assert isinstance(body, dict)


@SETTINGS
@given(st.text(max_size=40) | st.integers().map(str))
def test_api_integer_arguments_are_bounded_or_400(text: str) -> None:
    from tornado.web import HTTPError

    from nbmlops.server.guards import MAX_LIMIT, bounded_int

    try:
        value = bounded_int(text, "limit")
    except HTTPError as error:
        assert error.status_code == 400 and "limit" in error.log_message
        return
    assert 1 <= value <= MAX_LIMIT
