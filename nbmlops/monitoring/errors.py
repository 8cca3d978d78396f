"""Errors of drift monitoring: each names the column, model, file or setting at fault."""

from __future__ import annotations

from nbmlops.errors import NbmlopsError


class MonitoringError(NbmlopsError):
    """Bad input to monitoring: a column missing from the reference, a bad threshold, window or alert rule."""


class MonitoringDataError(MonitoringError):
    """Current data, labels or prediction logs that can't be read or don't fit the reference."""


class UnknownDriftResult(MonitoringError, LookupError):
    """A stored drift result asked for by an id that the store doesn't hold."""
