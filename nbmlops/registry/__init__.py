"""The model registry: versions with metrics, params, signature, reference data profile and lineage; aliases
and tags; loading by `churn`, `churn:3` or `churn@production`, with the artifact's sha256 checked first.

    import nbmlops
    with nbmlops.start_run("train"):
        ...
        nbmlops.register_model(clf, "churn", input_example=X.head(), reference_data=X)
    nbmlops.set_alias("churn", "production", 1)
    model = nbmlops.load_model("churn@production")

Importing this package is cheap: SQLAlchemy, pandas and the model libraries load on first use.
"""

from nbmlops.registry.api import (
    alias_history,
    current_user,
    delete_alias,
    delete_model,
    delete_model_tag,
    delete_model_version,
    get_model_version,
    list_model_versions,
    list_models,
    load_model,
    load_reference_data,
    model_lineage,
    register_model,
    set_alias,
    set_model_tag,
)
from nbmlops.registry.errors import ModelIntegrityError, RegistryError
from nbmlops.registry.records import AliasMove, ModelVersion, RegisteredModel
from nbmlops.registry.resolve import resolve_version
from nbmlops.registry.uri import ModelRef, parse_uri

__all__ = [
    "AliasMove",
    "ModelIntegrityError",
    "ModelRef",
    "ModelVersion",
    "RegisteredModel",
    "RegistryError",
    "alias_history",
    "current_user",
    "delete_alias",
    "delete_model",
    "delete_model_tag",
    "delete_model_version",
    "get_model_version",
    "list_model_versions",
    "list_models",
    "load_model",
    "load_reference_data",
    "model_lineage",
    "parse_uri",
    "register_model",
    "resolve_version",
    "set_alias",
    "set_model_tag",
]
