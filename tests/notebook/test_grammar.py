"""The step grammar: tags, `%%step`/`%%setup`/`%%skip` magics and Kale's dialect all compile alike."""

from __future__ import annotations

import pytest

from nbmlops.errors import NotebookError
from nbmlops.notebook.grammar import cell_role
from nbmlops.notebook.reader import Cell
from nbmlops.pipeline.compiler import compile_notebook


def role(source: str = "x = 1", tags: tuple[str, ...] = ()):
    return cell_role(Cell(3, "code", source, tuple(tags)), "nb.ipynb")


def shape(spec) -> dict:
    """What a pipeline is, without where its file lives."""
    return {
        "parameters": [(p.name, p.default, p.type, p.cell) for p in spec.parameters],
        "setup": [c.index for c in spec.setup],
        "steps": [
            (s.name, [c.index for c in s.cells], s.inputs, s.params, s.outputs, s.upstream, s.options)
            for s in spec.steps
        ],
    }


# --- cell_role: one tag at a time ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("tags", "kind", "step"),
    [
        (["step:load"], "step", "load"),
        (["block:load"], "step", "load"),
        (["step: load "], "step", "load"),
        (["step:train-v2_x"], "step", "train-v2_x"),
        (["parameters"], "parameters", None),
        (["pipeline-parameters"], "parameters", None),
        (["injected-parameters"], "parameters", None),
        (["setup"], "setup", None),
        (["imports"], "setup", None),
        (["functions"], "setup", None),
        (["skip"], "skip", None),
        ([], "continue", None),
        (["hide-input", "remove-cell"], "continue", None),
    ],
)
def test_role_tags(tags, kind, step) -> None:
    r = role(tags=tuple(tags))
    assert (r.kind, r.step) == (kind, step)


@pytest.mark.parametrize(
    ("tag", "options"),
    [
        ("retries:3", {"retries": 3}),
        ("cpus:2", {"cpus": 2}),
        ("cpus:0.5", {"cpus": 0.5}),
        ("gpus:1", {"gpus": 1}),
        ("memory:512Mi", {"memory": "512Mi"}),
        ("memory:2G", {"memory": "2G"}),
        ("memory:4GiB", {"memory": "4GiB"}),
        ("nocache", {"nocache": True}),
    ],
)
def test_role_option_tags(tag, options) -> None:
    r = role(tags=("step:a", tag))
    assert r.kind == "step" and r.options == options


def test_role_after_and_prev() -> None:
    assert role(tags=("step:c", "after:a,b")).after == ["a", "b"]
    assert role(tags=("block:c", "prev:a", "prev:b")).after == ["a", "b"]
    continued = role(tags=("after:a",))
    assert (continued.kind, continued.after) == ("continue", ["a"])


@pytest.mark.parametrize(
    ("tags", "message"),
    [
        (["step:"], "needs a step name"),
        (["step:a b"], "needs a step name"),
        (["step:1st"], "needs a step name"),
        (["step:a", "step:b"], "several steps: a, b"),
        (["setup", "step:b"], "conflicting tags: setup, step:b"),
        (["setup", "skip"], "conflicting tags"),
        (["setup", "after:b"], "can't go on a setup cell"),
        (["parameters", "retries:2"], "can't go on a parameters cell"),
        (["step:a", "after:"], "needs at least one step name"),
        (["step:a", "after:a,b c"], "'b c' in 'after:a,b c' is not a valid step name"),
        (["step:a", "retries:two"], "'retries:two' must be a whole number"),
        (["step:a", "retries"], "'retries' needs a value"),
        (["step:a", "gpus:-1"], "'gpus:-1' must be a whole number"),
        (["step:a", "cpus:0"], "'cpus:0' must be a number above 0"),
        (["step:a", "cpus:many"], "must be a number above 0"),
        (["step:a", "memory:lots"], "'memory:lots' is not a size"),
        (["step:a", "nocache:1"], "'nocache' takes no value"),
    ],
)
def test_role_bad_tags_name_the_cell(tags, message) -> None:
    with pytest.raises(NotebookError, match=message) as info:
        role("y = compute()\nmore", tuple(tags))
    assert info.value.cell == 3 and info.value.first_line == "y = compute()"
    assert "cell 4 `y = compute()`" in str(info.value)  # index 3, 1-based in messages


# --- magics ---------------------------------------------------------------------------------------------


def test_step_magic_with_every_option() -> None:
    r = role("%%step train --after load,prep --retries 2 --cpus 2 --no-cache\nfit()")
    assert (r.kind, r.step, r.after) == ("step", "train", ["load", "prep"])
    assert r.options == {"retries": 2, "cpus": 2, "nocache": True}
    assert r.code == "\nfit()"  # the magic line is blanked; line numbers still match the cell


def test_step_magic_equals_form_gpus_memory() -> None:
    r = role("%%step a --retries=3 --memory=2Gi --gpus 1 --after=x\npass")
    assert r.options == {"retries": 3, "memory": "2Gi", "gpus": 1} and r.after == ["x"]


def test_magic_after_leading_blank_lines() -> None:
    r = role("\n  \n%%step a\nx = 1")
    assert r.step == "a" and r.code == "\n  \n\nx = 1"


@pytest.mark.parametrize(("source", "kind"), [("%%setup\nimport os", "setup"), ("%%skip\nplot()", "skip")])
def test_setup_and_skip_magics(source, kind) -> None:
    r = role(source)
    assert r.kind == kind and r.code.startswith("\n")


def test_other_cell_magic_is_not_a_step() -> None:
    r = role("%%time\nx = 1")
    assert r.kind == "continue" and r.code == "%%time\nx = 1"


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ("%%step\nx = 1", "%%step needs a step name"),
        ("%%step --after a\nx = 1", "%%step needs a step name"),
        ("%%step a.b\nx = 1", "'a.b' is not a valid step name"),
        ("%%step a --bogus 1\nx = 1", "unknown option '--bogus'"),
        ("%%step a --retries\nx = 1", "'--retries' needs a value"),
        ("%%step a --retries x\nx = 1", "'retries:x' must be a whole number"),
        ("%%step a --after 'b\nx = 1", "can't parse"),
        ("%%setup now\nx = 1", "%%setup takes no arguments"),
        ("%%skip please\nx = 1", "%%skip takes no arguments"),
    ],
)
def test_bad_magics_name_the_cell(source, message) -> None:
    with pytest.raises(NotebookError, match=message) as info:
        role(source)
    assert info.value.cell == 3 and info.value.first_line == source.split("\n")[0]


def test_tags_and_magic_agree_and_merge() -> None:
    r = role("%%step a --retries 2\nx = 1", ("step:a", "cpus:2", "after:z"))
    assert (r.kind, r.step, r.after) == ("step", "a", ["z"])
    assert r.options == {"cpus": 2, "retries": 2}


def test_tags_and_magic_disagree() -> None:
    with pytest.raises(NotebookError, match="tags say step b but the magic says step a"):
        role("%%step a\nx = 1", ("step:b",))
    with pytest.raises(NotebookError, match="tags say setup"):
        role("%%step a\nx = 1", ("setup",))


# --- whole notebooks ------------------------------------------------------------------------------------


def test_magic_notebook_compiles_like_tagged_notebook(make_notebook) -> None:
    magics = make_notebook(
        [
            "%%setup\nimport math",
            "%%step load\nx = 1",
            "y = x + 1",
            "%%skip\nprint('look')",
            "%%step prep\nz = 2",
            "%%step train --after prep --retries 2 --cpus 2 --no-cache\nprint(math.pi, y)",
        ],
        "magics.ipynb",
    )
    tags = make_notebook(
        [
            ("import math", ["setup"]),
            ("x = 1", ["step:load"]),
            "y = x + 1",
            ("print('look')", ["skip"]),
            ("z = 2", ["step:prep"]),
            ("print(math.pi, y)", ["step:train", "after:prep", "retries:2", "cpus:2", "nocache"]),
        ],
        "tags.ipynb",
    )
    a, b = compile_notebook(magics), compile_notebook(tags)
    assert shape(a) == shape(b)
    train = a.step("train")
    assert train.inputs == {"y": "load"} and train.upstream == ["load", "prep"]
    assert train.options == {"retries": 2, "cpus": 2, "nocache": True}
    assert a.step("load").cells[1].index == 2  # an untagged cell continues the step above


def test_kale_notebook_compiles_like_ours(make_notebook) -> None:
    kale = make_notebook(
        [
            ("import os", ["imports"]),
            ("def double(v):\n    return 2 * v", ["functions"]),
            ("rate = 0.1", ["pipeline-parameters"]),
            ("data = [double(rate), len(os.sep)]", ["block:load"]),
            ("print('explore')", ["skip"]),
            ("clean = sorted(data)", ["block:clean", "prev:load"]),
            ("print(clean)", ["block:train", "prev:clean", "limit:nvidia.com/gpu:1"]),
        ],
        "kale.ipynb",
    )
    ours = make_notebook(
        [
            ("import os", ["setup"]),
            ("def double(v):\n    return 2 * v", ["setup"]),
            ("rate = 0.1", ["parameters"]),
            ("data = [double(rate), len(os.sep)]", ["step:load"]),
            ("print('explore')", ["skip"]),
            ("clean = sorted(data)", ["step:clean", "after:load"]),
            ("print(clean)", ["step:train", "after:clean"]),
        ],
        "ours.ipynb",
    )
    a, b = compile_notebook(kale), compile_notebook(ours)
    assert shape(a) == shape(b)
    assert [s.name for s in a.steps] == ["load", "clean", "train"]
    assert a.parameters[0].name == "rate" and a.step("load").params == ["rate"]


def test_notebook_without_step_tags_is_one_step(make_notebook) -> None:
    spec = compile_notebook(
        make_notebook(
            [("C = 1", ["parameters"]), "import os", ("md", "# title"), "x = C", ("print('no')", ["skip"]), "print(x)"]
        )
    )
    assert [s.name for s in spec.steps] == ["notebook"]
    assert [c.index for c in spec.steps[0].cells] == [1, 3, 5]
    assert [c.index for c in spec.setup] == [0]


def test_papermill_notebook_with_no_tags_at_all(make_notebook) -> None:
    spec = compile_notebook(make_notebook(["x = 1", "print(x)"]))
    assert len(spec.steps) == 1 and spec.steps[0].inputs == {} and spec.setup == []


def test_cells_before_first_step_are_setup(make_notebook) -> None:
    spec = compile_notebook(
        make_notebook(["import os\nK = 1", "def f():\n    return K", ("x = f()", ["step:a"]), "print(x, os.sep)"])
    )
    assert [(c.index, c.kind) for c in spec.setup] == [(0, "setup"), (1, "setup")]
    assert [c.index for c in spec.step("a").cells] == [2, 3]
    assert spec.step("a").inputs == {}


def test_option_before_first_step_is_error(make_notebook) -> None:
    with pytest.raises(NotebookError, match=r"cell 1 `x = 1`: 'after:' or a step option on a cell before any"):
        compile_notebook(make_notebook([("x = 1", ["retries:2"]), ("y = 1", ["step:a"])]))


def test_options_merge_across_cells_of_a_step(make_notebook) -> None:
    spec = compile_notebook(
        make_notebook(
            [
                ("x = 1", ["step:a", "retries:2"]),
                ("y = 2", ["cpus:4", "memory:1Gi"]),
                ("z = 3", ["step:a", "gpus:1", "nocache", "retries:2"]),
                ("print(x)", ["step:b", "after:a"]),
                ("w = 1", ["after:a"]),
            ]
        )
    )
    assert spec.step("a").options == {"retries": 2, "cpus": 4, "memory": "1Gi", "gpus": 1, "nocache": True}
    assert spec.step("b").options == {} and spec.step("b").upstream == ["a"]


def test_conflicting_option_values_in_one_step(make_notebook) -> None:
    with pytest.raises(NotebookError, match=r"cell 2 `y = 2`: step 'a' option 'retries' is 2 in an earlier cell"):
        compile_notebook(make_notebook([("x = 1", ["step:a", "retries:2"]), ("y = 2", ["retries:3"])]))


def test_skip_cells_are_left_out(make_notebook) -> None:
    spec = compile_notebook(
        make_notebook([("x = 1", ["step:a"]), ("print(undefined_name)", ["skip"]), ("print(x)", ["step:b"])])
    )
    assert [c.index for s in spec.steps for c in s.cells] == [0, 2]


def test_bad_tag_in_notebook_names_cell(make_notebook) -> None:
    with pytest.raises(NotebookError) as info:
        compile_notebook(make_notebook([("x = 1", ["step:a"]), ("# fit the model\ny = 2", ["cpus:lots"])]))
    assert info.value.cell == 1 and "cell 2 `# fit the model`" in str(info.value)
    assert "'cpus:lots' must be a number above 0" in str(info.value)


def test_empty_cells_are_ignored(make_notebook) -> None:
    spec = compile_notebook(make_notebook([("x = 1", ["step:a"]), "   ", "", ("print(x)", ["step:b"])]))
    assert [[c.index for c in s.cells] for s in spec.steps] == [[0], [3]]
