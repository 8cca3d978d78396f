"""Values that cross step boundaries, saved by type and content-hashed.

DataFrame -> Parquet, ndarray -> .npy, scikit-learn estimators -> joblib, JSON-able -> JSON,
anything else -> cloudpickle. Heavy libraries are imported only when a value of theirs shows up.
"""

from __future__ import annotations

import json
import math
import os
import types
from pathlib import Path
from typing import Any, NamedTuple

from nbmlops.digest import sha256_hex
from nbmlops.errors import NbmlopsError

EXTENSIONS = {"parquet": ".parquet", "npy": ".npy", "joblib": ".joblib", "json": ".json", "pickle": ".pkl",
              "module": ".module"}


class MarshalError(NbmlopsError):
    """A value that crosses a step boundary but can't be saved or loaded."""


class StoredValue(NamedTuple):  # a NamedTuple: cheaper than a dataclass to create at import, same fields
    name: str
    file: str  # relative to the step's outputs folder
    format: str
    sha256: str
    type: str
    size: int

    def to_dict(self) -> dict[str, Any]:
        return self._asdict()


def type_name(value: Any) -> str:
    cls = type(value)
    return cls.__name__ if cls.__module__ == "builtins" else f"{cls.__module__}.{cls.__qualname__}"


def _mro_names(value: Any) -> set[str]:
    """`package.ClassName` for each class in the value's MRO (pandas 3 says `pandas.DataFrame`, 2 a deeper path)."""
    return {f"{c.__module__.split('.')[0]}.{c.__name__}" for c in type(value).__mro__}


def is_json_value(value: Any, depth: int = 0) -> bool:
    """True when JSON gives back exactly this value (no tuples, no NaN, only str keys)."""
    if depth > 50:
        return False
    kind = type(value)
    if value is None or kind in (str, bool, int):
        return True
    if kind is float:
        return math.isfinite(value)
    if kind is list:
        return all(is_json_value(v, depth + 1) for v in value)
    if kind is dict:
        return all(type(k) is str and is_json_value(v, depth + 1) for k, v in value.items())
    return False


def choose_format(value: Any) -> str:
    if isinstance(value, types.ModuleType):
        return "module"  # `import x` in one step, used in another: import it again there
    mro = _mro_names(value)
    if "pandas.DataFrame" in mro:
        return "parquet"
    if "numpy.ndarray" in mro and type(value).__module__ == "numpy" and not value.dtype.hasobject:
        return "npy"
    if "sklearn.BaseEstimator" in mro:
        return "joblib"
    if is_json_value(value):
        return "json"
    return "pickle"


def _write(value: Any, fmt: str, path: Path) -> None:
    if fmt == "parquet":
        value.to_parquet(path, engine="pyarrow")
    elif fmt == "npy":
        import numpy as np

        with open(path, "wb") as handle:  # a file handle: np.save would add ".npy" to our temporary name
            np.save(handle, value, allow_pickle=False)
    elif fmt == "joblib":
        import joblib

        joblib.dump(value, path)
    elif fmt == "json":
        path.write_text(json.dumps(value))
    elif fmt == "module":
        path.write_text(value.__name__)
    else:
        import cloudpickle

        path.write_bytes(cloudpickle.dumps(value, protocol=cloudpickle.DEFAULT_PROTOCOL))


def save_value(name: str, value: Any, directory: Path) -> StoredValue:
    """Save `value` under `directory` in the format its type calls for; fall back to cloudpickle."""
    directory.mkdir(parents=True, exist_ok=True)
    fmt = choose_format(value)
    errors = []
    for attempt in dict.fromkeys([fmt, "pickle"]):
        path = directory / f"{name}{EXTENSIONS[attempt]}"
        tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
        try:
            _write(value, attempt, tmp)
        except Exception as exc:  # noqa: BLE001 - any library error means: try the general format
            tmp.unlink(missing_ok=True)
            errors.append(f"{attempt}: {type(exc).__name__}: {exc}")
            continue
        os.replace(tmp, path)
        data = path.read_bytes()
        return StoredValue(name, path.name, attempt, sha256_hex(data), type_name(value),
                           len(data))
    raise MarshalError(f"'{name}' ({type_name(value)}) can't be saved to pass to another step: "
                       + "; ".join(errors))


def load_value(stored: StoredValue, directory: Path) -> Any:
    path = directory / stored.file
    try:
        if stored.format == "parquet":
            import pandas as pd

            return pd.read_parquet(path, engine="pyarrow")
        if stored.format == "npy":
            import numpy as np

            return np.load(path, allow_pickle=False)
        if stored.format == "joblib":
            import joblib

            return joblib.load(path)
        if stored.format == "json":
            return json.loads(path.read_text())
        if stored.format == "module":
            import importlib

            return importlib.import_module(path.read_text())
        import cloudpickle  # registers what cloudpickled objects need to load; its loads is pickle's

        return cloudpickle.loads(path.read_bytes())
    except FileNotFoundError:
        raise MarshalError(f"'{stored.name}': its stored file {path} is missing") from None


def bind_to_namespace(value: Any, namespace: dict[str, Any]) -> Any:
    """A notebook function or class used in another step must see that step's globals, as a top-to-bottom
    run would: rebind functions defined in notebook code (and class methods) to `namespace`."""
    if isinstance(value, types.FunctionType) and value.__module__ == "__main__":
        bound = types.FunctionType(value.__code__, namespace, value.__name__, value.__defaults__,
                                   value.__closure__)
        bound.__kwdefaults__ = value.__kwdefaults__
        bound.__dict__.update(value.__dict__)
        bound.__qualname__ = value.__qualname__
        bound.__doc__ = value.__doc__
        bound.__annotations__ = value.__annotations__
        return bound
    if not isinstance(value, type) and type(value).__module__ == "__main__":
        bind_to_namespace(type(value), namespace)  # an instance of a notebook class: its methods too
        return value
    if isinstance(value, type) and value.__module__ == "__main__":
        for attr, member in list(vars(value).items()):
            if isinstance(member, types.FunctionType):
                setattr(value, attr, bind_to_namespace(member, namespace))
            elif isinstance(member, staticmethod | classmethod):
                setattr(value, attr, type(member)(bind_to_namespace(member.__func__, namespace)))
            elif isinstance(member, property):
                setattr(value, attr, property(*(bind_to_namespace(f, namespace) if f else None
                                                for f in (member.fget, member.fset, member.fdel)),
                                              member.__doc__))
    return value
