"""Fixtures of the serving tests: a project home with the churn models registered (and a feature set)."""

from __future__ import annotations

from pathlib import Path

import pytest
from serving_helpers import ingest_customers, register_churn


@pytest.fixture
def churn(home: Path) -> dict[str, object]:
    return register_churn()


@pytest.fixture
def vector(churn: dict[str, object]) -> object:
    return ingest_customers(churn["X"])
