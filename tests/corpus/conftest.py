"""The `corpus` marker: real public notebooks run through nbmlops (test_corpus.py). Select with `-m corpus`,
leave out with `-m "not corpus"`."""

from __future__ import annotations

import pytest


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "corpus: real public notebooks (tests/corpus/notebooks) run as is and split into steps on the "
        "local and papermill backends, compared with top-to-bottom papermill runs (minutes)",
    )
