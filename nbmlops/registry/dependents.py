"""Rows other packages keep about model versions, deleted with the versions, in the same transaction.

A package whose tables hang off model versions (monitoring: drift results, reference profiles, alert settings)
owns their deletion: it registers a callback with `on_model_deleted`, and the registry's delete runs every
callback inside its deleting transaction, so a deleted version leaves no orphan row and a failing callback rolls
the whole delete back. A callback gets (tx, model name, version) — version None when the whole model goes — and
returns the hashes of the blobs its rows named, which the registry deletes once nothing else names them.

Callbacks are registered when their module is imported. A process that never used monitoring (`nbmlops models rm`
from a fresh shell, a script that only calls delete_model) must run monitoring's callback all the same, so
`callbacks()` first imports the modules DEPENDENTS names. They are names, resolved only when something is
deleted: importing the registry never loads the packages above it, and no import ties the registry to them
(tests/test_layering.py). A package that adds tables hanging off model versions adds its module here.
Foreign keys with ON DELETE CASCADE would need the versions' (name, version) as a key of every monitoring table
and still leave the lineage edges and the blobs behind; a callback deletes all three.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from nbmlops.store.db import Tx

# (tx, model name, version or None for every version of the model) -> hashes of the blobs the deleted rows named
ModelDeleted = Callable[["Tx", str, "int | None"], set[str]]

DEPENDENTS = ("nbmlops.monitoring.storage",)

_callbacks: list[ModelDeleted] = []


def on_model_deleted(callback: ModelDeleted) -> ModelDeleted:
    """Run `callback` in every transaction that deletes a model version or a whole model (registering the same
    function twice runs it once). Returns it, so it can decorate."""
    if callback not in _callbacks:
        _callbacks.append(callback)
    return callback


def callbacks() -> list[ModelDeleted]:
    """Every registered callback, after importing the DEPENDENTS modules (which register theirs). Called before
    the deleting transaction begins: an import never runs while the database is locked."""
    for module in DEPENDENTS:
        importlib.import_module(module)
    return list(_callbacks)
