"""Errors of the feature store: each names the feature set, feature or column at fault."""

from __future__ import annotations

from nbmlops.errors import NbmlopsError


class FeatureError(NbmlopsError):
    """Bad input to the feature store: a missing or mistyped column, an unknown feature, a bad definition."""
