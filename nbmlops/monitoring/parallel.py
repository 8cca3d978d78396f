"""Columns in parallel (numpy's sort and search release the GIL, so threads scale), with optional progress."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from typing import TypeVar

T = TypeVar("T")


def workers(n_items: int) -> int:
    return max(1, min(n_items, os.cpu_count() or 1))


@contextmanager
def _bar(total: int, description: str, enabled: bool) -> Iterator[Callable[[], None]]:
    if not enabled:
        yield lambda: None
        return
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    # rich renders in a terminal and in Jupyter alike; transient: the bar goes away when the work is done
    with Progress(
        TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(), transient=True
    ) as progress:
        task = progress.add_task(description, total=total)
        yield lambda: progress.advance(task)


def map_columns(
    fn: Callable[[str], T],
    names: Sequence[str],
    *,
    parallel: bool = True,
    progress: bool = False,
    description: str = "drift",
    max_workers: int | None = None,
) -> list[T]:
    """fn over names, in order; threads when parallel and there is more than one column (as many as cores, or
    max_workers; one worker runs in the calling thread)."""
    count = workers(len(names)) if max_workers is None else max(1, min(max_workers, workers(len(names))))
    with _bar(len(names), description, progress) as tick:
        if not parallel or count == 1:
            out = []
            for name in names:
                out.append(fn(name))
                tick()
            return out
        with ThreadPoolExecutor(max_workers=count) as pool:
            futures = [pool.submit(fn, name) for name in names]
            results = []
            for future in futures:
                results.append(future.result())
                tick()
            return results
