"""Which version a model URI names right now, in one or two small queries: what a server polls to follow an
alias (`churn@production`) without reading the version's metadata each time."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from nbmlops.registry import api
from nbmlops.registry.uri import parse_uri

if TYPE_CHECKING:
    from nbmlops.store import Store


def resolve_version(uri: str, *, store: Store | None = None, home: str | Path | None = None) -> int:
    """The version number `uri` (churn, churn:3, churn@production) names now; RegistryError if none."""
    store = api._store(store, home)
    return api._resolve(store.db.query, store, parse_uri(uri))
