"""Marshalling: a value that holds sets is saved as the same bytes in every process, whatever PYTHONHASHSEED is.

A set pickles in its elements' hash order, and strings hash differently in every process, so without care the
same output gets a new content hash in every run and everything downstream of it misses the step cache.
"""

from __future__ import annotations

import json
import os
import pickle
import subprocess
import sys
from pathlib import Path

import cloudpickle
import pytest

from nbmlops.runners import StoredValue, load_value
from nbmlops.runners.marshal import pickle_bytes

NBMLOPS = str(Path(sys.executable).with_name("nbmlops"))

HELPER = '''
class Holder:
    """A user object with a set attribute (importable: pickled by reference)."""

    def __init__(self, tags):
        self.tags = tags
        self.more = {"n": frozenset({"p", "q", "r", "s"})}

    def __eq__(self, other):
        return type(other) is Holder and vars(other) == vars(self)


class TagSet(set):
    pass


try:
    from sklearn.base import BaseEstimator
except ImportError:
    BaseEstimator = None
else:
    class Vocabulary(BaseEstimator):
        """An estimator holding a set: saved by joblib."""

        def fit(self, docs):
            self.words_ = {word for doc in docs for word in doc.split()}
            return self
'''

SAVE = """
import json, sys
from pathlib import Path

import cloudpickle

from helper import BaseEstimator, Holder, TagSet
from nbmlops.runners.marshal import save_value


def known(x, _known=frozenset({"u", "v", "w", "x"})):  # a notebook function: pickled by value, its set too
    return x in _known


values = {
    "top": {f"tag{i}" for i in range(60)},
    "nested": {"fs": frozenset({"alpha", "beta", "gamma", "delta"}), "deeper": [1, {"x", "y", "z", "w"}]},
    "mixed": {1, 2, 3, "a", "b", "c", 2.5, None, (1, "z"), frozenset({"p", "q"})},
    "holder": Holder({"red", "green", "blue", "cyan"}),
    "subclass": TagSet({"m", "n", "o", "k"}),
    "function": known,
    "plain": ("no", "sets", 143, 2.5),
}
if BaseEstimator is not None:
    from helper import Vocabulary

    values["estimator"] = Vocabulary().fit(["the cat sat", "the dog sat", "a bird flew", "one cat ran"])
out = Path(sys.argv[1])
stored = {name: save_value(name, value, out).to_dict() for name, value in values.items()}
# what plain cloudpickle gives, to show the seeds do reorder sets
stored["_cloudpickle_top"] = cloudpickle.dumps(values["top"]).hex()
print(json.dumps(stored))
"""


def save_in_a_process(tmp_path: Path, seed: str) -> tuple[dict, Path]:
    (tmp_path / "helper.py").write_text(HELPER)
    (tmp_path / "save.py").write_text(SAVE)
    out = tmp_path / f"out{seed}"
    env = {**os.environ, "PYTHONHASHSEED": seed, "PYTHONPATH": os.pathsep.join([str(tmp_path), *sys.path])}
    done = subprocess.run(
        [sys.executable, str(tmp_path / "save.py"), str(out)],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout), out


def test_values_with_sets_save_the_same_bytes_under_any_hash_seed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    first, out1 = save_in_a_process(tmp_path, "1")
    second, out2 = save_in_a_process(tmp_path, "2")
    assert first.pop("_cloudpickle_top") != second.pop("_cloudpickle_top"), "the seeds reorder a plain pickle"
    assert first.keys() == second.keys()
    for name in first:
        assert first[name]["sha256"] == second[name]["sha256"], name
        assert (out1 / first[name]["file"]).read_bytes() == (out2 / second[name]["file"]).read_bytes(), name
    assert first["holder"]["format"] == "pickle" and first["plain"]["format"] == "pickle"
    if "estimator" in first:
        assert first["estimator"]["format"] == "joblib"

    monkeypatch.syspath_prepend(str(tmp_path))  # the helper module, to load its classes here
    from helper import Holder, TagSet

    loaded = {name: load_value(StoredValue(**stored), out1) for name, stored in first.items()}
    assert loaded["top"] == {f"tag{i}" for i in range(60)}
    assert loaded["nested"] == {
        "fs": frozenset({"alpha", "beta", "gamma", "delta"}),
        "deeper": [1, {"x", "y", "z", "w"}],
    }
    assert loaded["mixed"] == {1, 2, 3, "a", "b", "c", 2.5, None, (1, "z"), frozenset({"p", "q"})}
    assert loaded["holder"] == Holder({"red", "green", "blue", "cyan"})
    assert type(loaded["subclass"]) is TagSet and loaded["subclass"] == {"m", "n", "o", "k"}
    assert loaded["function"]("u") and not loaded["function"]("z")
    assert loaded["plain"] == ("no", "sets", 143, 2.5)
    if "estimator" in loaded:
        assert loaded["estimator"].words_ == {"the", "cat", "sat", "dog", "a", "bird", "flew", "one", "ran"}


def test_a_value_without_sets_pickles_as_cloudpickle_does() -> None:
    """So hashes of outputs saved before sets were sorted stay the same: their cached steps still match."""

    def double(v: int) -> int:
        return v * 2

    for value in [(1, 2.5, "é"), [float(i) / 7 for i in range(20_000)], {"f": double, "n": None}, list(range(300))]:
        assert pickle_bytes(value) == cloudpickle.dumps(value, protocol=cloudpickle.DEFAULT_PROTOCOL)


class Node:
    def __init__(self, name: str) -> None:
        self.name = name
        self.links: set[Node] | frozenset[Node] = set()

    def __repr__(self) -> str:
        return f"Node({self.name})"


def test_sets_load_back_equal_in_every_shape() -> None:
    a, b = Node("a"), Node("b")
    a.links, b.links = {b}, frozenset({a})  # sets reached again through their own elements
    shared = {"s", "t"}
    nan = float("nan")
    value = {
        "cycle": a,
        "shared": [shared, shared],
        "nan": {nan, 1.0, -2.0},
        "empty": [set(), frozenset()],
        "big": set(range(2500)),
        "keys": {frozenset({"k", "l"}): 1},
        "nested": frozenset({frozenset({"a"}), frozenset({"b"})}),
    }
    data = pickle_bytes(value)
    back = pickle.loads(data)
    again = back["cycle"]
    assert next(iter(again.links)).name == "b" and next(iter(next(iter(again.links)).links)) is again
    assert back["shared"][0] is back["shared"][1] == {"s", "t"}
    assert len(back["nan"]) == 3 and {1.0, -2.0} < back["nan"]
    assert back["empty"] == [set(), frozenset()] and back["big"] == set(range(2500))
    assert back["keys"] == {frozenset({"k", "l"}): 1} and back["nested"] == value["nested"]
    assert pickle_bytes(value) == data


def test_too_deep_for_the_sorting_pickler_still_saves() -> None:
    value: list = [{"x", "y"}]
    for _ in range(380):  # C pickles this; pickle's Python pickler runs out of stack: the C bytes are kept
        value = [value]
    back = pickle.loads(pickle_bytes(value))
    for _ in range(380):
        back = back[0]
    assert back == [{"x", "y"}]


def test_set_output_leaves_downstream_steps_cached_across_processes(make_notebook, tmp_path: Path) -> None:
    """`nbmlops run` twice, each its own process with its own hash seed: the set's hash is the same."""
    nb = make_notebook(
        [
            ("tags = {f'tag{i}' for i in range(40)}\nlookup = {'all': frozenset(tags)}", ["step:make"]),
            ("n = len(tags) + len(lookup['all'])\nprint(n)", ["step:use"]),
        ]
    )
    home = tmp_path / ".nbmlops"
    seen: set[Path] = set()

    def run(seed: str, *args: str) -> dict[str, str]:
        env = {**os.environ, "NBMLOPS_HOME": str(home), "PYTHONHASHSEED": seed}
        done = subprocess.run(
            [NBMLOPS, "run", str(nb), *args], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120
        )
        assert done.returncode == 0, done.stderr
        (new,) = set((home / "runs").iterdir()) - seen
        seen.add(new)
        return json.loads((new / "run.json").read_text())["steps"]

    assert run("1") == {"make": "succeeded", "use": "succeeded"}
    assert run("2") == {"make": "cached", "use": "cached"}
    # make runs again in a process with another seed: its set is the same value, so use is not rerun
    assert run("3", "--force", "make") == {"make": "succeeded", "use": "cached"}
