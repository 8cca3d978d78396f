"""Pre-flight checks against a plain dict standing in for the kernel's namespace."""

from __future__ import annotations

import threading

from nbmlops.kernel.preflight import KernelRecord, check_notebook, format_report

PIPELINE = [
    ("C = 1.0", ["parameters"]),
    "%%step load\ndata = [1, 2, 3]",
    "%%step train\nmodel = {'w': sum(data) * C}",
    "%%step evaluate\nscore = model['w'] + len(data)",
]


def kinds(report) -> list[str]:
    return [f.kind for f in report.problems]


def test_clean_notebook_with_values_in_the_kernel_is_ready(make_notebook) -> None:
    path = make_notebook(PIPELINE)
    report = check_notebook(path, {"C": 1.0, "data": [1, 2, 3], "model": {"w": 6.0}})
    assert report.ready, format_report(report)
    assert report.crossing == 2 and report.marshalled == 2
    assert format_report(report).splitlines()[-1].startswith("ready")


def test_value_that_cannot_be_marshalled_names_step_cell_and_type(make_notebook) -> None:
    path = make_notebook(["%%step load\nimport threading\nlock = threading.Lock()", "%%step use\nwith lock:\n    pass"])
    report = check_notebook(path, {"lock": threading.Lock()})
    [finding] = report.problems
    assert finding.kind == "marshal" and finding.name == "lock" and finding.step == "load"
    assert finding.cell == 0 and "lock" in finding.message and "use" in finding.message
    assert "_thread" in finding.message or "lock" in finding.message.lower()
    assert format_report(report).splitlines()[-1].startswith("1 problem")


def test_cross_step_value_absent_from_kernel_is_a_note_until_its_step_ran(make_notebook) -> None:
    path = make_notebook(PIPELINE)
    report = check_notebook(path, {"C": 1.0})
    assert report.ready and {f.name for f in report.notes} == {"data", "model"}
    ran = check_notebook(path, {"C": 1.0}, record=KernelRecord(steps_run={"load"}))
    assert [(f.kind, f.name) for f in ran.problems] == [("missing", "data")]


def test_name_only_the_kernel_has_is_flagged(make_notebook) -> None:
    path = make_notebook(["%%step load\ndata = [1]", "%%step train\ntotal = sum(data) + offset"])
    report = check_notebook(path, {"data": [1], "offset": 3})
    [finding] = report.problems  # the compile error about 'offset' is explained by this finding
    assert finding.kind == "kernel" and finding.name == "offset" and finding.cell == 1
    assert "no cell of the saved notebook defines it" in finding.message


def test_name_defined_only_by_a_skip_cell_or_out_of_band(make_notebook) -> None:
    path = make_notebook(["%%step load\ndata = [1]", "%%skip\noffset = 2", "%%step train\nt = sum(data) + offset"])
    [finding] = check_notebook(path, {"data": [1], "offset": 2}).problems
    assert "skip cell 2 `%%skip`" in finding.message  # numbered as JupyterLab numbers cells
    record = KernelRecord(unseen={"offset": ("load", "exec('offset = 2')")})
    path = make_notebook(["%%step load\ndata = [1]\nexec('offset = 2')", "%%step train\nt = sum(data) + offset"])
    [finding] = check_notebook(path, {"data": [1], "offset": 2}, record=record).problems
    assert "exec('offset = 2')" in finding.message and "can't see" in finding.message


def test_installs_absolute_paths_and_pipeline_magics_name_the_cell(make_notebook) -> None:
    path = make_notebook(
        [
            "!pip install lightgbm\nimport json",
            "%%step load\nrows = open('/home/alice/data.csv').read()\nother = r'C:\\Users\\bob\\x.csv'",
            "%%step show\n%pipeline show\nn = len(rows)",
            "%%skip\n%pip install seaborn\nprint('/Users/carol/plots')",
        ]
    )
    report = check_notebook(path, {})
    found = [(f.kind, f.cell) for f in report.problems]
    assert ("install", 0) in found and ("path", 1) in found and ("magic", 2) in found
    paths = {f.message.split("'")[1] for f in report.problems if f.kind == "path"}
    assert paths == {"/home/alice/data.csv", "C:\\Users\\bob\\x.csv"}
    assert not any(f.cell == 3 for f in report.findings)  # a skip cell doesn't travel with the pipeline
    assert "`!pip install lightgbm`" in format_report(report)


def test_out_of_order_from_saved_counts_and_from_kernel_history(make_notebook, tmp_path) -> None:
    import json

    path = make_notebook(PIPELINE)
    data = json.loads(path.read_text())
    for cell, count in zip(data["cells"], [1, 2, 4, 3], strict=True):
        cell["execution_count"] = count
    path.write_text(json.dumps(data))
    [finding] = check_notebook(path, {}).problems
    assert finding.kind == "order" and finding.cell == 3 and "saved execution counts" in finding.message
    sources = ["".join(c["source"]) for c in data["cells"]]
    history = ["", sources[0], sources[1], sources[2], sources[3], sources[1]]  # load re-ran last
    findings = [f for f in check_notebook(path, {}, history=history).problems if f.kind == "order"]
    assert [(f.kind, f.cell) for f in findings] == [("order", 2), ("order", 3)]
    assert "in this kernel" in findings[0].message


def test_notebook_that_does_not_compile_is_one_problem(make_notebook) -> None:
    path = make_notebook(["%%step a\nx = 1", "%%step a2\ny = x", "%%step a\nz = 2"])
    [finding] = check_notebook(path, {}).problems
    assert finding.kind == "notebook" and "duplicate step 'a'" in finding.message


def test_change_of_a_part_an_earlier_step_bound_is_flagged(make_notebook) -> None:
    path = make_notebook(
        [
            ("rows = [[1], [2]]", ["step:load"]),
            ("first = rows[0]", ["step:bind"]),
            ("first.append(0)", ["step:change"]),
            ("print(rows)", ["step:report"]),
        ]
    )
    report = check_notebook(path, {"rows": [[1, 0], [2]], "first": [1, 0]})
    [finding] = report.problems
    assert finding.kind == "dataflow" and "step 'change' changes `first` in place" in finding.message
    assert not report.ready
