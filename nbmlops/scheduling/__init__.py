"""Schedules and triggers stored in the database, and the scheduler that runs them.

    from nbmlops.scheduling import build_schedule, add_schedule, Scheduler
    add_schedule(store.db, build_schedule("churn.ipynb", home=store.settings.home, cron="0 3 * * *",
                                          timezone="Europe/Berlin", retries=2))
    Scheduler(store, at=parse_time("2027-01-01T02:00:00Z")).run_once()   # what is due then, and exit

A schedule runs a notebook or pipeline.json on a cron expression in a time zone and/or on triggers: new files
matching a glob (passed in a parameter), a stored drift result over its threshold, another schedule's or
pipeline's success. Each occurrence is claimed by a row unique per (schedule, key), so any number of schedulers
on one database run it once; its lease is renewed while the run lives, and a lease that runs out (a scheduler
killed) is taken over: the run marked failed, the occurrence retried with exponential back-off. Runs record what
started them (`RunInfo.trigger`).
"""

from nbmlops.scheduling.claims import backoff
from nbmlops.scheduling.cron import check_cron, iso, next_occurrence, occurrences, parse_time, zone
from nbmlops.scheduling.definitions import CATCHUP, Schedule, build_schedule, project_root
from nbmlops.scheduling.errors import ScheduleError
from nbmlops.scheduling.export import export_crontab, export_systemd, on_calendar
from nbmlops.scheduling.planning import Plan, Planned, World, next_at, plan
from nbmlops.scheduling.repository import (
    Occurrence,
    add_schedule,
    find_schedule,
    get_occurrence,
    get_schedule,
    list_schedules,
    occurrences_of,
    remove_schedule,
    set_paused,
)
from nbmlops.scheduling.scheduler import LEASE_S, Clock, Outcome, Scheduler, describe, run_now
from nbmlops.scheduling.views import schedule_view, schedule_views, view

__all__ = [
    "CATCHUP",
    "LEASE_S",
    "Clock",
    "Occurrence",
    "Outcome",
    "Plan",
    "Planned",
    "Schedule",
    "ScheduleError",
    "Scheduler",
    "World",
    "add_schedule",
    "backoff",
    "build_schedule",
    "check_cron",
    "describe",
    "export_crontab",
    "export_systemd",
    "find_schedule",
    "get_occurrence",
    "get_schedule",
    "iso",
    "list_schedules",
    "next_at",
    "next_occurrence",
    "occurrences",
    "occurrences_of",
    "on_calendar",
    "parse_time",
    "plan",
    "project_root",
    "remove_schedule",
    "run_now",
    "schedule_view",
    "schedule_views",
    "set_paused",
    "view",
    "zone",
]
