"""Which failures a step retries: transient trouble only, never an interruption.

Why not a Dagster ``RetryPolicy``: with one, Dagster retries a step that was *interrupted* ("respect
retry policy when interrupts occur"), and every way of stopping a run arrives as an interrupt:
Ctrl-C on ``bilan run``, ``kill -INT`` / ``-TERM``, *Terminate* in the UI. A run somebody stopped
then went on, re-ran dbt and published. So the steps that write the warehouse (ingestion, dbt,
publication) have no policy and ask for a retry themselves (``dg.RetryRequested``, shown in the UI
as any retry: "up for retry", then "restarted") for the few failures that pass: the warehouse
still held by another writer, a parse worker or dbt killed (e.g. by the out-of-memory killer;
dbt: by a signal other than SIGTERM). Anything else fails the step at once; an interruption
stops the run.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from concurrent.futures.process import BrokenProcessPool

import dagster as dg
import duckdb

from dagster_project.ingestion.warehouse import WarehouseBusy, is_lock_error

MAX_RETRIES = 2
FIRST_DELAY_S = 2  # then doubled: 2 s, 4 s


def retry_request(context: dg.AssetExecutionContext) -> dg.RetryRequested:
    """A retry of this step, with exponential backoff, at most :data:`MAX_RETRIES` times."""
    return dg.RetryRequested(
        max_retries=MAX_RETRIES, seconds_to_wait=FIRST_DELAY_S * 2 ** context.retry_number
    )


def is_transient(exc: BaseException) -> bool:
    """The warehouse held by another writer (our lock's timeout, or DuckDB's own file lock), or
    a parse worker that died (the pool is then unusable; a new attempt starts a new one)."""
    return isinstance(exc, WarehouseBusy | BrokenProcessPool) or (
        isinstance(exc, duckdb.Error) and is_lock_error(exc)
    )


@contextlib.contextmanager
def retried_if_transient(context: dg.AssetExecutionContext) -> Iterator[None]:
    """Run the step's body; a transient failure (:func:`is_transient`) asks for a retry."""
    try:
        yield
    except Exception as exc:
        if is_transient(exc):
            raise retry_request(context) from exc
        raise
