"""The compiler: errors that name the notebook cell, bad notebook files, parameters, the spec and its views."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from nbmlops.errors import NotebookError, ParameterError, SpecError
from nbmlops.notebook.reader import parse_notebook, read_notebook
from nbmlops.pipeline.compiler import compile_notebook
from nbmlops.pipeline.graph import topological_order
from nbmlops.pipeline.params import parse_value, resolve_parameters
from nbmlops.pipeline.render import to_dot, to_mermaid, to_text
from nbmlops.pipeline.spec import Parameter, PipelineSpec


def compile_cells(make_notebook, cells: list):
    return compile_notebook(make_notebook(cells))


def error_of(make_notebook, cells: list) -> NotebookError:
    with pytest.raises(NotebookError) as info:
        compile_cells(make_notebook, cells)
    return info.value


# --- errors name the cell -------------------------------------------------------------------------------


def test_syntax_error_names_cell_and_line(make_notebook) -> None:
    err = error_of(make_notebook, [("x = 1", ["step:a"]), ("# prepare\ny = 1\nz = = 3", ["step:b"])])
    assert err.cell == 1 and err.first_line == "z = = 3"
    assert "cell 2 `z = = 3`: line 3: syntax error" in str(err)


def test_unclosed_bracket_is_syntax_error(make_notebook) -> None:
    err = error_of(make_notebook, [("data = [1,\n", ["step:a"])])
    assert err.cell == 0 and "syntax error" in str(err) and "never closed" in str(err)


def test_syntax_error_in_setup_cell(make_notebook) -> None:
    err = error_of(make_notebook, [("import os\ndef f(:\n    pass", ["setup"]), ("x = 1", ["step:a"])])
    assert err.cell == 0 and "line 2" in str(err)


def test_ipython_syntax_is_not_a_syntax_error(make_notebook) -> None:
    spec = compile_cells(
        make_notebook, [("%load_ext autoreload\n!pip list\nx = 1\nx?", ["step:a"]), ("%%time\nprint(x)", ["step:b"])]
    )
    assert spec.step("b").inputs == {"x": "a"}
    assert "get_ipython()" in spec.step("a").cells[0].code


def test_cycle_names_the_cycle_and_the_after_cell(make_notebook) -> None:
    err = error_of(
        make_notebook,
        [("x = 1", ["step:a"]), ("y = x", ["step:b"]), ("# wait for c\nw = 1", ["after:c"]), ("z = y", ["step:c"])],
    )
    assert "steps form a cycle: b -> c -> b" in str(err)
    assert err.cell == 2 and err.first_line == "# wait for c"


def test_longer_cycle(make_notebook) -> None:
    err = error_of(make_notebook, [("x = 1", ["step:a", "after:c"]), ("y = x", ["step:b"]), ("z = y", ["step:c"])])
    assert "cycle: a -> b -> c -> a" in str(err) and err.cell == 0


def test_step_after_itself_is_a_cycle(make_notebook) -> None:
    err = error_of(make_notebook, [("x = 1", ["step:a", "after:a"])])
    assert "cycle: a -> a" in str(err)


def test_forward_after_without_cycle_is_fine(make_notebook) -> None:
    spec = compile_cells(make_notebook, [("x = 1", ["step:a", "after:b"]), ("y = 2", ["step:b"])])
    assert spec.step("a").upstream == ["b"]
    assert topological_order(spec) == ["b", "a"]


def test_duplicate_step_names_both_cells(make_notebook) -> None:
    err = error_of(make_notebook, [("x = 1", ["step:a"]), ("y = 1", ["step:b"]), ("z = 1", ["step:a"])])
    assert err.cell == 2 and err.first_line == "z = 1"
    assert "duplicate step 'a': it already started at cell 1" in str(err)


def test_step_name_tag_repeated_on_contiguous_cells_is_one_step(make_notebook) -> None:
    spec = compile_cells(make_notebook, [("x = 1", ["step:a"]), ("y = 1", ["step:a"]), ("print(x)", ["step:b"])])
    assert [c.index for c in spec.step("a").cells] == [0, 1]


def test_step_names_differing_in_case(make_notebook) -> None:
    err = error_of(make_notebook, [("x = 1", ["step:train"]), ("y = 1", ["step:Train"])])
    assert err.cell == 1 and "differ only in case" in str(err)


def test_unknown_after_target(make_notebook) -> None:
    err = error_of(make_notebook, [("x = 1", ["step:a"]), ("print(x)", ["step:b"]), ("y = 2", ["after:zzz"])])
    assert err.cell == 2 and err.first_line == "y = 2"
    assert "'after:zzz': there is no step 'zzz' (steps: a, b)" in str(err)


def test_unknown_name_names_cell_and_line(make_notebook) -> None:
    err = error_of(make_notebook, [("x = 1", ["step:a"]), ("# use it\nprint(x, undefined)", ["step:b"])])
    assert err.cell == 1 and err.first_line == "print(x, undefined)"
    assert "line 2: step 'b' reads 'undefined', which no earlier step or setup cell defines" in str(err)


def test_name_defined_only_by_a_later_step_is_unknown(make_notebook) -> None:
    err = error_of(make_notebook, [("print(later)", ["step:a"]), ("later = 1", ["step:b"])])
    assert err.cell == 0 and "reads 'later'" in str(err)


def test_setup_reading_a_steps_name(make_notebook) -> None:
    err = error_of(make_notebook, [("x = 1", ["step:a"]), ("print(x)", ["setup"]), ("y = 1", ["step:b"])])
    assert err.cell == 1 and err.first_line == "print(x)"
    assert "setup reads 'x', which step 'a' (cell 1) defines" in str(err)


def test_setup_reading_unknown_name(make_notebook) -> None:
    err = error_of(make_notebook, [("print(nothing)", ["setup"]), ("y = 1", ["step:b"])])
    assert err.cell == 0 and "setup reads 'nothing'" in str(err)


def test_setup_may_use_parameters_and_earlier_setup(make_notebook) -> None:
    spec = compile_cells(
        make_notebook,
        [("C = 1.0", ["parameters"]), ("import math\nK = math.sqrt(C)", ["setup"]), ("print(K)", ["step:a"])],
    )
    assert spec.step("a").params == ["C"]  # setup reads C, so every step depends on its value


def test_no_steps_and_no_code(make_notebook) -> None:
    with pytest.raises(NotebookError, match="there is no step to run"):
        compile_cells(make_notebook, [("x = 1", ["setup"]), ("y = 1", ["skip"])])
    with pytest.raises(NotebookError, match="no code to run"):
        compile_cells(make_notebook, [("md", "# only text"), "   "])


def test_non_python_notebook(tmp_path: Path) -> None:
    path = tmp_path / "r.ipynb"
    path.write_text(
        json.dumps(
            {
                "nbformat": 4,
                "nbformat_minor": 5,
                "metadata": {"language_info": {"name": "R"}},
                "cells": [{"cell_type": "code", "source": "x <- 1", "metadata": {}}],
            }
        )
    )
    with pytest.raises(NotebookError, match="language is R"):
        compile_notebook(path)


# --- bad notebook files ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "empty"),
        (b"   \n", "empty"),
        (b"{not json", "not valid notebook JSON"),
        (b"\xff\xfe\x00", "not valid notebook JSON"),
        (b"[1, 2]", "no 'cells' list"),
        (b'{"metadata": {}}', "no 'cells' list"),
        (b'{"nbformat": 3, "cells": []}', "nbformat 3 is not supported"),
        (b'{"cells": []}', "nbformat None is not supported"),
        (b'{"nbformat": 4, "cells": {}}', "'cells' is not a list"),
        (b'{"nbformat": 4, "cells": [{"source": "x"}]}', "malformed cell"),
        (
            b'{"nbformat": 4, "cells": [{"cell_type": "code", "source": "x", "metadata": {"tags": "step:a"}}]}',
            "tags must be a list of strings",
        ),
    ],
)
def test_bad_notebook_files(tmp_path: Path, content: bytes, message: str) -> None:
    path = tmp_path / "bad.ipynb"
    path.write_bytes(content)
    with pytest.raises(NotebookError, match=message) as info:
        compile_notebook(path)
    assert str(path) in str(info.value)


def test_missing_file_and_directory(tmp_path: Path) -> None:
    with pytest.raises(NotebookError, match="no such file"):
        read_notebook(tmp_path / "missing.ipynb")
    with pytest.raises(NotebookError, match="is a directory"):
        compile_notebook(tmp_path)


def test_parse_notebook_joins_source_lists() -> None:
    raw = json.dumps(
        {
            "nbformat": 4,
            "cells": [{"cell_type": "code", "source": ["x = 1\n", "y = 2"], "metadata": {"tags": [" step:a "]}}],
        }
    ).encode()
    nb = parse_notebook(raw, "mem.ipynb")
    assert nb.cells[0].source == "x = 1\ny = 2" and nb.cells[0].tags == ("step:a",)
    assert len(nb.sha256) == 64


# --- parameters -----------------------------------------------------------------------------------------

PARAMS = (
    "C: float = 1\nn = 3\nname = 'run'\nflag = True\nxs = [1, 2]\nd = {'a': 1}\nt = (1, 2)\nnone = None\n"
    "neg = -1.5\nderived = n * 2\na, b = 1, 2"
)


@pytest.fixture
def param_spec(make_notebook):
    return compile_cells(
        make_notebook,
        [
            ("md", "# churn"),
            (PARAMS, ["parameters"]),
            ("print(C, n, name, flag, xs, d, t, none, neg, derived, a)", ["step:a"]),
        ],
    )


def test_parameters_names_defaults_types(param_spec) -> None:
    got = {p.name: (p.default, p.type, p.cell) for p in param_spec.parameters}
    assert got == {
        "C": (1, "float", 1),
        "n": (3, "int", 1),
        "name": ("run", "str", 1),
        "flag": (True, "bool", 1),
        "xs": ([1, 2], "list", 1),
        "d": ({"a": 1}, "dict", 1),
        "t": ((1, 2), "tuple", 1),
        "none": (None, "NoneType", 1),
        "neg": (-1.5, "float", 1),
    }
    # computed values and tuple targets are code, not parameters one can set
    assert "derived" not in got and "a" not in got


def test_step_params_are_those_it_reads(param_spec) -> None:
    assert param_spec.step("a").params == sorted(["C", "n", "name", "flag", "xs", "d", "t", "none", "neg"])


@pytest.mark.parametrize(
    ("override", "name", "value"),
    [
        ("C=0.5", "C", 0.5),
        ("C=2", "C", 2.0),
        ("C= 2.5 ", "C", 2.5),
        ("n=4", "n", 4),
        ("n=1_000", "n", 1000),
        ("name=other", "name", "other"),
        ("name=a=b", "name", "a=b"),
        ("name=", "name", ""),
        ("flag=false", "flag", False),
        ("flag=no", "flag", False),
        ("flag=Yes", "flag", True),
        ("flag=1", "flag", True),
        ("xs=[3, 4]", "xs", [3, 4]),
        ('d={"b": 2}', "d", {"b": 2}),
        ("d={'b': 2}", "d", {"b": 2}),
        ("t=[1, 2, 3]", "t", (1, 2, 3)),
        ("t=(5,)", "t", (5,)),
        ("none=5", "none", 5),
        ("none=hello", "none", "hello"),
        (" n =7", "n", 7),
    ],
)
def test_resolve_parameters_parses_to_default_type(param_spec, override, name, value) -> None:
    values = resolve_parameters(param_spec, [override])
    assert values[name] == value and type(values[name]) is type(value)
    assert set(values) == set(param_spec.defaults)


def test_resolve_parameters_defaults_and_dict(param_spec) -> None:
    assert resolve_parameters(param_spec, None) == param_spec.defaults
    assert resolve_parameters(param_spec, {"C": 3})["C"] == 3  # ready values are used as they are
    assert resolve_parameters(param_spec, ["C=3"], base={"n": 9})["n"] == 9


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ("n=4.5", r"parameter 'n': '4.5' is not a whole number \(the default is 3\)"),
        ("C=abc", r"parameter 'C': 'abc' is not a number"),
        ("flag=maybe", r"parameter 'flag': 'maybe' is not true or false"),
        ("xs=3", r"parameter 'xs': '3' is not a list"),
        ("xs=(1, 2)", r"'\(1, 2\)' is not a list"),
        ("d=[1]", r"parameter 'd': '\[1\]' is not a dict"),
        ("t=3", r"parameter 't': '3' is not a tuple"),
    ],
)
def test_unparsable_parameter_value(param_spec, override, message) -> None:
    with pytest.raises(ParameterError, match=message):
        resolve_parameters(param_spec, [override])


def test_unknown_parameter_lists_known(param_spec) -> None:
    with pytest.raises(ParameterError, match=r"unknown parameter 'lr' \(parameters of 'nb': C, n, name"):
        resolve_parameters(param_spec, ["lr=0.1"])


@pytest.mark.parametrize("item", ["C", "=1", " =1"])
def test_parameter_without_name_value(param_spec, item) -> None:
    with pytest.raises(ParameterError, match="write parameters as name=value"):
        resolve_parameters(param_spec, [item])


def test_notebook_without_parameters(make_notebook) -> None:
    spec = compile_cells(make_notebook, [("x = 1", ["step:a"])])
    assert spec.parameters == [] and resolve_parameters(spec, []) == {}
    with pytest.raises(ParameterError, match="the notebook has no parameters cell"):
        resolve_parameters(spec, ["x=2"])


def test_parse_value_direct() -> None:
    assert parse_value(Parameter("p", 1.0, "float", 0), "1e-3") == 0.001
    assert parse_value(Parameter("p", None, "NoneType", 0), "[1]") == [1]


def test_papermill_injected_parameters_override_defaults(make_notebook) -> None:
    spec = compile_cells(
        make_notebook, [("lr = 0.1", ["parameters"]), ("lr = 0.5", ["injected-parameters"]), ("print(lr)", ["step:a"])]
    )
    assert spec.defaults == {"lr": 0.5}


# --- the spec -------------------------------------------------------------------------------------------


@pytest.fixture
def dag_spec(make_notebook):
    return compile_cells(
        make_notebook,
        [
            ("C = 1.0\nt = (1, 2)", ["parameters"]),
            ("import os", ["setup"]),
            ("x = C", ["step:load"]),
            ("y = x * 2", ["step:prep", "retries:2", "memory:1Gi"]),
            ("z = 1", ["step:other"]),
            ("print(x, y, t)", ["step:train-v2", "after:other", "nocache"]),
        ],
    )


def test_spec_round_trip(dag_spec) -> None:
    again = PipelineSpec.from_dict(dag_spec.to_dict())
    assert again == dag_spec
    loaded = PipelineSpec.from_dict(json.loads(dag_spec.to_json()))
    assert [s.name for s in loaded.steps] == ["load", "prep", "other", "train-v2"]
    assert loaded.step("train-v2").inputs == {"x": "load", "y": "prep"}
    assert loaded.step("train-v2").upstream == ["load", "prep", "other"]
    assert loaded.step("prep").options == {"retries": 2, "memory": "1Gi"}
    assert loaded.notebook_sha256 == dag_spec.notebook_sha256


def test_spec_save_load_keeps_parameter_types(dag_spec, tmp_path: Path) -> None:
    dag_spec.save(tmp_path / "pipeline.json")
    loaded = PipelineSpec.load(tmp_path / "pipeline.json")
    assert resolve_parameters(loaded, []) == {"C": 1.0, "t": (1, 2)}
    assert resolve_parameters(loaded, ["C=2"]) == {"C": 2.0, "t": (1, 2)}


def test_spec_contents(dag_spec) -> None:
    assert [c.index for c in dag_spec.setup] == [0, 1]
    assert [c.kind for c in dag_spec.setup] == ["parameters", "setup"]
    assert dag_spec.step("load").outputs == ["x"] and dag_spec.step("load").params == ["C"]
    assert dag_spec.step("load").first_cell == 2
    assert dag_spec.name == "nb"


def test_spec_errors(dag_spec, tmp_path: Path) -> None:
    with pytest.raises(SpecError, match="no step 'nope'"):
        dag_spec.step("nope")
    with pytest.raises(SpecError, match="not a pipeline spec"):
        PipelineSpec.from_dict({"name": "x"})
    with pytest.raises(SpecError, match="spec_version 99"):
        PipelineSpec.from_dict({**dag_spec.to_dict(), "spec_version": 99})
    with pytest.raises(SpecError, match=r"steps\[0\]\.cells must be a list"):
        PipelineSpec.from_dict({**dag_spec.to_dict(), "steps": [{"name": "a"}]})
    with pytest.raises(SpecError, match="no such file"):
        PipelineSpec.load(tmp_path / "nope.json")


def test_mermaid_has_edges(dag_spec) -> None:
    text = to_mermaid(dag_spec)
    assert text.startswith("flowchart LR")
    assert "s_load -->|x| s_prep" in text
    assert "s_prep -->|y| s_train_v2" in text
    assert "s_load -->|x| s_train_v2" in text
    assert "s_other --> s_train_v2" in text


def test_dot_has_edges(dag_spec) -> None:
    text = to_dot(dag_spec)
    assert text.startswith('digraph "nb" {')
    assert '"load" -> "prep" [label="x"];' in text
    assert '"prep" -> "train-v2" [label="y"];' in text
    assert '"other" -> "train-v2";' in text


def test_text_has_steps_and_edges(dag_spec) -> None:
    text = to_text(dag_spec)
    assert "parameters: C=1.0 (float), t=(1, 2) (tuple)" in text
    assert "inputs:  x <- load, y <- prep" in text
    assert "after:   other" in text
    assert "options: retries=2, memory=1Gi" in text
    assert "load -> prep, train-v2" in text and "other -> train-v2" in text and "train-v2 (end)" in text


def test_topological_order(dag_spec) -> None:
    order = topological_order(dag_spec)
    assert order.index("load") < order.index("prep") < order.index("train-v2")
    assert order.index("other") < order.index("train-v2")


def test_layers_and_what_lies_up_and_down(dag_spec) -> None:
    from nbmlops.pipeline.graph import ancestors, descendants, layers

    assert layers(dag_spec) == [["load", "other"], ["prep"], ["train-v2"]]
    assert ancestors(dag_spec, "train-v2") == {"load", "prep", "other"}
    assert descendants(dag_spec, "load") == {"prep", "train-v2"} and descendants(dag_spec, "train-v2") == set()
