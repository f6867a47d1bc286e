"""Which dbt failures deserve a retry.

The dbt step retries transient trouble (the DuckDB file still locked by another process, dbt
killed, e.g. by the out-of-memory killer): see retries.py. A failed dbt *test* or a model error on
the data is not transient: retrying it would only run ``dbt build`` two more times (minutes)
before the same failure and delay the alert. Nor is an interruption: dbt stopped by SIGINT or
SIGTERM is somebody stopping the run (Ctrl-C, ``kill``, *Terminate* in the UI: Dagster forwards
it to dbt as SIGINT); retried, the run would go on and publish. So a failed invocation asks for a
retry only when its errors look transient, and raises ``dg.Failure(allow_retries=False)``
otherwise.
"""

from __future__ import annotations

import signal

import dagster as dg
from dagster._core.errors import DagsterExecutionInterruptedError
from dagster._utils.interrupts import check_captured_interrupt

from dagster_project.assets.retries import retry_request
from dagster_project.ingestion.warehouse import is_lock_error

INTERRUPTS = (signal.SIGINT, signal.SIGTERM)


def interrupted(returncode: int | None) -> bool:
    """dbt ended by SIGTERM (``kill``; or SIGINT, though dbt catches that one itself and exits
    2): somebody stopped it. Ctrl-C and *Terminate* reach the step itself too, as Dagster's
    interrupt, which fails it without a retry (retries.py)."""
    return returncode is not None and -returncode in INTERRUPTS


def is_transient(messages: list[str], returncode: int | None) -> bool:
    if interrupted(returncode):
        return False
    if returncode is not None and returncode < 0:  # killed by another signal
        return True
    return is_lock_error("\n".join(messages))


def _interrupt_pending(messages: list[str]) -> bool:
    """An interrupt this process received and Dagster has not raised yet, or dbt's own report
    of one (it catches SIGINT and ends on a KeyboardInterrupt traceback)."""
    return check_captured_interrupt() or any("KeyboardInterrupt" in m for m in messages)


def _gist(message: str) -> str:
    """What failed and why: a model error's first line names the model, its second the cause
    ('Binder Error: Referenced column … not found'), which the run summary and the alert need."""
    lines = [line.strip() for line in message.strip().splitlines() if line.strip()]
    return " : ".join(lines[:2])[:400]


def raise_unless_successful(invocation, context: dg.AssetExecutionContext) -> None:
    """After ``invocation.stream()`` (dbt.cli(..., raise_on_error=False)): raise on failure."""
    if invocation.is_successful():
        return
    error = invocation.get_error()
    messages = list(getattr(invocation, "_error_messages", []) or [])
    returncode = invocation.process.returncode
    if _interrupt_pending(messages):
        # Ctrl-C reached dbt and this process together, and dbt's exit was seen first: the
        # step was stopped, not failed on the data nor to be retried (Dagster raises this
        # itself when its own delivery wins the race)
        raise DagsterExecutionInterruptedError() from error
    if is_transient(messages, returncode):
        raise retry_request(context) from error
    if interrupted(returncode):
        raise dg.Failure(
            description=(
                f"dbt interrompu ({signal.Signals(-returncode).name}) : run arrêté, "
                "sans nouvel essai ni publication"
            ),
            metadata={"dbt_exit_code": returncode},
            allow_retries=False,
        )
    raise dg.Failure(
        description=(
            "dbt build en échec sur les données (tests en échec ou erreurs de modèle ; "
            "pas de nouvel essai) : "
            + "; ".join(_gist(m) for m in messages[:5] if m.strip())
        )[:2000],
        metadata={"dbt_errors": len(messages), "dbt_exit_code": invocation.process.returncode},
        allow_retries=False,
    )
