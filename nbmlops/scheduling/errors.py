"""Errors a user can cause while defining or running schedules: the message names the field or the schedule."""

from __future__ import annotations

from nbmlops.errors import NbmlopsError


class ScheduleError(NbmlopsError):
    """A schedule that can't be stored or found: bad cron, time zone, parameter, glob, trigger or name."""
