"""Which dbt failures deserve a retry.

The dbt step has a RetryPolicy for transient trouble (the DuckDB file still locked by another
process, dbt killed). A failed dbt *test* or a model error on the data is not transient: retrying
it would only run ``dbt build`` two more times (minutes) before the same failure and delay the
alert. So a failed invocation is re-raised as is (retried) only when its errors look transient,
and as ``dg.Failure(allow_retries=False)`` otherwise.
"""

from __future__ import annotations

import dagster as dg

TRANSIENT_MARKERS = (
    "could not set lock",
    "conflicting lock",
    "database is locked",
    "resource temporarily unavailable",
)


def is_transient(messages: list[str], returncode: int | None) -> bool:
    if returncode is not None and returncode < 0:  # killed by a signal
        return True
    text = "\n".join(messages).lower()
    return any(marker in text for marker in TRANSIENT_MARKERS)


def raise_unless_successful(invocation) -> None:
    """After ``invocation.stream()`` (dbt.cli(..., raise_on_error=False)): raise on failure."""
    if invocation.is_successful():
        return
    error = invocation.get_error()
    messages = list(getattr(invocation, "_error_messages", []) or [])
    if is_transient(messages, invocation.process.returncode):
        raise error
    raise dg.Failure(
        description=(
            "dbt build failed on the data (failed tests or model errors; not retried): "
            + "; ".join(m.strip().splitlines()[0] for m in messages[:5] if m.strip())
        )[:2000],
        metadata={"dbt_errors": len(messages), "dbt_exit_code": invocation.process.returncode},
        allow_retries=False,
    )
