"""Cron expressions in a time zone, read by cronsim (which follows cron's daylight-saving rules: a time in the
skipped hour runs once right after the change, a time in the repeated hour runs once; `*/N` minutes run through
both hours). Times cross this module as epoch seconds; occurrences are computed in the schedule's zone.
"""

from __future__ import annotations

from datetime import UTC, datetime
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from cronsim import CronSim, CronSimError

from nbmlops.scheduling.errors import ScheduleError

# cron's nicknames, as Vixie cron and systemd's crontab generator read them
MACROS = {
    "@yearly": "0 0 1 1 *",
    "@annually": "0 0 1 1 *",
    "@monthly": "0 0 1 * *",
    "@weekly": "0 0 * * 0",
    "@daily": "0 0 * * *",
    "@midnight": "0 0 * * *",
    "@hourly": "0 * * * *",
}


@lru_cache(maxsize=256)
def zone(name: str) -> ZoneInfo:
    """The IANA time zone `name`; a ScheduleError naming --timezone otherwise."""
    try:
        if not name or name != name.strip() or name.startswith(("/", ".")):
            raise ValueError(name)
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        raise ScheduleError(
            f"--timezone '{name}': not a time zone of the IANA database (e.g. UTC, Europe/Berlin, America/New_York)"
        ) from None


def expand(expression: str) -> str:
    """The five-field form of `expression` (nicknames such as @daily expanded)."""
    text = " ".join(expression.split())
    return MACROS.get(text.lower(), text)


def check_cron(expression: str, timezone: str = "UTC") -> str:
    """The expression, normalised, when cron and cronsim accept it; a ScheduleError naming --cron otherwise."""
    text = expand(expression)
    if len(text.split(" ")) != 5:
        raise ScheduleError(
            f"--cron '{expression}': write five fields: minute hour day-of-month month day-of-week "
            "(e.g. '0 3 * * *'), or @hourly, @daily, @weekly, @monthly, @yearly"
        )
    try:
        next(CronSim(text, datetime.now(zone(timezone))))
    except CronSimError as exc:
        raise ScheduleError(f"--cron '{expression}': {exc}") from None
    except StopIteration:
        raise ScheduleError(f"--cron '{expression}': never matches a date") from None
    return text


def occurrences(
    expression: str, timezone: str, after: float, until: float, limit: int = 10_000, newest: bool = True
) -> list[float]:
    """The occurrences t with after < t <= until, oldest first, at most `limit`: the newest ones when there
    are more (or the oldest, with newest=False)."""
    start = datetime.fromtimestamp(after, zone(timezone))
    found: list[float] = []
    for moment in CronSim(expand(expression), start):
        at = moment.timestamp()
        if at > until:
            break
        found.append(at)
        if len(found) > limit:
            if not newest:
                return found[:limit]
            del found[0]
    return found


def next_occurrence(expression: str, timezone: str, after: float) -> float | None:
    """The first occurrence strictly after `after`, or None when the expression never matches again."""
    try:
        return next(CronSim(expand(expression), datetime.fromtimestamp(after, zone(timezone)))).timestamp()
    except StopIteration:
        return None


def iso(at: float | None, timezone: str = "UTC") -> str | None:
    """`at` as ISO 8601 in the zone, with its offset (what the user reads and what occurrence keys hold)."""
    return None if at is None else datetime.fromtimestamp(at, zone(timezone)).isoformat()


def parse_time(text: str, what: str = "--at") -> float:
    """An ISO 8601 instant (a trailing Z allowed; without an offset it is UTC) as epoch seconds."""
    try:
        moment = datetime.fromisoformat(text.strip().replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        raise ScheduleError(f"{what} '{text}': not an ISO 8601 time (e.g. 2027-01-31T03:00:00+01:00)") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.timestamp()
