"""The store's errors, in a module of their own so importing them loads no database library."""

from __future__ import annotations

from nbmlops.errors import NbmlopsError


class SchemaError(NbmlopsError):
    """A database whose schema this version of nbmlops can't use (newer, or not nbmlops's)."""


class StoreBusyError(NbmlopsError):
    """The database stayed locked by other writers for longer than nbmlops is willing to wait."""


class QueryError(NbmlopsError):
    """A run filter or ordering that doesn't parse or names an unknown field."""
