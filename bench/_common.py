"""Helpers shared by the benchmarks: paths, whole-command timing, tables.

Benchmarks are run by hand (never by the tests) with the project's virtualenv, e.g.
`.venv/bin/python bench/bench_compile.py`. They write only under bench/.work/ (git-ignored).
"""

from __future__ import annotations

import os
import platform
import shutil
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import nbformat

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
WORK = BENCH / ".work"
BIN = Path(sys.executable).parent  # the virtualenv the benchmark runs under
PYCACHE = WORK / "pycache"


def command_env() -> dict[str, str]:
    """The environment timed commands run in. Bytecode caching is on, as on a user's machine, even where the
    caller sets PYTHONDONTWRITEBYTECODE (then every run would recompile nbmlops's own modules, ~50 ms);
    the .pyc files go to bench/.work/pycache, not into the source tree. BENCH_NO_PYCACHE=1 keeps the
    caller's environment as it is."""
    env = dict(os.environ)
    if env.get("BENCH_NO_PYCACHE") != "1":
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        env["PYTHONPYCACHEPREFIX"] = str(PYCACHE)
    return env


def tool(name: str) -> str:
    """A console script of this virtualenv (nbmlops, papermill), else one on PATH."""
    candidate = BIN / name
    if candidate.exists():
        return str(candidate)
    found = shutil.which(name)
    if found is None:
        sys.exit(f"bench: '{name}' is not installed in {BIN} nor on PATH")
    return found


def fresh_dir(path: Path) -> Path:
    if path.exists():
        shutil.rmtree(path)
    path.mkdir(parents=True)
    return path


def machine() -> str:
    cpu = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return (
        f"{os.cpu_count()} CPUs ({cpu}), Python {platform.python_version()}, {platform.system()} "
        f"{platform.release()}, {time.strftime('%Y-%m-%d %H:%M %Z')}, "
        f"bytecode cache {'off' if os.environ.get('BENCH_NO_PYCACHE') == '1' else 'on'}"
    )


class Command:
    """A whole command timed from outside: start-up, imports and teardown included."""

    def __init__(
        self,
        label: str,
        argv: Sequence[str],
        *,
        cwd: Path,
        env: dict[str, str] | None = None,
        before: Callable[[int], dict[str, str] | None] | None = None,
    ) -> None:
        self.label = label
        self.argv = list(argv)
        self.cwd = cwd
        self.env = env or {}
        self.before = before  # called with the run number; may return extra env vars for that run
        self.times: list[float] = []

    def once(self, number: int) -> float:
        env = {**command_env(), **self.env, **((self.before(number) if self.before else None) or {})}
        began = time.perf_counter()
        done = subprocess.run(
            self.argv,
            cwd=self.cwd,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            check=False,
        )
        seconds = time.perf_counter() - began
        if done.returncode != 0:
            sys.stderr.write(done.stdout.decode(errors="replace")[-4000:])
            sys.exit(f"bench: {self.label} exited {done.returncode}: {' '.join(self.argv)}")
        return seconds


def time_interleaved(commands: Sequence[Command], runs: int, warmup: int = 1) -> None:
    """Runs the commands in turn (A B C A B C ...), so a machine that slows down mid-way hits all of them
    alike; the first `warmup` rounds are not counted (disk cache, .pyc files)."""
    for number in range(warmup + runs):
        for command in commands:
            seconds = command.once(number)
            if number >= warmup:
                command.times.append(seconds)
        print(
            f"  round {number + 1}/{warmup + runs}" + (" (warm-up)" if number < warmup else ""),
            file=sys.stderr,
            flush=True,
        )


def paired_ratio(a: Command, b: Command) -> float:
    """Median of the round-by-round ratios a/b (robust to drift in machine speed)."""
    return statistics.median(x / y for x, y in zip(a.times, b.times, strict=True))


def stats_row(label: str, times: Sequence[float]) -> list[str]:
    return [label, str(len(times)), f"{min(times):.3f}", f"{statistics.median(times):.3f}", f"{max(times):.3f}"]


def print_table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> None:
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]

    def line(cells: Sequence[str]) -> str:
        first = f"{cells[0]:<{widths[0]}}"
        rest = "  ".join(f"{c:>{w}}" for c, w in zip(cells[1:], widths[1:], strict=True))
        return f"{first}  {rest}"

    print(line(header))
    print("  ".join("-" * w for w in widths))
    for row in rows:
        print(line(row))


def timing_table(commands: Sequence[Command]) -> None:
    print_table(["command", "runs", "min s", "median s", "max s"], [stats_row(c.label, c.times) for c in commands])


def verdict(ok: bool) -> str:
    return "MET" if ok else "MISSED"


def script_of_notebook(path: Path) -> str:
    """The notebook as one plain script: every code cell in order except `skip` cells (setup, parameters
    and step cells alike), as a user would get from copying the cells into a .py file."""
    notebook = nbformat.read(path, as_version=4)
    parts = []
    for index, cell in enumerate(notebook.cells):
        if cell.cell_type != "code" or "skip" in cell.metadata.get("tags", []):
            continue
        parts.append(f"# --- cell {index}\n{cell.source}\n")
    return "\n".join(parts)
