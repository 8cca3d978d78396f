"""The scheduler: passes over the schedules, claiming what is due and running each claimed attempt in a worker
process (nbmlops.scheduling.worker), up to `max_parallel` at once, renewing their leases while they live.

- `run_once()`: what is due at the clock's instant (and what those runs trigger), then return: the tests and
  `nbmlops scheduler --once --at` drive time with it.
- `run_forever(stop)`: passes when an occurrence is due, a run ends, or every `poll_s` (triggers); after `stop`
  is set no new attempt starts, running ones get `grace_s` to finish, then are stopped and marked failed with
  the reason.
- The clock is the real one, or one that starts at `--at` and runs at real speed from there (leases, back-off
  and catch-up all read it, so several schedulers driven to the same instant agree).
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from nbmlops.scheduling import claims
from nbmlops.scheduling.cron import iso, occurrences
from nbmlops.scheduling.definitions import Schedule, project_root
from nbmlops.scheduling.errors import ScheduleError
from nbmlops.scheduling.planning import Planned, World, cron_key, cron_trigger, next_due, plan
from nbmlops.scheduling.repository import Occurrence, get_schedule, list_schedules
from nbmlops.scheduling.world import read_world
from nbmlops.store.liveness import this_host

if TYPE_CHECKING:
    from nbmlops.store import Store

LEASE_S = 30.0  # a lease is renewed every third of this; a scheduler silent this long is taken for dead
STOP_WAIT_S = 15.0  # after SIGTERM, how long a worker has to end before SIGKILL


class Clock:
    """Real time, or real time shifted so that it reads `at` when made."""

    def __init__(self, at: float | None = None) -> None:
        self.offset = 0.0 if at is None else at - time.time()

    def now(self) -> float:
        return time.time() + self.offset


@dataclass
class Job:
    """A running attempt: its worker process and the tail of what it printed."""

    occurrence: Occurrence
    process: subprocess.Popen[bytes]
    log_path: Path
    tail: deque[str] = field(default_factory=lambda: deque(maxlen=40))
    reader: threading.Thread | None = None


@dataclass
class Outcome:
    occurrence: Occurrence
    status: str | None  # succeeded | retrying | failed; None when another scheduler took the attempt over
    error: str | None
    run_id: str | None


class Scheduler:
    def __init__(
        self,
        store: Store,
        *,
        max_parallel: int = 4,
        lease_s: float = LEASE_S,
        poll_s: float = 30.0,
        grace_s: float = 60.0,
        at: float | None = None,
        echo: bool = False,
        log: Callable[[str], None] | None = None,
    ) -> None:
        if max_parallel < 1:
            raise ScheduleError(f"--max-parallel {max_parallel}: at least 1")
        if poll_s <= 0:
            raise ScheduleError(f"--poll {poll_s}: seconds > 0")
        self.store, self.db = store, store.db
        self.max_parallel, self.lease_s, self.poll_s, self.grace_s = max_parallel, lease_s, poll_s, grace_s
        self.clock = Clock(at)
        self.echo = echo  # also print the workers' output (run-now in a terminal)
        self.log = log or (lambda line: print(line, file=sys.stderr, flush=True))
        self.owner = f"{socket.gethostname()}:{os.getpid()}:{os.urandom(3).hex()}"
        self.jobs: dict[int, Job] = {}
        self.outcomes: list[Outcome] = []
        self.root = project_root(store.settings.home)
        self.log_dir = store.settings.home / "scheduler" / "logs"
        self._lock = threading.Lock()
        self._renewing = threading.Event()
        self._renewer: threading.Thread | None = None

    # -- one pass -----------------------------------------------------------------------------------------
    def run_pass(self) -> int:
        """Reap ended attempts, take over dead schedulers' leases, claim and start what is due. Returns the
        number of attempts started."""
        self.reap()
        now = self.clock.now()
        for occurrence, status in claims.take_over_stale(self.db, now, self.owner):
            stopped = self._stop_orphan(occurrence)
            self._say(
                f"{occurrence.schedule} {occurrence.key}: lease of {occurrence.owner} ran out; run "
                f"{occurrence.run_id or '(none)'} marked failed{stopped}, occurrence {status}"
            )
        started = 0
        for occurrence in claims.claim_retries(self.db, now, self.owner, self.lease_s, self._room()):
            started += self._start(occurrence)
        if self._room() <= 0:
            return started
        schedules = [s for s in list_schedules(self.db) if not s.paused]
        with_triggers = [s for s in schedules if s.triggers]
        world = read_world(self.store, with_triggers, self.root) if with_triggers else World()
        for schedule in schedules:
            room = self._room()
            if room <= 0:
                break
            if not schedule.triggers and ((due := next_due(schedule, now)) is None or due > now):
                continue  # the common case, without a plan: nothing due on this cron yet
            if not plan(schedule, now, world, room).planned:
                continue
            for occurrence in claims.claim_due(self.db, schedule.name, now, world, self.owner, self.lease_s, room):
                started += self._start(occurrence)
        return started

    def _stop_orphan(self, occurrence: Occurrence) -> str:
        """A lease runs out when its scheduler died, or was frozen (SIGSTOP, a VM paused) with its worker still
        going: on this host, that worker is stopped before the occurrence is retried, so it can't run twice."""
        rows = self.db.query("SELECT host, pid FROM runs WHERE id = :id", {"id": occurrence.run_id or ""})
        if not rows or rows[0]["host"] != this_host() or not rows[0]["pid"]:
            return ""
        pid = int(rows[0]["pid"])
        try:  # the worker's own command line, so a reused pid is never signalled
            words = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        except OSError:
            return ""
        if b"nbmlops.scheduling.worker" not in words or str(occurrence.id).encode() not in words:
            return ""
        _signal_group(_Pid(pid), signal.SIGKILL)
        return f" (its worker, pid {pid}, still ran here: killed)"

    def next_wakeup(self) -> float:
        """Seconds until the next cron occurrence of any active schedule (at most poll_s)."""
        now = self.clock.now()
        times = [t for s in list_schedules(self.db) if not s.paused and (t := next_due(s, now)) is not None]
        retry = self.db.query("SELECT min(next_attempt_at) AS t FROM schedule_occurrences WHERE status = 'retrying'")
        if retry and retry[0]["t"] is not None:
            times.append(retry[0]["t"])
        soonest = min(times, default=now + self.poll_s)
        return max(0.0, min(soonest - now, self.poll_s))

    def _room(self) -> int:
        return self.max_parallel - len(self.jobs)

    # -- workers -----------------------------------------------------------------------------------------
    def _start(self, occurrence: Occurrence) -> int:
        self.log_dir.mkdir(parents=True, exist_ok=True)
        log_path = self.log_dir / f"{occurrence.schedule}-{occurrence.id}-{occurrence.attempts}.log"
        env = {
            **os.environ,
            "NBMLOPS_HOME": str(self.store.settings.home),
            "NBMLOPS_DB_URL": self.store.settings.db_url,
            "PYTHONUNBUFFERED": "1",
        }
        env.pop("NBMLOPS_RUN_ID", None)  # a scheduler started from inside a step: its runs are not that step's
        env.pop("NBMLOPS_STEP", None)
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "nbmlops.scheduling.worker",
                str(occurrence.id),
                str(occurrence.attempts),
                str(os.getpid()),
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=env,
            cwd=str(self.root),
            start_new_session=True,
        )
        job = Job(occurrence, process, log_path)
        job.reader = threading.Thread(target=self._copy_output, args=(job,), daemon=True)
        job.reader.start()
        with self._lock:
            self.jobs[occurrence.id] = job
        self._ensure_renewer()
        when = iso(occurrence.occurrence_at)
        self._say(
            f"{occurrence.schedule} {occurrence.kind} {when}: attempt {occurrence.attempts} of "
            f"{occurrence.max_attempts} started (pid {process.pid}, log {log_path})"
        )
        return 1

    def _copy_output(self, job: Job) -> None:
        assert job.process.stdout is not None
        with open(job.log_path, "ab") as log:
            for raw in job.process.stdout:
                log.write(raw)
                log.flush()
                line = raw.decode(errors="replace").rstrip("\n")
                job.tail.append(line)
                if self.echo:
                    print(line, flush=True)

    def reap(self) -> list[Outcome]:
        """Record the attempts whose worker ended."""
        ended = []
        for job in list(self.jobs.values()):
            code = job.process.poll()
            if code is None:
                continue
            if job.reader is not None:
                job.reader.join(timeout=10)
            ended.append(self._finish(job, code))
        return ended

    def _finish(self, job: Job, code: int, reason: str | None = None) -> Outcome:
        error = None if code == 0 else (reason or _error_of(job.tail, code))
        # recorded first: should the database fail here, the job stays listed (lease renewed) and the next
        # reap records it
        status = claims.finish(self.db, job.occurrence, self.owner, code == 0, error, self.clock.now())
        with self._lock:
            self.jobs.pop(job.occurrence.id, None)
        run_id = self._run_of(job.occurrence)
        outcome = Outcome(job.occurrence, status, error, run_id)
        self.outcomes.append(outcome)
        what = status or "taken over by another scheduler"
        self._say(
            f"{job.occurrence.schedule} {job.occurrence.kind} {iso(job.occurrence.occurrence_at)}: run "
            f"{run_id or '(none)'} {what}{f': {error}' if error else ''}"
        )
        return outcome

    def _run_of(self, occurrence: Occurrence) -> str | None:
        rows = self.db.query("SELECT run_id FROM schedule_occurrences WHERE id = :id", {"id": occurrence.id})
        return rows[0]["run_id"] if rows else None

    def _ensure_renewer(self) -> None:
        if self._renewer is None or not self._renewer.is_alive():
            self._renewing.clear()
            self._renewer = threading.Thread(target=self._renew_loop, name="nbmlops-lease", daemon=True)
            self._renewer.start()

    def _renew_loop(self) -> None:
        while not self._renewing.wait(self.lease_s / 3):
            with self._lock:
                ids = list(self.jobs)
            if not ids:
                return
            try:
                claims.renew(self.db, self.owner, ids, self.clock.now() + self.lease_s)
            except Exception as exc:  # a database hiccup: try again next time, the lease has slack for it
                self._say(f"renewing leases failed ({exc}); retrying")

    def wait_all(self, deadline: float | None = None, stop: threading.Event | None = None) -> None:
        while self.jobs and (deadline is None or time.monotonic() < deadline) and not (stop and stop.is_set()):
            time.sleep(0.1)
            self.reap()

    # -- the two ways of running -----------------------------------------------------------------------
    def run_once(self) -> list[Outcome]:
        """Everything due at the clock's instant, and what those runs trigger in turn; returns when all ended."""
        while True:
            started = self.run_pass()
            if not started and not self.jobs:
                break
            self.wait_any()  # a slot freed or a run ended (it may trigger others): pass again
        self._stop_renewing()
        return self.outcomes

    def wait_any(self) -> None:
        while self.jobs and not self.reap():
            time.sleep(0.1)

    def run_forever(
        self,
        stop: threading.Event,
        hurry: threading.Event | None = None,
        signal_name: Callable[[], str] = lambda: "stop",
    ) -> None:
        """Pass until `stop` is set; then stop cleanly (see the module docstring). `hurry`: skip the grace."""
        self._say(f"scheduler {self.owner} started (max {self.max_parallel} at once, poll {self.poll_s:g} s)")
        while not stop.is_set():
            try:
                self.run_pass()
                wait = self.next_wakeup()
            except Exception as exc:  # the database away for a moment: say so, keep the running ones, try again
                self._say(f"pass failed ({type(exc).__name__}: {exc}); trying again in {self.poll_s:g} s")
                wait = self.poll_s
            until = time.monotonic() + wait
            while not stop.is_set() and time.monotonic() < until:
                stop.wait(min(0.2, max(until - time.monotonic(), 0.0)))
                try:
                    if self.jobs and self.reap():
                        break  # a run ended: its slot, and maybe an --after trigger, want a pass now
                except Exception as exc:  # as for a pass: the ended job stays listed, recorded next time
                    self._say(f"recording a finished run failed ({type(exc).__name__}: {exc}); retrying")
                    stop.wait(1.0)
        self.drain(hurry, signal_name())
        self._stop_renewing()
        self._say(f"scheduler {self.owner} stopped")

    def drain(self, hurry: threading.Event | None, why: str) -> None:
        if self.jobs:
            self._say(f"{why}: no new starts; waiting up to {self.grace_s:g} s for {len(self.jobs)} running")
        self.wait_all(time.monotonic() + self.grace_s, hurry)
        if not self.jobs:
            return
        reason = f"the scheduler was stopped ({why}) before the run ended"
        for job in list(self.jobs.values()):
            _signal_group(job.process, signal.SIGTERM)
        end = time.monotonic() + STOP_WAIT_S
        for job in list(self.jobs.values()):
            try:
                job.process.wait(timeout=max(end - time.monotonic(), 0.1))
            except subprocess.TimeoutExpired:
                _signal_group(job.process, signal.SIGKILL)
                job.process.wait(timeout=10)
            if job.reader is not None:
                job.reader.join(timeout=5)
            code = job.process.returncode  # 0: it finished just before the signal, as it should have
            self._finish(job, code, None if code == 0 else reason)

    def _stop_renewing(self) -> None:
        self._renewing.set()

    def _say(self, message: str) -> None:
        self.log(f"[{time.strftime('%Y-%m-%dT%H:%M:%S', time.gmtime(self.clock.now()))}Z] {message}")


class _Pid:
    def __init__(self, pid: int) -> None:
        self.pid = pid


def _signal_group(process: subprocess.Popen[bytes] | _Pid, signum: int) -> None:
    try:
        os.killpg(process.pid, signum)  # the worker leads its own group: its kernels go with it
    except (ProcessLookupError, PermissionError):
        pass


def _error_of(tail: deque[str], code: int) -> str:
    for line in reversed(tail):
        if line.startswith("error: "):
            return line.removeprefix("error: ")
    if code < 0:
        return f"the worker was killed by signal {-code} ({signal.Signals(-code).name})"
    last = next((line for line in reversed(tail) if line.strip()), "")
    return f"the worker exited with code {code}{f': {last}' if last else ''}"


# -- run-now ----------------------------------------------------------------------------------------------
def run_now(
    store: Store,
    name: str,
    *,
    due: bool = False,
    at: float | None = None,
    echo: bool = True,
    log: Callable[[str], None] | None = None,
) -> Outcome | None:
    """Run one occurrence of the schedule now, in the foreground, under the same claim and lease as the
    scheduler's. `due`: the newest cron occurrence at or before now (what a crontab or systemd timer entry runs;
    None when a scheduler or an earlier call already claimed it); otherwise a manual occurrence."""
    schedule = get_schedule(store.db, name)
    runner = Scheduler(store, max_parallel=1, at=at, echo=echo, log=log)
    now = runner.clock.now()
    item = (
        _due_item(schedule, now)
        if due
        else Planned(
            f"manual:{iso(now)}", "manual", now, {"kind": "manual", "requested_at": iso(now, schedule.timezone)}
        )
    )
    if item is None:
        return None
    occurrence = claims.claim_one(store.db, schedule, item, runner.owner, now, runner.lease_s)
    if occurrence is None:
        return None
    if due:  # the scheduler, if one runs, moves on from here too
        store.db.execute(
            "UPDATE schedules SET cron_cursor = :at WHERE name = :name AND cron_cursor < :at",
            {"at": item.at, "name": name},
        )
    runner._start(occurrence)
    runner.wait_all()
    # retries by the schedule's policy, here in the foreground: a crontab entry needs no scheduler for them
    # (a scheduler running meanwhile may claim one first: then it runs there, and this call stops waiting)
    while runner.outcomes[-1].status == claims.RETRYING:
        rows = store.db.query(
            "SELECT next_attempt_at FROM schedule_occurrences WHERE id = :id AND status = 'retrying'",
            {"id": occurrence.id},
        )
        if not rows:
            break
        time.sleep(max(rows[0]["next_attempt_at"] - runner.clock.now(), 0.0))
        retry = claims.claim_retry(store.db, occurrence.id, runner.clock.now(), runner.owner, runner.lease_s)
        if retry is None:
            break
        runner._start(retry)
        runner.wait_all()
    runner._stop_renewing()
    return runner.outcomes[-1]


def _due_item(schedule: Schedule, now: float) -> Planned | None:
    if not schedule.cron:
        raise ScheduleError(f"--due: schedule '{schedule.name}' has no cron expression")
    recent = occurrences(schedule.cron, schedule.timezone, max(schedule.cron_cursor, now - 400 * 86400), now, limit=1)
    if not recent:
        return None  # the newest occurrence was handled already (by a scheduler, or an earlier run-now --due)
    return Planned(cron_key(recent[-1]), "cron", recent[-1], cron_trigger(schedule, recent[-1], []))


def describe(outcome: Any) -> dict[str, Any]:
    return {
        "schedule": outcome.occurrence.schedule,
        "occurrence": outcome.occurrence.key,
        "status": outcome.status,
        "run_id": outcome.run_id,
        "error": outcome.error,
    }
