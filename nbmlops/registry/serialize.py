"""Model bytes: scikit-learn estimators (and anything built on BaseEstimator) with joblib, anything else with
cloudpickle. An object whose pickle refers to notebook code (`__main__`) is pickled by value with cloudpickle,
so a serving process that never ran the notebook can still load it."""

from __future__ import annotations

import io
import pickle
from typing import Any

from nbmlops.registry.errors import RegistryError

FORMATS = ("joblib", "pickle")


def type_name(value: Any) -> str:
    cls = type(value)
    return cls.__name__ if cls.__module__ == "builtins" else f"{cls.__module__}.{cls.__qualname__}"


def _is_estimator(value: Any) -> bool:
    return any(c.__name__ == "BaseEstimator" and c.__module__.startswith("sklearn.") for c in type(value).__mro__)


def dumps(model: Any) -> tuple[bytes, str]:
    """(bytes, format) of a model."""
    errors = []
    if _is_estimator(model):
        import joblib

        buffer = io.BytesIO()
        try:
            joblib.dump(model, buffer)
        except Exception as exc:  # noqa: BLE001 - e.g. a lambda inside a FunctionTransformer: cloudpickle copes
            errors.append(f"joblib: {type(exc).__name__}: {exc}")
        else:
            data = buffer.getvalue()
            if b"__main__" not in data:
                return data, "joblib"
    import cloudpickle

    try:
        return cloudpickle.dumps(model, protocol=pickle.HIGHEST_PROTOCOL), "pickle"
    except Exception as exc:  # noqa: BLE001 - any pickling error means the model can't be stored
        errors.append(f"cloudpickle: {type(exc).__name__}: {exc}")
    raise RegistryError(f"the model ({type_name(model)}) can't be serialised: " + "; ".join(errors))


def loads(data: bytes, fmt: str) -> Any:
    if fmt == "joblib":
        import joblib

        return joblib.load(io.BytesIO(data))
    if fmt == "pickle":
        import cloudpickle  # noqa: F401 - registers what cloudpickled objects need to load

        return pickle.loads(data)
    raise RegistryError(f"unknown model format '{fmt}' (known: {', '.join(FORMATS)}): written by a newer nbmlops?")
